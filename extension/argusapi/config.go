package argusapi

import (
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"

	"github.com/arguslabs/argus-otel/internal/dbconfig"
)

// DefaultEndpoint is where the API listens unless told otherwise: loopback
// only, on a port next to the collector's own 8888 (metrics).
const DefaultEndpoint = "localhost:8889"

// DefaultMaxRequestBodySize bounds a request body (confighttp's
// max_request_body_size); a bulk of 1000 audit logs with small metadata is
// well below it.
const DefaultMaxRequestBodySize = 8 << 20

// DefaultMaxMetadataBytes bounds the encoded metadata of one audit log.
const DefaultMaxMetadataBytes = 64 << 10

// Config is the configuration of the argusapi extension.
type Config struct {
	// ServerConfig is the HTTP server: endpoint, TLS, CORS, auth,
	// max_request_body_size, timeouts, as for every collector HTTP server.
	confighttp.ServerConfig `mapstructure:",squash"`

	// driver, path, dsn, create_schema: the exporter's keys and defaults,
	// so both point at one store; create_schema lets the API start before
	// the exporter has ever written.
	dbconfig.Config `mapstructure:",squash"`

	Audit AuditConfig `mapstructure:"audit"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// AuditConfig holds the allowed values of the audit log enums. A list left
// empty takes its value from EnumsFile when set, else the default (see
// enums.go). An empty action list, the default, allows any action.
type AuditConfig struct {
	EventTypes  []string `mapstructure:"event_types"`
	Actions     []string `mapstructure:"actions"`
	ActorTypes  []string `mapstructure:"actor_types"`
	TargetTypes []string `mapstructure:"target_types"`
	// EnumsFile is a YAML file in the audit-log service's format:
	// enums: {eventTypes, eventActions, actorTypes, targetTypes}.
	EnumsFile string `mapstructure:"enums_file"`
	// MaxMetadataBytes bounds the JSON metadata of one audit log; a larger
	// one is refused (400), never cut.
	MaxMetadataBytes int `mapstructure:"max_metadata_bytes"`
}

var _ component.Config = (*Config)(nil)

func createDefaultConfig() component.Config {
	srv := confighttp.NewDefaultServerConfig()
	srv.NetAddr.Endpoint = DefaultEndpoint
	srv.MaxRequestBodySize = DefaultMaxRequestBodySize
	return &Config{
		ServerConfig: srv,
		Config:       dbconfig.Default(),
		Audit:        AuditConfig{MaxMetadataBytes: DefaultMaxMetadataBytes},
	}
}

// Validate reports every problem at once, each naming its key. The enums
// file is read here too, so a bad file stops the collector at config
// check rather than at the first request.
func (cfg *Config) Validate() error {
	var errs []error
	if strings.TrimSpace(cfg.NetAddr.Endpoint) == "" {
		errs = append(errs, errors.New("endpoint: must not be empty"))
	}
	if cfg.MaxRequestBodySize < 0 {
		errs = append(errs, fmt.Errorf("max_request_body_size: must not be negative, got %d", cfg.MaxRequestBodySize))
	}
	if err := cfg.Storage().Validate(); err != nil {
		errs = append(errs, err)
	}
	if cfg.Audit.MaxMetadataBytes < 0 {
		errs = append(errs, fmt.Errorf("audit::max_metadata_bytes: must not be negative, got %d", cfg.Audit.MaxMetadataBytes))
	}
	if _, err := cfg.Audit.enums(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

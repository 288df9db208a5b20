package argusapi

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"

	"github.com/arguslabs/argus-otel/internal/dbconfig"
	"github.com/arguslabs/argus-otel/internal/redact"
	"github.com/arguslabs/argus-otel/store"
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

	// Reads bounds what reading runs may cost (issue #16: six concurrent
	// reads of a 100,000-step run took 2.4 GB).
	Reads ReadsConfig `mapstructure:"reads"`
	// RedactKeys: values of matching keys in audit metadata become
	// "[REDACTED]" before it is stored; the same list, matching and
	// default as the argus exporter's redact_keys (internal/redact).
	RedactKeys []string `mapstructure:"redact_keys"`

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

// ReadsConfig bounds the heavy reads: a run's JSON, report or web page.
type ReadsConfig struct {
	// MaxConcurrent heavy reads run at once; more wait up to MaxWait,
	// then get a 503 with Retry-After.
	MaxConcurrent int           `mapstructure:"max_concurrent"`
	MaxWait       time.Duration `mapstructure:"max_wait"`
	// MaxPageBytes bounds the states and metadata of the steps one answer
	// holds; the page of steps ends early when it is reached.
	MaxPageBytes int `mapstructure:"max_page_bytes"`
}

// Read defaults: four pages of 4 MiB of states at once stay far inside the
// default memory_limiter budget (measured in TestConcurrentReadsOfTheLargestRun).
const (
	DefaultMaxConcurrentReads = 4
	DefaultMaxReadWait        = 10 * time.Second
)

var _ component.Config = (*Config)(nil)

func createDefaultConfig() component.Config {
	srv := confighttp.NewDefaultServerConfig()
	srv.NetAddr.Endpoint = DefaultEndpoint
	srv.MaxRequestBodySize = DefaultMaxRequestBodySize
	return &Config{
		ServerConfig: srv,
		Config:       dbconfig.Default(),
		Audit:        AuditConfig{MaxMetadataBytes: DefaultMaxMetadataBytes},
		Reads: ReadsConfig{MaxConcurrent: DefaultMaxConcurrentReads, MaxWait: DefaultMaxReadWait,
			MaxPageBytes: store.DefaultStepPageBytes},
		RedactKeys: append([]string(nil), redact.DefaultKeys...),
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
	if cfg.Reads.MaxConcurrent < 1 {
		errs = append(errs, fmt.Errorf("reads::max_concurrent: must be at least 1, got %d", cfg.Reads.MaxConcurrent))
	}
	if cfg.Reads.MaxWait < 0 {
		errs = append(errs, fmt.Errorf("reads::max_wait: must not be negative, got %s", cfg.Reads.MaxWait))
	}
	if cfg.Reads.MaxPageBytes < 1 {
		errs = append(errs, fmt.Errorf("reads::max_page_bytes: must be at least 1, got %d", cfg.Reads.MaxPageBytes))
	}
	if _, err := cfg.Audit.enums(); err != nil {
		errs = append(errs, err)
	}
	if err := redact.Validate(cfg.RedactKeys); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

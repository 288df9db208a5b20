package argusexporter

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/arguslabs/argus-otel/internal/dbconfig"
	"github.com/arguslabs/argus-otel/internal/redact"
)

// Config is the configuration of the argus exporter.
type Config struct {
	TimeoutConfig exporterhelper.TimeoutConfig                             `mapstructure:",squash"`
	QueueConfig   configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	RetryConfig   configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`

	// driver, path, dsn, create_schema: the same keys as argusapi's.
	dbconfig.Config `mapstructure:",squash"`

	// Retention deletes traces older than this; 0 keeps them forever.
	Retention time.Duration `mapstructure:"retention"`
	// RetentionCheckInterval is how often the purge runs when Retention > 0.
	RetentionCheckInterval time.Duration `mapstructure:"retention_check_interval"`

	// MaxFieldBytes bounds each stored input/output state (and audit
	// metadata); 0 disables the bound.
	MaxFieldBytes int `mapstructure:"max_field_bytes"`
	// RedactKeys replaces the defaults when set.
	RedactKeys []string `mapstructure:"redact_keys"`

	Audit AuditConfig `mapstructure:"audit"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// AuditConfig controls the audit records derived from traces.
type AuditConfig struct {
	// ToolCalls writes one audit record per tool call of each run.
	ToolCalls bool `mapstructure:"tool_calls"`
	// ActorType of those records (the actor id is the pipeline name).
	ActorType string `mapstructure:"actor_type"`
}

var _ component.Config = (*Config)(nil)

func createDefaultConfig() component.Config {
	return &Config{
		TimeoutConfig:          exporterhelper.NewDefaultTimeoutConfig(),
		QueueConfig:            configoptional.Some(defaultQueueConfig()),
		RetryConfig:            configretry.NewDefaultBackOffConfig(),
		Config:                 dbconfig.Default(),
		RetentionCheckInterval: time.Hour,
		MaxFieldBytes:          64 * 1024,
		RedactKeys:             append([]string(nil), redact.DefaultKeys...),
		Audit:                  AuditConfig{ActorType: "AGENT"},
	}
}

// DefaultQueueSize is the default sending_queue.queue_size, in requests.
// With the argusdetector in front a request is at most 2 MiB (or one larger
// trace), so a full queue holds about 32 MiB: with a persistent queue that
// is the bound on its file (bbolt maps it, so its pages count in RSS), and
// the exporterhelper default (1000 requests) allowed gigabytes when the
// store is slower than intake.
const DefaultQueueSize = 16

// defaultQueueConfig is exporterhelper's queue with a bounded size that
// blocks on overflow: a full queue makes the caller wait (the detector
// holds its traces, the receiver's client is pushed back) instead of
// refusing data the caller may not be able to keep.
func defaultQueueConfig() exporterhelper.QueueBatchConfig {
	q := exporterhelper.NewDefaultQueueConfig()
	q.QueueSize = DefaultQueueSize
	q.BlockOnOverflow = true
	return q
}

// Validate reports every problem of the configuration at once, each naming
// its key. The exporterhelper sections validate themselves.
func (cfg *Config) Validate() error {
	var errs []error
	// The store checks driver, path and dsn with the same key names.
	if err := cfg.Storage().Validate(); err != nil {
		errs = append(errs, err)
	}
	if cfg.Retention < 0 {
		errs = append(errs, fmt.Errorf("retention: must not be negative, got %s", cfg.Retention))
	}
	if cfg.Retention > 0 && cfg.RetentionCheckInterval <= 0 {
		errs = append(errs, fmt.Errorf("retention_check_interval: must be positive when retention is set, got %s", cfg.RetentionCheckInterval))
	}
	if cfg.MaxFieldBytes < 0 {
		errs = append(errs, fmt.Errorf("max_field_bytes: must not be negative, got %d", cfg.MaxFieldBytes))
	}
	if err := redact.Validate(cfg.RedactKeys); err != nil {
		errs = append(errs, err)
	}
	if cfg.Audit.ToolCalls && strings.TrimSpace(cfg.Audit.ActorType) == "" {
		errs = append(errs, errors.New("audit::actor_type: must not be empty when audit::tool_calls is true"))
	}
	return errors.Join(errs...)
}

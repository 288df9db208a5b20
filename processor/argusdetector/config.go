package argusdetector

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/detect"
	"github.com/arguslabs/argus-otel/internal/redact"
)

// Config of the argusdetector processor.
type Config struct {
	// RootQuietPeriod: a run is complete this long after its root span
	// arrived when no new span of it came in meanwhile. 0 disables it: runs
	// then complete only by MaxRunDuration.
	RootQuietPeriod time.Duration `mapstructure:"root_quiet_period"`
	// MaxRunDuration: a run is complete this long after its first span
	// arrived, root or not (a run whose root never comes, or that never
	// goes quiet, is analysed with what it has).
	MaxRunDuration time.Duration `mapstructure:"max_run_duration"`
	// ProgressInterval: a run still going this long after its first span
	// is in progress: its spans are forwarded unanalysed (stored as in
	// progress, so users see them) and, with the write-ahead log, leave the
	// heap; new spans of it follow every interval. The run is analysed
	// whole when it completes.
	ProgressInterval time.Duration `mapstructure:"progress_interval"`
	// DecisionWait is deprecated: it was "a trace is complete this long
	// after its first span", which is MaxRunDuration; when set it is used
	// as that. nil when not set.
	DecisionWait *time.Duration `mapstructure:"decision_wait"`
	// NumShards is the number of single-goroutine buffers, each owning the
	// traces whose ids hash to it.
	NumShards int `mapstructure:"num_shards"`
	// MaxTraces and MaxBytes bound the buffer (split evenly across shards);
	// beyond them the oldest traces are released early (marked partial when
	// their root had not arrived).
	MaxTraces int   `mapstructure:"max_traces"`
	MaxBytes  int64 `mapstructure:"max_bytes"`
	// LateSpanCache is how many released trace ids are remembered, so spans
	// arriving after their trace left are recognised as late. 0 disables.
	LateSpanCache int `mapstructure:"late_span_cache"`
	// Tick is the granularity of the release ring.
	Tick time.Duration `mapstructure:"tick"`
	// ForwardRetryLimit bounds how long a run the next consumer keeps
	// refusing is retried while it takes other runs (forward.go): then it
	// is parked in the write-ahead log and offered again every
	// ForwardRetryLimit; without the log it is dropped and counted.
	ForwardRetryLimit time.Duration `mapstructure:"forward_retry_limit"`

	// Detection: rules, contracts, edges and statistical, inline.
	Detection `mapstructure:",squash"`

	// SignatureFiles are YAML files of user signatures, loaded at Start.
	SignatureFiles []string `mapstructure:"signature_files"`

	Baselines BaselinesConfig `mapstructure:"baselines"`

	// WAL, when its storage is set, persists every accepted span until the
	// next consumer took it, so a killed process loses nothing acknowledged.
	WAL WALConfig `mapstructure:"wal"`

	// StepAttributes: the attributes of custom instrumentation that hold a
	// step's name, input and output (agentrun.StepAttributes).
	StepAttributes agentrun.StepAttributes `mapstructure:"step_attributes"`
	// Runs: which traces are runs (agent runs by default); others are
	// forwarded unanalysed and not stored (runs.go).
	Runs RunsConfig `mapstructure:"runs"`

	// RedactKeys: attribute values of matching keys (and matching keys in
	// JSON attribute values) become "[REDACTED]" as spans arrive, before
	// the write-ahead log and detection see them; the same list, matching
	// and default as the argus exporter's redact_keys (internal/redact).
	RedactKeys []string `mapstructure:"redact_keys"`
}

// Detection is detect.Config without its Validate method: Config.Validate
// reports its errors once, under their own keys, instead of the collector's
// recursive validation reporting them a second time.
type Detection detect.Config

// BaselinesConfig configures the statistical baselines.
type BaselinesConfig struct {
	// Storage is the id of a storage extension (e.g. file_storage) that
	// keeps baselines across restarts; nil keeps them in memory only.
	Storage      *component.ID `mapstructure:"storage"`
	SaveInterval time.Duration `mapstructure:"save_interval"`
	// Window is the number of recent samples kept per (pipeline, node,
	// metric), and the span of updates a node's update shape weighs.
	Window int `mapstructure:"window"`
	// MaxKeys bounds the number of baselines held.
	MaxKeys int `mapstructure:"max_keys"`
}

// maxRingSlots bounds progress_interval/tick and root_quiet_period/tick so
// the ring stays small. max_run_duration is not bounded by it: an entry
// further ahead than a turn of the ring waits in its slot for its turn.
const maxRingSlots = 1 << 20

// Defaults of the completion settings.
const (
	defaultMaxRunDuration   = time.Hour
	defaultProgressInterval = 5 * time.Second
	defaultMaxBacklogBytes  = 1 << 30
	// A run refused this long while others are stored: past the
	// exporter's retry_on_failure (5m) a few times over.
	defaultForwardRetryLimit = 15 * time.Minute
)

func createDefaultConfig() component.Config {
	return &Config{
		RootQuietPeriod:   2 * time.Second,
		MaxRunDuration:    defaultMaxRunDuration,
		ProgressInterval:  defaultProgressInterval,
		NumShards:         runtime.GOMAXPROCS(0),
		MaxTraces:         50000,
		MaxBytes:          256 << 20,
		LateSpanCache:     100000,
		Tick:              500 * time.Millisecond,
		ForwardRetryLimit: defaultForwardRetryLimit,
		Baselines: BaselinesConfig{
			SaveInterval: time.Minute,
			Window:       200,
			MaxKeys:      10000,
		},
		Runs:       RunsConfig{Keep: KeepAgentRuns},
		WAL:        WALConfig{MaxBacklogBytes: defaultMaxBacklogBytes},
		RedactKeys: append([]string(nil), redact.DefaultKeys...),
	}
}

// Validate checks every key and reports all problems at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if err := redact.Validate(c.RedactKeys); err != nil {
		errs = append(errs, err)
	}
	if dw := c.DecisionWait; dw != nil {
		switch {
		case *dw <= 0:
			bad("decision_wait: must be positive, got %s", *dw)
		case c.MaxRunDuration != defaultMaxRunDuration && c.MaxRunDuration != *dw:
			bad("decision_wait: deprecated alias of max_run_duration; %s conflicts with max_run_duration %s, set only max_run_duration",
				*dw, c.MaxRunDuration)
		}
	}
	if c.MaxRunDuration <= 0 {
		bad("max_run_duration: must be positive, got %s", c.MaxRunDuration)
	}
	if c.ProgressInterval <= 0 {
		bad("progress_interval: must be positive, got %s", c.ProgressInterval)
	}
	if c.RootQuietPeriod < 0 {
		bad("root_quiet_period: must not be negative, got %s", c.RootQuietPeriod)
	}
	if c.Tick <= 0 {
		bad("tick: must be positive, got %s", c.Tick)
	} else {
		if maxRun := c.maxRunDuration(); maxRun > 0 && c.Tick > maxRun {
			bad("tick: %s must not exceed max_run_duration %s", c.Tick, maxRun)
		}
		if c.ProgressInterval > 0 && c.Tick > c.ProgressInterval {
			bad("tick: %s must not exceed progress_interval %s", c.Tick, c.ProgressInterval)
		}
		if c.ProgressInterval/c.Tick > maxRingSlots || c.RootQuietPeriod/c.Tick > maxRingSlots {
			bad("tick: %s is too fine for progress_interval %s / root_quiet_period %s (at most %d ticks)",
				c.Tick, c.ProgressInterval, c.RootQuietPeriod, maxRingSlots)
		}
	}
	if c.NumShards < 1 || c.NumShards > 4096 {
		bad("num_shards: must be between 1 and 4096, got %d", c.NumShards)
	}
	if c.MaxTraces < 1 {
		bad("max_traces: must be positive, got %d", c.MaxTraces)
	} else if c.NumShards >= 1 && c.MaxTraces < c.NumShards {
		bad("max_traces: %d is below num_shards %d (each shard needs room for one trace)", c.MaxTraces, c.NumShards)
	}
	if c.MaxBytes < 1 {
		bad("max_bytes: must be positive, got %d", c.MaxBytes)
	}
	if c.WAL.MaxBacklogBytes < 1 {
		bad("wal.max_backlog_bytes: must be positive, got %d", c.WAL.MaxBacklogBytes)
	}
	if c.ForwardRetryLimit <= 0 {
		bad("forward_retry_limit: must be positive, got %s", c.ForwardRetryLimit)
	}
	if c.LateSpanCache < 0 {
		bad("late_span_cache: must not be negative, got %d", c.LateSpanCache)
	}
	for i, f := range c.SignatureFiles {
		if f == "" {
			bad("signature_files[%d]: empty path", i)
		}
	}
	b := c.Baselines
	if b.Window < 1 {
		bad("baselines.window: must be positive, got %d", b.Window)
	}
	if b.MaxKeys < 1 {
		bad("baselines.max_keys: must be positive, got %d", b.MaxKeys)
	}
	if b.Storage != nil && b.SaveInterval <= 0 {
		bad("baselines.save_interval: must be positive when baselines.storage is set, got %s", b.SaveInterval)
	}
	if mk := c.Statistical.MaxKeys; mk != 0 && mk != b.MaxKeys {
		bad("statistical.max_keys: %d conflicts with baselines.max_keys %d; set only baselines.max_keys", mk, b.MaxKeys)
	}
	if err := c.detectConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.StepAttributes.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Runs.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// maxRunDuration is max_run_duration, or the deprecated decision_wait
// when that is set.
func (c *Config) maxRunDuration() time.Duration {
	if c.DecisionWait != nil {
		return *c.DecisionWait
	}
	return c.MaxRunDuration
}

// detectConfig is the detection configuration with defaults applied.
func (c *Config) detectConfig() detect.Config {
	dc := detect.Config(c.Detection)
	dc.Statistical.MaxKeys = c.Baselines.MaxKeys
	return dc.WithDefaults()
}

package argusdetector

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/detect"
	"github.com/arguslabs/argus-otel/processor/argusdetector/internal/metadata"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg
}

func TestLoadConfig(t *testing.T) {
	assert.Equal(t, createDefaultConfig(), loadConfig(t, ""))

	cfg := loadConfig(t, "custom")
	storageID := component.MustNewIDWithName("file_storage", "argus")
	want := &Config{
		RootQuietPeriod:  1500 * time.Millisecond,
		MaxRunDuration:   2 * time.Hour,
		ProgressInterval: 3 * time.Second,
		NumShards:        4,
		MaxTraces:        1000,
		MaxBytes:         1 << 20,
		LateSpanCache:    5000,
		Tick:             250 * time.Millisecond,
		Detection: Detection{
			Rules: map[string]detect.RuleConfig{
				"semantic.placeholder":  {Severity: "critical"},
				"behavioral.loop_stall": {Disabled: true},
			},
			Contracts: map[string]detect.FieldContract{
				"retrieve": {Required: map[string]string{"documents": "array"}},
			},
			Edges:       []string{"retrieve -> synthesize"},
			Statistical: detect.StatisticalConfig{ZThreshold: 3, MinSamples: 10},
		},
		SignatureFiles: []string{"testdata/signatures.yaml"},
		Baselines: BaselinesConfig{
			Storage:      &storageID,
			SaveInterval: 30 * time.Second,
			Window:       100,
			MaxKeys:      500,
		},
		StepAttributes: agentrun.StepAttributes{
			Name:   []string{"app.step.name"},
			Input:  []string{"app.step.input", "app.step.args"},
			Output: []string{"app.step.output"},
		},
		Runs: RunsConfig{Keep: KeepAgentRuns, Match: []RunMatch{
			{ServiceName: "orders-.*"},
			{RootSpanName: "POST /pipeline", ScopeName: `my\.pipeline`},
			{Attribute: &AttributeMatch{Key: "app.pipeline", Value: "true"}},
		}},
		WAL:               WALConfig{MaxBacklogBytes: defaultMaxBacklogBytes},
		RedactKeys:        []string{"api_key", "ssn"},
		ForwardRetryLimit: defaultForwardRetryLimit,
	}
	assert.Equal(t, want, cfg)
	require.NoError(t, confmap.Validate(cfg))

	cfg = loadConfig(t, "wal")
	assert.Equal(t, "file_storage/wal", cfg.WAL.Storage.String())
	assert.EqualValues(t, 1<<20, cfg.WAL.MaxBacklogBytes)
}

// A configuration of an older version stays valid: decision_wait, which
// meant "complete this long after the first span", is max_run_duration.
func TestDeprecatedDecisionWaitIsMaxRunDuration(t *testing.T) {
	cfg := loadConfig(t, "deprecated")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, 45*time.Second, cfg.maxRunDuration())

	cfg.MaxRunDuration = 2 * time.Minute
	require.ErrorContains(t, cfg.Validate(), "set only max_run_duration")
	cfg.MaxRunDuration = 45 * time.Second
	require.NoError(t, cfg.Validate(), "the same value under both keys is no conflict")
}

func TestValidateNamesEveryBadKey(t *testing.T) {
	err := confmap.Validate(loadConfig(t, "invalid"))
	require.Error(t, err)
	for _, key := range []string{
		"decision_wait:", "max_run_duration:", "progress_interval:", "root_quiet_period:",
		"num_shards:", "max_traces:", "max_bytes:", "late_span_cache:", "tick:",
		`unknown rule id "no.such_rule"`, `edges: "nonsense"`, "signature_files[0]:",
		"baselines.window:", "baselines.max_keys:", "wal.max_backlog_bytes:",
		"decision_wait:", "root_quiet_period:", "num_shards:", "max_traces:", "max_bytes:",
		"late_span_cache:", "tick:", `unknown rule id "no.such_rule"`, `edges: "nonsense"`,
		"signature_files[0]:", "baselines.window:", "baselines.max_keys:", "redact_keys[0]:", "redact_keys[1]:",
		"step_attributes.name[0]: empty attribute key", "step_attributes.output[0]:",
		`runs.keep: must be agent_runs or all, got "agent_run"`,
		"runs.match[0]: sets none of", "runs.match[1].service_name: error parsing regexp",
		"runs.match[2].attribute.key: empty",
	} {
		assert.Contains(t, err.Error(), key)
	}
	// Detection errors are reported once, not again by the recursive walk.
	assert.Equal(t, 1, countOf(err.Error(), "no.such_rule"))
}

func TestValidateCrossChecks(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.NumShards = 8
	cfg.MaxTraces = 4
	cfg.Tick = time.Minute
	cfg.Statistical.MaxKeys = 7
	id := component.MustNewID("file_storage")
	cfg.Baselines.Storage = &id
	cfg.Baselines.SaveInterval = 0
	cfg.ForwardRetryLimit = 0
	err := cfg.Validate()
	require.Error(t, err)
	for _, want := range []string{
		"forward_retry_limit: must be positive, got 0s",
		"max_traces: 4 is below num_shards 8",
		"tick: 1m0s must not exceed progress_interval 5s",
		"statistical.max_keys: 7 conflicts with baselines.max_keys",
		"baselines.save_interval: must be positive when baselines.storage is set",
	} {
		assert.Contains(t, err.Error(), want)
	}

	cfg = createDefaultConfig().(*Config)
	cfg.Tick = time.Nanosecond
	require.ErrorContains(t, cfg.Validate(), "too fine")

	cfg = createDefaultConfig().(*Config)
	cfg.MaxRunDuration = time.Second
	cfg.ProgressInterval = time.Second
	cfg.Tick = 2 * time.Second
	require.ErrorContains(t, cfg.Validate(), "tick: 2s must not exceed max_run_duration 1s")

	cfg = createDefaultConfig().(*Config)
	cfg.Statistical.MinFactor = 0.5
	cfg.Statistical.MinSpikeMs = -1
	err = cfg.Validate()
	require.ErrorContains(t, err, "statistical.min_factor: 0.5 is below 1")
	require.ErrorContains(t, err, "statistical: thresholds must not be negative")
}

func countOf(s, sub string) int {
	n := 0
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			n++
		}
	}
	return n
}

func TestSignatureFilesLoadedAtStart(t *testing.T) {
	cfg := testConfig()
	cfg.SignatureFiles = []string{filepath.Join("testdata", "signatures.yaml")}
	h := start(t, cfg, nil)
	require.Len(t, h.p.detectCfg.Signatures, 1)
	assert.Equal(t, "kb-down", h.p.detectCfg.Signatures[0].ID)

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("signatures:\n  - {id: x, match: regex, pattern: \"(\"}\n"), 0o600))
	cfg.SignatureFiles = []string{bad, filepath.Join(t.TempDir(), "missing.yaml")}
	p, err := NewFactory().CreateTraces(context.Background(), processortestSettings(), cfg, consumertest.NewNop())
	require.NoError(t, err)
	err = p.Start(context.Background(), componenttest.NewNopHost())
	require.ErrorContains(t, err, "signature_files")
	require.ErrorContains(t, err, "bad.yaml")
	require.ErrorContains(t, err, "missing.yaml")
	require.NoError(t, p.Shutdown(context.Background()))
}

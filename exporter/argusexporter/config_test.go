package argusexporter

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/arguslabs/argus-otel/exporter/argusexporter/internal/metadata"
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

func TestConfigStruct(t *testing.T) {
	require.NoError(t, componenttest.CheckConfigStruct(createDefaultConfig()))
}

func TestDefaultConfig(t *testing.T) {
	cfg := loadConfig(t, "")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, "sqlite", cfg.Driver)
	assert.Equal(t, ".argus/traces.db", cfg.Path)
	assert.True(t, cfg.CreateSchema)
	assert.Zero(t, cfg.Retention)
	assert.Equal(t, time.Hour, cfg.RetentionCheckInterval)
	assert.Equal(t, 65536, cfg.MaxFieldBytes)
	assert.ElementsMatch(t, []string{
		"password", "passwd", "secret", "api_key", "apikey", "token", "access_token",
		"refresh_token", "authorization", "cookie", "private_key", "client_secret",
	}, cfg.RedactKeys)
	assert.False(t, cfg.Audit.ToolCalls)
	assert.Equal(t, "AGENT", cfg.Audit.ActorType)
	assert.Equal(t, 5*time.Second, cfg.TimeoutConfig.Timeout)
	assert.True(t, cfg.RetryConfig.Enabled)
	require.True(t, cfg.QueueConfig.HasValue())
	q := cfg.QueueConfig.Get()
	assert.True(t, q.BlockOnOverflow, "a full queue pushes back instead of refusing")
	assert.EqualValues(t, DefaultQueueSize, q.QueueSize)
	assert.Equal(t, exporterhelper.NewDefaultQueueConfig().Sizer, q.Sizer, "counted in requests")
}

func TestCustomConfig(t *testing.T) {
	cfg := loadConfig(t, "custom")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, "/var/lib/argus/runs.db", cfg.Path)
	assert.False(t, cfg.CreateSchema)
	assert.Equal(t, 168*time.Hour, cfg.Retention)
	assert.Equal(t, 10*time.Minute, cfg.RetentionCheckInterval)
	assert.Equal(t, 1024, cfg.MaxFieldBytes)
	assert.Equal(t, []string{"password", "ssn"}, cfg.RedactKeys, "a configured list replaces the defaults")
	assert.Equal(t, AuditConfig{ToolCalls: true, ActorType: "SERVICE"}, cfg.Audit)
	assert.Equal(t, 10*time.Second, cfg.TimeoutConfig.Timeout)
	assert.Equal(t, time.Second, cfg.RetryConfig.InitialInterval)
	assert.Equal(t, 60*time.Second, cfg.RetryConfig.MaxElapsedTime)
	require.True(t, cfg.QueueConfig.HasValue())
	assert.Equal(t, 2, cfg.QueueConfig.Get().NumConsumers)
	assert.Equal(t, int64(500), cfg.QueueConfig.Get().QueueSize)
}

// envProvider resolves ${env:NAME} like the collector's envprovider, so the
// test goes through confmap's real expansion.
type envProvider struct{}

func (envProvider) Retrieve(_ context.Context, uri string, _ confmap.WatcherFunc) (*confmap.Retrieved, error) {
	v, _ := os.LookupEnv(strings.TrimPrefix(uri, "env:"))
	return confmap.NewRetrieved(v)
}
func (envProvider) Scheme() string                 { return "env" }
func (envProvider) Shutdown(context.Context) error { return nil }

// rawProvider serves one already-loaded YAML document under "raw:".
type rawProvider struct{ raw map[string]any }

func (p rawProvider) Retrieve(context.Context, string, confmap.WatcherFunc) (*confmap.Retrieved, error) {
	return confmap.NewRetrieved(p.raw)
}
func (rawProvider) Scheme() string                 { return "raw" }
func (rawProvider) Shutdown(context.Context) error { return nil }

func TestDSNFromEnvironment(t *testing.T) {
	const dsn = "postgres://argus:s3cret@db.example:5432/argus?sslmode=disable"
	t.Setenv("ARGUS_DSN", dsn)
	raw, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	res, err := confmap.NewResolver(confmap.ResolverSettings{
		URIs: []string{"raw:config"},
		ProviderFactories: []confmap.ProviderFactory{
			confmap.NewProviderFactory(func(confmap.ProviderSettings) confmap.Provider { return rawProvider{raw.ToStringMap()} }),
			confmap.NewProviderFactory(func(confmap.ProviderSettings) confmap.Provider { return envProvider{} }),
		},
	})
	require.NoError(t, err)
	cm, err := res.Resolve(context.Background())
	require.NoError(t, err)
	sub, err := cm.Sub("argus/postgres")
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, dsn, string(cfg.DSN))
	assert.Equal(t, "", cfg.Storage().Path, "the sqlite default path is not passed to postgres")
	assert.NotContains(t, cfg.DSN.String(), "s3cret", "the DSN is opaque when printed")
}

func TestConfigValidateErrors(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"unknown_driver", []string{`driver: unknown driver "mysql"`}},
		{"postgres_no_dsn", []string{"dsn: required"}},
		{"sqlite_with_dsn", []string{"dsn: only used with driver"}},
		{"invalid", []string{
			"path: required",
			"retention: must not be negative",
			"max_field_bytes: must not be negative",
			"redact_keys[1]: must not be empty",
			"redact_keys[2]: must not be empty",
			"audit::actor_type: must not be empty",
		}},
		{"zero_interval", []string{"retention_check_interval: must be positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadConfig(t, tt.name)
			err := confmap.Validate(cfg)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestFactory(t *testing.T) {
	f := NewFactory()
	assert.Equal(t, "argus", f.Type().String())
	assert.Equal(t, component.StabilityLevelAlpha, f.TracesStability())
	assert.Equal(t, component.StabilityLevelAlpha, f.LogsStability())
	assert.Equal(t, component.StabilityLevelUndefined, f.MetricsStability())
}

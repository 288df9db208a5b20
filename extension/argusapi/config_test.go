package argusapi

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/arguslabs/argus-otel/extension/argusapi/internal/metadata"
	"github.com/arguslabs/argus-otel/internal/redact"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg
}

func TestConfigStruct(t *testing.T) {
	require.NoError(t, componenttest.CheckConfigStruct(createDefaultConfig()))
	assert.Equal(t, "argusapi", NewFactory().Type().String())
}

func TestDefaultConfig(t *testing.T) {
	cfg := loadConfig(t, "")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, "localhost:8889", cfg.NetAddr.Endpoint)
	assert.Equal(t, int64(8<<20), cfg.MaxRequestBodySize)
	assert.Equal(t, "sqlite", cfg.Driver)
	assert.Equal(t, ".argus/traces.db", cfg.Path)
	assert.True(t, cfg.CreateSchema)
	assert.False(t, cfg.Auth.HasValue())
	assert.False(t, cfg.TLS.HasValue())
	assert.Equal(t, 64<<10, cfg.Audit.MaxMetadataBytes)
	assert.Equal(t, ReadsConfig{MaxConcurrent: 4, MaxWait: 10 * time.Second, MaxPageBytes: 4 << 20}, cfg.Reads)
	assert.Equal(t, redact.DefaultKeys, cfg.RedactKeys)
	e, err := cfg.Audit.enums()
	require.NoError(t, err)
	assert.Equal(t, DefaultEventTypes, e.EventTypes)
}

func TestCustomConfig(t *testing.T) {
	cfg := loadConfig(t, "custom")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, "0.0.0.0:9999", cfg.NetAddr.Endpoint)
	assert.Equal(t, int64(1<<20), cfg.MaxRequestBodySize)
	assert.Equal(t, []string{"https://ui.example"}, cfg.CORS.Get().AllowedOrigins)
	assert.Equal(t, "bearertokenauth", cfg.Auth.Get().Config.AuthenticatorID.String())
	assert.Equal(t, "postgres", cfg.Driver)
	assert.Equal(t, "postgres://argus:pw@db:5432/argus", string(cfg.DSN))
	assert.False(t, cfg.CreateSchema)
	assert.Equal(t, AuditConfig{EventTypes: []string{"ORDER_CREATED"}, Actions: []string{"CREATE", "DELETE"},
		ActorTypes: []string{"CUSTOMER"}, TargetTypes: []string{"ORDER"}, MaxMetadataBytes: 1024}, cfg.Audit)
	assert.Equal(t, []string{"ssn"}, cfg.RedactKeys)
	assert.Equal(t, "postgres", cfg.Storage().Driver)
	assert.Empty(t, cfg.Storage().Path, "the sqlite default path is not passed with postgres")

	cfg = loadConfig(t, "enums_file")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, "testdata/enums.yaml", cfg.Audit.EnumsFile)
}

func TestInvalidConfig(t *testing.T) {
	err := confmap.Validate(loadConfig(t, "invalid"))
	require.Error(t, err)
	for _, want := range []string{"endpoint: must not be empty", `driver: unknown driver "mysql"`,
		"max_request_body_size: must not be negative", "audit::max_metadata_bytes", "audit::enums_file", "missing.yaml",
		"reads::max_concurrent: must be at least 1", "reads::max_wait: must not be negative", "reads::max_page_bytes: must be at least 1", "redact_keys[0]"} {
		assert.ErrorContains(t, err, want)
	}
	assert.ErrorContains(t, confmap.Validate(loadConfig(t, "sqlite_with_dsn")), `dsn: only used with driver "postgres"`)
	cfg := loadConfig(t, "")
	cfg.Audit.ActorTypes = []string{"", "USER"}
	assert.ErrorContains(t, confmap.Validate(cfg), "audit::actor_types[0]")
}

func TestStartErrors(t *testing.T) {
	ctx := context.Background()
	create := func(cfg *Config) *api {
		ext, err := NewFactory().Create(ctx, extensiontest.NewNopSettings(metadata.Type), cfg)
		require.NoError(t, err)
		return ext.(*api)
	}
	t.Run("port in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		cfg := backends[0].config(t)
		cfg.NetAddr.Endpoint = ln.Addr().String()
		a := create(cfg)
		require.ErrorContains(t, a.Start(ctx, componenttest.NewNopHost()), "listen")
		require.NoError(t, a.Shutdown(ctx), "shutdown after a failed start")
	})
	t.Run("database is not a database", func(t *testing.T) {
		cfg := backends[0].config(t)
		cfg.Path = t.TempDir() // a directory
		a := create(cfg)
		require.ErrorContains(t, a.Start(ctx, componenttest.NewNopHost()), "open sqlite store")
	})
	t.Run("bad enums file", func(t *testing.T) {
		cfg := backends[0].config(t)
		cfg.Audit.EnumsFile = filepath.Join(t.TempDir(), "none.yaml")
		require.ErrorContains(t, create(cfg).Start(ctx, componenttest.NewNopHost()), "enums_file")
	})
	t.Run("no schema and create_schema false", func(t *testing.T) {
		cfg := backends[0].config(t)
		cfg.CreateSchema = false
		s := start(t, cfg)
		// The API starts; reads fail clearly until the exporter creates the schema.
		r := s.get("/api/traces")
		assert.Equal(t, 500, r.status, "%s", r.body)
		s.errBodyCheck(t, r)
		require.NoError(t, s.store.Migrate(ctx))
		assert.Equal(t, 200, s.get("/api/traces").status)
	})
	t.Run("shutdown without start", func(t *testing.T) {
		require.NoError(t, create(backends[0].config(t)).Shutdown(ctx))
	})
}

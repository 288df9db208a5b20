package argusapi

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/arguslabs/argus-otel/extension/argusapi/internal/metadata"
	"github.com/arguslabs/argus-otel/store"
)

func TestHealthAndVersion(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		var h healthBody
		s.getJSON("/health", &h)
		assert.Equal(t, healthBody{Status: "ok", Database: cfg.Driver}, h)
		var v versionBody
		s.getJSON("/version", &v)
		assert.Equal(t, versionBody{Component: "argusapi", Version: "9.9.9-test", Collector: v.Collector, ReportSchemaVersion: 1}, v)

		// The database goes away: /health pings it and says so.
		if cfg.Driver == store.DriverPostgres {
			dropDatabase(t, string(cfg.DSN))
		} else {
			require.NoError(t, s.api.store.Close())
		}
		r := s.get("/health")
		require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
		r.json(t, &h)
		assert.Equal(t, "unavailable", h.Status)
		assert.Equal(t, "database unreachable", h.Error)
		assert.NotEmpty(t, h.Details)
		assert.Equal(t, "1", r.header.Get("Retry-After"))
		if cfg.DSN != "" {
			assert.NotContains(t, string(r.body), "argus:argus@", "no password in the answer")
		}
		// Reads answer a JSON error too, never a hang or a dropped connection.
		r = s.get("/api/audit-logs")
		assert.GreaterOrEqual(t, r.status, 500, "%s", r.body)
		s.errBodyCheck(t, r)
		// /version does not need the database.
		assert.Equal(t, http.StatusOK, s.get("/version").status)
	})
}

// TestServerErrorsAreLogged: a 5xx is logged for the operator (the client
// may never report it); a 4xx is the client's business and is not.
func TestServerErrorsAreLogged(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	set := extensiontest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	s := startWith(t, backends[0].config(t), newHost(nil), set)
	s.get("/api/traces?limit=-1").errBody(t, http.StatusBadRequest)
	assert.Zero(t, logs.FilterMessage("argusapi: request failed").Len())
	require.NoError(t, s.api.store.Close())
	r := s.get("/api/traces")
	require.GreaterOrEqual(t, r.status, 500)
	entries := logs.FilterMessage("argusapi: request failed").All()
	require.Len(t, entries, 1)
	assert.Equal(t, "/api/traces", entries[0].ContextMap()["path"])
	assert.EqualValues(t, r.status, entries[0].ContextMap()["status"])
}

// dropDatabase removes the test database under the running API.
func dropDatabase(t *testing.T, dsn string) {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	name := strings.TrimPrefix(u.Path, "/")
	base, err := url.Parse(os.Getenv("ARGUS_TEST_POSTGRES_DSN"))
	require.NoError(t, err)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base.String())
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	require.NoError(t, err)
}

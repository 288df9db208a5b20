package argusapi

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // registers "sqlite"

	"github.com/arguslabs/argus-otel/report"
	"github.com/arguslabs/argus-otel/store"
)

// TestAuditTimestampOutOfRange: the year-10000 timestamp (9999-12-31
// 23:59:59 at -01:00) and year 1 are refused as out of range with a 400;
// nothing is stored, and the list keeps working.
func TestAuditTimestampOutOfRange(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		for _, ts := range []string{"9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z"} {
			s.post("/api/audit-logs", event("timestamp", ts)).errBody(t, http.StatusBadRequest, "timestamp", ts, "out of range")
			r := s.post("/api/audit-logs/bulk", []any{event("timestamp", ts), event()})
			require.Equal(t, http.StatusMultiStatus, r.status, "%s", r.body)
			assert.Contains(t, string(r.body), "out of range")
		}
		require.Equal(t, http.StatusCreated, s.post("/api/audit-logs", event("timestamp", "9999-12-31T23:59:59Z")).status, "the last valid second")
		assert.Equal(t, 4, s.auditTotal())
	})
}

// TestStoredOutOfRangeTimeReads: a row stored before the range was
// enforced (here written through the database's own SQL) no longer fails
// the list pages, on either driver.
func TestStoredOutOfRangeTimeReads(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		require.Equal(t, http.StatusCreated, s.post("/api/audit-logs", event()).status)
		db, ph := rawDB(t, cfg)
		bad := any("10000-01-01T00:59:59.000Z")
		if cfg.Driver == store.DriverPostgres {
			bad = time.Date(10000, 1, 1, 0, 59, 59, 0, time.UTC)
		}
		_, err := db.ExecContext(context.Background(), "INSERT INTO audit_logs (id, timestamp, status, actor_type, actor_id, target_type, created_at) VALUES ("+
			ph(1)+", "+ph(2)+", 'SUCCESS', 'USER', 'u', 'USER', "+ph(3)+")", "poison", bad, t0.Format("2006-01-02T15:04:05.000Z"))
		require.NoError(t, err)
		var p logsPage
		s.getJSON("/api/audit-logs", &p)
		assert.Equal(t, 2, p.Total)
		for _, l := range p.Logs {
			if l.ID == "poison" {
				assert.True(t, l.Timestamp.Equal(store.MaxTime), "read as the end of the range: %s", l.Timestamp)
			}
		}
	})
}

// TestReportForbidsFraming: the report's header policy forbids framing
// (frame-ancestors only works from a header, so the page's meta element
// does not carry it).
func TestReportForbidsFraming(t *testing.T) {
	assert.Contains(t, report.ContentSecurityPolicy, "frame-ancestors 'none'")
	s := start(t, backends[0].config(t))
	s.seedRun("framed", "p", "ok", t0, 1, "")
	r := s.get("/api/traces/framed/report")
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	assert.False(t, strings.Contains(string(r.body), "frame-ancestors"), "not in the meta element")
}

// rawDB opens the test database with plain SQL (not through the store),
// with its placeholder style.
func rawDB(t *testing.T, cfg *Config) (*sql.DB, func(int) string) {
	t.Helper()
	driver, dsn := "sqlite", cfg.Path
	ph := func(int) string { return "?" }
	if cfg.Driver == store.DriverPostgres {
		driver, dsn = "pgx", string(cfg.DSN)
		ph = func(n int) string { return "$" + strconv.Itoa(n) }
	}
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db, ph
}

// TestAuditMetadataRedacted: REST audit metadata gets the same redaction
// as audit records over OTLP logs, in single and bulk requests, before it
// is stored; what the answer shows is what was stored.
func TestAuditMetadataRedacted(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		md := map[string]any{"password": "hunter2", "headers": map[string]any{"Authorization": "Bearer abc"}, "ip": "10.0.0.1"}
		r := s.post("/api/audit-logs", event("metadata", md, "traceId", "redact-1"))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.NotContains(t, string(r.body), "hunter2")
		r = s.post("/api/audit-logs/bulk", []any{event("metadata", md, "traceId", "redact-1")})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		var p logsPage
		s.getJSON("/api/audit-logs?traceId=redact-1", &p)
		require.Len(t, p.Logs, 2)
		for _, l := range p.Logs {
			assert.JSONEq(t, `{"password":"[REDACTED]","headers":{"Authorization":"[REDACTED]"},"ip":"10.0.0.1"}`, string(l.Metadata))
		}
	})
}

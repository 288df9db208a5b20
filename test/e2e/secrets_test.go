package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// TestSecretsNeverReachTheDisk plants secrets everywhere a client can put
// them (a state, a span attribute, an event, the resource, an audit
// record's metadata, attributes and body), keeps the spans in the
// detector's write-ahead log for a while, stops the collector, and then
// reads every byte it wrote: the WAL and baselines files, the audit
// queue's file, the database with its -wal file, and its log. None holds
// a secret; the rows hold "[REDACTED]" in their place.
func TestSecretsNeverReachTheDisk(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "traces.db")
	// The run waits in the buffer (and so in the write-ahead log) until the
	// collector stops.
	c := startCollector(t, sqliteExporter(dbPath), map[string]string{
		"detector": "decision_wait: 10m\n    root_quiet_period: 10m",
	})
	secrets := []string{
		"S3CRET-state-password", "S3CRET-attr-authorization", "S3CRET-event-token",
		"S3CRET-audit-password", "S3CRET-audit-authorization", "S3CRET-log-attr", "S3CRET-log-body",
	}

	tp := newProvider(t, c, "http", "secret-bot")
	tr := tp.Tracer("openinference.instrumentation.langchain")
	nodes := ragRun(false)
	nodes[0].input = map[string]any{"question": "q", "password": secrets[0]}
	id := emitLangGraph(tp, "thread-secrets", nodes)
	_, span := tr.Start(context.Background(), "http call", trace.WithAttributes(
		attribute.String("http.request.header.authorization", "Bearer "+secrets[1])))
	span.AddEvent("tool.call", trace.WithAttributes(attribute.String("tool.args", js(map[string]any{"token": secrets[2]}))))
	span.End()
	flush(t, tp)

	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	for k, v := range map[string]string{"audit.status": "SUCCESS", "audit.actor_type": "SERVICE", "audit.actor_id": "billing",
		"audit.target_type": "RESOURCE", "audit.event_type": "MANAGEMENT_EVENT", "audit.action": "UPDATE",
		"audit.metadata": js(map[string]any{"password": secrets[3], "headers": map[string]any{"Authorization": secrets[4]}}),
		"db.password":    secrets[5]} {
		lr.Attributes().PutStr(k, v)
	}
	lr.Body().SetEmptyMap().PutStr("cookie", secrets[6])
	var lm plog.JSONMarshaler
	body, err := lm.MarshalLogs(ld)
	require.NoError(t, err)
	resp, err := http.Post("http://"+c.httpAddr+"/v1/logs", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	db := openSQLite(t, dbPath)
	waitRows(t, db, "SELECT COUNT(*) FROM audit_logs WHERE actor_id = 'billing'", 1)
	// The spans are in the write-ahead log now (not yet stored).
	noSecretIn(t, c.dir, secrets)
	c.stop(t)
	waitRows(t, db, "SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", 5, id)
	var in, md string
	require.NoError(t, db.QueryRow("SELECT CAST(input_state AS TEXT) FROM trace_steps WHERE trace_id = ? AND node_name = 'plan'", id).Scan(&in))
	require.Contains(t, in, `"password":"[REDACTED]"`)
	require.NoError(t, db.QueryRow("SELECT CAST(metadata AS TEXT) FROM audit_logs WHERE actor_id = 'billing'").Scan(&md))
	require.Contains(t, md, `"password":"[REDACTED]"`)
	require.Contains(t, md, `"Authorization":"[REDACTED]"`)
	require.NoError(t, db.Close())
	noSecretIn(t, c.dir, secrets)
	for _, s := range secrets {
		require.NotContains(t, c.logs.String(), s, "the collector's log")
	}
}

// noSecretIn reads every file under dir and fails on any secret in it.
func noSecretIn(t *testing.T, dir string, secrets []string) {
	t.Helper()
	files := 0
	require.NoError(t, filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, s := range secrets {
			require.False(t, bytes.Contains(b, []byte(s)), "%s holds %q", path, s)
		}
		return nil
	}))
	require.GreaterOrEqual(t, files, 4, "the WAL, the queue, the database: something was written")
}

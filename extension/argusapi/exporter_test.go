package argusapi

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/exporter/argusexporter"
)

// startExporter runs the argus exporter (traces and logs, real factory) on
// the API's database, synchronously (no queue) so a test reads its writes.
func startExporter(t *testing.T, api *Config) (ptraceConsumer func(ptrace.Traces), plogConsumer func(plog.Logs)) {
	t.Helper()
	f, cfg, set := exporterConfig(t, api)
	cfg.Audit.ToolCalls = true
	ctx := context.Background()
	tr, err := f.CreateTraces(ctx, set, cfg)
	require.NoError(t, err)
	lg, err := f.CreateLogs(ctx, set, cfg)
	require.NoError(t, err)
	require.NoError(t, tr.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, lg.Start(ctx, componenttest.NewNopHost()))
	t.Cleanup(func() {
		assert.NoError(t, tr.Shutdown(context.Background()))
		assert.NoError(t, lg.Shutdown(context.Background()))
	})
	return func(td ptrace.Traces) { require.NoError(t, tr.ConsumeTraces(ctx, td)) },
		func(ld plog.Logs) { require.NoError(t, lg.ConsumeLogs(ctx, ld)) }
}

// exporterConfig is the argus exporter's factory, a config on the API's
// database that writes synchronously (no queue, no retry), and settings.
func exporterConfig(t *testing.T, api *Config) (exporter.Factory, *argusexporter.Config, exporter.Settings) {
	t.Helper()
	f := argusexporter.NewFactory()
	cfg := f.CreateDefaultConfig().(*argusexporter.Config)
	cfg.Driver, cfg.Path, cfg.DSN = api.Driver, api.Path, api.DSN
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.RetryConfig.Enabled = false
	require.NoError(t, cfg.Validate())
	set := exportertest.NewNopSettings(f.Type())
	set.ID = component.NewID(f.Type())
	return f, cfg, set
}

func fixture(t *testing.T, name string) ptrace.Traces {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "otlp", name))
	require.NoError(t, err)
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
	require.NoError(t, err)
	return td
}

// TestThreeWaysIn: audit logs posted to the API, sent as OTLP log records
// through the exporter's logs pipeline, and derived by the exporter from a
// run's tool calls all land in one store and read back through the API.
func TestThreeWaysIn(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg) // the API first: it creates the schema
		traces, logs := startExporter(t, cfg)

		// 1. REST.
		r := s.post("/api/audit-logs", event("traceId", "0123456789abcdef0123456789abcdef", "actorId", "rest-client"))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)

		// 2. OTLP log records with audit.* attributes.
		ts := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
		ld := plog.NewLogs()
		lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		rec := lrs.AppendEmpty()
		rec.SetTimestamp(pcommon.NewTimestampFromTime(ts))
		a := rec.Attributes()
		a.PutStr("audit.event_type", "USER_MANAGEMENT")
		a.PutStr("audit.action", "UPDATE")
		a.PutStr("audit.status", "SUCCESS")
		a.PutStr("audit.actor_type", "USER")
		a.PutStr("audit.actor_id", "otlp-user")
		a.PutStr("audit.target_type", "USER")
		a.PutStr("audit.target_id", "u-7")
		a.PutStr("audit.trace_id", "0123456789abcdef0123456789abcdef")
		a.PutEmptyMap("audit.metadata").PutStr("ip", "10.1.2.3")
		lrs.AppendEmpty().Body().SetStr("not an audit record")
		logs(ld)

		var p logsPage
		s.getJSON("/api/audit-logs"+q("traceId", "0123456789abcdef0123456789abcdef"), &p)
		require.Equal(t, 2, p.Total, "REST and OTLP records of one trace")
		otlp := p.Logs[0] // newest first: the REST one is at t0 (2026), the OTLP one an hour ago
		if otlp.ActorID != "otlp-user" {
			otlp = p.Logs[1]
		}
		assert.Equal(t, "otlp-user", otlp.ActorID)
		assert.Equal(t, "USER_MANAGEMENT", otlp.EventType)
		assert.Equal(t, "UPDATE", otlp.Action)
		assert.True(t, otlp.Timestamp.Equal(ts))
		assert.JSONEq(t, `{"ip":"10.1.2.3"}`, string(otlp.Metadata))
		s.getJSON("/api/audit-logs"+q("actorId", "otlp-user", "eventType", "USER_MANAGEMENT", "status", "SUCCESS"), &p)
		assert.Equal(t, 1, p.Total)

		// 3. Tool calls of runs, written by the traces pipeline.
		for _, name := range []string{"genai_agent.json", "openllmetry_langgraph.json"} {
			traces(fixture(t, name))
		}
		s.getJSON("/api/audit-logs"+q("eventType", "TOOL_CALL", "limit", "1000"), &p)
		require.Positive(t, p.Total, "the fixtures have tool calls")
		traceIDs := map[string]bool{}
		for _, l := range p.Logs {
			assert.Equal(t, "AGENT", l.ActorType)
			assert.Equal(t, "TOOL", l.TargetType)
			assert.Contains(t, []string{"SUCCESS", "FAILURE"}, l.Status)
			assert.NotEmpty(t, l.Action)
			traceIDs[l.TraceID] = true
		}
		// Each tool call belongs to a run the API lists, with its report.
		for id := range traceIDs {
			var tp struct {
				Total int `json:"total"`
			}
			s.getJSON("/api/traces"+q("traceId", id), &tp)
			assert.Equal(t, 1, tp.Total, "run %s of a tool call", id)
			assert.Equal(t, http.StatusOK, s.get("/api/traces/"+id+"/report").status)
			var one logsPage
			s.getJSON("/api/audit-logs"+q("traceId", id, "eventType", "TOOL_CALL"), &one)
			assert.Positive(t, one.Total)
		}
		// What the exporter writes passes the API's own checks: posting a
		// tool-call record back (under a new id) is accepted with the
		// default enums.
		l := p.Logs[0]
		r = s.post("/api/audit-logs", map[string]any{"timestamp": l.Timestamp.Format(time.RFC3339Nano), "traceId": l.TraceID,
			"status": l.Status, "eventType": l.EventType, "action": l.Action, "actorType": l.ActorType, "actorId": l.ActorID,
			"targetType": l.TargetType, "targetId": l.TargetID, "metadata": l.Metadata})
		assert.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	})
}

package argusexporter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// auditLogs builds OTLP log records the way an instrumented service emits
// audit events.
func auditLogs(ts time.Time) (plog.Logs, pcommon.TraceID) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "billing")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	tid := newTraceID()

	// 1: complete, map metadata with a secret.
	r := lrs.AppendEmpty()
	r.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	r.Body().SetStr("user updated invoice")
	a := r.Attributes()
	a.PutStr("audit.event_type", "UPDATE")
	a.PutStr("audit.action", "invoice.update")
	a.PutStr("audit.status", "SUCCESS")
	a.PutStr("audit.actor_type", "USER")
	a.PutStr("audit.actor_id", "u-42")
	a.PutStr("audit.target_type", "INVOICE")
	a.PutStr("audit.target_id", "inv-7")
	a.PutStr("audit.trace_id", "0123456789abcdef0123456789abcdef")
	md := a.PutEmptyMap("audit.metadata")
	md.PutStr("ip", "10.0.0.1")
	md.PutStr("password", "hunter2")

	// 2: JSON string metadata, lowercase status, trace id from the record, explicit id.
	r = lrs.AppendEmpty()
	r.SetTimestamp(pcommon.NewTimestampFromTime(ts.Add(time.Second)))
	r.SetTraceID(tid)
	a = r.Attributes()
	a.PutStr("audit.id", "given-id-1")
	a.PutStr("audit.status", "failure")
	a.PutStr("audit.actor_type", "AGENT")
	a.PutStr("audit.actor_id", "support-bot")
	a.PutStr("audit.target_type", "TOOL")
	a.PutStr("audit.metadata", `{"attempt": 3}`)

	// 3: not an audit record.
	r = lrs.AppendEmpty()
	r.Body().SetStr("GET /health 200")
	r.Attributes().PutStr("http.route", "/health")

	// 4: an audit record without its actor id: invalid.
	r = lrs.AppendEmpty()
	a = r.Attributes()
	a.PutStr("audit.status", "SUCCESS")
	a.PutStr("audit.actor_type", "USER")
	a.PutStr("audit.target_type", "INVOICE")

	// 5: bad status, invalid.
	r = lrs.AppendEmpty()
	a = r.Attributes()
	a.PutStr("audit.status", "MAYBE")
	a.PutStr("audit.actor_type", "USER")
	a.PutStr("audit.actor_id", "u-1")
	a.PutStr("audit.target_type", "INVOICE")

	// 6: only an observed timestamp, metadata that is not JSON, odd bytes.
	r = lrs.AppendEmpty()
	r.SetObservedTimestamp(pcommon.NewTimestampFromTime(ts.Add(2 * time.Second)))
	a = r.Attributes()
	a.PutStr("audit.status", "SUCCESS")
	a.PutStr("audit.actor_type", "USER")
	a.PutStr("audit.actor_id", "u-\x00\xff'; DROP TABLE audit_logs; --")
	a.PutStr("audit.target_type", "INVOICE")
	a.PutStr("audit.metadata", "plain text")
	return ld, tid
}

func TestAuditLogsFromOTLPLogs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		cfg := be.config(t)
		s := startExporters(t, cfg)
		d := be.open(t, cfg)
		ts := time.Date(2026, 2, 3, 4, 5, 6, 789_000_000, time.UTC)
		ld, tid := auditLogs(ts)

		for i := 0; i < 2; i++ { // a retried push stores nothing twice
			require.NoError(t, s.logs.ConsumeLogs(context.Background(), ld))
			assert.Equal(t, 3, d.count("SELECT COUNT(*) FROM audit_logs"))
		}
		assert.Equal(t, int64(2), s.counter(t, "otelcol_argusexporter_log_records_ignored", "", ""))
		assert.Equal(t, int64(4), s.counter(t, "otelcol_argusexporter_items_dropped", "reason", "invalid_audit"))
		assert.Equal(t, int64(3), s.counter(t, "otelcol_argusexporter_rows_written", "table", "audit_logs"), "the retry wrote nothing new")

		var traceID, status, event, action, actorType, targetType, targetID, meta string
		var stamp any
		d.row("SELECT trace_id, status, event_type, action, actor_type, target_type, target_id, CAST(metadata AS TEXT), timestamp FROM audit_logs WHERE actor_id = 'u-42'", nil,
			&traceID, &status, &event, &action, &actorType, &targetType, &targetID, &meta, &stamp)
		assert.Equal(t, "0123456789abcdef0123456789abcdef", traceID)
		assert.Equal(t, "SUCCESS", status)
		assert.Equal(t, "UPDATE", event)
		assert.Equal(t, "invoice.update", action)
		assert.Equal(t, "USER", actorType)
		assert.Equal(t, "INVOICE", targetType)
		assert.Equal(t, "inv-7", targetID)
		assert.Equal(t, map[string]any{"ip": "10.0.0.1", "password": "[REDACTED]"}, jsonOf(t, meta))
		assert.True(t, ts.Equal(timeOf(t, stamp)), "%v", stamp)

		var id string
		d.row("SELECT id, trace_id, status, CAST(metadata AS TEXT) FROM audit_logs WHERE actor_id = 'support-bot'", nil, &id, &traceID, &status, &meta)
		assert.Equal(t, "given-id-1", id)
		assert.Equal(t, tid.String(), traceID, "falls back to the record's trace id")
		assert.Equal(t, "FAILURE", status)
		assert.Equal(t, map[string]any{"attempt": 3.0}, jsonOf(t, meta))

		d.row("SELECT CAST(metadata AS TEXT), timestamp FROM audit_logs WHERE actor_id LIKE 'u-%DROP TABLE%'", nil, &meta, &stamp)
		assert.Equal(t, map[string]any{"value": "plain text"}, jsonOf(t, meta))
		assert.True(t, ts.Add(2*time.Second).Equal(timeOf(t, stamp)), "observed timestamp when the record has none")
	})
}

func TestLogsWithoutAuditRecordsWriteNothing(t *testing.T) {
	cfg := backends[0].config(t)
	s := startExporters(t, cfg)
	d := backends[0].open(t, cfg)
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("hello")
	require.NoError(t, s.logs.ConsumeLogs(context.Background(), ld))
	assert.Zero(t, d.count("SELECT COUNT(*) FROM audit_logs"))
	assert.Equal(t, int64(1), s.counter(t, "otelcol_argusexporter_log_records_ignored", "", ""))
}

func TestToolCallAudit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		cfg := be.config(t)
		cfg.Audit.ToolCalls = true
		s := startExporters(t, cfg)
		d := be.open(t, cfg)
		ns := ragRun(false)
		ns[2].tool, ns[2].toolErr = "web_search", true
		b := langGraphRun("svc", time.Now().Add(-time.Minute).UTC(), ns)
		for i := 0; i < 2; i++ {
			require.NoError(t, s.traces.ConsumeTraces(context.Background(), b.td))
			assert.Equal(t, 2, d.count("SELECT COUNT(*) FROM audit_logs WHERE trace_id = ?", b.traceID))
		}
		type rec struct {
			status, action, actorType, actorID, targetType, targetID, meta string
			ts                                                             any
		}
		read := func(tool string) rec {
			var r rec
			d.row("SELECT status, action, actor_type, actor_id, target_type, target_id, CAST(metadata AS TEXT), timestamp FROM audit_logs WHERE event_type = 'TOOL_CALL' AND trace_id = ? AND target_id = ?",
				[]any{b.traceID, tool}, &r.status, &r.action, &r.actorType, &r.actorID, &r.targetType, &r.targetID, &r.meta, &r.ts)
			return r
		}
		kb := read("kb_search")
		assert.Equal(t, rec{status: "SUCCESS", action: "kb_search", actorType: "AGENT", actorID: "LangGraph", targetType: "TOOL", targetID: "kb_search", meta: kb.meta, ts: kb.ts}, kb)
		assert.True(t, b.tools[0].StartTimestamp().AsTime().Equal(timeOf(t, kb.ts)))
		m := jsonOf(t, kb.meta).(map[string]any)
		assert.Equal(t, b.tools[0].SpanID().String(), m["span_id"])
		assert.Equal(t, "retrieve", m["node"])
		assert.Equal(t, b.traceID+"-"+b.nodes[1].SpanID().String(), m["step_id"])

		ws := read("web_search")
		assert.Equal(t, "FAILURE", ws.status)
		assert.Equal(t, "rerank", jsonOf(t, ws.meta).(map[string]any)["node"])
	})
}

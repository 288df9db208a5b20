package argusapi

import (
	"context"
	"encoding/binary"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/annotation"
	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/store"
)

// TestHostileContentSuite writes every record the database refuses for
// its content (and the long values that used to be refused) through the
// real argus exporter, beside healthy traces, on SQLite and PostgreSQL,
// and checks: the rest of each batch is stored, the refused record is
// visible (stored capped, or in the quarantine table with the reason),
// nothing is retried (each push returns at once, without error), and
// /health says "degraded" while rows were refused lately and "ok" again
// after. A write that fails as a whole (a lock) turns the exporter's
// component status to RecoverableError and /health to 503, and both
// recover with the next write that works.
func TestHostileContentSuite(t *testing.T) {
	defer func(w time.Duration) { refusalWindow = w }(refusalWindow)
	refusalWindow = 2 * time.Second
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		ex := startReportingExporter(t, cfg, s.api)
		ctx := context.Background()
		pg := cfg.Driver == store.DriverPostgres
		db, ph := rawDB(t, cfg)
		count := func(q string, args ...any) int {
			t.Helper()
			for i := range args {
				q = strings.Replace(q, "?", ph(i+1), 1)
			}
			var n int
			require.NoError(t, db.QueryRowContext(ctx, q, args...).Scan(&n))
			return n
		}
		var h healthBody
		s.getJSON("/health", &h)
		require.Equal(t, "ok", h.Status)

		long := randomLetters(3000)
		cases := []struct {
			name  string
			build func(td ptrace.Traces, id pcommon.TraceID)
			// quarantined: rows of the trace in the quarantine (by driver)
			sqlite, postgres int
			steps            int // stored steps of the trace
		}{
			{"root span name of 3,000 random characters (the PostgreSQL stall)", func(td ptrace.Traces, id pcommon.TraceID) {
				hostileRun(td, id, long, 3)
			}, 0, 0, 3},
			{"node name of 3,000 characters", func(td ptrace.Traces, id pcommon.TraceID) {
				hostileRun(td, id, "LangGraph", 3)[1].Attributes().PutStr("metadata", `{"langgraph_node":"`+long+`","langgraph_step":1}`)
			}, 0, 0, 3},
			{"a node at the maximum OTLP time (the mapping takes it as unknown)", func(td ptrace.Traces, id pcommon.TraceID) {
				sp := hostileRun(td, id, "LangGraph", 3)[2]
				sp.SetStartTimestamp(pcommon.Timestamp(math.MaxUint64))
				sp.SetEndTimestamp(pcommon.Timestamp(math.MaxUint64))
			}, 0, 0, 3},
			{"a detection on a span ending at the maximum OTLP time (its row's time is unknown: now)", func(td ptrace.Traces, id pcommon.TraceID) {
				sp := hostileRun(td, id, "LangGraph", 3)[2]
				sp.SetEndTimestamp(pcommon.Timestamp(math.MaxUint64))
				annotation.AddDetection(sp, annotation.Detection{ID: "late-" + id.String(), Layer: "semantic", Severity: "info",
					Rule: "x", Message: "m", Details: []byte(`{}`)})
			}, 0, 0, 3},
			{"a causal chain JSONB refuses (lone surrogate) and a number out of its range", func(td ptrace.Traces, id pcommon.TraceID) {
				spans := hostileRun(td, id, "LangGraph", 3)
				annotation.AddForensics(spans[0], annotation.Forensics{ID: "f-" + id.String(), Explanation: "x",
					CausalChain: []byte(`[{"note":"\ud800"}]`)})
				annotation.AddDetection(spans[1], annotation.Detection{ID: "d-" + id.String(), Layer: "semantic", Severity: "info",
					Rule: "x", Message: "m", Details: []byte(`{"n":1e999999}`)})
			}, 0, 1, 3},
		}
		healthy := func(td ptrace.Traces, n int) []pcommon.TraceID {
			var ids []pcommon.TraceID
			for i := 0; i < n; i++ {
				id := traceID(0xee, len(cases)*10+i+len(ids))
				hostileRun(td, id, "healthy", 4)
				ids = append(ids, id)
			}
			return ids
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				td := ptrace.NewTraces()
				good := healthy(td, 2)
				id := traceID(byte(i+1), i)
				c.build(td, id)
				good = append(good, healthy(td, 2)...)
				start := time.Now()
				require.NoError(t, ex.traces.ConsumeTraces(ctx, td), "handled, not retried")
				require.Less(t, time.Since(start), 10*time.Second)
				for _, g := range good {
					assert.Equal(t, 4, count("SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", g.String()), "healthy trace %s", g)
				}
				assert.Equal(t, 1, count("SELECT COUNT(*) FROM traces WHERE id = ?", id.String()))
				assert.Equal(t, c.steps, count("SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", id.String()))
				want := c.sqlite
				if pg {
					want = c.postgres
				}
				assert.Equal(t, want, count("SELECT COUNT(*) FROM quarantine WHERE trace_id = ?", id.String()))
				assert.Equal(t, 0, count("SELECT COUNT(*) FROM detections WHERE trace_id = ? AND created_at < ?", id.String(), dbTime(pg, store.MinTime)),
					"no stored row has a time before the range")
				var p struct {
					Traces []store.Trace `json:"traces"`
				}
				s.getJSON("/api/traces?traceId="+id.String(), &p)
				require.Len(t, p.Traces, 1)
				assert.LessOrEqual(t, len(p.Traces[0].PipelineName), store.MaxIndexedBytes)
				s.getJSON("/api/traces/"+id.String(), new(map[string]any))
			})
		}
		assert.Equal(t, 0, count("SELECT COUNT(*) FROM quarantine WHERE reason = ''"))

		// Audit records over OTLP logs: one out of range beside a valid one.
		ld := plog.NewLogs()
		lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for i, ts := range []pcommon.Timestamp{pcommon.Timestamp(math.MaxUint64), pcommon.NewTimestampFromTime(time.Now())} {
			rec := lrs.AppendEmpty()
			rec.SetTimestamp(ts)
			for k, v := range map[string]string{"audit.status": "SUCCESS", "audit.actor_type": "SERVICE",
				"audit.actor_id": "hostile-" + string(rune('a'+i)), "audit.target_type": "RESOURCE"} {
				rec.Attributes().PutStr(k, v)
			}
		}
		require.NoError(t, ex.logs.ConsumeLogs(ctx, ld))
		assert.Equal(t, 1, count("SELECT COUNT(*) FROM audit_logs WHERE actor_id = 'hostile-b'"))
		assert.Equal(t, 1, count("SELECT COUNT(*) FROM quarantine WHERE table_name = 'audit_logs' AND reason LIKE '%out of range%'"))

		// Health: degraded (200) while refusals are recent, then ok.
		r := s.get("/health")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r.json(t, &h)
		assert.Equal(t, "degraded", h.Status)
		assert.Contains(t, h.Details, "quarantine table")
		require.NotNil(t, h.Writes)
		assert.Positive(t, h.Writes.Refused)
		require.Eventually(t, func() bool {
			var h healthBody
			s.getJSON("/health", &h)
			return h.Status == "ok"
		}, 10*time.Second, 100*time.Millisecond, "health recovers")

		// A write that fails as a whole: a lock held by someone else.
		var unlock func()
		if pg {
			unlock = testutil.LockPostgresTable(t, string(cfg.DSN), "traces")
		} else {
			unlock = testutil.LockSQLite(t, cfg.Path)
		}
		td := ptrace.NewTraces()
		healthy(td, 1)
		require.Error(t, ex.traces.ConsumeTraces(ctx, td))
		r = s.get("/health")
		require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
		r.json(t, &h)
		assert.Equal(t, "degraded", h.Status)
		assert.Equal(t, "writes are failing", h.Error)
		assert.Contains(t, h.Components, "exporter/argus")
		assert.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError}, ex.statuses())
		unlock()
		require.NoError(t, ex.traces.ConsumeTraces(ctx, td), "the same write once the lock is gone")
		h = healthBody{}
		s.getJSON("/health", &h)
		assert.Equal(t, "ok", h.Status)
		assert.Empty(t, h.Components)
		assert.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError, componentstatus.StatusOK}, ex.statuses())
	})
}

// reportingExporter is the argus exporter started on a host that passes
// its status reports to the API, as the collector's service does.
type reportingExporter struct {
	traces exporter.Traces
	logs   exporter.Logs
	mu     sync.Mutex
	events []componentstatus.Status
}

func (r *reportingExporter) statuses() []componentstatus.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]componentstatus.Status(nil), r.events...)
}

type reportingHost struct {
	component.Host
	report func(*componentstatus.Event)
}

func (h reportingHost) Report(ev *componentstatus.Event) { h.report(ev) }

func startReportingExporter(t *testing.T, api *Config, a *api) *reportingExporter {
	t.Helper()
	f, cfg, set := exporterConfig(t, api)
	cfg.TimeoutConfig.Timeout = time.Second
	ctx := context.Background()
	r := &reportingExporter{}
	var err error
	r.traces, err = f.CreateTraces(ctx, set, cfg)
	require.NoError(t, err)
	r.logs, err = f.CreateLogs(ctx, set, cfg)
	require.NoError(t, err)
	instance := componentstatus.NewInstanceID(set.ID, component.KindExporter)
	host := reportingHost{Host: componenttest.NewNopHost(), report: func(ev *componentstatus.Event) {
		r.mu.Lock()
		r.events = append(r.events, ev.Status())
		r.mu.Unlock()
		a.Changed(instance, ev)
	}}
	require.NoError(t, r.traces.Start(ctx, host))
	require.NoError(t, r.logs.Start(ctx, componenttest.NewNopHost()))
	t.Cleanup(func() {
		assert.NoError(t, r.traces.Shutdown(context.Background()))
		assert.NoError(t, r.logs.Shutdown(context.Background()))
	})
	return r
}

func traceID(hi byte, n int) pcommon.TraceID {
	var id pcommon.TraceID
	id[0] = hi
	binary.BigEndian.PutUint64(id[8:], uint64(n)+1)
	return id
}

// hostileRun appends a LangGraph run (OpenInference) with a root named
// root and n node spans; it returns the root and the nodes.
func hostileRun(td ptrace.Traces, id pcommon.TraceID, root string, n int) []ptrace.Span {
	ss := td.ResourceSpans().AppendEmpty()
	ss.Resource().Attributes().PutStr("service.name", "hostile")
	spans := ss.ScopeSpans().AppendEmpty().Spans()
	at := time.Now().Add(-time.Minute)
	sid := func(i int) pcommon.SpanID {
		var s pcommon.SpanID
		s[0] = id[0]
		binary.BigEndian.PutUint32(s[4:], uint32(i+1))
		return s
	}
	mk := func(i int, name string) ptrace.Span {
		sp := spans.AppendEmpty()
		sp.SetTraceID(id)
		sp.SetSpanID(sid(i))
		if i > 0 {
			sp.SetParentSpanID(sid(0))
		}
		sp.SetName(name)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Duration(i) * 10 * time.Millisecond)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Duration(i)*10*time.Millisecond + 5*time.Millisecond)))
		sp.Attributes().PutStr("openinference.span.kind", "CHAIN")
		return sp
	}
	out := []ptrace.Span{mk(0, root)}
	out[0].SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Second)))
	for i := 1; i <= n; i++ {
		node := "node" + string(rune('0'+i))
		sp := mk(i, node)
		sp.Attributes().PutStr("metadata", `{"langgraph_node":"`+node+`","langgraph_step":`+string(rune('0'+i))+`}`)
		sp.Attributes().PutStr("input.value", `{"q":"x"}`)
		sp.Attributes().PutStr("output.value", `{"a":"`+node+`"}`)
		out = append(out, sp)
	}
	return out
}

func randomLetters(n int) string {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte('a' + x%26)
	}
	return string(b)
}

// dbTime is t as the driver binds it in the raw queries of these tests.
func dbTime(pg bool, t time.Time) any {
	if pg {
		return t
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

package argusexporter

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	_ "modernc.org/sqlite"

	"github.com/arguslabs/argus-otel/exporter/argusexporter/internal/metadata"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

// ---- building OpenInference (LangGraph) traces in pdata ----

// node is one LangGraph node execution.
type node struct {
	name     string
	input    any
	output   any
	noOutput bool   // the node threw: no output.value
	errMsg   string // status ERROR + exception event
	llm      bool   // a nested LLM span
	tool     string // a nested TOOL span with this tool name
	toolErr  bool
	took     time.Duration
}

// built is a trace and handles on its spans, for annotating them.
type built struct {
	td      ptrace.Traces
	traceID string
	root    ptrace.Span
	nodes   []ptrace.Span
	tools   []ptrace.Span
	start   time.Time
	end     time.Time
}

var idSeq atomic.Uint64

func newTraceID() pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[:8], uint64(time.Now().UnixNano()))
	binary.BigEndian.PutUint64(id[8:], idSeq.Add(1))
	return id
}

func newSpanID() pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], idSeq.Add(1)|1<<60)
	return id
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// langGraphRun records a run the way openinference-instrumentation-langchain
// does: a LangGraph CHAIN root, one CHAIN span per node with langgraph
// metadata, nested LLM / TOOL spans.
func langGraphRun(service string, start time.Time, nodes []node) built {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("openinference.instrumentation.langchain")
	spans := ss.Spans()

	// Both databases keep milliseconds; tests compare stored times exactly.
	start = start.Truncate(time.Millisecond)
	traceID := newTraceID()
	b := built{traceID: traceID.String(), start: start}
	root := spans.AppendEmpty()
	root.SetTraceID(traceID)
	root.SetSpanID(newSpanID())
	root.SetName("LangGraph")
	root.SetKind(ptrace.SpanKindInternal)
	root.Attributes().PutStr("openinference.span.kind", "CHAIN")
	root.Attributes().PutStr("session.id", "thread-1")
	if len(nodes) > 0 {
		root.Attributes().PutStr("input.value", js(nodes[0].input))
		root.Attributes().PutStr("input.mime_type", "application/json")
	}
	at := start.Add(time.Millisecond)
	failed := false
	for i, n := range nodes {
		took := n.took
		if took == 0 {
			took = 20 * time.Millisecond
		}
		sp := spans.AppendEmpty()
		sp.SetTraceID(traceID)
		sp.SetSpanID(newSpanID())
		sp.SetParentSpanID(root.SpanID())
		sp.SetName(n.name)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(at))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(took)))
		a := sp.Attributes()
		a.PutStr("openinference.span.kind", "CHAIN")
		a.PutStr("metadata", js(map[string]any{
			"langgraph_step": i + 1, "langgraph_node": n.name,
			"langgraph_triggers": []string{"branch:to:" + n.name},
			"langgraph_path":     []string{"__pregel_pull", n.name},
		}))
		a.PutStr("input.value", js(n.input))
		a.PutStr("input.mime_type", "application/json")
		if !n.noOutput {
			a.PutStr("output.value", js(n.output))
			a.PutStr("output.mime_type", "application/json")
		}
		if n.errMsg != "" {
			failed = true
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage(n.errMsg)
			ev := sp.Events().AppendEmpty()
			ev.SetName("exception")
			ev.SetTimestamp(sp.EndTimestamp())
			ev.Attributes().PutStr("exception.type", "KeyError")
			ev.Attributes().PutStr("exception.message", n.errMsg)
		}
		if n.llm {
			c := spans.AppendEmpty()
			c.SetTraceID(traceID)
			c.SetSpanID(newSpanID())
			c.SetParentSpanID(sp.SpanID())
			c.SetName("ChatOpenAI")
			c.SetStartTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Millisecond)))
			c.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(took - time.Millisecond)))
			ca := c.Attributes()
			ca.PutStr("openinference.span.kind", "LLM")
			ca.PutStr("llm.model_name", "gpt-4o-mini")
			ca.PutStr("llm.provider", "openai")
			ca.PutInt("llm.token_count.prompt", 120)
			ca.PutInt("llm.token_count.completion", 30)
			ca.PutInt("llm.token_count.total", 150)
			ca.PutStr("input.value", js(n.input))
			ca.PutStr("output.value", js(n.output))
		}
		if n.tool != "" {
			c := spans.AppendEmpty()
			c.SetTraceID(traceID)
			c.SetSpanID(newSpanID())
			c.SetParentSpanID(sp.SpanID())
			c.SetName(n.tool)
			c.SetStartTimestamp(pcommon.NewTimestampFromTime(at.Add(2 * time.Millisecond)))
			c.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(took / 2)))
			ca := c.Attributes()
			ca.PutStr("openinference.span.kind", "TOOL")
			ca.PutStr("tool.name", n.tool)
			ca.PutStr("tool.parameters", js(map[string]any{"query": "refund policy"}))
			ca.PutStr("input.value", js(map[string]any{"query": "refund policy"}))
			ca.PutStr("output.value", js(map[string]any{"hits": 3}))
			if n.toolErr {
				c.Status().SetCode(ptrace.StatusCodeError)
				c.Status().SetMessage("tool timed out")
			}
			b.tools = append(b.tools, c)
		}
		b.nodes = append(b.nodes, sp)
		at = at.Add(took + time.Millisecond)
	}
	root.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	root.SetEndTimestamp(pcommon.NewTimestampFromTime(at))
	if len(nodes) > 0 && !nodes[len(nodes)-1].noOutput {
		root.Attributes().PutStr("output.value", js(nodes[len(nodes)-1].output))
		root.Attributes().PutStr("output.mime_type", "application/json")
	}
	if failed {
		root.Status().SetCode(ptrace.StatusCodeError)
	}
	b.td, b.root, b.end = td, root, at
	return b
}

// ragRun is the RAG pipeline of the e2e suite; failing empties retrieval
// and makes synthesize crash on the missing documents.
func ragRun(failing bool) []node {
	docs := []any{map[string]any{"id": "kb-1", "text": "Refunds are accepted within 30 days."}}
	if failing {
		docs = []any{}
	}
	q := map[string]any{"question": "What is the refund policy?"}
	ns := []node{
		{name: "plan", input: q, output: map[string]any{"plan": "search the knowledge base"}, llm: true},
		{name: "retrieve", input: q, output: map[string]any{"documents": docs}, tool: "kb_search"},
		{name: "rerank", input: map[string]any{"documents": docs}, output: map[string]any{"documents": docs}},
		{name: "format_context", input: map[string]any{"documents": docs}, output: map[string]any{"context": "Refunds..."}},
		{name: "synthesize", input: map[string]any{"context": "Refunds..."}, output: map[string]any{"answer": "Within 30 days."}, llm: true},
	}
	if failing {
		ns[4] = node{name: "synthesize", input: map[string]any{"context": ""}, noOutput: true, errMsg: "KeyError: 'documents'", llm: true}
	}
	return ns
}

// merge appends the spans of b into a single Traces.
func merge(runs ...built) ptrace.Traces {
	td := ptrace.NewTraces()
	for _, r := range runs {
		r.td.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	}
	return td
}

// split copies td's spans into two Traces: those for which first returns true, and the rest.
func split(td ptrace.Traces, first func(ptrace.Span) bool) (ptrace.Traces, ptrace.Traces) {
	a, b := ptrace.NewTraces(), ptrace.NewTraces()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			var dst [2]ptrace.SpanSlice
			for k, out := range []ptrace.Traces{a, b} {
				nrs := out.ResourceSpans().AppendEmpty()
				rs.Resource().CopyTo(nrs.Resource())
				nss := nrs.ScopeSpans().AppendEmpty()
				ss.Scope().CopyTo(nss.Scope())
				dst[k] = nss.Spans()
			}
			for k := 0; k < ss.Spans().Len(); k++ {
				sp := ss.Spans().At(k)
				if first(sp) {
					sp.CopyTo(dst[0].AppendEmpty())
				} else {
					sp.CopyTo(dst[1].AppendEmpty())
				}
			}
		}
	}
	return a, b
}

// ---- databases ----

// backend is one real database the exporter writes to.
type backend struct {
	name string
	// config returns an exporter config pointing at a fresh database.
	config func(t *testing.T) *Config
	// open returns a database/sql handle on the database of cfg.
	open func(t *testing.T, cfg *Config) *db
}

var backends = []backend{
	{
		name: "sqlite",
		config: func(t *testing.T) *Config {
			cfg := testConfig()
			cfg.Path = filepath.Join(t.TempDir(), ".argus", "traces.db")
			return cfg
		},
		open: func(t *testing.T, cfg *Config) *db {
			h, err := sql.Open("sqlite", "file:"+cfg.Path+"?_pragma=busy_timeout(5000)")
			require.NoError(t, err)
			t.Cleanup(func() { h.Close() })
			return &db{t: t, DB: h}
		},
	},
	{
		name: "postgres",
		config: func(t *testing.T) *Config {
			cfg := testConfig()
			cfg.Driver = "postgres"
			cfg.DSN = configopaque.String(testutil.PostgresDSN(t))
			return cfg
		},
		open: func(t *testing.T, cfg *Config) *db {
			h, err := sql.Open("pgx", string(cfg.DSN))
			require.NoError(t, err)
			t.Cleanup(func() { h.Close() })
			return &db{t: t, DB: h, pg: true}
		},
	},
}

// forEachBackend runs f once per database, as subtests.
func forEachBackend(t *testing.T, f func(t *testing.T, be backend)) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { f(t, be) })
	}
}

// testConfig is the default config with a synchronous path: no queue and
// no retries, so ConsumeTraces returns the push error to the test.
func testConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.RetryConfig.Enabled = false
	return cfg
}

// db runs SQL written with '?' placeholders on either database.
type db struct {
	t  *testing.T
	pg bool
	*sql.DB
}

func (d *db) rebind(q string) string {
	if !d.pg {
		return q
	}
	var sb strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&sb, "$%d", n)
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

func (d *db) count(q string, args ...any) int {
	d.t.Helper()
	var n int
	require.NoError(d.t, d.QueryRow(d.rebind(q), args...).Scan(&n), q)
	return n
}

func (d *db) row(q string, args []any, dest ...any) {
	d.t.Helper()
	require.NoError(d.t, d.QueryRow(d.rebind(q), args...).Scan(dest...), q)
}

// jsonOf decodes a JSON column read as text.
func jsonOf(t *testing.T, s string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(s), &v), s)
	return v
}

// timeOf reads a timestamp column of either database.
func timeOf(t *testing.T, v any) time.Time {
	t.Helper()
	switch x := v.(type) {
	case time.Time:
		return x.UTC()
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05"} {
			if ts, err := time.Parse(layout, x); err == nil {
				return ts.UTC()
			}
		}
	case []byte:
		return timeOf(t, string(x))
	}
	t.Fatalf("cannot read %T %v as a time", v, v)
	return time.Time{}
}

// ---- exporters ----

type started struct {
	traces exporter.Traces
	logs   exporter.Logs
	tel    *componenttest.Telemetry
}

// startExporters creates both halves with the real factory and starts them;
// they are shut down when the test ends (unless the test did it).
func startExporters(t *testing.T, cfg *Config) *started {
	t.Helper()
	return startExportersWithHost(t, cfg, componenttest.NewNopHost())
}

func startExportersWithHost(t *testing.T, cfg *Config, host component.Host) *started {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := exportertest.NewNopSettings(metadata.Type)
	// A stable id, as in a collector: the persistent queue is keyed by it.
	set.ID = component.NewID(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	f := NewFactory()
	ctx := context.Background()
	tr, err := f.CreateTraces(ctx, set, cfg)
	require.NoError(t, err)
	lg, err := f.CreateLogs(ctx, set, cfg)
	require.NoError(t, err)
	require.NoError(t, tr.Start(ctx, host))
	require.NoError(t, lg.Start(ctx, host))
	s := &started{traces: tr, logs: lg, tel: tel}
	t.Cleanup(func() { s.shutdown(t) })
	return s
}

func (s *started) shutdown(t *testing.T) {
	if s.traces == nil {
		return
	}
	require.NoError(t, s.traces.Shutdown(context.Background()))
	require.NoError(t, s.logs.Shutdown(context.Background()))
	s.traces, s.logs = nil, nil
}

// counter sums a counter of the exporter's telemetry for one attribute value
// (key "" sums every series).
func (s *started) counter(t *testing.T, name, key, value string) int64 {
	t.Helper()
	m, err := s.tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var total int64
	for _, dp := range sumPoints(m) {
		if key == "" {
			total += dp.Value
			continue
		}
		if v, ok := dp.Attributes.Value(attrKey(key)); ok && v.AsString() == value {
			total += dp.Value
		}
	}
	return total
}

func sumPoints(m metricdata.Metrics) []metricdata.DataPoint[int64] {
	if s, ok := m.Data.(metricdata.Sum[int64]); ok {
		return s.DataPoints
	}
	return nil
}

func attrKey(k string) attribute.Key { return attribute.Key(k) }

func exportertestSettings() exporter.Settings { return exportertest.NewNopSettings(metadata.Type) }

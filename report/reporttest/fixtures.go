// Package reporttest builds fixture databases for the report and CLI tests:
// a few realistic runs (failed with a causal chain, warning, ok) and one
// hostile run whose every text field is an injection attempt, written
// through the real storage writers on SQLite and PostgreSQL.
package reporttest

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/store"
)

// Trace ids of the fixtures.
const (
	FailedID  = "4bf92f3577b34da6a3ce929d0e0e4736" // rag-answer, failed, 5 steps, chain of 3
	WarningID = "0af7651916cd43dd8448eb211c80319c" // triage, warning (newest run)
	OKID      = "5b8efff798038103d269b633813fc60c" // rag-answer, ok (oldest rag-answer)
	HostileID = "d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6" // injection attempts everywhere
)

// Payloads that must never become markup, script or terminal control.
const (
	ScriptPayload  = `<script>alert(1)</script>`
	AttrPayload    = `"><img src=x onerror=alert(1)>`
	SVGPayload     = `<svg onload=alert(1)>`
	StylePayload   = `</style><style>body{display:none}</style>`
	MarkdownBreak  = "| `code` *bold* _em_ [link](javascript:alert(1)) <b>html</b> & ~~strike~~"
	TerminalEscape = "\x1b[31mRED\x1b[0m\x1b]0;pwned\x07"
)

// Names lists the fixtures in a stable order, with their ids.
var Names = []struct{ Name, ID string }{
	{"failed", FailedID},
	{"warning", WarningID},
	{"ok", OKID},
	{"hostile", HostileID},
}

var base = time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

type step struct {
	span     string
	node     string
	offsetMs int64
	durMs    int64
	in, out  any // nil out = no output (the node threw)
	meta     map[string]any
}

type det struct {
	id, step, layer, severity, rule, message string
	details                                  map[string]any
}

func build(id, pipeline, status string, start time.Time, durMs int64, meta map[string]any, steps []step, dets []det, fo *store.Forensics) store.TraceBatch {
	b := store.TraceBatch{}
	b.Traces = []store.TraceUpdate{{
		Trace: store.Trace{
			ID: id, CreatedAt: start, PipelineName: pipeline, Status: status,
			DurationMs: durMs, NodeCount: len(steps), DetectionCount: len(dets),
			Metadata: js(meta),
		},
		End:      start.Add(time.Duration(durMs) * time.Millisecond),
		HasRoot:  true,
		BatchKey: "fixture-" + id,
	}}
	stepID := map[string]string{}
	for i, s := range steps {
		sid := id + "-" + s.span
		stepID[s.node] = sid
		out := json.RawMessage("null")
		if s.out != nil {
			out = js(s.out)
		}
		m := s.meta
		if m == nil {
			m = map[string]any{}
		}
		b.Steps = append(b.Steps, store.Step{
			ID: sid, TraceID: id, StepNumber: i + 1, NodeName: s.node,
			InputState: js(s.in), OutputState: out, DurationMs: s.durMs,
			Timestamp: start.Add(time.Duration(s.offsetMs) * time.Millisecond),
			Metadata:  js(m),
		})
	}
	for _, d := range dets {
		details := map[string]any{"rule": d.rule, "node": d.step}
		for k, v := range d.details {
			details[k] = v
		}
		b.Detections = append(b.Detections, store.Detection{
			ID: d.id, TraceID: id, StepID: stepID[d.step], Layer: d.layer, Severity: d.severity,
			Message: d.message, Details: js(details),
			CreatedAt: start.Add(time.Duration(durMs+50) * time.Millisecond),
		})
	}
	if fo != nil {
		fo.TraceID = id
		fo.RootCauseStep = stepID[fo.RootCauseStep]
		fo.CreatedAt = start.Add(time.Duration(durMs+60) * time.Millisecond)
		b.Forensics = []store.Forensics{*fo}
	}
	return b
}

func js(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

type link = map[string]any

func chain(trace string, steps map[string]string, links ...link) json.RawMessage {
	for _, l := range links {
		l["from_step_id"] = trace + "-" + steps[l["from"].(string)]
		l["to_step_id"] = trace + "-" + steps[l["to"].(string)]
	}
	return js(links)
}

// Failed is a RAG run where rerank nulls the retrieved documents, synthesize
// answers with a template placeholder and respond crashes.
func Failed() store.TraceBatch {
	q := map[string]any{
		"question": "What is the refund policy for " + ScriptPayload + " orders?",
		"customer": AttrPayload,
		"history":  []any{},
	}
	docs := []any{
		map[string]any{"id": "kb-17", "score": 0.91, "text": "Refunds are accepted within 30 days | see `policy` section 4."},
		map[string]any{"id": "kb-42", "score": 0.77, "text": "Store credit is offered after 30 days."},
	}
	spans := map[string]string{"plan": "a1b2c3d4e5f60001", "retrieve": "a1b2c3d4e5f60002", "rerank": "a1b2c3d4e5f60003", "synthesize": "a1b2c3d4e5f60004", "respond": "a1b2c3d4e5f60005"}
	steps := []step{
		{spans["plan"], "plan", 3, 212, q, map[string]any{"plan": "search the policy docs, then answer", "queries": []any{"refund policy", "returns window"}}, nil},
		{spans["retrieve"], "retrieve", 219, 684, q, map[string]any{"documents": docs, "retrieval_ms": 655}, nil},
		{spans["rerank"], "rerank", 906, 97, map[string]any{"documents": docs}, map[string]any{"documents": nil, "ranked": []any{}}, nil},
		{spans["synthesize"], "synthesize", 1006, 1290, map[string]any{"question": q["question"]}, map[string]any{"answer": "<<ANSWER>>", "citations": []any{}}, map[string]any{
			"status": "ok", "convention": "openinference", "langgraph_step": 4,
			"calls":  []any{map[string]any{"name": "ChatOpenAI", "kind": "llm", "model": "gpt-4o-mini", "status": "ok", "duration_ms": 1201}},
			"tokens": map[string]any{"input": 1622, "output": 251, "total": 1873},
		}},
		{spans["respond"], "respond", 2300, 104, map[string]any{"answer": "<<ANSWER>>"}, nil, map[string]any{
			"status": "error", "status_message": "ValueError: answer is an unfilled template", "convention": "openinference",
			"exceptions": []any{map[string]any{"type": "ValueError", "message": "answer is an unfilled template", "stacktrace": "Traceback (most recent call last):\n  File \"respond.py\", line 12, in respond\nValueError: answer is an unfilled template"}},
		}},
	}
	dets := []det{
		{"det-failed-drop", "rerank", "structural", "warning", "structural.dropped_field", "rerank set 'documents' to null: 2 documents retrieved upstream were lost", map[string]any{"field": "documents", "before_len": 2}},
		{"det-failed-empty", "rerank", "structural", "info", "structural.empty_retrieval", "rerank returned no documents in 'ranked'", map[string]any{"field": "ranked"}},
		{"det-failed-placeholder", "synthesize", "semantic", "warning", "semantic.placeholder", "answer is the template placeholder '<<ANSWER>>'", map[string]any{"field": "answer", "value": "<<ANSWER>>"}},
		{"det-failed-exception", "respond", "behavioral", "critical", "behavioral.error_span", "ValueError: answer is an unfilled template | cannot send", map[string]any{"exception.type": "ValueError"}},
		{"det-failed-latency", "", "statistical", "info", "statistical.latency_spike", "run took 2.41 s, 2.3x the median of 1.05 s (z=3.1)", map[string]any{"z": 3.1, "median_ms": 1050}},
	}
	fo := &store.Forensics{
		ID:            "for-failed",
		RootCauseStep: "rerank",
		DetectionIDs:  js([]string{"det-failed-drop", "det-failed-placeholder", "det-failed-exception"}),
		Explanation:   "rerank set 'documents' to null, so synthesize had no sources and answered with the placeholder <<ANSWER>>; respond then failed with ValueError.",
		CausalChain: chain(FailedID, spans,
			link{"from": "rerank", "to": "synthesize", "type": "field_drop", "field": "documents", "confidence": 0.92},
			link{"from": "synthesize", "to": "respond", "type": "placeholder_propagation", "field": "answer", "confidence": 0.81}),
	}
	return build(FailedID, "rag-answer", "failed", base, 2412,
		map[string]any{"service.name": "support-bot", "session.id": "sess-81", "span_count": 23}, steps, dets, fo)
}

// Warning is a triage run whose CRM lookup was rate limited.
func Warning() store.TraceBatch {
	spans := map[string]string{"classify": "b1b2c3d4e5f60001", "lookup": "b1b2c3d4e5f60002", "reply": "b1b2c3d4e5f60003"}
	in := map[string]any{"ticket": "T-1009", "text": "My invoice is wrong"}
	steps := []step{
		{spans["classify"], "classify", 1, 120, in, map[string]any{"category": "billing", "confidence": 0.87}, nil},
		{spans["lookup"], "lookup", 125, 610, in, map[string]any{"customer": map[string]any{"id": "c-77", "plan": "pro"}, "lookup_status": 429}, nil},
		{spans["reply"], "reply", 740, 98, in, map[string]any{"reply": "We are checking your invoice and will get back within a day.", "category": "billing/invoice"}, nil},
	}
	dets := []det{
		{"det-warning-429", "lookup", "behavioral", "warning", "behavioral.rate_limited", "tool crm_lookup answered 429 (rate limit); retried 2 times", map[string]any{"status": 429, "retries": 2}},
	}
	fo := &store.Forensics{
		ID:            "for-warning",
		RootCauseStep: "lookup",
		DetectionIDs:  js([]string{"det-warning-429"}),
		Explanation:   "lookup was rate limited by the CRM; the reply was still produced from partial data.",
		CausalChain:   js([]any{}),
	}
	return build(WarningID, "triage", "warning", base.Add(35*time.Minute+17411*time.Millisecond), 840,
		map[string]any{"service.name": "support-bot"}, steps, dets, fo)
}

// OK is a clean RAG run.
func OK() store.TraceBatch {
	q := map[string]any{"question": "How long does shipping take?"}
	steps := []step{
		{"c1b2c3d4e5f60001", "plan", 2, 150, q, map[string]any{"queries": []any{"shipping time"}}, nil},
		{"c1b2c3d4e5f60002", "retrieve", 155, 410, q, map[string]any{"documents": []any{map[string]any{"id": "kb-3", "text": "Shipping takes 2-4 business days."}}}, nil},
		{"c1b2c3d4e5f60003", "synthesize", 570, 440, q, map[string]any{"answer": "Shipping takes 2 to 4 business days.", "citations": []any{"kb-3"}}, nil},
	}
	return build(OKID, "rag-answer", "ok", base.Add(-86*time.Minute), 1020,
		map[string]any{"service.name": "support-bot"}, steps, nil, nil)
}

// Hostile puts an injection attempt in every text a report shows.
func Hostile() store.TraceBatch {
	evilNode := `<img src=x onerror=alert("node")>`
	spans := map[string]string{evilNode: "d1b2c3d4e5f60001", "sink" + StylePayload: "d1b2c3d4e5f60002"}
	state := map[string]any{
		"note":        ScriptPayload,
		"attr":        AttrPayload,
		AttrPayload:   SVGPayload,
		"md":          MarkdownBreak,
		"term":        TerminalEscape,
		"invalid":     "caf\xe9 \u202Eevil",
		"javascript:": "javascript:alert(1)",
	}
	steps := []step{
		{spans[evilNode], evilNode, 0, 40, state, state, nil},
		{spans["sink"+StylePayload], "sink" + StylePayload, 50, 30, state, map[string]any{"note": nil, "new" + ScriptPayload: AttrPayload}, nil},
	}
	dets := []det{
		{"det-hostile-1", evilNode, "semantic", "critical", "rule" + AttrPayload, "message " + ScriptPayload + AttrPayload + MarkdownBreak + TerminalEscape, nil},
		{"det-hostile-2", "sink" + StylePayload, "structural", "warning", "structural.dropped_field", "dropped " + SVGPayload, nil},
	}
	fo := &store.Forensics{
		ID:            "for-hostile",
		RootCauseStep: evilNode,
		DetectionIDs:  js([]string{"det-hostile-1"}),
		Explanation:   "explanation " + ScriptPayload + AttrPayload + MarkdownBreak + TerminalEscape,
		CausalChain: chain(HostileID, spans,
			link{"from": evilNode, "to": "sink" + StylePayload, "type": "field_drop" + SVGPayload, "field": AttrPayload, "confidence": 0.5}),
	}
	return build(HostileID, `<script>alert("pipeline")</script>`+MarkdownBreak, "failed", base.Add(-150*time.Minute), 80,
		map[string]any{"service.name": ScriptPayload}, steps, dets, fo)
}

// All is every fixture.
func All() []store.TraceBatch { return []store.TraceBatch{Failed(), Warning(), OK(), Hostile()} }

// SQLite opens a fresh SQLite store in a temporary directory, migrated,
// and returns it with the database path.
func SQLite(t testing.TB) (store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "traces.db")
	return open(t, store.Config{Driver: store.DriverSQLite, Path: path}), path
}

// Postgres opens a fresh, migrated database on the test PostgreSQL server
// (skipped without one, see testutil.PostgresDSN) and returns it with its DSN.
func Postgres(t testing.TB) (store.Store, string) {
	t.Helper()
	dsn := testutil.PostgresDSN(t)
	return open(t, store.Config{Driver: store.DriverPostgres, DSN: dsn}), dsn
}

func open(t testing.TB, cfg store.Config) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open %s store: %v", cfg.Driver, err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s store: %v", cfg.Driver, err)
	}
	return st
}

// Seed writes batches (default: All) into st, one transaction each.
func Seed(t testing.TB, st store.Store, batches ...store.TraceBatch) {
	t.Helper()
	if len(batches) == 0 {
		batches = All()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, b := range batches {
		if err := st.WriteBatch(ctx, b); err != nil {
			t.Fatalf("write fixture %s: %v", b.Traces[0].Trace.ID, err)
		}
	}
}

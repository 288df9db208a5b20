package detect

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

// The false-positive corpus: hundreds of clean runs of several graph shapes,
// built as OpenInference OTLP spans, mapped by the real mapping and analysed
// by every layer with shared baselines, exactly as the processor does. Not
// one warning or critical detection may come out. A product that cries wolf
// on clean runs is switched off.

// corpusNode is one node execution in a generated run.
type corpusNode struct {
	name      string
	superstep int
	input     any
	output    any
	took      time.Duration
	llm       bool           // a nested ChatOpenAI span with tokens
	tool      string         // a nested tool span
	toolArgs  map[string]any // its arguments
	toolOut   any            // its result
}

type corpusGen struct {
	t   *testing.T
	rnd *rand.Rand
	seq int
}

var corpusTopics = []string{"refund policy", "shipping to Canada", "password reset", "invoice download",
	"plan upgrade", "API rate limits", "data export", "team seats", "SSO setup", "billing address"}

var corpusSentences = []string{
	"Annual plans can be refunded within 30 days of purchase.",
	"Orders ship within two business days from our EU warehouse.",
	"You can reset your password from the sign-in page.",
	"Invoices are available under Settings, Billing, History.",
	"Upgrades take effect immediately and are prorated.",
	"The API allows 600 requests per minute per workspace.",
	"Exports are delivered as CSV files by email.",
	"Seats can be added by workspace owners at any time.",
	"SAML single sign-on is available on the Business plan.",
	"The billing address can be changed before the next invoice.",
	"Our error handling guide explains how retries work in the SDK.",
}

func (g *corpusGen) jitter(base time.Duration) time.Duration {
	// +-3% of ordinary jitter, never a real change.
	d := float64(base) * (0.97 + 0.06*g.rnd.Float64())
	return time.Duration(d)
}

func (g *corpusGen) sentence() string { return corpusSentences[g.rnd.Intn(len(corpusSentences))] }

func (g *corpusGen) docs(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"id": fmt.Sprintf("kb-%d", g.rnd.Intn(900)+100), "text": g.sentence(), "score": 0.5 + g.rnd.Float64()/2}
	}
	return out
}

// build turns nodes into one OpenInference trace.
func (g *corpusGen) build(nodes []corpusNode) ptrace.Traces {
	g.seq++
	traceID := fmt.Sprintf("%032x", 0xc0ffee0000+g.seq)
	spanN := 0
	nextSpan := func() string { spanN++; return fmt.Sprintf("%08x%08x", g.seq, spanN) }
	start := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(g.seq) * time.Minute)
	rootID := nextSpan()
	spans := []testutil.Span{}
	at := start.Add(time.Millisecond)
	stepStart := map[int]time.Time{}
	var end time.Time
	for _, n := range nodes {
		s, ok := stepStart[n.superstep]
		if !ok {
			s = at
			stepStart[n.superstep] = s
		}
		nEnd := s.Add(n.took)
		if nEnd.After(at) {
			at = nEnd.Add(time.Millisecond)
		}
		if nEnd.After(end) {
			end = nEnd
		}
		meta, _ := json.Marshal(map[string]any{"langgraph_step": n.superstep, "langgraph_node": n.name,
			"langgraph_triggers": []string{"branch:to:" + n.name}, "langgraph_path": []string{"__pregel_pull", n.name},
			"langgraph_checkpoint_ns": fmt.Sprintf("%s:%d", n.name, spanN)})
		id := nextSpan()
		attrs := map[string]any{
			"openinference.span.kind": "CHAIN", "metadata": string(meta),
			"input.value": mustJSON(n.input), "input.mime_type": "application/json",
			"output.value": mustJSON(n.output), "output.mime_type": "application/json",
		}
		spans = append(spans, testutil.Span{TraceID: traceID, SpanID: id, ParentID: rootID, Name: n.name,
			Start: s, End: nEnd, Attrs: attrs, Status: ptrace.StatusCodeOk})
		if n.llm {
			prompt := 300 + g.rnd.Intn(40)
			completion := 60 + g.rnd.Intn(10)
			spans = append(spans, testutil.Span{TraceID: traceID, SpanID: nextSpan(), ParentID: id, Name: "ChatOpenAI",
				Start: s.Add(time.Millisecond), End: nEnd.Add(-time.Millisecond), Status: ptrace.StatusCodeOk,
				Attrs: map[string]any{"openinference.span.kind": "LLM", "metadata": string(meta),
					"llm.model_name": "gpt-4o-mini", "llm.provider": "openai",
					"llm.token_count.prompt": prompt, "llm.token_count.completion": completion,
					"llm.token_count.total":             prompt + completion,
					"llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "Question about " + corpusTopics[g.rnd.Intn(len(corpusTopics))],
					"llm.output_messages.0.message.role": "assistant", "llm.output_messages.0.message.content": g.sentence(),
				}})
		}
		if n.tool != "" {
			kind := "TOOL"
			if strings.Contains(n.tool, "search") || strings.Contains(n.tool, "retriev") {
				kind = "RETRIEVER"
			}
			spans = append(spans, testutil.Span{TraceID: traceID, SpanID: nextSpan(), ParentID: id, Name: n.tool,
				Start: s.Add(time.Millisecond), End: nEnd.Add(-time.Millisecond), Status: ptrace.StatusCodeOk,
				Attrs: map[string]any{"openinference.span.kind": kind, "metadata": string(meta), "tool.name": n.tool,
					"tool.parameters": mustJSON(n.toolArgs), "input.value": mustJSON(n.toolArgs), "output.value": mustJSON(n.toolOut)}})
		}
	}
	root := testutil.Span{TraceID: traceID, SpanID: rootID, Name: "LangGraph", Start: start, End: end.Add(time.Millisecond),
		Status: ptrace.StatusCodeOk, Attrs: map[string]any{"openinference.span.kind": "CHAIN", "session.id": fmt.Sprintf("thread-%d", g.seq%7),
			"input.value": mustJSON(nodes[0].input), "input.mime_type": "application/json"}}
	return testutil.BuildTraces(g.t, append([]testutil.Span{root}, spans...)...)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// linearRAG: plan -> retrieve -> rerank -> synthesize.
func (g *corpusGen) linearRAG() []corpusNode {
	q := "What is our " + corpusTopics[g.rnd.Intn(len(corpusTopics))] + "?"
	docs := g.docs(3 + g.rnd.Intn(3))
	top := docs[:2]
	answer := g.sentence() + " " + g.sentence()
	return []corpusNode{
		{name: "plan", superstep: 1, input: map[string]any{"question": q}, output: map[string]any{"query": strings.ToLower(q)}, took: g.jitter(400 * time.Millisecond), llm: true},
		{name: "retrieve", superstep: 2, input: map[string]any{"question": q, "query": strings.ToLower(q)}, output: map[string]any{"documents": docs},
			took: g.jitter(120 * time.Millisecond), tool: "kb_search", toolArgs: map[string]any{"query": strings.ToLower(q), "k": 5}, toolOut: docs},
		{name: "rerank", superstep: 3, input: map[string]any{"question": q, "documents": docs}, output: map[string]any{"documents": top}, took: g.jitter(45 * time.Millisecond)},
		{name: "synthesize", superstep: 4, input: map[string]any{"question": q, "documents": top}, output: map[string]any{"answer": answer}, took: g.jitter(900 * time.Millisecond), llm: true},
	}
}

// fanOut: a supervisor sends the question to three workers in one superstep,
// then merges their results.
func (g *corpusGen) fanOut() []corpusNode {
	q := "Compare options for " + corpusTopics[g.rnd.Intn(len(corpusTopics))]
	state := map[string]any{"question": q}
	web := []any{map[string]any{"url": fmt.Sprintf("https://docs.example.com/a/%d", g.rnd.Intn(99)), "snippet": g.sentence()}}
	kb := g.docs(2)
	calc := map[string]any{"expression": "12*49", "value": 588}
	return []corpusNode{
		{name: "supervisor", superstep: 1, input: state, output: map[string]any{"tasks": []any{"web", "kb", "calc"}}, took: g.jitter(300 * time.Millisecond), llm: true},
		{name: "web_search", superstep: 2, input: state, output: map[string]any{"web_results": web}, took: g.jitter(700 * time.Millisecond),
			tool: "web_search", toolArgs: map[string]any{"q": q}, toolOut: map[string]any{"status": 200, "results": web}},
		{name: "kb_lookup", superstep: 2, input: state, output: map[string]any{"kb_results": kb}, took: g.jitter(150 * time.Millisecond),
			tool: "kb_search", toolArgs: map[string]any{"query": q}, toolOut: kb},
		{name: "calculator", superstep: 2, input: state, output: map[string]any{"calc": calc}, took: g.jitter(20 * time.Millisecond),
			tool: "calculator", toolArgs: map[string]any{"expression": "12*49"}, toolOut: map[string]any{"success": true, "value": 588}},
		{name: "merge", superstep: 3, input: map[string]any{"question": q, "web_results": web, "kb_results": kb, "calc": calc},
			output: map[string]any{"answer": g.sentence() + " The total is 588."}, took: g.jitter(800 * time.Millisecond), llm: true},
	}
}

// agentLoop: a ReAct agent that calls tools with changing arguments until it
// answers, and a validator that sends a draft back once before accepting it.
func (g *corpusGen) agentLoop() []corpusNode {
	q := "Help me with " + corpusTopics[g.rnd.Intn(len(corpusTopics))]
	iterations := 2 + g.rnd.Intn(2)
	nodes := []corpusNode{}
	step := 1
	msgs := []any{map[string]any{"role": "user", "content": q}}
	for i := 0; i < iterations; i++ {
		call := map[string]any{"name": "search", "args": map[string]any{"q": fmt.Sprintf("%s page %d", q, i+1)}}
		nodes = append(nodes, corpusNode{name: "agent", superstep: step, input: map[string]any{"messages": msgs},
			output: map[string]any{"messages": []any{map[string]any{"role": "assistant", "tool_calls": []any{call}, "content": ""}}},
			took:   g.jitter(600 * time.Millisecond), llm: true})
		step++
		result := map[string]any{"status": 200, "results": []any{g.sentence(), g.sentence()}, "page": i + 1}
		nodes = append(nodes, corpusNode{name: "tools", superstep: step, input: map[string]any{"messages": msgs},
			output: map[string]any{"messages": []any{map[string]any{"role": "tool", "content": mustJSON(result)}}},
			took:   g.jitter(250 * time.Millisecond), tool: "search", toolArgs: call["args"].(map[string]any), toolOut: result})
		step++
		msgs = append(msgs, map[string]any{"role": "tool", "content": fmt.Sprintf("page %d results", i+1)})
	}
	draft1 := "Draft: " + g.sentence()
	draft2 := "Final: " + g.sentence() + " " + g.sentence()
	nodes = append(nodes,
		corpusNode{name: "draft", superstep: step, input: map[string]any{"messages": msgs}, output: map[string]any{"draft": draft1}, took: g.jitter(700 * time.Millisecond), llm: true},
		corpusNode{name: "validate", superstep: step + 1, input: map[string]any{"draft": draft1}, output: map[string]any{"approved": false, "feedback": "Cite the policy section."}, took: g.jitter(300 * time.Millisecond), llm: true},
		corpusNode{name: "draft", superstep: step + 2, input: map[string]any{"draft": draft1, "feedback": "Cite the policy section."}, output: map[string]any{"draft": draft2}, took: g.jitter(700 * time.Millisecond), llm: true},
		corpusNode{name: "validate", superstep: step + 3, input: map[string]any{"draft": draft2}, output: map[string]any{"approved": true, "feedback": "Looks good."}, took: g.jitter(300 * time.Millisecond), llm: true},
	)
	return nodes
}

// toolUse: an order workflow whose tools succeed, with words like "error"
// in ordinary prose and ids in results.
func (g *corpusGen) toolUse() []corpusNode {
	order := fmt.Sprintf("ord_%06d", g.rnd.Intn(999999))
	lookup := map[string]any{"success": true, "order": map[string]any{"id": order, "status": "shipped", "items": 2}}
	refund := map[string]any{"ok": true, "status_code": 201, "refund_id": fmt.Sprintf("re_%d", g.rnd.Intn(99999)), "note": "See the error handling section if a refund stalls."}
	return []corpusNode{
		{name: "classify", superstep: 1, input: map[string]any{"message": "Refund " + order}, output: map[string]any{"intent": "refund", "order_id": order}, took: g.jitter(250 * time.Millisecond), llm: true},
		{name: "lookup_order", superstep: 2, input: map[string]any{"order_id": order}, output: map[string]any{"order": lookup["order"]}, took: g.jitter(90 * time.Millisecond),
			tool: "orders_api", toolArgs: map[string]any{"id": order}, toolOut: lookup},
		{name: "issue_refund", superstep: 3, input: map[string]any{"order": lookup["order"]}, output: map[string]any{"refund": refund}, took: g.jitter(400 * time.Millisecond),
			tool: "payments_api", toolArgs: map[string]any{"order": order, "amount": 49.0}, toolOut: refund},
		{name: "reply", superstep: 4, input: map[string]any{"refund": refund}, output: map[string]any{"reply": "Your refund for " + order + " is on its way. " + g.sentence()}, took: g.jitter(650 * time.Millisecond), llm: true},
	}
}

func TestFalsePositiveCorpus(t *testing.T) {
	g := &corpusGen{t: t, rnd: rand.New(rand.NewSource(42))}
	cfg := Config{}.WithDefaults()
	base := NewBaselines(0, 0)
	shapes := map[string]func() []corpusNode{"linear": g.linearRAG, "fanout": g.fanOut, "loop": g.agentLoop, "tools": g.toolUse}
	order := []string{"linear", "fanout", "loop", "tools"}
	runs, findings := 0, 0
	for i := 0; i < 150; i++ {
		for _, name := range order {
			td := g.build(shapes[name]())
			for _, run := range agentrun.MapTraces(td, agentrun.Options{}) {
				runs++
				res := Analyze(run, &cfg, base)
				for _, f := range res.Findings {
					findings++
					if f.Severity != SeverityInfo {
						t.Errorf("%s run %d: clean run raised %s %s on %q: %s (details %v)", name, i, f.Severity, f.Rule, f.Node, f.Message, f.Details)
					}
				}
				if res.Status != "ok" {
					t.Errorf("%s run %d: status %s, want ok", name, i, res.Status)
				}
				if t.Failed() {
					t.FailNow()
				}
			}
		}
	}
	if runs != 600 {
		t.Fatalf("mapped %d runs, want 600", runs)
	}
	t.Logf("%d clean runs, %d info findings, %d baseline keys", runs, findings, base.Len())

	// The same baselines still catch a real problem: a retrieve that takes
	// ten times its usual time and returns nothing.
	nodes := g.linearRAG()
	nodes[1].took = 1500 * time.Millisecond
	nodes[1].output = map[string]any{"documents": []any{}}
	nodes[1].toolOut = []any{}
	run := agentrun.MapTraces(g.build(nodes), agentrun.Options{})[0]
	res := Analyze(run, &cfg, base)
	rules := map[string]bool{}
	for _, f := range res.Findings {
		rules[f.Rule] = true
	}
	for _, want := range []string{"statistical.latency_spike", "structural.empty_retrieval"} {
		if !rules[want] {
			t.Errorf("degraded run: %s did not fire; got %v", want, rules)
		}
	}
	if res.Status == "ok" || res.Forensics == nil || res.Forensics.RootCauseStep != 1 {
		t.Errorf("degraded run: status %s, forensics %+v; want warning/failed blaming retrieve", res.Status, res.Forensics)
	}
}

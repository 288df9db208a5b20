package detect

import (
	"fmt"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

// The structural layer as a whole, and its test helpers; the tests of
// each rule are in the rule's file, structural_<name>_test.go.

func structural(run *agentrun.Run) []Finding { return Structural(run, cfgWith(nil)) }

// structuralAfter runs the structural layer against baselines that
// observed each history run 30 times: its nodes have a history long enough
// to call a behaviour they never showed unusual.
func structuralAfter(run *agentrun.Run, history ...*agentrun.Run) []Finding {
	base := NewBaselines(0, 0)
	for range 30 {
		for _, h := range history {
			base.Observe(h)
		}
	}
	return layerOnly(run, cfgWith(nil), base, LayerStructural)
}

// ragCrashRun is the product's signature failure: retrieve silently returns
// no documents, two nodes pass that on, synthesize crashes three steps later.
func ragCrashRun() *agentrun.Run {
	return newRun(
		stepSpec{Node: "plan", LG: 1, In: j(`{"question":"refund window?"}`), Out: j(`{"query":"refund window annual plan"}`)},
		stepSpec{Node: "retrieve", LG: 2, In: j(`{"question":"refund window?","query":"refund window annual plan"}`), Out: j(`{"documents":[]}`),
			Calls: []agentrun.Call{{SpanID: "c1", Name: "kb_search", Kind: "retriever", Tool: "kb_search", Status: "ok"}}},
		stepSpec{Node: "rerank", LG: 3, In: j(`{"documents":[]}`), Out: j(`{"documents":[]}`)},
		stepSpec{Node: "format_context", LG: 4, In: j(`{"documents":[]}`), Out: j(`{"context":""}`)},
		stepSpec{Node: "synthesize", LG: 5, In: j(`{"question":"refund window?","context":""}`), NoOutput: true,
			Status: agentrun.StatusError, StatusMessage: "'documents'", Exceptions: keyError("documents")},
	)
}

func TestStructuralBoundsOnWideStates(t *testing.T) {
	state := map[string]any{"keep": "k"}
	for i := range 50 {
		state[fmt.Sprintf("field_%02d", i)] = "v"
	}
	// A plain-span node that keeps 27 of the 52 keys returns a full state
	// and drops the other 25.
	kept := map[string]any{}
	for i := range 27 {
		kept[fmt.Sprintf("field_%02d", i)] = "v"
	}
	wide := map[string]any{}
	for i := range 1000 {
		wide[fmt.Sprintf("doc_%04d", i)] = i
	}
	wide["documnets"] = []any{"d"}
	fs := structural(newRun(
		stepSpec{Node: "load", Convention: "plain", In: state, Out: j(`{"loaded":true}`)},
		stepSpec{Node: "trim", Convention: "plain", In: j(`{}`), Out: kept},
	))
	got := byRule(fs, ruleDroppedField)
	if len(got) != maxDroppedPerStep {
		t.Fatalf("want %d dropped_field findings, got %d", maxDroppedPerStep, len(got))
	}
	expect(t, got[len(got)-1], 1, SeverityInfo, map[string]any{"more_fields": 5, "node_history": "too little history"})
	// 1000 keys are data, not a schema: no typo hunting there.
	none(t, structural(newRun(stepSpec{Node: "index", In: j(`{"documents":[]}`), Out: wide})), ruleKeyTypo)
	one(t, structural(newRun(stepSpec{Node: "index", In: j(`{"documents":[]}`), Out: map[string]any{"documnets": []any{"d"}}})), ruleKeyTypo)
}

func TestStructuralConfigOverrides(t *testing.T) {
	run := ragCrashRun()
	fs := Structural(run, cfgWith(map[string]RuleConfig{
		ruleCrashMissingData: {Disabled: true},
		ruleEmptyRetrieval:   {Severity: SeverityCritical},
	}))
	none(t, fs, ruleCrashMissingData)
	expect(t, one(t, fs, ruleEmptyRetrieval), 1, SeverityCritical, nil)
	// Ids are deterministic.
	a, b := structural(run), structural(run)
	if len(a) != len(b) {
		t.Fatal("non-deterministic findings")
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Message != b[i].Message {
			t.Fatalf("finding %d differs between runs: %v / %v", i, a[i], b[i])
		}
	}
}

func TestStructuralOddInputs(t *testing.T) {
	if Structural(nil, nil) != nil || Structural(&agentrun.Run{}, nil) != nil {
		t.Fatal("nil or empty run must give no findings")
	}
	huge := strings.Repeat("x", 1<<20)
	bad := "\xff\xfe bad \xc3"
	run := newRun(
		stepSpec{Node: "a", In: "just a string", Out: j(`[1,[2,[3,[]]],{"a":null}]`)},
		stepSpec{Node: "b", In: nil, NoInput: true, Out: map[string]any{"big": huge, bad: bad, "n": 1e308, "nested": []any{[]any{[]any{}}}}},
		stepSpec{Node: "c", In: j(`{"x":1}`), Out: map[string]any{"_argus_truncated": true, "original_bytes": 99999999, "preview": "{"}},
		stepSpec{Node: "d", In: j(`{}`), Out: 42.0},
		stepSpec{Node: bad, In: j(`{}`), NoOutput: true, Status: agentrun.StatusError,
			StatusMessage: bad + strings.Repeat("KeyError: '"+bad+"' ", 2000),
			Exceptions:    []agentrun.Exception{{Type: bad, Message: huge, Stacktrace: huge}}},
		stepSpec{Node: "", In: j(`{}`), Out: j(`{}`)},
	)
	run.Edges = []agentrun.Edge{{From: "a", To: "b"}, {From: "", To: ""}}
	cfg := cfgWith(nil)
	cfg.Contracts = map[string]FieldContract{"c": {Required: map[string]string{"x": "number"}}, "d": {Required: map[string]string{"y": ""}}}
	cfg.Edges = []string{"not an edge"}
	fs := Structural(run, cfg)
	// The truncation marker is not a state: c's contract is unknown, not violated.
	for _, f := range byRule(fs, ruleContractViolation) {
		if f.Step == 2 {
			t.Errorf("truncated output judged against its contract: %s", f.Message)
		}
	}
	expect(t, one(t, byRuleStep(fs, ruleContractViolation, 3), ruleContractViolation), 3, SeverityCritical, map[string]any{"field": "y", "actual": "missing"})
	for _, f := range fs {
		if len(f.Message) > 2000 {
			t.Errorf("message of %s is %d bytes", f.Rule, len(f.Message))
		}
	}
}

// ssCleanCorpus is a set of healthy runs of realistic shapes. Neither layer
// may raise a warning or critical finding on any of them.
func ssCleanCorpus() map[string]*agentrun.Run {
	docs := `[{"id":"kb-12","text":"Annual plans can be refunded within 30 days of purchase."},{"id":"kb-40","text":"Refunds are issued to the original payment method."}]`
	corpus := map[string]*agentrun.Run{}

	corpus["linear rag"] = newRun(
		stepSpec{Node: "plan", LG: 1, In: j(`{"question":"What is the refund window for annual plans?"}`), Out: j(`{"query":"refund window annual plan"}`),
			Calls: []agentrun.Call{{SpanID: "l1", Name: "ChatOpenAI", Kind: "llm", Model: "gpt-4o-mini", Result: "refund window annual plan", Status: "ok"}}},
		stepSpec{Node: "retrieve", LG: 2, In: j(`{"question":"What is the refund window for annual plans?","query":"refund window annual plan"}`), Out: j(`{"documents":` + docs + `}`),
			Calls: []agentrun.Call{{SpanID: "r1", Name: "kb_search", Kind: "retriever", Tool: "kb_search", Status: "ok", Result: docs}}},
		stepSpec{Node: "rerank", LG: 3, In: j(`{"documents":` + docs + `}`), Out: j(`{"documents":[{"id":"kb-12","text":"Annual plans can be refunded within 30 days of purchase."}]}`)},
		stepSpec{Node: "format_context", LG: 4, In: j(`{}`), Out: j(`{"context":"[kb-12] Annual plans can be refunded within 30 days of purchase."}`)},
		stepSpec{Node: "synthesize", LG: 5, In: j(`{}`), Out: j(`{"answer":"You can get a refund within 30 days of buying an annual plan.","citations":["kb-12"]}`),
			Calls:    []agentrun.Call{{SpanID: "l2", Name: "ChatOpenAI", Kind: "llm", Result: "You can get a refund within 30 days of buying an annual plan.", Status: "ok"}},
			Metadata: map[string]any{"llm.finish_reason": "stop"}},
	)
	corpus["linear rag"].Edges = []agentrun.Edge{{From: "__start__", To: "plan"}, {From: "plan", To: "retrieve"}, {From: "retrieve", To: "rerank"},
		{From: "rerank", To: "format_context"}, {From: "format_context", To: "synthesize"}, {From: "synthesize", To: "__end__"}}

	corpus["fan-out"] = newRun(
		stepSpec{Node: "plan", LG: 1, In: j(`{"topic":"solar panels"}`), Out: j(`{"queries":["solar panel efficiency","solar panel cost"]}`)},
		stepSpec{Node: "search_web", LG: 2, In: j(`{}`), Out: j(`{"web_results":[{"url":"https://example.org/solar","snippet":"Efficiency reached 23% in 2024."}]}`)},
		stepSpec{Node: "search_papers", LG: 2, Parallel: true, In: j(`{}`), Out: j(`{"paper_results":[{"title":"Perovskite cells","year":2025}]}`)},
		stepSpec{Node: "search_news", LG: 2, Parallel: true, In: j(`{}`), Out: j(`{"news_results":[{"headline":"Panel prices fall again"}]}`)},
		stepSpec{Node: "merge", LG: 3, In: j(`{}`), Out: j(`{"report":"Solar panels are getting cheaper and more efficient. Perovskite cells look promising."}`)},
	)
	corpus["fan-out"].Edges = []agentrun.Edge{{From: "__start__", To: "plan"}, {From: "plan", To: "search_web"}, {From: "plan", To: "search_papers"},
		{From: "plan", To: "search_news"}, {From: "search_web", To: "merge"}, {From: "search_papers", To: "merge"}, {From: "search_news", To: "merge"}}

	loop := []stepSpec{{Node: "init", LG: 1, In: j(`{"task":"compute 2^10 then add 24"}`), Out: j(`{"messages":[{"role":"user","content":"compute 2^10 then add 24"}],"iterations":0}`)}}
	outputs := []string{
		`{"messages":[{"role":"assistant","content":"I will compute 2^10 first."}],"iterations":1,"scratch":"step 1"}`,
		`{"messages":[{"role":"assistant","content":"2^10 is 1024. Now I add 24."}],"iterations":2,"scratch":"step 2"}`,
		`{"messages":[{"role":"assistant","content":"1024 + 24 = 1048."}],"iterations":3,"scratch":"step 3"}`,
		`{"messages":[{"role":"assistant","content":"The result is 1048."}],"iterations":4,"scratch":"done","final_answer":"1048"}`,
	}
	for k, o := range outputs {
		loop = append(loop, stepSpec{Node: "agent", LG: k + 2, In: j(`{}`), Out: j(o)})
	}
	corpus["agent loop"] = newRun(loop...)

	corpus["tool use"] = newRun(
		stepSpec{Node: "agent", LG: 1, In: j(`{"question":"Weather in Paris?"}`), Out: j(`{"tool_calls":[{"name":"get_weather","args":{"city":"Paris"}}]}`),
			Calls: []agentrun.Call{{SpanID: "l1", Name: "ChatOpenAI", Kind: "llm", Result: `{"role":"assistant","tool_calls":[{"name":"get_weather"}]}`, Status: "ok"}}},
		stepSpec{Node: "tools", LG: 2, In: j(`{}`), Out: j(`{"tool_results":[{"name":"get_weather","content":"{\"temp_c\": 18, \"sky\": \"cloudy\"}"}],"tool_calls":[]}`),
			Calls: []agentrun.Call{{SpanID: "t1", Name: "get_weather", Kind: "tool", Tool: "get_weather", Arguments: `{"city":"Paris"}`, Result: `{"temp_c": 18, "sky": "cloudy"}`, Status: "ok"}}},
		stepSpec{Node: "agent", LG: 3, In: j(`{}`), Out: j(`{"answer":"It is 18 °C and cloudy in Paris right now."}`)},
	)

	corpus["partial updates"] = newRun(
		stepSpec{Node: "classify", LG: 1, In: j(`{"ticket":"My invoice is wrong","priority":null,"category":null,"reply":""}`), Out: j(`{"category":"billing"}`)},
		stepSpec{Node: "prioritize", LG: 2, In: j(`{}`), Out: j(`{"priority":2}`)},
		stepSpec{Node: "draft", LG: 3, In: j(`{}`), Out: j(`{"reply":"Thanks for reaching out! I have forwarded your invoice to our billing team, who will correct it within two business days."}`)},
		stepSpec{Node: "review", LG: 4, In: j(`{}`), Out: j(`{"approved":true}`)},
	)
	return corpus
}

func TestCleanCorpus(t *testing.T) {
	for name, run := range ssCleanCorpus() {
		t.Run(name, func(t *testing.T) {
			cfg := cfgWith(nil)
			noAlarms(t, Structural(run, cfg))
			noAlarms(t, Semantic(run, cfg))
		})
	}
}

// ssBenchRun is a 30-step run whose states are about 10 KiB each.
func ssBenchRun() *agentrun.Run {
	para := "The committee reviewed the quarterly figures and agreed to extend the pilot program for another season. "
	var specs []stepSpec
	state := map[string]any{"question": "q"}
	for i := range 30 {
		docs := make([]any, 0, 10)
		for d := range 10 {
			docs = append(docs, map[string]any{"id": fmt.Sprintf("doc-%d-%d", i, d), "text": para, "score": float64(d) / 10})
		}
		out := map[string]any{fmt.Sprintf("field_%d", i%7): docs, "summary": strings.Repeat(para, 2)}
		specs = append(specs, stepSpec{Node: fmt.Sprintf("node_%d", i%5), LG: i + 1, In: state, Out: out})
		next := map[string]any{}
		for k, v := range state {
			next[k] = v
		}
		for k, v := range out {
			next[k] = v
		}
		state = next
	}
	return newRun(specs...)
}

func BenchmarkStructural(b *testing.B) {
	run := ssBenchRun()
	cfg := cfgWith(nil)
	b.ReportAllocs()
	for b.Loop() {
		Structural(run, cfg)
	}
}

// TestMappedFixtures runs both layers over the shared OTLP fixtures as the
// real mapping turns them into runs: the RAG failure is caught where it
// starts and where it crashes, the healthy fixtures raise nothing.
func TestMappedFixtures(t *testing.T) {
	layers := func(run *agentrun.Run) []Finding {
		return append(Structural(run, cfgWith(nil)), Semantic(run, cfgWith(nil))...)
	}
	load := func(name string) *agentrun.Run {
		runs := agentrun.MapTraces(testutil.LoadTraces(t, name), agentrun.Options{})
		if len(runs) != 1 {
			t.Fatalf("%s: %d runs", name, len(runs))
		}
		return runs[0]
	}

	fs := layers(load("rag_silent_failure.json"))
	expect(t, one(t, fs, ruleEmptyRetrieval), 1, SeverityWarning, map[string]any{"node": "retrieve", "field": "documents"})
	expect(t, one(t, fs, ruleCrashMissingData), 4, SeverityCritical, map[string]any{"node": "synthesize", "field": "documents", "producer_node": "retrieve"})

	for _, name := range []string{"rag_clean.json", "openinference_langgraph.json", "openllmetry_langgraph.json", "langsmith_langgraph.json",
		"genai_agent.json", "plain_spans.json", "no_root.json", "duplicate_ids.json", "parent_cycle.json"} {
		t.Run(name, func(t *testing.T) {
			// genai_agent's flight search times out: a behavioral finding,
			// not missing data, so these two layers stay quiet.
			for _, f := range layers(load(name)) {
				if f.Severity != SeverityInfo {
					t.Errorf("unexpected finding:\n%s", dump([]Finding{f}))
				}
			}
		})
	}
	fs = layers(load("malformed_states.json"))
	if got := byRule(fs, ruleCorruptedJSON); len(got) == 0 {
		t.Errorf("malformed outputs not reported:\n%s", dump(fs))
	}
}

package detect

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The behavioral layer as a whole, and its test helpers; the tests of
// each rule are in the rule's file, behavioral_<name>_test.go.

// withCalls adds calls (LLM, tool) to a step.
func withCalls(s agentrun.Step, calls ...agentrun.Call) agentrun.Step {
	s.Calls = append(s.Calls, calls...)
	return s
}

// cleanCorpus is a set of healthy runs: none of them may raise a warning.
func cleanCorpus(t testing.TB) []*agentrun.Run {
	var runs []*agentrun.Run
	// Linear RAG.
	runs = append(runs, bhRun("rag",
		withCalls(bhStep(t, "retrieve", `{"question":"How do I rotate API keys?"}`, `{"documents":["Keys rotate via the console.","Error handling: failed rotations are retried."]}`),
			agentrun.Call{Name: "retriever", Kind: "retriever", Arguments: "How do I rotate API keys?", Result: `[{"page_content":"Keys rotate via the console."}]`, Status: agentrun.StatusOK}),
		bhStep(t, "rerank", `{}`, `{"documents":["Keys rotate via the console."]}`),
		withCalls(bhStep(t, "synthesize", `{}`, `{"answer":"Open the console, choose Keys, then Rotate. Failed rotations are retried automatically."}`),
			bhLLM(`[{"role":"user","content":"How do I rotate API keys?"}]`, `[{"role":"assistant","content":"Open the console, choose Keys, then Rotate."}]`, 540)),
	))
	// Fan-out: three workers in one superstep, then a join.
	fan := []agentrun.Step{bhStep(t, "plan", `{"topic":"solar"}`, `{"tasks":["cost","efficiency","policy"]}`)}
	for _, w := range []string{"cost", "efficiency", "policy"} {
		fan = append(fan, withCalls(bhStep(t, "research_"+w, `{}`, fmt.Sprintf(`{"%s_notes":"notes about %s"}`, w, w)),
			bhTool("web_search", fmt.Sprintf(`{"query":"solar %s"}`, w), `{"results":["r1","r2"],"status":"ok"}`)))
	}
	fan = append(fan, bhStep(t, "join", `{}`, `{"report":"combined report"}`))
	runs = append(runs, bhRun("fanout", fan...))
	// Agent loop with a retry that changes its arguments.
	runs = append(runs, bhRun("agent",
		withCalls(bhStep(t, "agent", `{}`, `{"messages":[{"type":"ai","content":"","tool_calls":[{"name":"search","args":{"q":"acme revenue"}}]}]}`),
			bhLLM(`[{"role":"user","content":"What was ACME revenue in 2023?"}]`, `{"tool_calls":[{"name":"search"}]}`, 400)),
		withCalls(bhStep(t, "tools", `{}`, `{"messages":[{"type":"tool","status":"success","content":"ACME is a company."}]}`),
			bhTool("search", `{"q":"acme revenue"}`, `{"results":["ACME is a company."]}`)),
		withCalls(bhStep(t, "agent", `{}`, `{"messages":[{"type":"ai","content":"","tool_calls":[{"name":"search","args":{"q":"acme 2023 annual report revenue"}}]}]}`),
			bhLLM(`[{"role":"user","content":"What was ACME revenue in 2023?"}]`, `{"tool_calls":[{"name":"search"}]}`, 450)),
		withCalls(bhStep(t, "tools", `{}`, `{"messages":[{"type":"tool","status":"success","content":"Revenue 2023: $4.2B"}]}`),
			bhTool("search", `{"q":"acme 2023 annual report revenue"}`, `{"results":["Revenue 2023: $4.2B"]}`)),
		withCalls(bhStep(t, "agent", `{}`, `{"messages":[{"type":"ai","content":"ACME's 2023 revenue was $4.2B."}]}`),
			bhLLM(`[{"role":"user","content":"What was ACME revenue in 2023?"}]`, `ACME's 2023 revenue was $4.2B.`, 480)),
	))
	// Tools whose successful results talk about errors.
	runs = append(runs, bhRun("docs",
		withCalls(bhStep(t, "lookup", `{"q":"error handling"}`, `{"answer":"Error handling: wrap errors with context; see the errors package.","status":"ok"}`),
			bhTool("docs_search", `{"q":"error handling"}`, `{"success":true,"results":[{"title":"Error handling best practices","snippet":"An error: value should be checked; exceptions are not used."}],"error":null}`),
			bhTool("http_get", `{"url":"https://go.dev/blog/errors"}`, `{"status":200,"body":"Errors are values. Rate limits and error codes are explained below."}`)),
		bhText("format", "Error handling: wrap errors with context.", "## Error handling\n\nWrap errors with context."),
	))
	return runs
}

func TestBehavioralCleanCorpus(t *testing.T) {
	for _, run := range cleanCorpus(t) {
		if fs := Behavioral(run, cfgWith(nil)); len(fs) != 0 {
			t.Errorf("pipeline %s: unexpected findings: %s", run.PipelineName, dump(fs))
		}
	}
}

func TestBehavioralHostileValues(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 500) + `{"error":"deep"}` + strings.Repeat(`}`, 500)
	huge := strings.Repeat("x", 5<<20)
	steps := []agentrun.Step{
		bhStep(t, "deep", `{}`, deep),
		bhText("bad\xffutf8", "\xff\xfe invalid bytes here, long enough", "\xff\xfe invalid bytes here, long enough"),
		withCalls(bhStep(t, "tool", `{}`, `{}`), bhTool("t", "{not json", "{\"error\": \"unterminated"), bhTool("t", huge, huge)),
		{Node: "nothing"},
		bhStep(t, "sql", `{}`, `{"error":"'; DROP TABLE detections; --<script>alert(1)</script>"}`),
	}
	fs := Behavioral(bhRun("p", steps...), cfgWith(nil))
	for _, f := range fs {
		if len(f.Message) > 600 {
			t.Errorf("message not bounded: %d bytes", len(f.Message))
		}
		if v, ok := f.Details["value"].(string); ok && len(v) > 2*previewBytes {
			t.Errorf("value not bounded: %d bytes", len(v))
		}
	}
	// The deep error is beyond the walk depth: not reported, and no crash.
	// Hostile text is reported verbatim (escaping is the renderers' job).
	errs := byRule(fs, ruleToolError)
	if len(errs) != 1 || errs[0].Step != 4 || errs[0].Details["value"] != "'; DROP TABLE detections; --<script>alert(1)</script>" {
		t.Fatalf("tool errors = %s", dump(errs))
	}
	if f := one(t, fs, ruleInputEcho); f.Step != 1 || !utf8.ValidString(f.Details["preview"].(string)) {
		t.Fatalf("echo = %+v", f)
	}
	if Behavioral(nil, nil) != nil || len(Behavioral(&agentrun.Run{}, nil)) != 0 {
		t.Fatal("nil run or empty run must give no findings")
	}
}

func TestBehavioralDeterministicIDs(t *testing.T) {
	mk := func() *agentrun.Run {
		return bhRun("p", withCalls(bhStep(t, "s", `{}`, `{"error":"a","errors":["b"],"status":500}`),
			bhTool("t", `{}`, `{"error":"a"}`), bhTool("u", `{}`, `{"error":"c"}`)))
	}
	a, b := Behavioral(mk(), cfgWith(nil)), Behavioral(mk(), cfgWith(nil))
	if len(a) == 0 || !reflect.DeepEqual(a, b) {
		t.Fatalf("not deterministic:%s\nvs%s", dump(a), dump(b))
	}
	ids := map[string]bool{}
	for _, f := range a {
		if ids[f.ID] {
			t.Fatalf("duplicate id %s in %s", f.ID, dump(a))
		}
		ids[f.ID] = true
	}
}

// benchRun is a 30-step agent run with tools, LLM calls and dict states.
func benchRun(tb testing.TB) *agentrun.Run {
	var steps []agentrun.Step
	for i := range 10 {
		steps = append(steps,
			withCalls(bhStep(tb, "agent", `{"messages":[]}`, fmt.Sprintf(`{"messages":[{"type":"ai","content":"Thinking about step %d of the research plan; next I will search for more evidence.","tool_calls":[{"name":"search","args":{"q":"topic %d"}}]}]}`, i, i)),
				bhLLM(fmt.Sprintf(`[{"role":"system","content":"You are a researcher."},{"role":"user","content":"Research topic %d"}]`, i), fmt.Sprintf(`[{"role":"assistant","content":"Searching topic %d"}]`, i), 500)),
			withCalls(bhStep(tb, "tools", `{}`, fmt.Sprintf(`{"messages":[{"type":"tool","status":"success","content":"result %d: %s"}]}`, i, strings.Repeat("lorem ipsum dolor ", 20))),
				bhTool("search", fmt.Sprintf(`{"q":"topic %d","k":5}`, i), fmt.Sprintf(`{"results":["doc %d a","doc %d b"],"status":"ok"}`, i, i))),
			bhStep(tb, "reflect", `{}`, fmt.Sprintf(`{"notes":"reflection %d","confidence":0.%d}`, i, i)),
		)
	}
	return bhRun("bench", steps...)
}

func BenchmarkBehavioral(b *testing.B) {
	run := benchRun(b)
	cfg := cfgWith(nil)
	b.ReportAllocs()
	for b.Loop() {
		if fs := Behavioral(run, cfg); len(fs) > 1 { // runaway is quiet at 10 runs per node
			b.Fatalf("unexpected findings: %s", dump(fs))
		}
	}
}

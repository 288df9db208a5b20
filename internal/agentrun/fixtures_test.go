package agentrun_test

import (
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func TestOpenInferenceLangGraph(t *testing.T) {
	r := fixtureRun(t, "openinference_langgraph.json")
	eq(t, "trace id", r.TraceID, "4bf92f3577b34da6a3ce929d0e0e4736")
	eq(t, "pipeline", r.PipelineName, "LangGraph")
	eq(t, "nodes", nodes(r), []string{"rewrite_query", "retrieve", "grade_documents", "generate"})
	eq(t, "failed", r.Failed, false)
	eq(t, "span count", r.SpanCount, 15)
	eq(t, "duration", r.DurationMs(), int64(4210))
	if r.RootSpanID == "" {
		t.Fatal("root span not found")
	}
	md := r.Metadata
	eq(t, "convention", md["convention"], agentrun.ConvOpenInference)
	eq(t, "session", md["session_id"], "thread-7f3a9c")
	eq(t, "user", md["user_id"], "u-1029")
	eq(t, "service", md["service_name"], "rag-service")
	eq(t, "root_missing", md["root_missing"], false)
	// root, __start__ and its ChannelWrite are not under any step
	eq(t, "unattached", md["unattached_span_count"], 3)
	eq(t, "scopes", md["scopes"], []any{"openinference.instrumentation.langchain"})
	eq(t, "resource env", md["resource"].(map[string]any)["deployment.environment"], "staging")

	wantCalls := [][]string{
		{"ChatOpenAI/llm"},
		{"VectorStoreRetriever/retriever"},
		{"ChatOpenAI/llm", "decide_to_generate/chain"},
		{"RunnableSequence/chain", "ChatPromptTemplate/other", "ChatOpenAI/llm", "StrOutputParser/chain"},
	}
	for i := range r.Steps {
		s := &r.Steps[i]
		eq(t, s.Node+" langgraph step", s.LangGraphStep, i+1)
		eq(t, s.Node+" convention", s.Convention, agentrun.ConvOpenInference)
		eq(t, s.Node+" kind", s.Kind, "CHAIN")
		eq(t, s.Node+" status", s.Status, agentrun.StatusOK)
		eq(t, s.Node+" has in/out", []bool{s.HasInput, s.HasOutput, s.InputMalformed, s.OutputMalformed}, []bool{true, true, false, false})
		var got []string
		for _, c := range s.Calls {
			got = append(got, c.Name+"/"+c.Kind)
			if r.StepIDFor(c.SpanID) != s.ID {
				t.Errorf("StepIDFor(call %s) = %q, want %q", c.Name, r.StepIDFor(c.SpanID), s.ID)
			}
		}
		eq(t, s.Node+" calls", got, wantCalls[i])
		eq(t, s.Node+" metadata span", s.Metadata["span_id"], s.SpanID)
		eq(t, s.Node+" metadata lg step", s.Metadata["langgraph_step"], i+1)
		eq(t, s.Node+" metadata path", s.Metadata["langgraph_path"], []any{"__pregel_pull", s.Node})
		eq(t, s.Node+" parent", s.ParentSpanID, r.RootSpanID)
	}
	if r.StepIDFor(r.RootSpanID) != "" {
		t.Error("the root span must not belong to a step")
	}
	rw := &r.Steps[0]
	eq(t, "rewrite input", rw.Input, js(t, `{"question":"what did the 2023 annual report say about EU revenue?"}`))
	eq(t, "rewrite output", rw.Output, js(t, `{"question":"2023 annual report EU revenue figures"}`))
	llm := rw.Calls[0]
	eq(t, "llm model/provider", []string{llm.Model, llm.Provider}, []string{"gpt-4o-mini", "openai"})
	eq(t, "llm tokens", []int64{llm.InputTokens, llm.OutputTokens, llm.TotalTokens}, []int64{52, 14, 66})
	gen := &r.Steps[3]
	in, out, total := gen.Tokens()
	eq(t, "generate tokens", []int64{in, out, total}, []int64{412, 38, 450})
	eq(t, "generate md tokens", []any{gen.Metadata["input_tokens"], gen.Metadata["total_tokens"]}, []any{int64(412), int64(450)})
	eq(t, "generate md model", gen.Metadata["model"], "gpt-4o")
	eq(t, "generate md call count", gen.Metadata["call_count"], 4)
	if calls := gen.Metadata["calls"].([]any); len(calls) != 4 || calls[2].(map[string]any)["model"] != "gpt-4o" {
		t.Errorf("compact calls = %v", calls)
	}
	ret := r.Steps[1].Calls[0]
	eq(t, "retriever arguments (text/plain query)", ret.Arguments, "2023 annual report EU revenue figures")
	// retrieve returned three documents; grading kept two
	docs := r.StateBefore(3)["documents"].([]any)
	eq(t, "documents before generate", len(docs), 2)
}

func TestOpenLLMetryLangGraph(t *testing.T) {
	r := fixtureRun(t, "openllmetry_langgraph.json")
	eq(t, "pipeline", r.PipelineName, "research_agent")
	eq(t, "nodes", nodes(r), []string{"plan", "agent", "tools", "agent"})
	eq(t, "edges", r.Edges, []agentrun.Edge{{"__start__", "plan"}, {"plan", "agent"}, {"agent", "tools"}, {"tools", "agent"}, {"agent", "__end__"}})
	eq(t, "session", r.Metadata["session_id"], "thread-42")
	eq(t, "convention", r.Metadata["convention"], agentrun.ConvOpenLLMetry)
	eq(t, "workflow nodes", r.Metadata["workflow_nodes"], []any{"__start__", "plan", "agent", "tools"})
	eq(t, "unattached (invoke_agent root, workflow)", r.Metadata["unattached_span_count"], 2)
	eq(t, "scopes", r.Metadata["scopes"], []any{"opentelemetry.instrumentation.langchain", "opentelemetry.instrumentation.openai"})
	for i, s := range r.Steps {
		eq(t, s.Node+" lg", s.LangGraphStep, i+1)
		eq(t, s.Node+" kind", s.Kind, "task")
		eq(t, s.Node+" convention", s.Convention, agentrun.ConvOpenLLMetry)
	}
	// traceloop.entity.input/output envelopes are unwrapped to inputs/outputs
	plan := r.Steps[0]
	eq(t, "plan input", plan.Input, js(t, `{"messages":[{"role":"user","content":"What is the latest stable Go release and what changed in it?"}]}`))
	eq(t, "plan output", plan.Output, js(t, `{"plan":"1. search the web for the latest Go release 2. summarise the release notes"}`))
	c := plan.Calls[0]
	eq(t, "chat call", []any{c.Kind, c.Model, c.Provider, c.InputTokens, c.OutputTokens, c.TotalTokens},
		[]any{"llm", "gpt-4o", "openai", int64(88), int64(27), int64(115)})
	tools := r.Steps[2]
	if len(tools.Calls) != 1 {
		t.Fatalf("tools calls = %d", len(tools.Calls))
	}
	tc := tools.Calls[0]
	eq(t, "tool call", []string{tc.Kind, tc.Tool, tc.Arguments}, []string{"tool", "web_search", `{"query": "latest stable Go release notes"}`})
	if !strings.HasPrefix(tc.Result, "Go 1.23 was released") {
		t.Errorf("tool result = %q", tc.Result)
	}
	// the agent node ran twice: two steps, distinct ids
	if r.Steps[1].ID == r.Steps[3].ID {
		t.Error("repeated node executions share a step id")
	}
}

func TestLangSmithLangGraph(t *testing.T) {
	r := fixtureRun(t, "langsmith_langgraph.json")
	eq(t, "pipeline", r.PipelineName, "LangGraph")
	eq(t, "nodes", nodes(r), []string{"classify_intent", "lookup_order", "respond"})
	eq(t, "session", r.Metadata["session_id"], "conv-1189")
	eq(t, "convention", r.Metadata["convention"], agentrun.ConvLangSmith)
	s := r.Steps[1]
	eq(t, "lookup kind/conv/lg", []any{s.Kind, s.Convention, s.LangGraphStep}, []any{"chain", agentrun.ConvLangSmith, 2})
	eq(t, "lookup output (gen_ai.completion)", s.Output, js(t, `{"order":{"id":"A-1042","status":"shipped","carrier":"DHL"}}`))
	eq(t, "lookup triggers", s.Metadata["langgraph_triggers"], []any{"branch:to:lookup_order"})
	eq(t, "lookup tags", s.Metadata["tags"], "graph:step:2")
	tool := s.Calls[0]
	eq(t, "tool", []string{tool.Kind, tool.Tool, tool.Arguments}, []string{"tool", "get_order_status", `{"order_id": "A-1042"}`})
	llm := r.Steps[0].Calls[0]
	eq(t, "llm", []any{llm.Kind, llm.Model, llm.Provider, llm.TotalTokens}, []any{"llm", "claude-3-5-sonnet-20241022", "anthropic", int64(65)})
}

func TestGenAIAgent(t *testing.T) {
	r := fixtureRun(t, "genai_agent.json")
	eq(t, "pipeline", r.PipelineName, "travel_planner")
	eq(t, "nodes", nodes(r), []string{"chat gpt-4o", "get_weather", "search_flights", "chat gpt-4o"})
	eq(t, "convention", r.Metadata["convention"], agentrun.ConvGenAI)
	eq(t, "failed", r.Failed, true)
	eq(t, "error spans", r.Metadata["error_span_count"], 2)
	eq(t, "session", r.Metadata["session_id"], "conv-77")
	eq(t, "user", r.Metadata["user_id"], "u-5521")
	// the lone invoke_agent under the HTTP root stands for the run
	eq(t, "wrappers", r.Metadata["wrapper_span_count"], 1)
	eq(t, "unattached (HTTP root, invoke_agent)", r.Metadata["unattached_span_count"], 2)
	eq(t, "service", r.Metadata["service_name"], "travel-planner")

	chat := r.Steps[0]
	eq(t, "chat kind/conv", []string{chat.Kind, chat.Convention, chat.SpanKind}, []string{"chat", agentrun.ConvGenAI, "client"})
	eq(t, "chat input (gen_ai.input.messages)", chat.Input, js(t, `[{"role":"user","parts":[{"type":"text","content":"Plan a weekend in Lisbon on June 14, with flights from Berlin."}]}]`))
	eq(t, "chat own tokens in metadata", []any{chat.Metadata["input_tokens"], chat.Metadata["output_tokens"], chat.Metadata["total_tokens"]}, []any{int64(310), int64(42), int64(352)})
	eq(t, "chat model", chat.Metadata["model"], "gpt-4o")
	// otelhttp (v0.72) names its client spans "HTTP <method>"
	eq(t, "chat http call", []string{chat.Calls[0].Name, chat.Calls[0].Kind}, []string{"HTTP POST", "other"})

	w := r.Steps[1]
	eq(t, "weather input", w.Input, js(t, `{"city":"Lisbon","date":"2025-06-14"}`))
	eq(t, "weather output", w.Output, js(t, `{"forecast":"sunny","high_c":27,"low_c":18}`))

	f := r.Steps[2]
	eq(t, "flights status", f.Status, agentrun.StatusError)
	eq(t, "flights status message", f.StatusMessage, "flight search failed: context deadline exceeded")
	eq(t, "flights has output", f.HasOutput, false)
	if len(f.Exceptions) != 1 || f.Exceptions[0].Type != "*url.Error" || !strings.Contains(f.Exceptions[0].Message, "context deadline exceeded") {
		t.Errorf("exceptions = %+v", f.Exceptions)
	}
	if !f.Failed() {
		t.Error("Step.Failed() is false for an errored step")
	}
	eq(t, "flights http call status", f.Calls[0].Status, agentrun.StatusError)
}

func TestPlainSpans(t *testing.T) {
	r := fixtureRun(t, "plain_spans.json")
	eq(t, "pipeline", r.PipelineName, "POST /orders")
	eq(t, "nodes", nodes(r), []string{"validate_order", "charge_card", "send_confirmation"})
	eq(t, "convention", r.Metadata["convention"], agentrun.ConvPlain)
	for _, s := range r.Steps {
		eq(t, s.Node+" conv", s.Convention, agentrun.ConvPlain)
		eq(t, s.Node+" states", []bool{s.HasInput, s.HasOutput}, []bool{false, false})
		eq(t, s.Node+" lg", s.LangGraphStep, -1)
		eq(t, s.Node+" status", s.Status, agentrun.StatusUnset)
	}
	eq(t, "validate calls", r.Steps[0].Calls[0].Name, "SELECT orders")
	eq(t, "charge calls", r.Steps[1].Calls[0].Kind, "other")
	eq(t, "email kind", r.Steps[2].SpanKind, "producer")
	eq(t, "failed", r.Failed, false)
}

func TestMalformedStatesFixture(t *testing.T) {
	r := fixtureRun(t, "malformed_states.json")
	eq(t, "nodes", nodes(r), []string{"parse_input", "load_docs", "plain_text", "deep", "unicode"})
	type flags struct {
		In, Out   any
		MIn, MOut bool
	}
	got := func(i int) flags {
		s := r.Steps[i]
		return flags{s.Input, s.Output, s.InputMalformed, s.OutputMalformed}
	}
	eq(t, "parse_input", got(0), flags{`{"question": "unterminated`, map[string]any{"ok": true}, true, false})
	// mime says JSON but it is text; output starts with [ but is cut off
	eq(t, "load_docs", got(1), flags{"not json at all", "[1, 2,", true, true})
	// text/plain is never parsed and never malformed; plain text is a string
	eq(t, "plain_text", got(2), flags{"{looks like json}", "hello world", false, false})
	// valid JSON nested beyond encoding/json's limit is kept as text, not a
	// crash, and is too deep, not malformed
	d := got(3)
	if s, ok := d.In.(string); !ok || len(s) != 40000 || d.MIn || !r.Steps[3].InputTooDeep {
		t.Errorf("deep input: malformed=%v too deep=%v type=%T", d.MIn, r.Steps[3].InputTooDeep, d.In)
	}
	if r.Steps[3].OutputTooDeep || r.Steps[0].InputTooDeep {
		t.Error("shallow or broken states are not too deep")
	}
	eq(t, "deep output (JSON scalar)", d.Out, 42.0)
	u := got(4)
	eq(t, "unicode input", u.In, map[string]any{"text": "café 😀", "lone": "\uFFFD"})
	eq(t, "unicode output: trailing garbage", []any{u.Out, u.MOut}, []any{`{"ok": true} trailing`, true})
}

func TestNoRootFixture(t *testing.T) {
	r := fixtureRun(t, "no_root.json")
	eq(t, "root", r.RootSpanID, "")
	eq(t, "root_missing", r.Metadata["root_missing"], true)
	eq(t, "orphans", r.Metadata["orphan_span_count"], 2)
	eq(t, "nodes", nodes(r), []string{"plan", "answer"})
	eq(t, "answer calls", len(r.Steps[1].Calls), 1)
	eq(t, "pipeline falls back to first span name", r.PipelineName, "plan")
}

func TestDuplicateIDsFixture(t *testing.T) {
	r := fixtureRun(t, "duplicate_ids.json")
	eq(t, "duplicates", r.Metadata["duplicate_span_count"], 2)
	eq(t, "span count", r.SpanCount, 3)
	eq(t, "nodes", nodes(r), []string{"retrieve", "answer"})
	// the first copy wins
	eq(t, "retrieve output", r.Steps[0].Output, map[string]any{"documents": []any{"d1"}})
	eq(t, "root output kept", r.Metadata["root_missing"], false)
}

func TestParentCycleFixture(t *testing.T) {
	r := fixtureRun(t, "parent_cycle.json")
	eq(t, "cycle breaks", r.Metadata["cycle_break_count"], 2)
	eq(t, "span count", r.SpanCount, 6)
	eq(t, "nodes", nodes(r), []string{"load", "transform", "publish"})
	var calls []string
	for _, c := range r.Steps[1].Calls {
		calls = append(calls, c.Name)
	}
	eq(t, "cycle members hang under the cut span", calls, []string{"transform_batch", "transform_row"})
}

func TestRAGScenarioFixtures(t *testing.T) {
	bad := fixtureRun(t, "rag_silent_failure.json")
	good := fixtureRun(t, "rag_clean.json")
	want := []string{"plan", "retrieve", "rerank", "format_context", "synthesize"}
	eq(t, "silent nodes", nodes(bad), want)
	eq(t, "clean nodes", nodes(good), want)
	if bad.TraceID == good.TraceID {
		t.Error("scenario fixtures share a trace id")
	}

	eq(t, "silent failed", bad.Failed, true)
	eq(t, "retrieve output", bad.Steps[1].Output, map[string]any{"documents": []any{}})
	eq(t, "retrieve has a retriever call", bad.Steps[1].Calls[0].Kind, "retriever")
	eq(t, "rerank output", bad.Steps[2].Output, map[string]any{"documents": []any{}})
	eq(t, "format_context output", bad.Steps[3].Output, map[string]any{"context": ""})
	syn := bad.Steps[4]
	eq(t, "synthesize", []any{syn.Status, syn.HasOutput, syn.HasInput}, []any{agentrun.StatusError, false, true})
	if len(syn.Exceptions) != 1 || syn.Exceptions[0].Type != "KeyError" || syn.Exceptions[0].Message != "'documents'" ||
		!strings.Contains(syn.Exceptions[0].Stacktrace, `payload["documents"]`) {
		t.Errorf("synthesize exceptions = %+v", syn.Exceptions)
	}
	before := bad.StateBefore(4)
	eq(t, "merged state handed to synthesize", []any{before["documents"], before["context"]}, []any{[]any{}, ""})

	eq(t, "clean failed", good.Failed, false)
	gs := good.Steps[4]
	if a, _ := gs.Output.(map[string]any)["answer"].(string); !strings.HasSuffix(a, ".") || len(a) < 40 {
		t.Errorf("clean answer = %q", a)
	}
	in, out, total := gs.Tokens()
	eq(t, "clean synthesize tokens", []int64{in, out, total}, []int64{388, 47, 435})
	eq(t, "clean rerank call", good.Steps[2].Calls[0].Kind, "reranker")
	if docs := good.StateBefore(4)["documents"].([]any); len(docs) != 2 {
		t.Errorf("clean documents before synthesize = %d", len(docs))
	}
}

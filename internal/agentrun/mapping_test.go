package agentrun_test

import (
	"encoding/json"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	tu "github.com/arguslabs/argus-otel/internal/testutil"
)

// oiNode is an OpenInference LangGraph node span's attributes.
func oiNode(node string, step int, ns, in, out string) map[string]any {
	md, _ := json.Marshal(map[string]any{"langgraph_node": node, "langgraph_step": step, "langgraph_checkpoint_ns": ns})
	a := map[string]any{"openinference.span.kind": "CHAIN", "metadata": string(md)}
	if in != "" {
		a["input.value"] = in
	}
	if out != "" {
		a["output.value"] = out
	}
	return a
}

func span(id, parent int, name string, start, end int, attrs map[string]any) tu.Span {
	s := tu.Span{TraceID: trace1, SpanID: sid(id), Name: name, Start: at(start), End: at(end), Attrs: attrs}
	if parent >= 0 {
		s.ParentID = sid(parent)
	}
	return s
}

func TestSubgraphsLoopsAndInternalSpans(t *testing.T) {
	llm := func(node string, step int, ns string) map[string]any {
		a := oiNode(node, step, ns, "", "")
		a["openinference.span.kind"] = "LLM"
		a["llm.model_name"] = "gpt-4o"
		a["llm.token_count.prompt"] = 10
		a["llm.token_count.completion"] = 5
		return a
	}
	td := tu.BuildTraces(t,
		span(0, -1, "LangGraph", 0, 1000, map[string]any{"openinference.span.kind": "CHAIN"}),
		span(1, 0, "__start__", 1, 2, oiNode("__start__", 0, "__start__:1", `{"q":1}`, `{"q":1}`)),
		// outer node "research" runs a subgraph with its own nodes
		span(2, 0, "research", 3, 500, oiNode("research", 1, "research:a", `{"q":1}`, `{"notes":"n"}`)),
		span(3, 2, "LangGraph", 4, 499, oiNode("research", 1, "research:a", "", "")),
		span(4, 3, "search", 5, 200, oiNode("search", 1, "research:a|search:b", `{"q":1}`, `{"hits":[1]}`)),
		span(5, 4, "ChatOpenAI", 6, 199, llm("search", 1, "research:a|search:b")),
		span(6, 3, "summarize", 201, 498, oiNode("summarize", 2, "research:a|summarize:c", `{"hits":[1]}`, `{"notes":"n"}`)),
		span(7, 6, "ChannelWrite<summarize:notes>", 497, 498, oiNode("summarize", 2, "research:a|summarize:c", "", "")),
		// a validator loop: the same node twice, at different supersteps
		span(8, 0, "check", 501, 600, oiNode("check", 2, "check:d", "", `{"ok":false}`)),
		span(9, 8, "goto research", 598, 599, map[string]any{"langgraph.command.goto_node": "research", "langgraph.command.source_node": "check"}),
		span(10, 0, "check", 601, 700, oiNode("check", 3, "check:e", "", `{"ok":true}`)),
		span(11, 10, "ChatOpenAI", 602, 699, llm("check", 3, "check:e")),
	)
	r := oneRun(t, td, agentrun.Options{})
	eq(t, "nodes", nodes(r), []string{"research", "search", "summarize", "check", "check"})
	eq(t, "search calls", len(r.Steps[1].Calls), 1)
	eq(t, "research calls (the subgraph invocation span)", len(r.Steps[0].Calls), 1)
	eq(t, "summarize calls (ChannelWrite is internal)", len(r.Steps[2].Calls), 0)
	eq(t, "check#1 calls (goto is internal)", len(r.Steps[3].Calls), 0)
	eq(t, "internal spans", r.Metadata["internal_span_count"], 2)
	eq(t, "second check has the llm", r.Steps[4].Calls[0].Kind, "llm")
	eq(t, "lg steps", []int{r.Steps[3].LangGraphStep, r.Steps[4].LangGraphStep}, []int{2, 3})
}

func TestSameNodeWithoutNamespaceNestsAsCall(t *testing.T) {
	// OpenLLMetry: no checkpoint namespace; the nested span lacks a step.
	node := map[string]any{"traceloop.span.kind": "task", "traceloop.entity.name": "agent",
		"traceloop.association.properties.langgraph_node": "agent", "traceloop.association.properties.langgraph_step": "2",
		"gen_ai.task.input": `{"x":1}`, "gen_ai.task.output": `{"y":2}`}
	chat := map[string]any{"gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
		"gen_ai.usage.prompt_tokens": 7, "gen_ai.usage.completion_tokens": "3",
		"traceloop.association.properties.langgraph_node": "agent"}
	td := tu.BuildTraces(t,
		span(0, -1, "invoke_agent g", 0, 100, map[string]any{"gen_ai.operation.name": "invoke_agent", "gen_ai.workflow.edges": `["__start__ -> agent", "bad edge", "agent -> __end__"]`}),
		span(1, 0, "execute_task agent", 1, 99, node),
		span(2, 1, "chat m", 2, 98, chat),
	)
	r := oneRun(t, td, agentrun.Options{})
	eq(t, "nodes", nodes(r), []string{"agent"})
	eq(t, "lg step from string", r.Steps[0].LangGraphStep, 2)
	eq(t, "task input", r.Steps[0].Input, map[string]any{"x": 1.0})
	eq(t, "task output", r.Steps[0].Output, map[string]any{"y": 2.0})
	c := r.Steps[0].Calls[0]
	eq(t, "older usage keys, total summed", []int64{c.InputTokens, c.OutputTokens, c.TotalTokens}, []int64{7, 3, 10})
	eq(t, "edges from JSON string, bad ones skipped", r.Edges, []agentrun.Edge{{"__start__", "agent"}, {"agent", "__end__"}})
}

func TestGenAIWithoutWrapperAndWorkflowSpan(t *testing.T) {
	td := tu.BuildTraces(t,
		span(0, -1, "invoke_agent support", 0, 100, map[string]any{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support"}),
		span(1, 0, "invoke_workflow triage", 1, 99, map[string]any{"gen_ai.operation.name": "invoke_workflow", "gen_ai.workflow.name": "triage"}),
		span(2, 1, "retrieval kb", 2, 20, map[string]any{"gen_ai.operation.name": "retrieval"}),
		span(3, 1, "invoke_agent billing", 21, 80, map[string]any{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "billing"}),
		span(4, 3, "execute_tool refund", 22, 70, map[string]any{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "refund", "gen_ai.tool.call.arguments": `{"id":1}`, "gen_ai.tool.call.result": "done"}),
		span(5, 1, "embeddings e5", 81, 90, map[string]any{"gen_ai.operation.name": "embeddings"}),
	)
	r := oneRun(t, td, agentrun.Options{})
	// gen_ai.workflow.name outranks the root's agent name
	eq(t, "pipeline", r.PipelineName, "triage")
	eq(t, "nodes", nodes(r), []string{"retrieval kb", "billing", "embeddings e5"})
	eq(t, "sub-agent tool is a call", []string{r.Steps[1].Calls[0].Kind, r.Steps[1].Calls[0].Tool, r.Steps[1].Calls[0].Arguments}, []string{"tool", "refund", `{"id":1}`})
	eq(t, "kind", r.Steps[1].Kind, "invoke_agent")
}

func TestPlainDescendsThroughOneWrapper(t *testing.T) {
	td := tu.BuildTraces(t,
		span(0, -1, "GET /job", 0, 100, nil),
		span(1, 0, "handler", 1, 99, nil),
		span(2, 1, "fetch", 2, 30, nil),
		span(3, 2, "http GET", 3, 29, nil),
		span(4, 1, "store", 31, 90, nil),
	)
	r := oneRun(t, td, agentrun.Options{})
	eq(t, "nodes", nodes(r), []string{"fetch", "store"})
	eq(t, "fetch calls", len(r.Steps[0].Calls), 1)
	eq(t, "wrappers", r.Metadata["wrapper_span_count"], 1)
}

func TestNoRootPlainAndPureCycle(t *testing.T) {
	// Every span is in one parent cycle: no root, no top. Must terminate.
	td := tu.BuildTraces(t,
		span(0, 2, "a", 0, 10, nil),
		span(1, 0, "b", 1, 9, nil),
		span(2, 1, "c", 2, 8, nil),
		span(3, 99, "orphan", 20, 30, nil),
	)
	r := oneRun(t, td, agentrun.Options{})
	eq(t, "root", r.RootSpanID, "")
	eq(t, "root missing", r.Metadata["root_missing"], true)
	eq(t, "cycle breaks", r.Metadata["cycle_break_count"], 1)
	eq(t, "orphans", r.Metadata["orphan_span_count"], 1)
	eq(t, "forest tops are steps", nodes(r), []string{"a", "orphan"})
	eq(t, "the rest of the cycle are calls", len(r.Steps[0].Calls), 2)
}

func TestExtraRootsAndOrphansHangUnderRoot(t *testing.T) {
	td := tu.BuildTraces(t,
		span(0, -1, "late root", 5, 100, nil),
		span(1, -1, "early root", 0, 100, nil),
		span(2, 1, "step a", 6, 10, nil),
		span(3, 42, "orphan step", 11, 20, nil),
	)
	r := oneRun(t, td, agentrun.Options{})
	eq(t, "root is the earliest parentless span", r.RootSpanID, sid(1))
	eq(t, "extra roots", r.Metadata["extra_root_count"], 1)
	eq(t, "nodes", nodes(r), []string{"late root", "step a", "orphan step"})
	eq(t, "orphan keeps its real parent id", r.Steps[2].ParentSpanID, sid(42))
}

func TestTraceSplitAcrossResourceSpans(t *testing.T) {
	other := "ffeeddccbbaa99887766554433221100"
	a := span(0, -1, "LangGraph", 0, 100, nil)
	a.Resource = "svc-a"
	b := span(1, 0, "n1", 1, 50, oiNode("n1", 1, "n1:x", `{"a":1}`, `{"b":2}`))
	b.Resource = "svc-b"
	x := tu.Span{TraceID: other, SpanID: sid(7), Name: "other", Start: at(0), End: at(5), Resource: "svc-b"}
	c := span(2, 0, "n2", 51, 99, oiNode("n2", 2, "n2:y", `{"b":2}`, `{"c":3}`))
	c.Resource = "svc-a"
	runs := agentrun.MapTraces(tu.BuildTraces(t, a, b, x, c), agentrun.Options{})
	if len(runs) != 2 {
		t.Fatalf("runs = %d", len(runs))
	}
	r := runs[0]
	checkRun(t, r)
	eq(t, "first run is the first trace seen", r.TraceID, trace1)
	eq(t, "nodes", nodes(r), []string{"n1", "n2"})
	eq(t, "service from the root's resource", r.Metadata["service_name"], "svc-a")
	eq(t, "merged state", r.StateAfter(1), map[string]any{"a": 1.0, "b": 2.0, "c": 3.0})
	eq(t, "second run", runs[1].TraceID, other)
}

func TestZeroTraceIDAndTimestamps(t *testing.T) {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	root := ss.AppendEmpty()
	root.SetSpanID(pcommon.SpanID{1})
	root.SetName("root")
	// a child that ends before it starts, one with no timestamps, one far in the future
	for i, ts := range [][2]uint64{{2_000, 1_000}, {0, 0}, {1 << 63, 1<<63 + 5}} {
		c := ss.AppendEmpty()
		c.SetSpanID(pcommon.SpanID{byte(i + 2)})
		c.SetParentSpanID(pcommon.SpanID{1})
		c.SetName("child")
		c.SetStartTimestamp(pcommon.Timestamp(ts[0]))
		c.SetEndTimestamp(pcommon.Timestamp(ts[1]))
	}
	r := oneRun(t, td, agentrun.Options{})
	eq(t, "trace id", r.TraceID, strings.Repeat("0", 32))
	eq(t, "zero trace id flagged", r.Metadata["zero_trace_id"], true)
	eq(t, "zero trace id span count", r.Metadata["zero_trace_id_span_count"], 4)
	eq(t, "steps", len(r.Steps), 3)
	for _, s := range r.Steps {
		if s.DurationMs() != 0 {
			t.Errorf("step %s duration %d, want 0", s.SpanID, s.DurationMs())
		}
	}
	if !r.Steps[1].Start.IsZero() && !r.Steps[2].Start.IsZero() {
		t.Error("zero or out-of-range timestamps must map to the zero time")
	}
}

func TestInvalidUTF8Everywhere(t *testing.T) {
	bad := "ok\xff\xfe"
	td := tu.BuildTraces(t,
		span(0, -1, "root"+bad, 0, 100, map[string]any{"gen_ai.agent.name": "agent" + bad, "session.id": bad}),
		span(1, 0, "node"+bad, 1, 50, map[string]any{
			"metadata":     `{"langgraph_node":"n` + bad + `","langgraph_step":1}`,
			"input.value":  `{"k` + bad + `":"v` + bad + `"}`,
			"output.value": "plain " + bad,
		}),
		span(2, 1, "tool"+bad, 2, 40, map[string]any{"tool.name": "t" + bad, "tool.parameters": `{"a":"` + bad + `"}`, "output.value": bad}),
	)
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1)
	sp.Status().SetCode(ptrace.StatusCodeError)
	sp.Status().SetMessage("boom" + bad)
	ev := sp.Events().AppendEmpty()
	ev.SetName("exception")
	ev.Attributes().PutStr("exception.type", "E"+bad)
	ev.Attributes().PutStr("exception.message", bad)
	td.ResourceSpans().At(0).Resource().Attributes().PutStr("host"+bad, bad)

	r := oneRun(t, td, agentrun.Options{RedactKeys: []string{"secret"}, MaxFieldBytes: 1000}) // checkRun asserts valid UTF-8 everywhere
	s := r.Steps[0]
	eq(t, "node", s.Node, "n"+"ok\uFFFD")
	eq(t, "input keys and values", s.Input, map[string]any{"kok\uFFFD": "vok\uFFFD"})
	eq(t, "output", s.Output, "plain ok\uFFFD")
	eq(t, "pipeline", r.PipelineName, "agentok\uFFFD")
	eq(t, "status message", s.StatusMessage, "boomok\uFFFD")
	eq(t, "tool", s.Calls[0].Tool, "tok\uFFFD")
}

func TestRedaction(t *testing.T) {
	in := `{"question":"q","config":{"OPENAI-API-KEY":"sk-live-1","nested":[{"Authorization":"Bearer abc","keep":1}]},"api_key_id":{"deep":"x"}}`
	td := tu.BuildTraces(t,
		span(0, -1, "LangGraph", 0, 100, nil),
		span(1, 0, "n", 1, 90, func() map[string]any {
			a := oiNode("n", 1, "n:1", in, `{"token_count":3,"password":"hunter2"}`)
			a["tag.tags"] = `{"env":"prod","db_password":"p"}`
			return a
		}()),
		span(2, 1, "tool", 2, 80, map[string]any{"openinference.span.kind": "TOOL", "tool.name": "t",
			"tool.parameters": `{"user":"u","client_secret":"s3"}`, "output.value": "api_key=plaintext-not-json"}),
	)
	td.ResourceSpans().At(0).Resource().Attributes().PutStr("vendor.api.key", "k")
	opts := agentrun.Options{RedactKeys: []string{"api_key", "Authorization", "password", "secret", ""}}
	r := oneRun(t, td, opts)
	s := r.Steps[0]
	eq(t, "input", s.Input, js(t, `{"question":"q","config":{"OPENAI-API-KEY":"[REDACTED]","nested":[{"Authorization":"[REDACTED]","keep":1}]},"api_key_id":"[REDACTED]"}`))
	eq(t, "output", s.Output, js(t, `{"token_count":3,"password":"[REDACTED]"}`))
	eq(t, "tool args", s.Calls[0].Arguments, `{"client_secret":"[REDACTED]","user":"u"}`)
	eq(t, "non-JSON result is left as is", s.Calls[0].Result, "api_key=plaintext-not-json")
	eq(t, "resource attribute", r.Metadata["resource"].(map[string]any)["vendor.api.key"], agentrun.Redacted)
	eq(t, "step metadata tags", s.Metadata["tags"], map[string]any{"env": "prod", "db_password": agentrun.Redacted})
	eq(t, "mapping-owned metadata keys are kept", s.Metadata["span_id"], s.SpanID)

	// The processor maps without options and sees raw values.
	raw := oneRun(t, td, agentrun.Options{})
	if !strings.Contains(raw.Steps[0].Calls[0].Arguments, "s3") {
		t.Error("zero options must not redact")
	}
}

func TestTruncation(t *testing.T) {
	big := `{"text":"` + strings.Repeat("é", 400) + `"}`
	args := `{"q":"` + strings.Repeat("x", 300) + `"}`
	td := tu.BuildTraces(t,
		span(0, -1, "LangGraph", 0, 100, nil),
		span(1, 0, "n", 1, 90, oiNode("n", 1, "n:1", `{"small":true}`, big)),
		span(2, 1, "tool", 2, 80, map[string]any{"tool.name": "t", "tool.parameters": args}),
	)
	r := oneRun(t, td, agentrun.Options{MaxFieldBytes: 100})
	s := r.Steps[0]
	eq(t, "small input untouched", s.Input, map[string]any{"small": true})
	m, ok := s.Output.(map[string]any)
	if !ok || m["_argus_truncated"] != true {
		t.Fatalf("output = %v, want truncation marker", s.Output)
	}
	eq(t, "original bytes", m["original_bytes"], len(agentrun.JSON(js(t, big))))
	p := m["preview"].(string)
	if !strings.HasPrefix(`{"text":"`+strings.Repeat("é", 400), p) || len(p) > 100 || len(p) < 40 {
		t.Errorf("preview %q", p)
	}
	a := s.Calls[0].Arguments
	if !strings.HasPrefix(a, args[:100]) || !strings.HasSuffix(a, "…[truncated "+itoa(len(args)-100)+" bytes]") {
		t.Errorf("arguments = %q", a)
	}
	// the marker itself stays small
	if n := len(agentrun.JSON(s.Output)); n > 200 {
		t.Errorf("marker is %d bytes", n)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestStateSourcesAndMime(t *testing.T) {
	td := tu.BuildTraces(t,
		span(0, -1, "LangGraph", 0, 100, nil),
		span(1, 0, "a", 1, 10, func() map[string]any {
			a := oiNode("a", 1, "a:1", `{"x":1}`, `{"y":1}`)
			a["input.mime_type"] = "text/plain"
			a["output.mime_type"] = "application/json"
			// input.value wins over later sources
			a["gen_ai.task.output"] = `{"ignored":true}`
			return a
		}()),
		span(2, 0, "b", 11, 20, map[string]any{"langsmith.metadata.langgraph_node": "b", "langsmith.metadata.langgraph_step": 2,
			"traceloop.entity.input": `{"kwargs":{}}`, "gen_ai.prompt": `{"ignored":true}`,
			"traceloop.entity.output": `{"outputs": null}`}),
		span(3, 0, "c", 21, 30, map[string]any{"langsmith.metadata.langgraph_node": "c", "langsmith.metadata.langgraph_step": 3,
			"gen_ai.input.messages": map[string]any{"role": "user"}, "gen_ai.tool.call.result": int64(7)}),
	)
	r := oneRun(t, td, agentrun.Options{})
	eq(t, "text/plain input kept as string", r.Steps[0].Input, `{"x":1}`)
	eq(t, "json output", r.Steps[0].Output, map[string]any{"y": 1.0})
	eq(t, "entity input without inputs: whole envelope", r.Steps[1].Input, map[string]any{"kwargs": map[string]any{}})
	eq(t, "entity output outputs null", []any{r.Steps[1].Output, r.Steps[1].HasOutput}, []any{nil, true})
	eq(t, "map attribute input", r.Steps[2].Input, map[string]any{"role": "user"})
	eq(t, "int result", r.Steps[2].Output, 7.0)
}

func TestStateBeforeMerge(t *testing.T) {
	r := &agentrun.Run{Steps: []agentrun.Step{
		{Input: map[string]any{"q": "x", "docs": []any{1}}, Output: map[string]any{"docs": []any{}}},
		{Output: "not an object"},
		{Output: map[string]any{"answer": "a"}},
	}}
	eq(t, "before 0", r.StateBefore(0), map[string]any{"q": "x", "docs": []any{1}})
	eq(t, "before 1: partial update overwrites", r.StateBefore(1), map[string]any{"q": "x", "docs": []any{}})
	eq(t, "before 2: non-object ignored", r.StateBefore(2), map[string]any{"q": "x", "docs": []any{}})
	eq(t, "after 2", r.StateAfter(2), map[string]any{"q": "x", "docs": []any{}, "answer": "a"})
	eq(t, "past the end", r.StateBefore(10), r.StateAfter(2))
	s := r.StateBefore(1)
	s["q"] = "mutated"
	if r.Steps[0].Input.(map[string]any)["q"] != "x" {
		t.Error("StateBefore must return a fresh map")
	}
}

func TestCallsMetadataBounded(t *testing.T) {
	spans := []tu.Span{span(0, -1, "LangGraph", 0, 1000, nil), span(1, 0, "n", 1, 999, oiNode("n", 1, "n:1", "", ""))}
	for i := 0; i < 70; i++ {
		spans = append(spans, span(2+i, 1, "tool", 2+i, 3+i, map[string]any{"openinference.span.kind": "TOOL", "tool.name": "t"}))
	}
	r := oneRun(t, tu.BuildTraces(t, spans...), agentrun.Options{})
	md := r.Steps[0].Metadata
	eq(t, "calls", len(r.Steps[0].Calls), 70)
	eq(t, "compact calls", len(md["calls"].([]any)), 50)
	eq(t, "truncated count", md["calls_truncated"], 20)
	eq(t, "call count", md["call_count"], 70)
}

// 100k spans, wide and deep, map without blowing the stack or the heap.
func TestHundredThousandSpans(t *testing.T) {
	const n = 100_000
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	tid := pcommon.TraceID{9}
	mk := func(i, parent int, attrs map[string]any) {
		s := ss.AppendEmpty()
		s.SetTraceID(tid)
		s.SetSpanID(spanID(i))
		if parent >= 0 {
			s.SetParentSpanID(spanID(parent))
		}
		s.SetName("s")
		s.SetStartTimestamp(pcommon.Timestamp(1_000_000 + i))
		s.SetEndTimestamp(pcommon.Timestamp(2_000_000 + i))
		for k, v := range attrs {
			s.Attributes().PutStr(k, v.(string))
		}
	}
	mk(0, -1, nil)
	// 1000 node executions with 99 nested LLM spans each
	for node := 0; node < 1000; node++ {
		id := 1 + node*100
		md := `{"langgraph_node":"n","langgraph_step":` + itoa(node) + `}`
		mk(id, 0, map[string]any{"metadata": md, "input.value": `{"i":1}`})
		for c := 1; c < 100; c++ {
			mk(id+c, id, map[string]any{"metadata": md, "openinference.span.kind": "LLM"})
		}
	}
	r := oneRun(t, td, agentrun.Options{})
	eq(t, "steps", len(r.Steps), 1000)
	eq(t, "calls of a step", len(r.Steps[999].Calls), 99)
	eq(t, "spans", r.SpanCount, 1+1000*100)

	// a single parent chain 100k deep
	td = ptrace.NewTraces()
	ss = td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for i := 0; i < n; i++ {
		mk(i, i-1, nil)
	}
	r = oneRun(t, td, agentrun.Options{})
	eq(t, "deep: one step", len(r.Steps), 1)
	eq(t, "deep: everything else is its calls", len(r.Steps[0].Calls), n-3)
}

func spanID(i int) pcommon.SpanID {
	var id pcommon.SpanID
	for b := 0; b < 8; b++ {
		id[7-b] = byte((i + 1) >> (8 * b))
	}
	return id
}

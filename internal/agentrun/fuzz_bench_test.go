package agentrun_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/loadgen"
	tu "github.com/arguslabs/argus-otel/internal/testutil"
)

var fuzzOpts = []agentrun.Options{
	{},
	{RedactKeys: []string{"api_key", "token", "q"}, MaxFieldBytes: 64},
}

// FuzzMapTraces feeds arbitrary OTLP JSON, and an arbitrary string placed in
// every attribute the mapping parses, and checks the mapping never panics
// and always yields well-formed runs.
func FuzzMapTraces(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(tu.ModuleRoot(f), "testdata", "otlp", "*.json"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, "")
		}
	}
	// One recording of each real SDK (testdata/sdks) too.
	sdks, _ := filepath.Glob(filepath.Join(tu.ModuleRoot(f), "testdata", "sdks", "*", "fault_tool_throws.json"))
	for _, p := range sdks {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, "")
		}
	}
	f.Add([]byte(`{"resourceSpans":[]}`), `{"langgraph_node":"a","langgraph_step":1,"langgraph_path":["x"]}`)
	f.Fuzz(func(t *testing.T, otlp []byte, attr string) {
		var u ptrace.JSONUnmarshaler
		if td, err := u.UnmarshalTraces(otlp); err == nil {
			mapAll(t, td)
		}
		mapAll(t, attrTrace(attr))
	})
}

func mapAll(t *testing.T, td ptrace.Traces) {
	for _, opts := range fuzzOpts {
		for _, r := range agentrun.MapTraces(td, opts) {
			checkRun(t, r)
			for i := range r.Steps {
				_ = r.StateBefore(i)
				_ = agentrun.JSON(r.Steps[i].Metadata)
			}
		}
	}
}

// attrTrace puts s into every attribute the mapping interprets, over a
// small LangGraph-shaped trace and a GenAI-shaped one.
func attrTrace(s string) ptrace.Traces {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	add := func(id, parent byte, name string, kv ...string) ptrace.Span {
		sp := ss.AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{1})
		sp.SetSpanID(pcommon.SpanID{id})
		if parent != 0 {
			sp.SetParentSpanID(pcommon.SpanID{parent})
		}
		sp.SetName(name)
		sp.SetStartTimestamp(pcommon.Timestamp(id) * 1000)
		sp.SetEndTimestamp(pcommon.Timestamp(id) * 2000)
		for i := 0; i+1 < len(kv); i += 2 {
			sp.Attributes().PutStr(kv[i], kv[i+1])
		}
		return sp
	}
	add(1, 0, s, "gen_ai.workflow.edges", s, "gen_ai.workflow.nodes", s, "session.id", s, "gen_ai.agent.name", s)
	add(2, 1, "node", "metadata", s, "input.value", s, "output.value", s, "output.mime_type", "application/json")
	n := add(3, 1, "node2", "metadata", `{"langgraph_node":"n2","langgraph_step":2}`,
		"traceloop.entity.input", s, "traceloop.entity.output", s, "langsmith.metadata.langgraph_triggers", s)
	ev := n.Events().AppendEmpty()
	ev.SetName("exception")
	ev.Attributes().PutStr("exception.message", s)
	add(4, 3, "tool", "openinference.span.kind", s, "tool.parameters", s, "output.value", s,
		"llm.token_count.prompt", s, "llm.model_name", s, "metadata", `{"langgraph_node":"n2","langgraph_step":2}`)
	add(5, 3, s, "traceloop.association.properties.langgraph_node", s, "traceloop.association.properties.langgraph_step", s)
	add(6, 9, "orphan", "gen_ai.operation.name", s, "gen_ai.tool.call.arguments", s, "langsmith.metadata.langgraph_node", s)
	// The Vercel AI SDK's legacy spans, Mastra's turn input, argus.step.*
	// and the attributes an unknown SDK's step is read from.
	add(7, 1, "ai.generateText", "ai.operationId", "ai.generateText", "ai.telemetry.functionId", s)
	add(8, 7, "ai.generateText.doGenerate", "ai.operationId", s, "ai.prompt.messages", s, "ai.response.text", s, "ai.response.toolCalls", s)
	add(9, 8, "ai.toolCall", "ai.operationId", "ai.toolCall", "ai.toolCall.name", s, "ai.toolCall.args", s, "ai.toolCall.result", s)
	add(10, 1, "agent_step", "gen_ai.operation.name", "agent_step", "mastra.model_step.input", s)
	add(11, 10, "chat", "gen_ai.operation.name", "chat", "gen_ai.output.messages", s)
	add(12, 1, "custom", "argus.step.name", s, "argus.step.input_attribute", s, "argus.step.output_attribute", "x.out", "x.out", s)
	add(13, 12, "unknown", "acme.input", s, "acme_result", s)
	return td
}

// BenchmarkMapTraces maps batches shaped like real traffic and reports
// spans per second.
func BenchmarkMapTraces(b *testing.B) {
	for _, bc := range []struct {
		name    string
		fixture string
		opts    agentrun.Options
	}{
		{"openinference", "openinference_langgraph.json", agentrun.Options{}},
		{"openinference_redact_truncate", "openinference_langgraph.json", agentrun.Options{RedactKeys: []string{"api_key", "password"}, MaxFieldBytes: 4096}},
		{"openllmetry", "openllmetry_langgraph.json", agentrun.Options{}},
		{"genai", "genai_agent.json", agentrun.Options{}},
		{"plain", "plain_spans.json", agentrun.Options{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			td := replicate(tu.LoadTraces(b, bc.fixture), 100)
			spans := td.SpanCount()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if runs := agentrun.MapTraces(td, bc.opts); len(runs) != 100 {
					b.Fatalf("runs = %d", len(runs))
				}
			}
			b.ReportMetric(float64(spans)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}

// BenchmarkMapTracesLoadgen maps requests of the load generator's default
// shape (8 runs each, long prose states), as the detector (parsed states)
// and the exporter (RawStates) meet them under scripts/load.sh.
func BenchmarkMapTracesLoadgen(b *testing.B) {
	g, err := loadgen.NewGenerator(loadgen.DefaultShape(), 1, 1)
	if err != nil {
		b.Fatal(err)
	}
	reqs := make([]ptrace.Traces, 16)
	spans := 0
	for i := range reqs {
		td, ss := g.NewRequest()
		for k := 0; k < 8; k++ {
			g.AddRun(ss, time.Unix(1700000000, 0))
		}
		reqs[i] = td
		spans += td.SpanCount()
	}
	for _, bc := range []struct {
		name string
		opts agentrun.Options
	}{{"parsed", agentrun.Options{}}, {"raw", agentrun.Options{RawStates: true}}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, td := range reqs {
					if runs := agentrun.MapTraces(td, bc.opts); len(runs) != 8 {
						b.Fatalf("runs = %d", len(runs))
					}
				}
			}
			b.ReportMetric(float64(spans)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}

// replicate copies every trace of td n times under distinct trace ids.
func replicate(td ptrace.Traces, n int) ptrace.Traces {
	out := ptrace.NewTraces()
	for i := 0; i < n; i++ {
		c := ptrace.NewTraces()
		td.CopyTo(c)
		rss := c.ResourceSpans()
		for r := 0; r < rss.Len(); r++ {
			sss := rss.At(r).ScopeSpans()
			for s := 0; s < sss.Len(); s++ {
				sp := sss.At(s).Spans()
				for k := 0; k < sp.Len(); k++ {
					tid := sp.At(k).TraceID()
					tid[0], tid[1] = byte(i), byte(i>>8)
					sp.At(k).SetTraceID(tid)
				}
			}
		}
		rss.MoveAndAppendTo(out.ResourceSpans())
	}
	return out
}

package agentrun_test

import (
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	tu "github.com/arguslabs/argus-otel/internal/testutil"
)

// The shapes OpenLLMetry JS 0.27.0 records (testdata/sdks/openllmetry-*):
// withWorkflow / withTask spans with {"args","kwargs"} inputs, LangChain
// chain spans named by class, tool spans whose text result is encoded twice.
func TestOpenLLMetryJSEnvelopes(t *testing.T) {
	task := func(name, in, out string) map[string]any {
		return map[string]any{"traceloop.span.kind": "task", "traceloop.entity.name": name, "traceloop.workflow.name": "docs_rag",
			"traceloop.entity.input": in, "traceloop.entity.output": out}
	}
	lcChain := map[string]any{"gen_ai.operation.name": "workflow", "traceloop.span.kind": "workflow",
		"traceloop.workflow.name": "RunnableSequence", "traceloop.entity.input": `{"q":"x"}`, "traceloop.entity.output": `{}`}
	tool := map[string]any{"gen_ai.operation.name": "execute_tool", "traceloop.span.kind": "task", "traceloop.entity.name": "DynamicStructuredTool",
		"traceloop.entity.input": `{"args":["{\"query\":\"x\",\"top_k\":3}"]}`, "traceloop.entity.output": `"{\"status\":503,\"error\":\"down\"}"`}
	for _, opts := range []agentrun.Options{{}, {RawStates: true}} {
		td := tu.BuildTraces(t,
			span(0, -1, "docs_rag.workflow", 0, 100, map[string]any{"traceloop.span.kind": "workflow", "traceloop.workflow.name": "docs_rag", "traceloop.entity.name": "docs_rag"}),
			span(1, 0, "workflow RunnableSequence", 1, 9, lcChain),
			span(2, 0, "retrieve.task", 1, 10, task("retrieve", `{"args":[],"kwargs":{"q":"x"}}`, `{"documents":[1]}`)),
			span(3, 0, "search.task", 11, 20, task("search", `{"args":["x"],"kwargs":{}}`, `{"hits":[]}`)),
			span(4, 3, "execute_tool DynamicStructuredTool", 12, 19, tool),
			span(5, 0, "noop.task", 21, 22, task("noop", `{"args":[],"kwargs":{}}`, `{}`)),
		)
		r := oneRun(t, td, opts)
		eq(t, "pipeline", r.PipelineName, "docs_rag")
		eq(t, "steps: tasks, not LangChain chains", nodes(r), []string{"retrieve", "search", "noop"})
		state := func(i int) []any {
			s := &r.Steps[i]
			in, out := s.Input, s.Output
			if s.InputJSON != nil && in == nil {
				in = js(t, string(s.InputJSON))
			}
			if s.OutputJSON != nil && out == nil {
				out = js(t, string(s.OutputJSON))
			}
			return []any{in, out}
		}
		eq(t, "kwargs are the input", state(0), []any{map[string]any{"q": "x"}, map[string]any{"documents": []any{1.0}}})
		eq(t, "a lone argument is the input", state(1)[0], "x")
		eq(t, "no arguments", state(2)[0], nil)
		c := r.Steps[1].Calls[0]
		eq(t, "tool call", []string{c.Kind, c.Tool, c.Arguments, c.Result},
			[]string{"tool", "DynamicStructuredTool", `{"query":"x","top_k":3}`, `{"error":"down","status":503}`})
	}
}

package agentrun_test

import (
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	tu "github.com/arguslabs/argus-otel/internal/testutil"
)

// A step's tokens are its own span's usage plus its calls': a GenAI chat
// step whose span is the LLM call counts, and a wrapper that reports the
// sum of its calls counts once.
func TestStepTokensOwnAndNested(t *testing.T) {
	chat := func(in, out int) map[string]any {
		return map[string]any{"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
			"gen_ai.usage.input_tokens": in, "gen_ai.usage.output_tokens": out,
			"gen_ai.response.finish_reasons": []string{"length"}}
	}
	agent := map[string]any{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a",
		"gen_ai.usage.input_tokens": 300, "gen_ai.usage.output_tokens": 30}
	td := tu.BuildTraces(t,
		span(0, -1, "root", 0, 100, nil),
		span(1, 0, "chat gpt-4o", 1, 10, chat(400, 40)),
		span(2, 0, "invoke_agent sub", 11, 40, agent),
		span(3, 2, "chat gpt-4o", 12, 20, chat(100, 10)),
		span(4, 2, "chat gpt-4o", 21, 30, chat(200, 20)),
		span(5, 0, "invoke_agent other", 41, 60, agent),
		span(6, 5, "chat gpt-4o", 42, 50, chat(50, 5)),
	)
	r := oneRun(t, td, agentrun.Options{})
	eq(t, "nodes", nodes(r), []string{"chat gpt-4o", "a", "a"})
	tokens := func(s *agentrun.Step) []int64 { in, out, total := s.Tokens(); return []int64{in, out, total} }
	eq(t, "own span only", tokens(&r.Steps[0]), []int64{400, 40, 440})
	eq(t, "own usage repeats the calls' sum: once", tokens(&r.Steps[1]), []int64{300, 30, 330})
	eq(t, "own usage and a call's: both", tokens(&r.Steps[2]), []int64{350, 35, 385})
	eq(t, "metadata agrees", r.Steps[2].Metadata["total_tokens"], int64(385))
	eq(t, "own finish reasons", r.Steps[0].Metadata["finish_reasons"], []any{"length"})
	calls := r.Steps[1].Metadata["calls"].([]any)
	eq(t, "a call's finish reasons", calls[0].(map[string]any)["finish_reasons"], []any{"length"})
}

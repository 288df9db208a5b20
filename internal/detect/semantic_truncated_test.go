package detect

import (
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func init() {
	addLookAlikes(ruleTruncated, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a short answer that stops without a full stop, the model having stopped on its own",
			healthy: answerRun(map[string]any{"answer": "Yes, see https://docs.example.com/refunds", "finish_reason": "stop"}),
			fault:   answerRun(map[string]any{"answer": "Refunds for annual plans are prorated and", "finish_reason": "length"}),
		}}
	})
}

const cutProse = "The committee reviewed the quarterly figures in detail. It agreed to extend the pilot for another season. " +
	"Members raised concerns about the budget, the staffing plan and the timeline for the second phase of the rollout, which the chair promised to addr"

func TestTruncated(t *testing.T) {
	t.Run("heuristic is info", func(t *testing.T) {
		f := one(t, semantic(textRun(map[string]any{"report": cutProse})), ruleTruncated)
		expect(t, f, 1, SeverityInfo, map[string]any{"field": "report", "heuristic": true})
		// A configured severity is honoured.
		fs := Semantic(textRun(map[string]any{"report": cutProse}), cfgWith(map[string]RuleConfig{ruleTruncated: {Severity: SeverityWarning}}))
		expect(t, one(t, fs, ruleTruncated), 1, SeverityWarning, nil)
	})
	t.Run("finish reason in metadata is a warning", func(t *testing.T) {
		run := textRun(map[string]any{"report": "Short but complete."})
		run.Steps[1].Metadata = map[string]any{"llm": map[string]any{"gen_ai.response.finish_reasons": []any{"length"}}}
		f := one(t, semantic(run), ruleTruncated)
		expect(t, f, 1, SeverityWarning, map[string]any{"finish_reason": "length", "path": `metadata.llm["gen_ai.response.finish_reasons"]`})
	})
	t.Run("finish reason in an LLM result", func(t *testing.T) {
		run := textRun(map[string]any{"report": "Short but complete."})
		run.Steps[1].Calls = []agentrun.Call{{SpanID: "l1", Name: "claude", Kind: "llm", Status: "ok",
			Result: `{"content":[{"type":"text","text":"Short but complete."}],"stop_reason":"max_tokens"}`}}
		expect(t, one(t, semantic(run), ruleTruncated), 1, SeverityWarning, map[string]any{"finish_reason": "max_tokens", "call": nil})
	})
	t.Run("finish reason in GenAI output messages", func(t *testing.T) {
		run := textRun(j(`[{"role":"assistant","parts":[{"type":"text","content":"Lisbon looks sunny"}],"finish_reason":"length"}]`))
		expect(t, one(t, semantic(run), ruleTruncated), 1, SeverityWarning, map[string]any{"finish_reason": "length", "path": "$[0].finish_reason"})
		// A message history passed on unchanged is not reported again.
		hist := j(`{"messages":[{"role":"assistant","content":"Part one","response_metadata":{"finish_reason":"length"}}]}`)
		run = newRun(
			stepSpec{Node: "agent", In: j(`{}`), Out: hist},
			stepSpec{Node: "router", In: j(`{}`), Out: j(`{"messages":[{"role":"assistant","content":"Part one","response_metadata":{"finish_reason":"length"}}],"route":"end"}`)},
		)
		got := byRule(semantic(run), ruleTruncated)
		if len(got) != 1 || got[0].Step != 0 {
			t.Fatalf("want the finish reason on the agent step only, got:\n%s", dump(got))
		}
	})
	t.Run("clean", func(t *testing.T) {
		base := strings.Repeat("The committee reviewed the quarterly figures in detail. ", 5)
		for name, text := range map[string]string{
			"punctuated":  base + "It adjourned at noon.",
			"url":         base + "More at https://example.org/reports/quarterly",
			"table":       base + "\n| quarter | revenue |\n| --- | --- |\n| Q1 | ten million",
			"list":        base + "\n- extend the pilot\n- review the budget",
			"code":        base + "\n```go\nfunc main() {\n\tfmt.Println(x)\n```\nand then",
			"short":       "It stopped mid wor",
			"identifier":  base + "\nThe value is stored in the field user_name",
			"no sentence": strings.Repeat("keyword ", 40) + "another",
		} {
			run := textRun(map[string]any{"report": text})
			run.Steps[1].Metadata = map[string]any{"finish_reason": "stop"}
			if fs := byRule(semantic(run), ruleTruncated); len(fs) > 0 {
				t.Errorf("%s: unexpected truncation finding:\n%s", name, dump(fs))
			}
		}
	})
}

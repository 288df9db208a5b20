package detect

import (
	"fmt"
	"strings"
	"testing"
)

func init() {
	addLookAlikes(ruleCorruptedJSON, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "JSON Lines, a {name} template and [1]-style citations, none of them broken JSON",
			healthy: answerRun(map[string]any{"log": "{\"event\":\"start\"}\n{\"event\":\"done\"}", "template": "{name} ordered {count} items",
				"answer": "[1] Smith et al. describe the refund flow."}),
			fault: answerRun(map[string]any{"answer": `{"answer": "Refunds take 5 days", "sources": [1, 2`}),
		}}
	})
}

func TestCorruptedJSON(t *testing.T) {
	t.Run("malformed output", func(t *testing.T) {
		run := textRun(`{"answer": "Refunds within 30 da`)
		run.Steps[1].OutputMalformed = true
		// One finding: the mapping's flag, explained by the text's problem.
		expect(t, one(t, semantic(run), ruleCorruptedJSON), 1, SeverityWarning, map[string]any{"path": "$", "field": "", "reason": "unterminated string"})
	})
	for _, tc := range []struct{ text, reason string }{
		{`{"name": "Ada", "skills": ["go", "sql"]`, "unclosed brace"},
		{`[{"id": 1}, {"id": 2}`, "unclosed bracket"},
		{"```json\n{\"a\": \"b\n```", "unterminated string"},
		{`{"a": 1,}`, "invalid JSON"},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			f := one(t, semantic(textRun(map[string]any{"payload": tc.text})), ruleCorruptedJSON)
			expect(t, f, 1, SeverityWarning, map[string]any{"field": "payload", "path": "$.payload"})
			if !strings.HasPrefix(fmt.Sprint(f.Details["reason"]), tc.reason) {
				t.Errorf("reason = %v, want %s", f.Details["reason"], tc.reason)
			}
		})
	}
	t.Run("clean", func(t *testing.T) {
		for _, text := range []string{
			`{"name": "Ada", "skills": ["go"]}`, "{name} is a template", "[1] Smith, 2020", "[INSERT]x",
			"{\"a\":1}\n{\"a\":2}\n", "```json\n{\"a\": 1}\n```", "{}", "[]", "{ not json at all }",
		} {
			none(t, semantic(textRun(map[string]any{"payload": text})), ruleCorruptedJSON)
		}
	})
}

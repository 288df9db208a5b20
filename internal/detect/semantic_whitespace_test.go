package detect

import (
	"testing"
)

// The findings of this rule are tested with null_like's, in
// TestNullLikeAndWhitespace (semantic_null_like_test.go).

func init() {
	addLookAlikes(ruleWhitespace, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "an answer an LLM wrapped in blank lines",
			healthy: answerRun(map[string]any{"answer": "\n\nYour order shipped on May 2.\n"}),
			fault:   answerRun(map[string]any{"answer": " \n\t "}),
		}}
	})
}

package detect

import (
	"strings"
	"testing"
)

func init() {
	addLookAlikes(ruleRefusal, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "an apology that goes on to help, and a policy the agent cannot change",
			healthy: answerRun(map[string]any{"answer": "I'm sorry for the delay! Your refund for order A-1 was approved today and reaches your card within 5 days. " +
				"Shipping costs cannot be refunded under our policy."}),
			fault: answerRun(map[string]any{"answer": "I'm sorry, but I can't help with that request."}),
		}}
	})
}

func TestRefusal(t *testing.T) {
	for _, text := range []string{
		"I'm sorry, but I cannot help with that request.",
		"I’m sorry, but I can’t share that information.",
		"As an AI language model, I do not have personal opinions.",
		"Unfortunately I am unable to access your account details.",
		"I cannot assist with creating that content.",
	} {
		t.Run(text, func(t *testing.T) {
			f := one(t, semantic(textRun(map[string]any{"answer": text})), ruleRefusal)
			expect(t, f, 1, SeverityWarning, map[string]any{"field": "answer", "path": "$.answer"})
		})
	}
	t.Run("clean", func(t *testing.T) {
		long := "Refunds for annual plans are possible within 30 days of purchase. " + strings.Repeat("The policy applies to every region and every plan tier. ", 6) +
			"A customer once wrote: I am unable to find the refund button, so we added it to the billing page."
		for _, text := range []string{
			long,
			"As an AI researcher, I have studied retrieval systems for a decade.",
			"The sorry state of the docs is why we rewrote them.",
		} {
			none(t, semantic(textRun(map[string]any{"answer": text})), ruleRefusal)
		}
	})
}

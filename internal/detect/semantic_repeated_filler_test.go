package detect

import (
	"strings"
	"testing"
)

func init() {
	addLookAlikes(ruleRepeatedFiller, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "numbered steps that share their wording",
			healthy: answerRun(map[string]any{"answer": "Step 1: open Settings. Step 2: open Billing. Step 3: open Invoices. Step 4: download the PDF."}),
			fault:   answerRun(map[string]any{"answer": strings.Repeat("I will look into this for you. ", 6)}),
		}}
	})
}

func TestRepeatedFiller(t *testing.T) {
	t.Run("same sentence", func(t *testing.T) {
		text := strings.Repeat("Our product is the best on the market. ", 5)
		f := one(t, semantic(textRun(map[string]any{"answer": text})), ruleRepeatedFiller)
		expect(t, f, 1, SeverityWarning, map[string]any{"field": "answer", "repeats": 5})
	})
	t.Run("degenerate phrase loop", func(t *testing.T) {
		text := "The answer is that " + strings.Repeat("we go to the store and then ", 6) + "we stop"
		f := one(t, semantic(textRun(map[string]any{"answer": text})), ruleRepeatedFiller)
		expect(t, f, 1, SeverityWarning, map[string]any{"field": "answer"})
	})
	t.Run("threshold", func(t *testing.T) {
		text := strings.Repeat("Our product is the best on the market. ", 5)
		fs := Semantic(textRun(map[string]any{"answer": text}), cfgWith(map[string]RuleConfig{ruleRepeatedFiller: {Threshold: 6}}))
		none(t, fs, ruleRepeatedFiller)
	})
	t.Run("clean", func(t *testing.T) {
		for _, text := range []string{
			"Annual plans can be refunded within 30 days. Monthly plans cannot be refunded. Contact support for exceptions. Refunds go to the original payment method.",
			"Document 1 from the knowledge base: refunds take 5 days. Document 2 from the knowledge base: annual plans only. Document 3 from the knowledge base: contact billing for invoices and receipts.",
			"Thank you. We received your request and will answer within two business days. Thank you.",
			// a refrain that is a minor part of the text
			"Please contact support for help. Annual plans can be refunded within 30 days of purchase. Monthly plans renew on the first day of each month. " +
				"Please contact support for help. Invoices are emailed to the billing address on file within one hour. Enterprise contracts have custom terms negotiated by sales. " +
				"Please contact support for help. Gift cards never expire and can be combined with promotions at checkout.",
		} {
			none(t, semantic(textRun(map[string]any{"answer": text})), ruleRepeatedFiller)
		}
	})
}

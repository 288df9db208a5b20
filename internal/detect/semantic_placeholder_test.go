package detect

import (
	"testing"
)

func init() {
	addLookAlikes(rulePlaceholder, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: `a knowledge-base answer quoting "TODO" comments as content`,
			healthy: answerRun(map[string]any{"answer": `Comments marked "TODO" or FIXME are reported as warnings in strict mode, so run the linter with --strict in CI.`}),
			fault:   answerRun(map[string]any{"answer": "TODO: write the answer about the linter."}),
		}}
	})
}

func TestPlaceholder(t *testing.T) {
	for _, tc := range []struct{ text, pattern string }{
		{"Dear <YOUR_NAME>, thanks for your order.", "<YOUR_...>"},
		{"Call us at YOUR_PHONE_NUMBER today.", "<YOUR_...>"},
		{"Hello {{customer_name}}, your refund is on its way.", "{{var}}"},
		{"Signed, <<AGENT_NAME>>", "<<VAR>>"},
		{"TODO: write the conclusion", "TODO"},
		{"Summary:\n- TODO\n- Refunds within 30 days.", "TODO"},
		{"// TODO answer the customer", "TODO"},
		{"Release date: TBD", "TBD"},
		{"Lorem ipsum dolor sit amet.", "lorem ipsum"},
		{"Contact [INSERT COMPANY NAME] for details.", "[INSERT ...]"},
		{"Your account number is XXX.", "XXX"},
		{"PLACEHOLDER", "PLACEHOLDER"},
		{"See the [placeholder] section.", "PLACEHOLDER"},
	} {
		t.Run(tc.pattern+"/"+tc.text, func(t *testing.T) {
			fs := semantic(textRun(map[string]any{"body": tc.text}))
			f := one(t, fs, rulePlaceholder)
			expect(t, f, 1, SeverityWarning, map[string]any{"field": "body", "path": "$.body", "pattern": tc.pattern, "node": "write"})
		})
	}
	t.Run("nested path, once per path", func(t *testing.T) {
		fs := semantic(textRun(j(`{"sections":[{"title":"Intro","body":"TODO TODO TODO"},{"title":"Policy","body":"Refunds within 30 days."},{"title":"TBD","body":"x"}]}`)))
		got := byRule(fs, rulePlaceholder)
		if len(got) != 2 {
			t.Fatalf("want 2 placeholder findings, got:\n%s", dump(fs))
		}
		expect(t, got[0], 1, SeverityWarning, map[string]any{"field": "sections", "path": "$.sections[0].body", "pattern": "TODO"})
		expect(t, got[1], 1, SeverityWarning, map[string]any{"field": "sections", "path": "$.sections[2].title", "pattern": "TBD"})
		if got[0].ID == got[1].ID {
			t.Error("findings at two paths must have distinct ids")
		}
	})
	t.Run("clean", func(t *testing.T) {
		for _, text := range []string{
			"I built a todo list app with a to-do view.",
			"The placeholder text in the form was unclear, so we rewrote it.",
			"Format the greeting as {name} in Python.",
			"Sizes: S, M, L, XL, XXL.",
			"The release date is still to be determined.",
			"[1] Smith et al. describe the method.",
			"x << 2 >> 1 shifts bits.",
			// TODO and TBD as words the answer talks about (recorded SDK runs)
			"The linter reports comments marked TODO or FIXME as warnings when strict mode is on.",
			`That is a known issue: invoices created before June 2 show "TODO" in the VAT field.`,
			"invoice VAT field TODO",
			"The launch date is TBD until legal signs off, so we cannot promise it.",
			"Comments tagged \u201cTODO\u201d are skipped.",
		} {
			none(t, semantic(textRun(map[string]any{"body": text})), rulePlaceholder)
		}
	})
}

package detect

import (
	"strings"
	"testing"
)

// A disabled semantic rule that would match more texts of a step than its
// cap neither crashes the layer nor marks another rule's finding (before
// the rules had files of their own, the layer counted a disabled rule's
// matches and put its "more_matches" on the step's first finding, or
// panicked when there was none).
func TestDisabledRuleOverTheCap(t *testing.T) {
	out := map[string]any{"answer": "TODO: write it"}
	for k := range 25 {
		out["blank_"+strings.Repeat("x", k+1)] = "   "
	}
	run := newRun(stepSpec{Node: "draft", In: j(`{"q":"x"}`), Out: out})
	fs := Semantic(run, cfgWith(map[string]RuleConfig{ruleWhitespace: {Disabled: true}}))
	none(t, fs, ruleWhitespace)
	if f := one(t, fs, rulePlaceholder); f.Details["more_matches"] != nil {
		t.Errorf("the placeholder finding carries the whitespace rule's count: %v", f.Details)
	}
	fs = Semantic(newRun(stepSpec{Node: "draft", In: j(`{"q":"x"}`), Out: map[string]any{"a": " ", "b": " "}}), cfgWith(nil))
	if len(byRule(fs, ruleWhitespace)) != 2 {
		t.Fatalf("want 2 whitespace findings:\n%s", dump(fs))
	}
	out = map[string]any{}
	for k := range 21 {
		out["blank_"+strings.Repeat("x", k+1)] = "   "
	}
	run = newRun(stepSpec{Node: "draft", In: j(`{"q":"x"}`), Out: out})
	if fs := Semantic(run, cfgWith(map[string]RuleConfig{ruleWhitespace: {Disabled: true}})); len(fs) != 0 {
		t.Fatalf("want no findings:\n%s", dump(fs))
	}
}

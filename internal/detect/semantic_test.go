package detect

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The semantic layer as a whole, and its test helpers; the tests of each
// rule are in the rule's file, semantic_<name>_test.go.

func semantic(run *agentrun.Run) []Finding { return Semantic(run, cfgWith(nil)) }

// textRun is a two-step run whose second step ("write") outputs out.
func textRun(out any) *agentrun.Run {
	return newRun(
		stepSpec{Node: "plan", In: j(`{"topic":"refunds"}`), Out: j(`{"outline":"intro, policy, contact"}`)},
		stepSpec{Node: "write", In: j(`{"outline":"intro, policy, contact"}`), Out: out},
	)
}

func TestSemanticSkipsPassThroughAndDuplicates(t *testing.T) {
	run := newRun(
		stepSpec{Node: "draft", In: j(`{"topic":"t"}`), Out: j(`{"answer":"TODO: fill in"}`),
			Calls: []agentrun.Call{{SpanID: "l1", Name: "ChatOpenAI", Kind: "llm", Result: "TODO: fill in", Status: "ok"}}},
		// a full-state node passing the same answer on is a victim, not a new finding
		stepSpec{Node: "review", In: j(`{}`), Out: j(`{"answer":"TODO: fill in","approved":false}`)},
		stepSpec{Node: "polish", In: j(`{}`), Out: j(`{"answer":"Final text."}`),
			Calls: []agentrun.Call{{SpanID: "l2", Name: "ChatOpenAI", Kind: "llm", Result: "Sure! <YOUR_NAME> here.", Status: "ok"}}},
	)
	fs := byRule(semantic(run), rulePlaceholder)
	if len(fs) != 2 {
		t.Fatalf("want placeholder on draft (once) and on polish's LLM call, got:\n%s", dump(fs))
	}
	expect(t, fs[0], 0, SeverityWarning, map[string]any{"path": "$.answer"})
	expect(t, fs[1], 2, SeverityWarning, map[string]any{"path": "calls[0].result", "call": "ChatOpenAI", "field": ""})
}

func TestSemanticCapsAndConfig(t *testing.T) {
	items := make([]any, 50)
	for i := range items {
		items[i] = "N/A"
	}
	fs := byRule(semantic(textRun(map[string]any{"rows": items})), ruleNullLike)
	if len(fs) != maxFindingsPerRule {
		t.Fatalf("want %d findings (capped), got %d", maxFindingsPerRule, len(fs))
	}
	if fs[len(fs)-1].Details["more_matches"] != 30 {
		t.Errorf("last finding should count the rest: %v", fs[len(fs)-1].Details)
	}
	run := textRun(map[string]any{"a": "TODO", "b": "I'm sorry, but I cannot do that."})
	fs = Semantic(run, cfgWith(map[string]RuleConfig{rulePlaceholder: {Disabled: true}, ruleRefusal: {Severity: SeverityCritical}}))
	none(t, fs, rulePlaceholder)
	expect(t, one(t, fs, ruleRefusal), 1, SeverityCritical, nil)
}

func TestSemanticOddInputs(t *testing.T) {
	if Semantic(nil, nil) != nil || Semantic(&agentrun.Run{}, nil) != nil {
		t.Fatal("nil or empty run must give no findings")
	}
	deep := any("TODO")
	for range 500 {
		deep = []any{deep}
	}
	huge := strings.Repeat("lorem ipsum ", 1<<18) // 3 MiB
	bad := "\xff\xfe TODO \xc3"
	run := newRun(
		stepSpec{Node: "a", In: j(`{}`), Out: map[string]any{"deep": deep, "n": 1.5, "b": true, "nil": nil, "nested": []any{[]any{[]any{}}}}},
		stepSpec{Node: "b", In: j(`{}`), Out: map[string]any{"huge": huge, bad: bad, "json": "{" + strings.Repeat(`"a":[`, 10000)}},
		stepSpec{Node: "c", In: j(`{}`), Out: 42.0, Calls: []agentrun.Call{{Kind: "llm", Result: "\x00\xff{"}, {Kind: "LLM", Result: "null"}}},
		stepSpec{Node: "d", In: j(`{}`), Out: bad, Metadata: map[string]any{"finish_reason": []string{"stop", "length"}}},
	)
	fs := semantic(run)
	none(t, byRuleStep(fs, rulePlaceholder, 0), rulePlaceholder) // deeper than the walk bound
	if len(byRuleStep(fs, rulePlaceholder, 1)) == 0 {
		t.Errorf("placeholders in the huge string and the invalid UTF-8 key should be found:\n%s", dump(fs))
	}
	expect(t, one(t, byRuleStep(fs, ruleCorruptedJSON, 1), ruleCorruptedJSON), 1, SeverityWarning, map[string]any{"field": "json"})
	expect(t, one(t, byRuleStep(fs, ruleTruncated, 3), ruleTruncated), 3, SeverityWarning, map[string]any{"finish_reason": "length"})
	for _, f := range fs {
		if len(f.Message) > 1000 {
			t.Errorf("message of %s is %d bytes", f.Rule, len(f.Message))
		}
	}
}

func BenchmarkSemantic(b *testing.B) {
	run := ssBenchRun()
	cfg := cfgWith(nil)
	cfg.Signatures = []Signature{{ID: "s1", Match: "regex", Pattern: `(?i)internal ticket #\d+`}, {ID: "s2", Match: "contains", Pattern: "knowledge base is down"}}
	b.ReportAllocs()
	for b.Loop() {
		Semantic(run, cfg)
	}
}

// Analyze drops findings with equal ids, so two distinct findings of these
// layers must never share one.
func TestFindingIDsAreDistinct(t *testing.T) {
	runs := []*agentrun.Run{
		ragCrashRun(),
		textRun(j(`{"a":"TODO","b":"TODO","c":["N/A","N/A",{"d":"TODO"}],"e":"{\"x\": 1","f":" "}`)),
		textRun(`{"answer": "cut`),
	}
	runs[2].Steps[1].OutputMalformed = true
	for _, run := range ssCleanCorpus() {
		runs = append(runs, run)
	}
	for i, run := range runs {
		fs := append(Structural(run, cfgWith(nil)), Semantic(run, cfgWith(nil))...)
		ids := map[string]Finding{}
		for _, f := range fs {
			if prev, dup := ids[f.ID]; dup {
				t.Errorf("run %d: %s and %s share id %s", i, dump([]Finding{prev}), dump([]Finding{f}), f.ID)
			}
			ids[f.ID] = f
		}
	}
}

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

// BenchmarkSemanticProse: the semantic layer over a 12-step run whose
// states hold varied prose of 1-20 KiB (an answer, documents, a message
// history growing step by step), as LangGraph RAG agents produce them.
func BenchmarkSemanticProse(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	var specs []stepSpec
	state := map[string]any{"question": llmProse(rng, 120)}
	var history []any
	for i := range 12 {
		size := 1<<10 + rng.IntN(19<<10)
		docs := make([]any, 0, 4)
		for d := range 4 {
			docs = append(docs, map[string]any{"id": fmt.Sprintf("kb-%d", d), "text": llmProse(rng, size/4)})
		}
		history = append(history, map[string]any{"role": "assistant", "content": llmProse(rng, size/2)})
		out := map[string]any{"answer": llmProse(rng, size), "documents": docs, "messages": append([]any(nil), history...)}
		specs = append(specs, stepSpec{Node: fmt.Sprintf("node_%d", i%4), LG: i + 1, In: state, Out: out})
		next := map[string]any{}
		for k, v := range state {
			next[k] = v
		}
		for k, v := range out {
			next[k] = v
		}
		state = next
	}
	run := newRun(specs...)
	cfg := cfgWith(nil)
	if fs := Semantic(run, cfg); len(fs) != 0 {
		b.Fatalf("healthy prose raised findings:\n%s", dump(fs))
	}
	b.ReportAllocs()
	for b.Loop() {
		Semantic(run, cfg)
	}
}

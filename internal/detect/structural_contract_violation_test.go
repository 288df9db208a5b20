package detect

import (
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func init() {
	addLookAlikes(ruleContractViolation, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a refine node updating only the citations, the required answer already in the state",
			cfg: func() Config {
				return Config{Contracts: map[string]FieldContract{"refine": {Required: map[string]string{"answer": "string"}}}}
			},
			healthy: newRun(
				stepSpec{Node: "draft", In: j(`{"question":"q"}`), Out: j(`{"answer":"Refunds take 5 days."}`)},
				stepSpec{Node: "refine", In: j(`{"answer":"Refunds take 5 days."}`), Out: j(`{"citations":["kb-1"]}`)}),
			fault: newRun(
				stepSpec{Node: "draft", In: j(`{"question":"q"}`), Out: j(`{"notes":"refunds"}`)},
				stepSpec{Node: "refine", In: j(`{"notes":"refunds"}`), Out: j(`{"citations":["kb-1"]}`)}),
		}}
	})
}

func TestContractViolation(t *testing.T) {
	cfg := cfgWith(nil)
	cfg.Contracts = map[string]FieldContract{"synthesize": {Required: map[string]string{"answer": "string", "citations": "array", "meta": "any"}}}
	fs := Structural(newRun(
		stepSpec{Node: "retrieve", In: j(`{"q":"x"}`), Out: j(`{"meta":{"k":1}}`)},
		stepSpec{Node: "synthesize", In: j(`{}`), Out: j(`{"answer":42}`)},
	), cfg)
	got := byRule(fs, ruleContractViolation)
	if len(got) != 2 {
		t.Fatalf("want 2 contract violations, got:\n%s", dump(fs))
	}
	expect(t, got[0], 1, SeverityCritical, map[string]any{"field": "answer", "expected": "string", "actual": "number"})
	expect(t, got[1], 1, SeverityCritical, map[string]any{"field": "citations", "expected": "array", "actual": "missing"})
	if got[0].ID == got[1].ID {
		t.Error("two fields must give two ids")
	}

	t.Run("clean", func(t *testing.T) {
		fs := Structural(newRun(
			stepSpec{Node: "retrieve", In: j(`{"q":"x"}`), Out: j(`{"meta":null}`)},
			// meta "any" is satisfied by an earlier writer: the contract is on the state after.
			stepSpec{Node: "retrieve2", In: j(`{}`), Out: j(`{"meta":"m"}`)},
			stepSpec{Node: "synthesize", In: j(`{}`), Out: j(`{"answer":"a","citations":[]}`)},
			// a crashed run of the node is reported elsewhere
			stepSpec{Node: "synthesize", In: j(`{}`), NoOutput: true, Status: agentrun.StatusError},
		), cfg)
		none(t, fs, ruleContractViolation)
	})
}

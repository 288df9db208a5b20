package detect

import (
	"maps"
	"slices"
	"strings"
)

// Rule describes one detection rule: a stable id, its layer, its default
// severity and (when it has one) its default threshold.
type Rule struct {
	ID               string
	Layer            string
	Severity         string
	Threshold        float64 // 0 when the rule has no threshold
	ThresholdMeaning string  // what Threshold tunes, for docs and errors
	Description      string
}

// check is the code of one rule. Every rule is a type of its own in the
// file named after its id (structural.key_typo: structural_key_typo.go),
// which registers it with its Rule in an init function. check looks at
// the run of a and reports through a.emit; what several rules need (the
// state around each step, the texts of the outputs, the signals of the
// tool results, the baselines' statistics) a builds once, on first use.
type check interface {
	check(a *analysis)
}

// Rules is the registry of every rule, keyed by id.
var Rules = map[string]Rule{}

// layerChecks are the checks of each layer, in registration order (the
// order of their files).
var layerChecks = map[string][]ruleCheck{}

type ruleCheck struct {
	id string
	check
}

func register(r Rule, c check) {
	if _, dup := Rules[r.ID]; dup {
		panic("detect: duplicate rule id " + r.ID)
	}
	if !strings.HasPrefix(r.ID, r.Layer+".") {
		panic("detect: rule id " + r.ID + " must start with its layer")
	}
	Rules[r.ID] = r
	layerChecks[r.Layer] = append(layerChecks[r.Layer], ruleCheck{id: r.ID, check: c})
}

// RuleIDs lists the registered rule ids, sorted.
func RuleIDs() []string {
	return slices.Sorted(maps.Keys(Rules))
}

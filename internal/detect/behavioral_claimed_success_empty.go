package detect

import "fmt"

const ruleClaimedSuccessEmpty = "behavioral.claimed_success_empty"

// claimedSuccessEmpty: an output claims success while its result, data or
// items field is empty (output_signals.go finds both).
type claimedSuccessEmpty struct{}

func init() {
	register(Rule{ID: ruleClaimedSuccessEmpty, Layer: LayerBehavioral, Severity: SeverityWarning,
		Description: "An output claims success while its result, data or items field is empty."}, claimedSuccessEmpty{})
}

func (claimedSuccessEmpty) check(a *analysis) {
	for i := range a.run.Steps {
		s := &a.run.Steps[i]
		seen := map[string]bool{} // each field once per step
		for _, src := range a.outputSignals(i) {
			hit := src.empty
			if hit == nil || seen[hit.field] {
				continue
			}
			seen[hit.field] = true
			d := map[string]any{"field": hit.field, "claim": hit.value}
			if src.tool != "" {
				d["tool"] = src.tool
			}
			a.emit(ruleClaimedSuccessEmpty, i, fmt.Sprintf("node %q reports success (%s) but %q is empty", s.Node, hit.value, hit.field), d)
		}
	}
}

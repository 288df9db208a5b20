package detect

import (
	"cmp"
	"fmt"
)

const ruleContractViolation = "structural.contract_violation"

// contractViolation: after a node, a field its contract (Config.Contracts)
// requires is missing or has the wrong type.
type contractViolation struct{}

func init() {
	register(Rule{ID: ruleContractViolation, Layer: LayerStructural, Severity: SeverityCritical,
		Description: "a field required by the node's contract is missing or has the wrong type after the node"}, contractViolation{})
}

func (contractViolation) check(a *analysis) {
	for i := range a.run.Steps {
		s := &a.run.Steps[i]
		fc, ok := a.cfg.Contracts[s.Node]
		if isPseudoNode(s.Node) || !ok || !s.HasOutput || crashed(s) {
			// A crash is already reported; "required field missing" adds nothing.
			continue
		}
		if m, isMap := s.Output.(map[string]any); isMap && isTruncationMarker(m) {
			continue
		}
		for _, field := range sortedKeys(fc.Required) {
			want := fc.Required[field]
			val, has := a.stateView().after(a.run, i, field)
			switch {
			case !has || val == nil:
				a.emit(ruleContractViolation, i, fmt.Sprintf("%s did not produce required field %q", s.Node, field),
					map[string]any{"field": field, "expected": cmp.Or(want, "any"), "actual": "missing"})
			case want != "" && want != "any" && jsonTypeOf(val) != want:
				a.emit(ruleContractViolation, i, fmt.Sprintf("%s produced %q as %s, the contract requires %s", s.Node, field, jsonTypeOf(val), want),
					map[string]any{"field": field, "expected": want, "actual": jsonTypeOf(val)})
			}
		}
	}
}

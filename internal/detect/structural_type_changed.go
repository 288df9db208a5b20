package detect

import "fmt"

const ruleTypeChanged = "structural.type_changed"

// typeChanged: a node wrote a field with another JSON type than the state
// held.
type typeChanged struct{}

func init() {
	register(Rule{ID: ruleTypeChanged, Layer: LayerStructural, Severity: SeverityWarning,
		Description: "a node wrote a field with a different JSON type than the state held"}, typeChanged{})
}

func (typeChanged) check(a *analysis) {
	for i := range a.run.Steps {
		s := &a.run.Steps[i]
		out, ok := outputMap(s)
		if isPseudoNode(s.Node) || !ok {
			continue
		}
		before := a.stateView().before[i]
		for _, k := range sortedKeys(out) {
			old, had := before[k]
			if !had || old == nil || out[k] == nil {
				continue
			}
			from, to := jsonTypeOf(old), jsonTypeOf(out[k])
			if from == to || appendsToList(old, out[k]) {
				continue
			}
			a.emit(ruleTypeChanged, i, fmt.Sprintf("%s changed %q from %s to %s", s.Node, k, from, to),
				map[string]any{"field": k, "from": from, "to": to})
		}
	}
}

// appendsToList: LangGraph reducers (add_messages, operator.add) accept a
// single element for a list channel, so list -> element type is no change.
func appendsToList(old, update any) bool {
	list, ok := old.([]any)
	if !ok || len(list) == 0 {
		return false
	}
	return jsonTypeOf(list[0]) == jsonTypeOf(update)
}

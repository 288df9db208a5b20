package detect

import "fmt"

const ruleTypeChanged = "structural.type_changed"

// typeChanged: a node wrote a field with another JSON type than the state
// held, a type the node does not usually write there (no history yet:
// info) or one a later step crashed on; or, where the state did not hold
// the field, with a type the node's history says it rarely writes there.
type typeChanged struct{}

func init() {
	register(Rule{ID: ruleTypeChanged, Layer: LayerStructural, Severity: SeverityWarning,
		Description: "a node wrote a field with a different JSON type than the state held or than the node usually writes there, which is unusual for the node (no history yet: info) or a later step crashed on"}, typeChanged{})
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
			if out[k] == nil {
				continue
			}
			old, had := before[k]
			if had && old != nil {
				if from, to := jsonTypeOf(old), jsonTypeOf(out[k]); from != to && !appendsToList(old, out[k]) {
					a.emitJudged(ruleTypeChanged, i, judgement{habit: a.typeHabit(s.Node, k, out[k]), infoWithoutHistory: true, harm: harmsField(a, i, k)},
						fmt.Sprintf("%s changed %q from %s to %s", s.Node, k, from, to),
						map[string]any{"field": k, "from": from, "to": to})
					continue
				}
			}
			if a.base == nil {
				continue // no history to judge by
			}
			// The state holds nothing to compare with, or the same type, or a
			// list the value could be appended to: the node's own history
			// says which type it writes there.
			to := jsonTypeOf(out[k])
			if usual := a.usualType(s.Node, k); usual != "" && usual != to && a.typeHabit(s.Node, k, out[k]) == habitUnusual {
				a.emit(ruleTypeChanged, i, fmt.Sprintf("%s wrote %q as %s, which it usually writes as %s", s.Node, k, to, usual),
					map[string]any{"field": k, "from": usual, "to": to, "node_history": habitNames[habitUnusual]})
			}
		}
	}
}

// typeHabit: how often the node writes field k with v's JSON type.
func (a *analysis) typeHabit(node, k string, v any) habit {
	t := shapeTypeIndex(v)
	return a.fieldHabit(node, k, func(_ *updateShape, f *fieldShape) uint32 {
		if f == nil || t < 0 {
			return 0
		}
		return f.types[t]
	})
}

// usualType is the JSON type the node most often writes field k with,
// other than null, when its history shows it writing k routinely; "" when
// there is no such history.
func (a *analysis) usualType(node, k string) string {
	u := a.nodeUpdates(node)
	if u == nil || int(u.updates) < a.cfg.WithDefaults().Statistical.MinSamples {
		return ""
	}
	f := u.field(k)
	if f == nil {
		return ""
	}
	best := -1
	for t := 1; t < len(shapeTypes); t++ { // 0 is null
		if f.types[t] > 0 && (best < 0 || f.types[t] > f.types[best]) {
			best = t
		}
	}
	if best < 0 || judgeShare(int(f.types[best]), int(u.updates)) != habitUsual {
		return ""
	}
	return shapeTypes[best]
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

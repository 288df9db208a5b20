package detect

import (
	"fmt"
	"strings"
)

const ruleDroppedField = "structural.dropped_field"

// droppedField: a field that held a value is emptied by a node's update, or
// left out of a node's full-state output, and the node does not usually do
// that (no history yet: info) or a later step crashed on the field.
type droppedField struct{}

func init() {
	register(Rule{ID: ruleDroppedField, Layer: LayerStructural, Severity: SeverityWarning,
		Description: "a field that was set before a node is emptied, nulled or (for full-state outputs) left out after it, which the node does not usually do (no history yet: info) or a later step crashed on"}, droppedField{})
}

// clearableFields hold transient signals whose healthy value is empty:
// clearing them is recovery, not data loss.
var clearableFields = map[string]bool{
	"error": true, "errors": true, "error_message": true, "exception": true,
	"warnings": true, "feedback": true, "tool_calls": true, "pending": true,
	"retry_reason": true, "issues": true, "next": true, "interrupt": true,
}

// maxDroppedPerStep bounds the missing-key findings of one full-state
// output; the last one counts the rest.
const maxDroppedPerStep = 20

func (droppedField) check(a *analysis) {
	v := a.stateView()
	for i := range a.run.Steps {
		s := &a.run.Steps[i]
		out, ok := outputMap(s)
		if isPseudoNode(s.Node) || !ok {
			continue
		}
		before := v.before[i]
		for _, k := range sortedKeys(out) {
			if clearableFields[strings.ToLower(k)] || !isEmptyValue(out[k]) {
				continue
			}
			if old, had := before[k]; had && !isEmptyValue(old) {
				a.emitJudged(ruleDroppedField, i, judgement{habit: a.fieldHabit(s.Node, k, writtenEmpty), infoWithoutHistory: true, harm: harmsField(a, i, k)},
					fmt.Sprintf("%s set %q to %s although it held %s", s.Node, k, emptyLiteral(out[k]), describeValue(old)),
					map[string]any{"field": k, "how": "emptied", "previous_type": jsonTypeOf(old)})
			}
		}
		dropped := v.dropped[i]
		for n, k := range dropped {
			d := map[string]any{"field": k, "how": "missing", "previous_type": jsonTypeOf(before[k])}
			if n == maxDroppedPerStep-1 && len(dropped) > maxDroppedPerStep {
				d["more_fields"] = len(dropped) - maxDroppedPerStep
			}
			a.emitJudged(ruleDroppedField, i, judgement{habit: a.leftOutHabit(s.Node, k), infoWithoutHistory: true, harm: harmsField(a, i, k)},
				fmt.Sprintf("%s returned the full state without %q, which held %s", s.Node, k, describeValue(before[k])), d)
			if n == maxDroppedPerStep-1 {
				break
			}
		}
	}
}

// writtenEmpty counts how often a node emptied a field: a node that always
// nulls an optional field does nothing unusual when it nulls it again.
func writtenEmpty(_ *updateShape, f *fieldShape) uint32 {
	if f == nil {
		return 0
	}
	return f.empty
}

// leftOutHabit: a full state without k is unusual when the node usually
// writes k. When it rarely does, its earlier outputs may have been partial
// updates that say nothing of k: no history to judge by.
func (a *analysis) leftOutHabit(node, k string) habit {
	h := a.fieldHabit(node, k, func(_ *updateShape, f *fieldShape) uint32 {
		if f == nil {
			return 0
		}
		return f.writes
	})
	if h == habitUsual {
		return habitUnusual
	}
	return habitUnknown
}

// harmsField: a later step crashed on field k.
func harmsField(a *analysis, i int, k string) func() bool {
	return func() bool { return a.harmsLater(i, func(f string) bool { return f == k }) }
}

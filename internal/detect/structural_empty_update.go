package detect

import "fmt"

const ruleEmptyUpdate = "structural.empty_update"

// emptyUpdate: a node returned an empty update although its input was not
// empty, and that is unusual for the node or harms a later step. A router,
// validator or notifier returns {} by design: once its history shows that,
// its {} is no finding; before it has any, info.
type emptyUpdate struct{}

func init() {
	register(Rule{ID: ruleEmptyUpdate, Layer: LayerStructural, Severity: SeverityWarning,
		Description: `a node returned an empty update ({}, [], "", null) although its input was not empty, and the node usually writes something (no history yet: info) or a later step crashed on what it did not write`}, emptyUpdate{})
}

func (emptyUpdate) check(a *analysis) {
	for i := range a.run.Steps {
		s := &a.run.Steps[i]
		if isPseudoNode(s.Node) || !s.HasOutput || s.Failed() || isRetrieverKind(s.Kind) || !isEmptyValue(s.Output) {
			continue // a retriever's empty output is empty_retrieval's
		}
		in := s.Input
		if !s.HasInput {
			in = a.stateView().before[i]
		}
		if isEmptyValue(in) {
			continue
		}
		// The harm: a later step crashed on a field this node usually writes.
		harm := func() bool { return a.harmsLater(i, func(f string) bool { return a.writesUsually(s.Node, f) }) }
		a.emitJudged(ruleEmptyUpdate, i, judgement{habit: a.updatesHabit(s.Node, func(u *updateShape) uint32 { return u.empty }), infoWithoutHistory: true, harm: harm},
			fmt.Sprintf("%s returned an empty update (%s) although its input was not empty", s.Node, emptyLiteral(s.Output)),
			map[string]any{"output": emptyLiteral(s.Output)})
	}
}

package detect

import "fmt"

const ruleEmptyUpdate = "structural.empty_update"

// emptyUpdate: a node returned an empty update although its input was not
// empty.
type emptyUpdate struct{}

func init() {
	register(Rule{ID: ruleEmptyUpdate, Layer: LayerStructural, Severity: SeverityWarning,
		Description: `a node returned an empty update ({}, [], "", null) although its input was not empty`}, emptyUpdate{})
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
		a.emit(ruleEmptyUpdate, i, fmt.Sprintf("%s returned an empty update (%s) although its input was not empty", s.Node, emptyLiteral(s.Output)),
			map[string]any{"output": emptyLiteral(s.Output)})
	}
}

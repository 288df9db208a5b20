package detect

import (
	"fmt"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

const ruleDeepJSON = "semantic.deep_json"

// deepJSON: a state is valid JSON nested deeper than the store keeps as
// JSON. Nothing is wrong with the run: it says what happened to the value
// (kept as text), as info, where it was once called corrupted.
type deepJSON struct{}

func init() {
	register(Rule{ID: ruleDeepJSON, Layer: LayerSemantic, Severity: SeverityInfo,
		Description: "a state is valid JSON nested deeper than the store keeps as JSON (900 levels): stored as the text of its JSON, nothing lost"}, deepJSON{})
}

func (deepJSON) check(a *analysis) {
	for i := range a.run.Steps {
		s := &a.run.Steps[i]
		for _, st := range [...]struct {
			which   string
			tooDeep bool
		}{{"input", s.InputTooDeep}, {"output", s.OutputTooDeep}} {
			if st.tooDeep {
				a.emit(ruleDeepJSON, i, fmt.Sprintf("%s %s is valid JSON nested more than %d levels deep, too deep to store as JSON: kept as text",
					s.Node, st.which, agentrun.MaxStoredJSONDepth), map[string]any{"field": "", "path": "$", "state": st.which})
			}
		}
	}
}

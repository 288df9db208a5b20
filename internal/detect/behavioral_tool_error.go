package detect

import "fmt"

const ruleToolError = "behavioral.tool_error"

// toolError: a tool result or node output carries an error
// (output_signals.go says what counts).
type toolError struct{}

func init() {
	register(Rule{ID: ruleToolError, Layer: LayerBehavioral, Severity: SeverityWarning,
		Description: "A tool result or node output carries an error: a truthy error/exception key, an HTTP status 400-599 (429 excepted), success or ok false, or error text."}, toolError{})
}

func (toolError) check(a *analysis) {
	for i := range a.run.Steps {
		s := &a.run.Steps[i]
		// The same error often shows twice (the tool result, then the node
		// output that carries it along): each distinct value once per step.
		seen := map[string]bool{}
		for _, src := range a.outputSignals(i) {
			hit := src.err
			if hit == nil || seen[hit.value] {
				continue
			}
			seen[hit.value] = true
			d := map[string]any{"field": hit.field, "value": hit.value}
			var msg string
			if src.tool != "" {
				d["tool"] = src.tool
				msg = fmt.Sprintf("tool %q returned an error in node %q: %s", src.tool, s.Node, hit.value)
			} else {
				msg = fmt.Sprintf("node %q output carries an error in %q: %s", s.Node, hit.field, hit.value)
			}
			a.emit(ruleToolError, i, msg, d)
		}
	}
}

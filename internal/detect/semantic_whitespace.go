package detect

import "fmt"

const ruleWhitespace = "semantic.whitespace"

// whitespace: a non-empty string value holds only whitespace.
type whitespace struct{}

func init() {
	register(Rule{ID: ruleWhitespace, Layer: LayerSemantic, Severity: SeverityWarning,
		Description: "a non-empty string value holds only whitespace"}, whitespace{})
}

func (whitespace) check(a *analysis) {
	a.eachText(ruleWhitespace, blankText, func(node string, t *textValue) {
		a.emitText(fmt.Sprintf("%s %s holds only whitespace", node, t.where()), t.details("length", len(t.text)))
	})
}

package detect

import (
	"fmt"
	"strings"
)

const ruleNullLike = "semantic.null_like"

// nullLike: a string value stands for nothing.
type nullLike struct{}

func init() {
	register(Rule{ID: ruleNullLike, Layer: LayerSemantic, Severity: SeverityWarning,
		Description: "a string value stands for nothing: n/a, null, none, undefined, nil, nan, [object Object]"}, nullLike{})
}

func (nullLike) check(a *analysis) {
	a.eachText(ruleNullLike, nullLikeText, func(node string, t *textValue) {
		a.emitText(fmt.Sprintf("%s %s is %q, a null-like value", node, t.where(), clipRunes(t.trimmed, 20)),
			t.details("value", strings.ToLower(t.trimmed)))
	})
}

func isNullLike(trimmed string) bool {
	if len(trimmed) > 16 {
		return false
	}
	switch strings.ToLower(trimmed) {
	case "n/a", "null", "none", "undefined", "nil", "nan", "[object object]":
		return true
	}
	return false
}

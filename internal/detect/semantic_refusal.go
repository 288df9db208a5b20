package detect

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

const ruleRefusal = "semantic.refusal"

// refusal: a text is a model refusal. refusal_scan.go is the cheap gate in
// front of the regexp.
type refusal struct{}

func init() {
	register(Rule{ID: ruleRefusal, Layer: LayerSemantic, Severity: SeverityWarning,
		Description: `output text is a model refusal ("As an AI, ...", "I'm sorry, but I cannot ...")`}, refusal{})
}

func (refusal) check(a *analysis) {
	a.eachText(ruleRefusal, plainText, func(node string, t *textValue) {
		if phrase, ok := findRefusal(t.head); ok {
			a.emitText(fmt.Sprintf("%s %s is a refusal (%q)", node, t.where(), phrase), t.details("phrase", phrase))
		}
	})
}

var quoteFolder = strings.NewReplacer("\u2019", "'", "\u2018", "'")

var refusalRe = regexp.MustCompile(`(?i)\b(?:as an ai(?: language model| assistant| model)?\s*,|(?:i'm|i am) sorry,? but i (?:cannot|can't|can not|am unable|am not able|won't)|i (?:cannot|can't|can not) (?:help|assist|comply|fulfill|provide|answer|do that|support)|i(?: am|'m) (?:unable|not able) to|i must decline|i won't be able to help)`)

// findRefusal: a refusal phrase at the start of a text, or anywhere in a
// short one (where it dominates). A long answer that mentions such a phrase
// in passing is not a refusal.
func findRefusal(s string) (string, bool) {
	if !refusalGate(s) {
		return "", false
	}
	head := quoteFolder.Replace(clipBytes(s, 1024))
	loc := refusalRe.FindStringIndex(head)
	if loc == nil {
		return "", false
	}
	if loc[0] > 80 && utf8.RuneCountInString(s) > 300 {
		return "", false
	}
	return strings.TrimRight(head[loc[0]:loc[1]], " ,"), true
}

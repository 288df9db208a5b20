package detect

import (
	"fmt"
	"regexp"
)

const rulePlaceholder = "semantic.placeholder"

// placeholder: a text holds a template placeholder. Finding one is the
// speed-critical part: placeholder_scan.go rules nearly every text out in
// one pass before any regexp runs.
type placeholder struct{}

func init() {
	register(Rule{ID: rulePlaceholder, Layer: LayerSemantic, Severity: SeverityWarning,
		Description: "output text holds a template placeholder: PLACEHOLDER, <YOUR_...>, {{var}}, <<VAR>>, TODO, TBD, lorem ipsum, [INSERT ...], XXX"}, placeholder{})
}

func (placeholder) check(a *analysis) {
	a.eachText(rulePlaceholder, plainText, func(node string, t *textValue) {
		if name, match, ok := findPlaceholder(t.head); ok {
			a.emitText(fmt.Sprintf("%s %s contains the placeholder %q", node, t.where(), clipRunes(match, 60)),
				t.details("pattern", name, "match", clipRunes(match, 60)))
		}
	})
}

// placeholderPatterns: each regex runs only when its literal occurs in the
// lowercased text, which keeps the common case (no placeholder) to one
// pass over the text (placeholderLiterals).
var placeholderPatterns = []struct {
	name, literal string
	re            *regexp.Regexp
}{
	{"PLACEHOLDER", "placeholder", regexp.MustCompile(`\bPLACEHOLDER\b|(?i:[<\[{]\s*placeholder\s*[>\]}])`)},
	{"<YOUR_...>", "your", regexp.MustCompile(`(?i:<\s*your[ _-][^<>\n]{1,60}>)|\bYOUR_[A-Z0-9_]{2,}\b`)},
	{"{{var}}", "{{", regexp.MustCompile(`\{\{\s*[A-Za-z_][A-Za-z0-9_.\- ]{0,60}\}\}`)},
	{"<<VAR>>", "<<", regexp.MustCompile(`<<[A-Za-z_][A-Za-z0-9_]{0,60}>>`)},
	{"TODO", "todo", regexp.MustCompile(`\bTODO\b`)},
	{"TBD", "tbd", regexp.MustCompile(`\bTBD\b`)},
	{"lorem ipsum", "lorem ipsum", regexp.MustCompile(`(?i)\blorem ipsum\b`)},
	{"[INSERT ...]", "insert", regexp.MustCompile(`(?i)\[\s*insert\b[^\]\n]{0,80}\]`)},
	{"XXX", "xxx", regexp.MustCompile(`\bXXX+\b`)},
}

// findPlaceholder returns the first placeholder pattern that matches s.
// TODO and TBD count only in capitals as standalone tokens, so "a todo list
// app" in prose is not a placeholder.
func findPlaceholder(s string) (name, match string, ok bool) {
	cues, sure := placeholderCues(s)
	if cues == 0 {
		return "", "", false // the common case: no pattern can match
	}
	found := sure
	if want := cues &^ sure; want != 0 {
		found |= placeholderLiterals(s, want)
	}
	for i, p := range placeholderPatterns {
		if found&(1<<i) == 0 {
			continue
		}
		if m := p.re.FindString(s); m != "" {
			return p.name, m, true
		}
	}
	return "", "", false
}

package detect

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

const rulePlaceholder = "semantic.placeholder"

// placeholder: a text holds a template placeholder. Finding one is the
// speed-critical part: placeholder_scan.go rules nearly every text out in
// one pass before any regexp runs.
type placeholder struct{}

func init() {
	register(Rule{ID: rulePlaceholder, Layer: LayerSemantic, Severity: SeverityWarning,
		Description: "output text holds a template placeholder: PLACEHOLDER, <YOUR_...>, {{var}}, <<VAR>>, TODO or TBD where they stand for content, lorem ipsum, [INSERT ...], XXX"}, placeholder{})
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
var placeholderPatterns = []placeholderPattern{
	{"PLACEHOLDER", "placeholder", regexp.MustCompile(`\bPLACEHOLDER\b|(?i:[<\[{]\s*placeholder\s*[>\]}])`), false},
	{"<YOUR_...>", "your", regexp.MustCompile(`(?i:<\s*your[ _-][^<>\n]{1,60}>)|\bYOUR_[A-Z0-9_]{2,}\b`), false},
	{"{{var}}", "{{", regexp.MustCompile(`\{\{\s*[A-Za-z_][A-Za-z0-9_.\- ]{0,60}\}\}`), false},
	{"<<VAR>>", "<<", regexp.MustCompile(`<<[A-Za-z_][A-Za-z0-9_]{0,60}>>`), false},
	{"TODO", "todo", regexp.MustCompile(`\bTODO\b`), true},
	{"TBD", "tbd", regexp.MustCompile(`\bTBD\b`), true},
	{"lorem ipsum", "lorem ipsum", regexp.MustCompile(`(?i)\blorem ipsum\b`), false},
	{"[INSERT ...]", "insert", regexp.MustCompile(`(?i)\[\s*insert\b[^\]\n]{0,80}\]`), false},
	{"XXX", "xxx", regexp.MustCompile(`\bXXX+\b`), false},
}

type placeholderPattern struct {
	name, literal string
	re            *regexp.Regexp
	// slotOnly: an ordinary word that is a placeholder only where it
	// stands for missing content (placeholderSlot).
	slotOnly bool
}

// match returns the first match of the pattern in s that is a placeholder.
func (p *placeholderPattern) match(s string) (string, bool) {
	if !p.slotOnly {
		m := p.re.FindString(s)
		return m, m != ""
	}
	for _, loc := range p.re.FindAllStringIndex(s, 16) {
		if placeholderSlot(s, loc[0], loc[1]) {
			return s[loc[0]:loc[1]], true
		}
	}
	return "", false
}

// placeholderSlot: a TODO or TBD stands for missing content where it opens
// the text or a line (after a list or comment marker) or fills a label
// ("Summary: TBD"). Quoted, or inside a sentence, it is a word the text
// talks about: "comments marked TODO or FIXME", `the invoice shows "TODO"
// in the VAT field`, a search for "invoice VAT field TODO".
func placeholderSlot(s string, start, end int) bool {
	if r, _ := utf8.DecodeLastRuneInString(s[:start]); isQuoteRune(r) {
		return false
	}
	if r, _ := utf8.DecodeRuneInString(s[end:]); isQuoteRune(r) {
		return false
	}
	i := start
	for i > 0 && (s[i-1] == ' ' || s[i-1] == '\t') {
		i--
	}
	if i > 0 && s[i-1] == ':' {
		return true // a label's value
	}
	for i > 0 && strings.IndexByte("-*#/>+ \t", s[i-1]) >= 0 {
		i-- // a list or comment marker
	}
	return i == 0 || s[i-1] == '\n' || s[i-1] == '\r'
}

func isQuoteRune(r rune) bool {
	switch r {
	case '"', '\'', '`', '\u201c', '\u201d', '\u2018', '\u2019', '\u00ab', '\u00bb':
		return true
	}
	return false
}

// findPlaceholder returns the first placeholder pattern that matches s.
// TODO and TBD count only in capitals as standalone tokens where they stand
// for missing content, so "a todo list app" or "comments marked TODO" in
// prose is not a placeholder.
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
		if m, ok := p.match(s); ok {
			return p.name, m, true
		}
	}
	return "", "", false
}

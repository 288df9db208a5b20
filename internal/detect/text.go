package detect

import (
	"math"
	"strings"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// Short texts for messages and details: clipped, previewed, joined.

// clipRunes keeps at most n runes of s, marking a cut with "…".
func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// clipBytes keeps at most n bytes of s, cut on a rune boundary.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// clipTail keeps at most the last n bytes of s, cut on a rune boundary.
func clipTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return s[i:]
}

// prefixRunes returns the first n runes of s (an invalid byte counts as one).
func prefixRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// previewBytes bounds the excerpts of texts in messages and details.
const previewBytes = 200

// preview is a short, valid UTF-8 excerpt for messages and details.
func preview(s string) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	if len(s) <= previewBytes {
		return s
	}
	cut := previewBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// previewValue is the preview of a string, or of another value's JSON.
func previewValue(v any) string {
	if s, ok := v.(string); ok {
		return preview(s)
	}
	return preview(string(agentrun.JSON(v)))
}

// joinNonEmpty joins the parts that are not blank, trimmed.
func joinNonEmpty(sep string, parts ...string) string {
	out := parts[:0:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// joinAnd joins items as prose: "a", "a and b", "a, b and c".
func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// roundTo rounds x to a number of decimal places, for details.
func roundTo(x float64, places int) float64 {
	p := math.Pow10(places)
	return math.Round(x*p) / p
}

package detect

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// References: the canonical-text helpers of the loop stall as they were
// before they were made cheap (commit 3b69189). The fast ones must agree
// with them exactly.

func refBehCollapsed(s string) bool {
	prevSpace := true
	for _, r := range s {
		sp := unicode.IsSpace(r)
		if sp && (prevSpace || r != ' ') {
			return false
		}
		prevSpace = sp
	}
	return !prevSpace || s == ""
}

func checkCanon(t *testing.T, s string) {
	t.Helper()
	if got, want := string(appendQuote([]byte("x"), s)), "x"+strconv.Quote(s); got != want {
		t.Fatalf("appendQuote(%q) = %s, want %s", s, got, want)
	}
	if got, want := isCollapsed(s), refBehCollapsed(s); got != want {
		t.Fatalf("isCollapsed(%q) = %v, want %v", s, got, want)
	}
	if got, want := string(appendQuoteCollapsed([]byte("x"), s)), "x"+strconv.Quote(collapseSpace(s)); got != want {
		t.Fatalf("appendQuoteCollapsed(%q) = %s, want %s", s, got, want)
	}
}

// The one-pass collapse test goes 8 bytes at a time: a space, a double
// space, a quote or a non-ASCII byte at every offset of short texts.
func TestBehAppendQuoteCollapsedAtEveryOffset(t *testing.T) {
	for n := range 20 {
		for k := range n {
			for _, c := range []string{" ", "  ", "\"", "\t", "\u00e9", "\x7f"} {
				b := []byte(strings.Repeat("ab", n)[:n])
				checkCanon(t, string(b[:k])+c+string(b[k:]))
				b[k] = ' '
				checkCanon(t, string(b))
			}
		}
	}
}

func TestBehCanonFastPathsSameAsBefore(t *testing.T) {
	for _, s := range []string{
		"", " ", "a", "a b", " a", "a ", "a  b", "a\tb", "a\nb", "a\u00a0b", "a\u0085b", "a\u2003b", "a\u200bb",
		`say "hi"`, `back\slash`, "tab\there", "\x00\x1f\x7f", "caf\u00e9 na\u00efve", "\xff\xfe", "ok \xc3", "\u2028",
		"emoji \U0001F600 ok", strings.Repeat("plain ascii prose. ", 50) + "\u201cquoted\u201d",
	} {
		checkCanon(t, s)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		checkCanon(t, llmProse(rng, rng.IntN(3000)))
	}
}

func FuzzBehCanon(f *testing.F) {
	for _, s := range []string{"", "a b", "a  b", "\"q\"\\", "caf\u00e9\u00a0x", "\xff", "\t\n"} {
		f.Add(s)
	}
	f.Fuzz(checkCanon)
}

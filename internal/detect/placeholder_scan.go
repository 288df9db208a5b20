package detect

import (
	"math/bits"
	"strings"
)

// The gates in front of the placeholder regexps: which patterns can match
// a text at all, found in one pass over it.

// placeholderAt[n][b]: the patterns whose literal can have byte b at
// offset n (0 or 1) of a match, counting upper case and U+0130 (which
// lowercases to 'i' and is the bytes c4 b0) as strings.ToLower would. A
// position must pass both tables before its literals are compared.
var placeholderAt = func() (t [2][256]uint16) {
	for i, p := range placeholderPatterns {
		for n := range 2 {
			c := p.literal[n]
			t[n][c] |= 1 << i
			if 'a' <= c && c <= 'z' {
				t[n][c-'a'+'A'] |= 1 << i
			}
			if c == 'i' {
				t[n][0xc4] |= 1 << i
				if n == 0 {
					t[1][0xb0] |= 1 << i
				}
			}
		}
	}
	return t
}()

// placeholderLiterals returns a bit per placeholderPatterns entry of want
// whose literal occurs in strings.ToLower(s), in one pass over s instead of
// lowering it and searching it once per literal. The literals are ASCII
// without 'k', and the only non-ASCII rune that lowercases to an ASCII
// letter other than 'k' is U+0130 (to 'i'), so comparing ASCII letters
// case-blind and U+0130 as 'i' finds what the lowered text holds.
func placeholderLiterals(s string, want uint16) (found uint16) {
	for i := 0; i+1 < len(s) && found != want; i++ { // every literal has 2+ bytes
		for cand := placeholderAt[0][s[i]] & placeholderAt[1][s[i+1]] & want &^ found; cand != 0; cand &= cand - 1 {
			k := bits.TrailingZeros16(cand)
			if lowerHasPrefix(s[i:], placeholderPatterns[k].literal) {
				found |= 1 << k
			}
		}
	}
	return found
}

// The placeholderPatterns entries by index, for placeholderCueAt.
const (
	phPlaceholder = 1 << iota
	phYour
	phBraces
	phAngles
	phTODO
	phTBD
	phLorem
	phInsert
	phXXX
)

// placeholderCues returns the patterns whose regexp can match s: every
// match holds a cue that placeholderCueAt finds (see there), so a pattern
// without one is skipped without its literal scan. sure marks the
// patterns whose cue is an occurrence of the literal itself (e.g. "TODO"
// is "todo" lowered). Prose has none of the cues nearly always. All but
// one hold a byte rare in prose, found with strings.IndexByte (vector
// instructions); the last, " ip" in any case, is tested 8 positions at a
// time.
func placeholderCues(s string) (cues, sure uint16) {
	for _, c := range [...]byte{'<', '[', '{', '_', 'D', 'X'} {
		for i := 0; ; {
			k := strings.IndexByte(s[i:], c)
			if k < 0 {
				break
			}
			cs, ss := placeholderCueAt(s, i+k)
			cues, sure = cues|cs, sure|ss
			i += k + 1
		}
	}
	const fold = 0x2020202020202020 // lowercases the ASCII letters of 8 bytes
	i := 0
	for ; i+10 <= len(s) && cues&phLorem == 0; i += 8 {
		a, b, c := load64(s[i:]), load64(s[i+1:]), load64(s[i+2:])
		if swarEq(a, ' ')&swarEq(b|fold, 'i')&swarEq(c|fold, 'p') != 0 {
			cues |= phLorem
		}
	}
	for ; i < len(s) && cues&phLorem == 0; i++ { // the last 9 bytes or fewer
		if asciiHasPrefixFold(s[i:], " ip") {
			cues |= phLorem
		}
	}
	return cues | sure, sure
}

// placeholderCueAt returns the cues at s[p], one of the bytes that
// placeholderCues looks for. Each regexp of placeholderPatterns matches
// only text that holds its cues: "PLACEHOLDER" or an opening '<', '[' or
// '{' (its case-blind form is bracketed); "YOUR_" or '<'; "{{"; "<<";
// "TODO"; "TBD"; " ip" in any case (in "lorem ipsum": (?i) folds i and p
// only with their ASCII capitals); '['; "XXX".
func placeholderCueAt(s string, p int) (cues, sure uint16) {
	switch s[p] {
	case '<':
		cues |= phPlaceholder | phYour
		if strings.HasPrefix(s[p:], "<<") {
			sure |= phAngles
		}
	case '[':
		cues |= phPlaceholder | phInsert
	case '{':
		cues |= phPlaceholder
		if strings.HasPrefix(s[p:], "{{") {
			sure |= phBraces
		}
	case '_':
		if p >= 4 && s[p-4:p+1] == "YOUR_" {
			sure |= phYour
		}
	case 'D': // the third byte of TODO and TBD, the ninth of PLACEHOLDER
		if p >= 2 && strings.HasPrefix(s[p-2:], "TODO") {
			sure |= phTODO
		}
		if p >= 2 && strings.HasPrefix(s[p-2:], "TBD") {
			sure |= phTBD
		}
		if p >= 8 && strings.HasPrefix(s[p-8:], "PLACEHOLDER") {
			sure |= phPlaceholder
		}
	case 'X':
		if strings.HasPrefix(s[p:], "XXX") {
			sure |= phXXX
		}
	}
	return cues | sure, sure
}

// lowerHasPrefix reports whether strings.ToLower(s) starts with lit, a
// lowercase ASCII string without 'k'.
func lowerHasPrefix(s, lit string) bool {
	j := 0
	for k := 0; k < len(lit); k++ {
		if j >= len(s) {
			return false
		}
		c := s[j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch {
		case c == lit[k]:
			j++
		case lit[k] == 'i' && strings.HasPrefix(s[j:], "\u0130"):
			j += len("\u0130")
		default:
			return false
		}
	}
	return true
}

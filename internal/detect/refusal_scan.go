package detect

import "strings"

// The gate in front of the refusal regexp: does the head of a text hold a
// phrase every refusal starts with, found in one pass without lowering it.

// refusalGate reports whether the first 1024 bytes of the lowered text
// hold one of the phrases every refusal starts with, the cheap test in
// front of the regexp.
func refusalGate(s string) bool {
	head := s[:min(len(s), 1024)]
	if asciiPrefix(head) == len(head) {
		// ASCII lowers byte for byte: one pass over the head, no copy.
		// Each phrase's first two bytes pass refusalPair; most positions
		// fail it, a branch predicted right.
		for i := 0; i+1 < len(head); i++ {
			if refusalPair[0][head[i]]&refusalPair[1][head[i+1]] == 0 {
				continue
			}
			switch head[i] | 0x20 { // 'A'|0x20 == 'a': only letters pass
			case 'a':
				if asciiHasPrefixFold(head[i:], "as an ai") {
					return true
				}
			case 's':
				if asciiHasPrefixFold(head[i:], "sorry") {
					return true
				}
			case 'i':
				if next := head[i+1]; next != ' ' && next != '\'' {
					continue
				}
				for _, lit := range [...]string{"i can", "i am", "i'm", "i must", "i won"} {
					if asciiHasPrefixFold(head[i:], lit) {
						return true
					}
				}
			}
		}
		return false
	}
	// The first 1024 bytes of the lowered text: lowering the first 1024
	// runes gives at least that many (every rune lowers to 1+ bytes).
	lower := clipBytes(strings.ToLower(prefixRunes(s, 1024)), 1024)
	return strings.Contains(lower, "as an ai") || strings.Contains(lower, "sorry") || strings.Contains(lower, "i can") ||
		strings.Contains(lower, "i am") || strings.Contains(lower, "i\u2019m") || strings.Contains(lower, "i'm") ||
		strings.Contains(lower, "i must") || strings.Contains(lower, "i won")
}

// refusalPair[n][b]: the phrases of refusalGate's ASCII path (bit 0 "as
// an ai", bit 1 "sorry", bit 2 "i " and "i'" for the rest) that can have
// byte b at offset n, in either case.
var refusalPair = func() (t [2][256]uint8) {
	for bit, pair := range []string{"as", "so", "i ", "i'"} {
		bit = min(bit, 2)
		for n := range 2 {
			c := pair[n]
			t[n][c] |= 1 << bit
			if 'a' <= c && c <= 'z' {
				t[n][c-'a'+'A'] |= 1 << bit
			}
		}
	}
	return t
}()

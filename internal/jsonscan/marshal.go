package jsonscan

import (
	"strconv"
	"unicode/utf8"
)

// What json.Marshal writes, for Verbatim's lengths.

// runeEncLen is the length json.Marshal (HTML-escaping) writes for a valid
// character inside a string.
func runeEncLen(c rune) int {
	switch c {
	case '"', '\\', '\b', '\f', '\n', '\r', '\t':
		return 2
	case '<', '>', '&', '\u2028', '\u2029':
		return 6 // \u003c ...
	}
	if c < ' ' {
		return 6 // \u00XX
	}
	return utf8.RuneLen(c)
}

// appendFloat formats f as encoding/json does (ES6 number to string).
func appendFloat(b []byte, f float64) []byte {
	abs := f
	if abs < 0 {
		abs = -abs
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 -> e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

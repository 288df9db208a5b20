package detect

import "unicode/utf8"

// Word-at-a-time byte tests (SWAR) for the loops that look at every byte
// of a text: each tests 8 bytes read by load64 with a few integer
// operations, so the common case (plain printable ASCII) skips 8 bytes per
// step and only the 8-byte chunks holding something special go byte by
// byte. Every mask is exact per byte: no carry crosses from one byte into
// the next.

const (
	swarLow  = 0x0101010101010101
	swarHigh = 0x8080808080808080
	swar7F   = 0x7f7f7f7f7f7f7f7f
)

// swarEq has the top bit of each byte of x that equals c set, and nothing
// else.
func swarEq(x uint64, c byte) uint64 {
	y := x ^ swarLow*uint64(c)
	return ^((y&swar7F + swar7F) | y) & swarHigh
}

// swarBelow has the top bit of each byte of x that is below c (c <= 0x80)
// set, and nothing else.
func swarBelow(x uint64, c byte) uint64 {
	// For a byte b < 0x80, b + (0x80-c) stays below 0x100 and reaches 0x80
	// exactly when b >= c; bytes >= 0x80 are never below c.
	return ^((x&swar7F + swarLow*uint64(0x80-c)) | x) & swarHigh
}

// swarPlain reports whether the 8 bytes of x are printable ASCII or space
// (0x20-0x7e) other than '"' and '\\': bytes that JSON and Go quoting
// write as themselves.
func swarPlain(x uint64) bool {
	// swarBelow(x, 0x20) and swarEq for '"', '\\' and 0x7f, written out so
	// that it inlines into the loops that call it.
	low := x & swar7F
	q, b, d := x^(swarLow*'"'), x^(swarLow*'\\'), x^swar7F
	bad := x | ^(low + swarLow*(0x80-0x20)) |
		^((q&swar7F + swar7F) | q) | ^((b&swar7F + swar7F) | b) | ^((d&swar7F + swar7F) | d)
	return bad&swarHigh == 0
}

// load64 reads the first 8 bytes of s little-endian (one load).
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// asciiPrefix is the length of the ASCII prefix of s.
func asciiPrefix(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if load64(s[i:])&swarHigh != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			break
		}
	}
	return i
}

// asciiHasPrefixFold reports whether s, lowered as ASCII, starts with lit
// (lowercase ASCII).
func asciiHasPrefixFold(s, lit string) bool {
	if len(s) < len(lit) {
		return false
	}
	for k := 0; k < len(lit); k++ {
		c := s[k]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lit[k] {
			return false
		}
	}
	return true
}

// 64-bit FNV-1a, the hash of the word, sentence and argument keys.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fnv extends a 64-bit FNV-1a hash with s.
func fnv[T string | []byte](h uint64, s T) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

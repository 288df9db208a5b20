package jsonscan

import (
	"math/bits"
	"strings"
	"unicode/utf8"
)

// The string scans find the end of a run of plain bytes 8 at a time (SWAR:
// SIMD within a register). A word holds 8 bytes, one per lane; a test marks
// the high bit of each lane it hits. A lane's test may borrow from the lane
// below it, so lanes above a real hit can be marked wrongly, never lanes
// below: the lowest marked lane is exact.
const (
	lanesOnes = 0x0101010101010101 // 1 in every lane
	lanesHigh = 0x8080808080808080 // the high bit of every lane
)

// load8 reads s[i:i+8] as a little-endian word (lane 0 = s[i]).
func load8(s string, i int) uint64 {
	w := s[i : i+8] // one bounds check; the loads combine into one
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
}

// lanesEqual marks the lanes of x equal to c: x^c is zero there, and zero
// minus one borrows into the high bit. Only the high bits are the marks:
// callers mask the union of their tests with lanesHigh once.
func lanesEqual(x uint64, c byte) uint64 {
	v := x ^ (lanesOnes * uint64(c))
	return (v - lanesOnes) &^ v
}

// lanesBelow marks the lanes of x below c (c <= 0x80): x-c borrows into the
// high bit of a lane whose own high bit is clear. Masked as lanesEqual.
func lanesBelow(x uint64, c byte) uint64 {
	return (x - lanesOnes*uint64(c)) &^ x
}

// firstLane is the index of the lowest marked lane of m (m != 0).
func firstLane(m uint64) int { return bits.TrailingZeros64(m) / 8 }

// plainRun returns the index of the first byte at or after sc.i that ends a
// run of plain string bytes: '"', '\\', a control byte, or (if stopHigh) a
// byte >= 0x80. Past 16 bytes, the next '"' and '\\' are found with the
// vectorised strings.IndexByte and remembered, so each is looked for once
// however many strings and escapes lie before it (sc.i only grows; both
// start at 0, below any sc.i inside a string). The bytes before them are
// tested 8 per step (ctlRun).
func (sc *scanner) plainRun(stopHigh bool) int {
	i := sc.i
	var high uint64
	if stopHigh {
		high = lanesHigh
	}
	// Most strings (keys, short values) end within 16 bytes: test those
	// in line for all four stops before calling IndexByte.
	for k := 0; k < 2 && i+8 <= len(sc.s); k, i = k+1, i+8 {
		x := load8(sc.s, i)
		if m := (lanesEqual(x, '"')|lanesEqual(x, '\\')|lanesBelow(x, ' '))&lanesHigh | x&high; m != 0 {
			return i + firstLane(m)
		}
	}
	if sc.quote < i {
		sc.quote = indexFrom(sc.s, i, '"')
	}
	if sc.bslash < i {
		sc.bslash = indexFrom(sc.s, i, '\\')
	}
	return ctlRun(sc.s, i, min(sc.quote, sc.bslash), stopHigh)
}

// indexFrom is the index of the first c in s at or after i, else len(s).
func indexFrom(s string, i int, c byte) int {
	if k := strings.IndexByte(s[i:], c); k >= 0 {
		return i + k
	}
	return len(s)
}

// ctlRun returns the index of the first control byte (or, if stopHigh,
// byte >= 0x80) in s[i:end], else end.
func ctlRun(s string, i, end int, stopHigh bool) int {
	var high uint64
	if stopHigh {
		high = lanesHigh
	}
	for ; i+8 <= end; i += 8 {
		x := load8(s, i)
		if m := lanesBelow(x, ' ')&lanesHigh | x&high; m != 0 {
			return i + firstLane(m)
		}
	}
	for ; i < end; i++ {
		if c := s[i]; c < ' ' || c >= utf8.RuneSelf && stopHigh {
			return i
		}
	}
	return end
}

// marshalPlain: the bytes json.Marshal writes as they are inside a string,
// and that end nothing in a scan.
var marshalPlain = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// marshalPlainRun returns the index of the first byte at or after i that is
// not marshalPlain, else len(s): a byte >= 0x80 (its high bit), a control
// byte, '"', '\\', '<', '>' or '&'.
func marshalPlainRun(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		x := load8(s, i)
		m := x | lanesBelow(x, ' ') | lanesEqual(x, '"') | lanesEqual(x, '\\') |
			lanesEqual(x, '<') | lanesEqual(x, '>') | lanesEqual(x, '&')
		if m &= lanesHigh; m != 0 {
			return i + firstLane(m)
		}
	}
	for i < len(s) && marshalPlain[s[i]] {
		i++
	}
	return i
}

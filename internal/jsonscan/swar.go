package jsonscan

import (
	"math/bits"
	"strings"
	"unicode/utf8"
)

// The string scans find the end of a run of plain bytes 8 at a time (SWAR:
// SIMD within a register), all three the same way. A word x holds 8 bytes,
// one per lane (lane 0 = the first byte). A test marks the high bit of each
// lane it hits:
//
//   - equal to c: v := x ^ (lanesOnes * c) is zero in that lane, and
//     (v - lanesOnes) &^ v borrows into its high bit;
//   - below c: (x - lanesOnes*c) &^ x borrows into the high bit of a lane
//     whose own high bit is clear;
//   - >= 0x80: x's own high bit.
//
// A lane's test may borrow from the lane below it, so lanes above a real
// hit can be marked wrongly, never lanes below: the lowest marked lane is
// exact (bits.TrailingZeros64(m) / 8). The tests are written out in each
// loop: as small helper functions they compiled to more instructions on
// the decoder's hot path.
const (
	lanesOnes = 0x0101010101010101 // 1 in every lane
	lanesHigh = 0x8080808080808080 // the high bit of every lane
)

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
		w := sc.s[i : i+8] // one bounds check; the loads combine into one
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		q := x ^ (lanesOnes * '"')
		bs := x ^ (lanesOnes * '\\')
		if m := ((q-lanesOnes)&^q|(bs-lanesOnes)&^bs|(x-lanesOnes*' ')&^x)&lanesHigh | x&high; m != 0 {
			return i + bits.TrailingZeros64(m)/8
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
		w := s[i : i+8] // one bounds check; the loads combine into one
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		if m := (x-lanesOnes*' ')&^x&lanesHigh | x&high; m != 0 {
			return i + bits.TrailingZeros64(m)/8
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
// not marshalPlain, else len(s): a byte >= 0x80, a control byte, '"', '\\',
// '<', '>' or '&'.
func marshalPlainRun(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8] // one bounds check; the loads combine into one
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		q := x ^ (lanesOnes * '"')
		bs := x ^ (lanesOnes * '\\')
		lt := x ^ (lanesOnes * '<')
		gt := x ^ (lanesOnes * '>')
		amp := x ^ (lanesOnes * '&')
		m := x | (x-lanesOnes*' ')&^x |
			(q-lanesOnes)&^q | (bs-lanesOnes)&^bs | (lt-lanesOnes)&^lt |
			(gt-lanesOnes)&^gt | (amp-lanesOnes)&^amp
		if m &= lanesHigh; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(s) && marshalPlain[s[i]] {
		i++
	}
	return i
}

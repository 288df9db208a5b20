package jsonscan

import (
	"math/rand"
	"testing"
	"unicode/utf8"
)

// The 8-bytes-at-a-time runs stop exactly where a byte-by-byte loop stops:
// every byte value at every offset of a plain 24-byte run, and random text.
func TestRunsSameAsByteLoops(t *testing.T) {
	marshalRef := func(s string, i int) int {
		for i < len(s) && marshalPlain[s[i]] {
			i++
		}
		return i
	}
	plainRef := func(s string, i int, stopHigh bool) int {
		for ; i < len(s); i++ {
			if c := s[i]; c == '"' || c == '\\' || c < ' ' || stopHigh && c >= utf8.RuneSelf {
				return i
			}
		}
		return i
	}
	check := func(s string) {
		for start := 0; start <= len(s); start++ {
			if got, want := marshalPlainRun(s, start), marshalRef(s, start); got != want {
				t.Fatalf("marshalPlainRun(%q, %d) = %d, want %d", s, start, got, want)
			}
			for _, high := range []bool{false, true} {
				// Before any search (inside a string the scans are past 0).
				sc := scanner{s: s, i: start, quote: -1, bslash: -1}
				if got, want := sc.plainRun(high), plainRef(s, start, high); got != want {
					t.Fatalf("plainRun(%q, %d, %v) = %d, want %d", s, start, high, got, want)
				}
			}
		}
	}
	base := []byte("the quick brown fox jumps over the lazy dog")
	for c := 0; c < 256; c++ {
		for at := range base {
			b := append([]byte(nil), base...)
			b[at] = byte(c)
			check(string(b))
		}
	}
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte("abc <>&\"\\\x00\x1f\x7f\x80\xff~ ")
	for n := 0; n < 20000; n++ {
		b := make([]byte, rng.Intn(40))
		for i := range b {
			if rng.Intn(4) == 0 {
				b[i] = alphabet[rng.Intn(len(alphabet))]
			} else {
				b[i] = 'a' + byte(rng.Intn(26))
			}
		}
		check(string(b))
	}
}

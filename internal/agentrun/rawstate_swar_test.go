package agentrun

import (
	"math/rand"
	"testing"
)

// rawPlainRun stops exactly where the byte-by-byte table loop stops: every
// byte value at every offset of a plain 24-byte run, and random text.
func TestRawPlainRunSameAsTable(t *testing.T) {
	ref := func(s string, i int) int {
		for i < len(s) && plainASCII[s[i]] {
			i++
		}
		return i
	}
	base := []byte("the quick brown fox jump")
	for c := 0; c < 256; c++ {
		for at := range base {
			b := append([]byte(nil), base...)
			b[at] = byte(c)
			s := string(b)
			for start := 0; start <= len(s); start++ {
				if got, want := rawPlainRun(s, start), ref(s, start); got != want {
					t.Fatalf("byte %#x at %d, from %d: got %d, want %d", c, at, start, got, want)
				}
			}
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
		s := string(b)
		for start := 0; start <= len(s); start++ {
			if got, want := rawPlainRun(s, start), ref(s, start); got != want {
				t.Fatalf("%q from %d: got %d, want %d", s, start, got, want)
			}
		}
	}
}

package detect

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// The word-at-a-time tests agree with their byte-by-byte definitions on
// every byte value in every lane, next to every other interesting value
// (a carry or borrow between lanes would show there).
func TestSWARSameAsBytewise(t *testing.T) {
	special := []byte{0, 1, 0x1f, 0x20, 0x21, '"', '\\', 0x7e, 0x7f, 0x80, 0x81, 0xc4, 0xfe, 0xff}
	rng := rand.New(rand.NewPCG(1, 3))
	check := func(x uint64) {
		plain := true
		for lane := range 8 {
			c := byte(x >> (8 * lane))
			bit := uint64(0x80) << (8 * lane)
			if got, want := swarEq(x, '"')&bit != 0, c == '"'; got != want {
				t.Fatalf("swarEq(%#x, '\"') lane %d = %v", x, lane, got)
			}
			if got, want := swarEq(x, 0xc4)&bit != 0, c == 0xc4; got != want {
				t.Fatalf("swarEq(%#x, 0xc4) lane %d = %v", x, lane, got)
			}
			for _, lim := range []byte{0, 0x20, 0x80} {
				if got, want := swarBelow(x, lim)&bit != 0, c < lim; got != want {
					t.Fatalf("swarBelow(%#x, %#x) lane %d = %v", x, lim, lane, got)
				}
			}
			plain = plain && c >= 0x20 && c < 0x7f && c != '"' && c != '\\'
		}
		if got := swarPlain(x); got != plain {
			t.Fatalf("swarPlain(%#x) = %v", x, got)
		}
	}
	for c := range 256 {
		for _, o := range special {
			for lane := range 8 {
				x := uint64(0x6161616161616161) // "aaaaaaaa"
				x = x&^(0xff<<(8*lane)) | uint64(c)<<(8*lane)
				check(x)
				if lane < 7 {
					check(x&^(0xff<<(8*(lane+1))) | uint64(o)<<(8*(lane+1)))
				}
				check(x&^(0xff<<(8*((lane+7)%8))) | uint64(o)<<(8*((lane+7)%8)))
			}
		}
	}
	for range 200000 {
		var x uint64
		for lane := range 8 {
			x |= uint64(special[rng.IntN(len(special))]) << (8 * lane)
		}
		check(x)
		check(rng.Uint64())
	}
}

// fillerWords splits every text exactly as the rune-by-rune reference does
// (same word bounds and sentence ends, cap included), and two words get the
// same hash exactly when their lowercase is the same.
func TestFillerWordsSameAsReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 17))
	texts := append(fillerCases(rng), patternCases(rng)[:200]...)
	texts = append(texts,
		"\u212Aing KING king k\u0130ng ki\u0307ng", "Straße STRASSE straße", "don't DON'T don’t",
		"ab\u00e9cd ab\u00c9CD \u00e9\u00e9 x\u00a0y", "word.\nWord! word? WORD", strings.Repeat("a ", maxFillerWords+5)+". b",
		strings.Repeat("ab", 40)+" "+strings.Repeat("AB", 40), "\xff\xfeabc\xffdef", "12345678 123456789 1234567890123456 12345678901234567")
	sc := new(fillerScratch)
	for i, s := range texts {
		words, ends := sc.fillerWords(s)
		rw, rends := refFillerWords(s)
		if len(words) != len(rw) || !slices.Equal(ends, rends) {
			t.Fatalf("case %d %q: %d words, ends %v; want %d, %v", i, clipBytes(s, 60), len(words), ends, len(rw), rends)
		}
		byLower := map[string]uint64{}
		byHash := map[uint64]string{}
		for k := range words {
			if words[k].start != rw[k].start || words[k].end != rw[k].end {
				t.Fatalf("case %d word %d: [%d,%d), want [%d,%d)", i, k, words[k].start, words[k].end, rw[k].start, rw[k].end)
			}
			lower := strings.Map(unicode.ToLower, s[words[k].start:words[k].end])
			if h, ok := byLower[lower]; ok && h != words[k].hash {
				t.Fatalf("case %d: %q hashed two ways", i, lower)
			}
			byLower[lower] = words[k].hash
			if o, ok := byHash[words[k].hash]; ok && o != lower {
				t.Fatalf("case %d: %q and %q share a hash", i, o, lower)
			}
			byHash[words[k].hash] = lower
		}
	}
}

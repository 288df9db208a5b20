package detect

import (
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"testing"
)

// References: the loop-stall's trigram helpers as they were before they were made
// cheap (commit 3b69189). The fast ones must agree with them exactly.

func refBehDice(a, b []uint32) float64 {
	if len(a)+len(b) == 0 {
		return 1
	}
	common, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			common++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return 2 * float64(common) / float64(len(a)+len(b))
}

func refBehNear(a, b *outputProfile) bool {
	if a.hash == b.hash {
		return true
	}
	if a.shape != b.shape || a.text == nil || b.text == nil {
		return false
	}
	ga, gb := max(len(a.text)-2, 1), max(len(b.text)-2, 1)
	if 2*float64(min(ga, gb)) < nearIdentical*float64(ga+gb) {
		return false
	}
	x, y := refBehGrams(a.text), refBehGrams(b.text)
	slices.Sort(x)
	slices.Sort(y)
	return refBehDice(x, y) >= nearIdentical
}

// refBehGrams: the 3-grams as 32-bit FNV-1a hashes, as before they were
// packed.
func refBehGrams(s []byte) []uint32 {
	if len(s) < 3 {
		return []uint32{refBehHash32(s)}
	}
	g := make([]uint32, 0, len(s)-2)
	for i := 0; i+3 <= len(s); i++ {
		g = append(g, refBehHash32(s[i:i+3]))
	}
	return g
}

func refBehHash32(s []byte) uint32 {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// Packed grams compare equal exactly when the FNV hashes did: the same
// Dice coefficient on every pair, tiny texts included.
func TestBehGramsSameDiceAsFNV(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for k := range 400 {
		n := []int{0, 1, 2, 3, 4, 50, 3000}[k%7]
		a := []byte(llmProse(rng, n+4)[:n])
		b := slices.Clone(a)
		if len(b) > 0 && k%2 == 0 {
			b[rng.IntN(len(b))] = byte(rng.IntN(256))
		} else if k%3 == 0 {
			b = []byte(llmProse(rng, 8)[:rng.IntN(4)])
		}
		x, y := trigrams(a), trigrams(b)
		rx, ry := refBehGrams(a), refBehGrams(b)
		for _, v := range [][]uint32{x, y, rx, ry} {
			slices.Sort(v)
		}
		if got, want := refBehDice(x, y), refBehDice(rx, ry); got != want {
			t.Fatalf("case %d (%q vs %q): dice %v, want %v", k, clipBytes(string(a), 40), clipBytes(string(b), 40), got, want)
		}
	}
}

func TestBehRadixSortSameAsSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gens := []func() uint32{
		rng.Uint32,
		func() uint32 { return uint32(rng.IntN(4)) },              // high bytes all equal: passes skipped
		func() uint32 { return uint32(rng.IntN(4)) << 24 },        // low bytes all equal
		func() uint32 { return 0xdeadbeef },                       // one value
		func() uint32 { return uint32(rng.IntN(300)) * 65537 },    // a few distinct values
		func() uint32 { return ^uint32(0) - uint32(rng.IntN(9)) }, // near the top
	}
	for _, n := range []int{0, 1, 2, 63, 64, 511, 512, 513, 1000, 40000} {
		for gi, gen := range gens {
			v := make([]uint32, n)
			for i := range v {
				v[i] = gen()
			}
			want := slices.Clone(v)
			slices.Sort(want)
			radixSort(v)
			if !slices.Equal(v, want) {
				t.Fatalf("n=%d generator %d: radix sort differs from slices.Sort", n, gi)
			}
		}
	}
}

// Pairs of outputs around the 0.95 threshold: copies with a few edits, with
// whole sentences changed, other prose of about the same length, and
// different limits, so both the early exit and the full count are taken.
func TestBehDiceAtLeastSameAsDice(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	above, below := 0, 0
	near := map[bool]int{}
	for k := range 600 {
		a := []byte(llmProse(rng, 64+rng.IntN(8000)))
		b := slices.Clone(a)
		switch k % 4 {
		case 0: // a few byte edits
			for range rng.IntN(1 + len(b)/40) {
				b[rng.IntN(len(b))] = byte('a' + rng.IntN(26))
			}
		case 1: // a cut and an insertion
			cut := rng.IntN(len(b))
			b = append(b[:cut:cut], append([]byte(llmProse(rng, rng.IntN(400))), a[cut+rng.IntN(len(a)-cut):]...)...)
		case 2: // other prose
			b = []byte(llmProse(rng, len(a)))
		case 3: // tiny texts, including the single-hash form of trigrams
			a, b = []byte(llmProse(rng, 4)[:rng.IntN(4)]), []byte(llmProse(rng, 4)[:rng.IntN(4)])
		}
		ga, gb := trigrams(a), trigrams(b)
		slices.Sort(ga)
		slices.Sort(gb)
		pa, pb := &outputProfile{text: a, hash: maphash.Bytes(profileSeed, a)}, &outputProfile{text: b, hash: maphash.Bytes(profileSeed, b)}
		got, want := isNearIdentical(pa, pb), refBehNear(pa, pb)
		if got != want {
			t.Fatalf("case %d: isNearIdentical = %v, want %v (dice %v)", k, got, want, refBehDice(ga, gb))
		}
		near[want]++
		for _, limit := range []float64{nearIdentical, 0, 0.5, 0.9, 0.99, 1} {
			want := refBehDice(ga, gb) >= limit
			if got := diceAtLeast(ga, gb, limit); got != want {
				t.Fatalf("case %d limit %v: got %v, want %v (dice %v)", k, limit, got, want, refBehDice(ga, gb))
			}
			if limit == nearIdentical {
				if want {
					above++
				} else {
					below++
				}
			}
		}
	}
	if above < 50 || below < 50 || near[true] < 50 || near[false] < 50 {
		t.Fatalf("the pairs no longer straddle the threshold: %d above, %d below, near %v", above, below, near)
	}
	if !diceAtLeast(nil, nil, 1) || diceAtLeast([]uint32{1}, nil, 0.01) {
		t.Fatal("empty multisets")
	}
}

// gramTop counts the grams from the text: the same counts as from
// trigrams, for every length around the 3-byte minimum and longer texts.
func TestBehGramTopSameAsGrams(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	texts := []string{"", "a", "ab", "abc", "abcd", "\x00\x00\x00", "\xff\xfe"}
	for range 200 {
		texts = append(texts, llmProse(rng, rng.IntN(5000)))
	}
	for _, s := range texts {
		var want [256]int32
		for _, g := range trigrams([]byte(s)) {
			want[gramBucket(g)]++
		}
		p := &outputProfile{text: []byte(s)}
		if got := p.gramTop(); *got != want {
			t.Fatalf("gramTop(%q) differs from the counts of trigrams", s)
		}
	}
}

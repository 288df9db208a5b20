package detect

import "slices"

// Character 3-grams of canonical texts and the Dice coefficient over them,
// for the near-identical comparison of behavioral.loop_stall.

// trigrams returns the character 3-grams of s, unsorted, each packed into
// the low 3 bytes of a uint32 (an exact key, cheaper than hashing it: it
// compares equal exactly when the 32-bit FNV-1a hashes used before did,
// which are injective on strings of up to 3 bytes). A text shorter than 3
// bytes is one gram marked by its length in the top byte.
func trigrams(s []byte) []uint32 {
	if len(s) < 3 {
		g := 0xff000000 | uint32(len(s))<<16
		for i, c := range s {
			g |= uint32(c) << (8 * i)
		}
		return []uint32{g}
	}
	g := make([]uint32, len(s)-2)
	x := uint32(s[0]) | uint32(s[1])<<8
	for i := range g {
		x = x | uint32(s[i+2])<<16
		g[i] = x
		x >>= 8
	}
	return g
}

// radixSort sorts v in place: four byte-wise counting passes (LSD), a few
// times faster than a comparison sort on the tens of thousands of 3-gram
// hashes of a long output.
func radixSort(v []uint32) {
	if len(v) < 512 {
		slices.Sort(v) // the counting passes' fixed cost is not worth it
		return
	}
	var counts [4][256]int
	for _, x := range v {
		counts[0][x&0xff]++
		counts[1][x>>8&0xff]++
		counts[2][x>>16&0xff]++
		counts[3][x>>24]++
	}
	tmp := make([]uint32, len(v))
	src, dst := v, tmp
	for pass := range 4 {
		c := &counts[pass]
		shift := uint(pass * 8)
		if c[src[0]>>shift&0xff] == len(src) {
			continue // every value has the same byte here: the order stands
		}
		sum := 0
		for b, n := range c {
			c[b] = sum
			sum += n
		}
		for _, x := range src {
			b := x >> shift & 0xff
			dst[c[b]] = x
			c[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &v[0] {
		copy(v, src)
	}
}

// diceAtLeast reports whether the Sørensen-Dice coefficient of two
// sorted multisets, 2*common/(len(a)+len(b)), is at least limit. It stops as
// soon as the elements left could not bring it there: most pairs of
// different outputs are decided early.
func diceAtLeast(a, b []uint32, limit float64) bool {
	total := float64(len(a) + len(b))
	if total == 0 {
		return 1 >= limit
	}
	common, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			common++
			i++
			j++
			continue
		case a[i] < b[j]:
			i++
		default:
			j++
		}
		// Only a mismatch lowers the best reachable count.
		if 2*float64(common+min(len(a)-i, len(b)-j))/total < limit {
			return false
		}
	}
	return 2*float64(common)/total >= limit
}

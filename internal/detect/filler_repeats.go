package detect

import (
	"math/bits"
	"strings"
	"sync"
)

// The search for degenerate repetition behind semantic.repeated_filler:
// the same phrase of 4+ words back to back, or the same sentence, covering
// most of a text. Words are compared by hash (filler_words.go).

// fillerCoverage is the share of the text the repetition must cover.
const fillerCoverage = 0.5

// fillerScratch holds the buffers of repeatedFiller so that they are
// reused from text to text instead of allocated per text. They are bounded
// by maxFillerWords (under 2 MB).
type fillerScratch struct {
	words   []fillerWord
	ends    []int
	prev    []int32      // per indexed 4-gram: the previous position + 1 of one with its tag, 0 if none
	slots   []fillerSlot // open-addressing table: 4-gram tag -> latest indexed position
	period  [fillerMaxPeriod + 1]bool
	seen    []uint64 // bit set of the indexed 4-grams' hashes, tested before the table
	sents   []fillerSentence
	counts  []fillerCount // open-addressing table: sentence hash -> occurrences
	periods []int
}

var fillerPool = sync.Pool{New: func() any { return new(fillerScratch) }}

type fillerSlot struct {
	tag uint32 // 32 bits of the 4-gram's hash: equal 4-grams, equal tags
	pos int32  // latest position + 1; 0 marks an empty slot
}

const (
	fillerMinPeriod = 4  // a repeated phrase has at least 4 words
	fillerMaxPeriod = 64 // and at most 64
)

// repeatedFiller finds degenerate repetition: the same phrase of 4+ words
// repeated back to back, or the same sentence, at least minRepeats times,
// covering at least half of the text. Words are compared by hash.
//
// Healthy prose, the common case, costs one pass over the text and one over
// its words: a period p can only qualify with a run of at least p >= 4
// words equal to the words p later, so some 4-gram must recur exactly p
// words later, and only periods where one does are scanned. Likewise
// sentences are only grouped when some sentence occurs often enough to
// cover half of the text.
func (sc *fillerScratch) repeatedFiller(s string, minRepeats int) (unit string, repeats int, coverage float64, ok bool) {
	words, sentenceEnds := sc.fillerWords(s)
	n := len(words)
	text := func(a, b int) string { return s[words[a].start:words[b-1].end] }
	if n >= fillerMinPeriod*minRepeats {
		for _, p := range sc.candidatePeriods(min(fillerMaxPeriod, n/minRepeats), (minRepeats-1)*fillerMinPeriod) {
			covered, bestRun, bestStart := 0, 0, 0
			run := 0
			for j := 0; j <= n-p; j++ {
				if j < n-p && words[j].hash == words[j+p].hash {
					run++
					continue
				}
				if run >= (minRepeats-1)*p {
					covered += run + p
					if run > bestRun {
						bestRun, bestStart = run, j-run
					}
				}
				run = 0
			}
			if cov := float64(covered) / float64(n); bestRun > 0 && cov >= fillerCoverage && cov > coverage {
				unit, repeats, coverage, ok = text(bestStart, bestStart+p), bestRun/p+1, cov, true
			}
		}
	}
	if ok || len(sentenceEnds) < minRepeats || !sc.sentenceMayCover(minRepeats) {
		return
	}
	// Identical sentences (same words), not necessarily adjacent.
	type sentence struct{ first, end, count, chars int }
	seen := map[uint64]*sentence{}
	total, a := 0, 0
	var best *sentence
	for _, b := range sentenceEnds {
		chars := words[b-1].end - words[a].start
		total += chars
		if chars >= 8 {
			h := sentenceHash(words[a:b])
			st := seen[h]
			if st == nil {
				st = &sentence{first: a, end: b, chars: chars}
				seen[h] = st
			}
			st.count++
			if best == nil || st.count*st.chars > best.count*best.chars {
				best = st
			}
		}
		a = b
	}
	if best == nil || best.count < minRepeats {
		return
	}
	if cov := float64(best.count*best.chars) / float64(max(total, 1)); cov >= fillerCoverage {
		return strings.ToLower(text(best.first, best.end)), best.count, cov, true
	}
	return
}

// candidatePeriods returns, in ascending order, the periods p in
// [4, maxP] at which some 4-gram of sc.words recurs p words later (or
// seems to: a superset, as the scan of each period decides).
//
// A period qualifies only with a run of minRun or more words equal to the
// words p later (minRun = (minRepeats-1)*4 at the shortest period), and
// such a run holds at least minRun-3 consecutive 4-gram matches, so one of
// them starts at a multiple of stride = minRun-3. Only the 4-grams there
// are indexed (a table a stride-th of the size, which stays in cache);
// every 4-gram is looked up among them.
func (sc *fillerScratch) candidatePeriods(maxP, minRun int) []int {
	words := sc.words
	grams := len(words) - fillerMinPeriod + 1
	sc.periods = sc.periods[:0]
	if grams <= fillerMinPeriod || maxP < fillerMinPeriod {
		return nil
	}
	stride := max(1, minRun-fillerMinPeriod+1)
	indexed := (grams + stride - 1) / stride
	size, shift := hashTableSize(indexed)
	if cap(sc.slots) < size {
		sc.slots = make([]fillerSlot, size)
	}
	slots := sc.slots[:size]
	clear(slots)
	if cap(sc.prev) < indexed {
		sc.prev = make([]int32, indexed)
	}
	prev := sc.prev[:indexed]
	// Most 4-grams of prose were never indexed: a bit per tag, 8 bits per
	// indexed 4-gram, rules nearly all of them out with one test that a
	// branch predictor gets right, before the probe of the table.
	bitsLog := max(bits.Len(uint(8*indexed-1)), 6)
	if n := 1 << (bitsLog - 6); cap(sc.seen) < n {
		sc.seen = make([]uint64, n)
	}
	seen := sc.seen[:1<<(bitsLog-6)]
	clear(seen)
	bitShift := 32 - bitsLog
	clear(sc.period[:])
	want := maxP - fillerMinPeriod + 1
	for j, next := 0, 0; j < grams; j++ {
		w := words[j : j+fillerMinPeriod]
		g := (w[0].hash + bits.RotateLeft64(w[1].hash, 16) + bits.RotateLeft64(w[2].hash, 32) + bits.RotateLeft64(w[3].hash, 48)) * fillerMul
		tag := uint32(g >> 8)
		bit := tag >> bitShift
		if j != next && seen[bit>>6]&(1<<(bit&63)) == 0 {
			continue // no indexed 4-gram has this tag
		}
		i := g >> shift
		for slots[i].pos != 0 && slots[i].tag != tag {
			i = (i + 1) & uint64(size-1)
		}
		// Earlier indexed 4-grams with this tag, latest first.
		for k := int(slots[i].pos) - 1; k >= 0 && j-k <= maxP; k = int(prev[k/stride]) - 1 {
			if d := j - k; d >= fillerMinPeriod && !sc.period[d] {
				sc.period[d] = true
				if want--; want == 0 {
					break // every period is a candidate: nothing more to learn
				}
			}
		}
		if want == 0 {
			break
		}
		if j == next { // j is a multiple of stride: index it
			next += stride
			prev[j/stride] = slots[i].pos
			slots[i] = fillerSlot{tag: tag, pos: int32(j + 1)}
			seen[bit>>6] |= 1 << (bit & 63)
		}
	}
	for p := fillerMinPeriod; p <= maxP; p++ {
		if sc.period[p] {
			sc.periods = append(sc.periods, p)
		}
	}
	return sc.periods
}

// sentenceMayCover reports whether some sentence of 8+ characters occurs
// at least minRepeats times and, counted at the length of its first
// occurrence as the sentence rule counts it, covers half of the text: the
// rule cannot fire otherwise.
func (sc *fillerScratch) sentenceMayCover(minRepeats int) bool {
	sc.sents = sc.sents[:0]
	total, a := 0, 0
	for _, b := range sc.ends {
		chars := sc.words[b-1].end - sc.words[a].start
		total += chars
		if chars >= 8 {
			h := sentenceHash(sc.words[a:b])
			sc.sents = append(sc.sents, fillerSentence{hash: h, chars: chars})
		}
		a = b
	}
	if len(sc.sents) < minRepeats {
		return false
	}
	// Count each sentence hash in an open-addressing table.
	size, shift := hashTableSize(len(sc.sents))
	if cap(sc.counts) < size {
		sc.counts = make([]fillerCount, size)
	}
	counts := sc.counts[:size]
	clear(counts)
	slot := func(h uint64) *fillerCount {
		i := (h * fillerMul) >> shift
		for counts[i].n != 0 && counts[i].hash != h {
			i = (i + 1) & uint64(size-1)
		}
		return &counts[i]
	}
	most := 0
	for _, st := range sc.sents {
		c := slot(st.hash)
		c.hash = st.hash
		c.n++
		most = max(most, c.n)
	}
	if most < minRepeats {
		return false // the common case: no sentence recurs often enough
	}
	for _, st := range sc.sents { // in text order: the first occurrence sets the length
		if c := slot(st.hash); c.n >= minRepeats {
			if float64(c.n*st.chars)/float64(max(total, 1)) >= fillerCoverage {
				return true
			}
			c.n = -1 // judged at its first occurrence
		}
	}
	return false
}

type fillerCount struct {
	hash uint64
	n    int // occurrences; 0 marks an empty slot, -1 one already judged
}

type fillerSentence struct {
	hash  uint64
	chars int
}

func sentenceHash(words []fillerWord) uint64 {
	h := uint64(fnvOffset)
	for _, w := range words {
		h = (h ^ w.hash) * fnvPrime
	}
	return h
}

// hashTableSize sizes an open-addressing table for n entries: the smallest
// power of two at least 2n (load at most 1/2), and the shift that takes a
// 64-bit hash's top bits as a slot index.
func hashTableSize(n int) (size, shift int) {
	size = 1
	for size < 2*n {
		size <<= 1
	}
	return size, 64 - bits.TrailingZeros(uint(size))
}

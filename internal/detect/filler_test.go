package detect

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
)

// The repeated-filler scan (filler_repeats.go, filler_words.go) against
// its reference.

// refRepeatedFiller is repeatedFiller as it was before it was made cheap
// (commit 3b69189): the new one must return exactly the same.
func refRepeatedFiller(s string, minRepeats int) (unit string, repeats int, coverage float64, ok bool) {
	words, sentenceEnds := refFillerWords(s)
	n := len(words)
	text := func(a, b int) string { return s[words[a].start:words[b-1].end] }
	if n >= 4*minRepeats {
		for p := 4; p <= 64 && p*minRepeats <= n; p++ {
			covered, bestRun, bestStart := 0, 0, 0
			run := 0
			flush := func(end int) {
				if run >= (minRepeats-1)*p {
					covered += run + p
					if run > bestRun {
						bestRun, bestStart = run, end-run
					}
				}
				run = 0
			}
			for j := 0; j+p < n; j++ {
				if words[j].hash == words[j+p].hash {
					run++
				} else {
					flush(j)
				}
			}
			flush(n - p)
			if cov := float64(covered) / float64(n); bestRun > 0 && cov >= fillerCoverage && cov > coverage {
				unit, repeats, coverage, ok = text(bestStart, bestStart+p), bestRun/p+1, cov, true
			}
		}
	}
	if ok || len(sentenceEnds) < minRepeats {
		return
	}
	type sentence struct{ first, end, count, chars int }
	seen := map[uint64]*sentence{}
	total, a := 0, 0
	var best *sentence
	for _, b := range sentenceEnds {
		chars := words[b-1].end - words[a].start
		total += chars
		if chars >= 8 {
			h := uint64(14695981039346656037)
			for _, w := range words[a:b] {
				h = (h ^ w.hash) * 1099511628211
			}
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

func refFillerWords(s string) (words []fillerWord, sentenceEnds []int) {
	inWord := false
	var h uint64
	start := 0
	endSentence := func() {
		if n := len(words); n > 0 && (len(sentenceEnds) == 0 || sentenceEnds[len(sentenceEnds)-1] < n) {
			sentenceEnds = append(sentenceEnds, n)
		}
	}
	for i, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' {
			if !inWord {
				inWord, h, start = true, 14695981039346656037, i
			}
			h = (h ^ uint64(unicode.ToLower(r))) * 1099511628211
			continue
		}
		if inWord {
			words = append(words, fillerWord{hash: h, start: start, end: i})
			inWord = false
			if len(words) >= maxFillerWords {
				break
			}
		}
		if r == '.' || r == '!' || r == '?' || r == '\n' {
			endSentence()
		}
	}
	if inWord && len(words) < maxFillerWords {
		words = append(words, fillerWord{hash: h, start: start, end: len(s)})
	}
	endSentence()
	return words, sentenceEnds
}

// fillerCases: texts built to sit on every edge of the filler rule: loops
// of every period around the 4..64 word bounds, small vocabularies that
// repeat by accident, repeated sentences among others, coverage near one
// half, mixed case, non-ASCII and invalid UTF-8, word-count cap.
func fillerCases(rng *rand.Rand) []string {
	small := [][]string{
		{"a", "b"}, {"go", "stop", "wait"}, {"the", "cat", "sat", "on", "mat"},
		{"Ja", "ja", "NEIN", "ß", "straße", "STRASSE", "ǅ", "ǆ"}, proseWords,
	}
	randWords := func(vocab []string, k int, sep func() string) string {
		var b strings.Builder
		for range k {
			b.WriteString(vocab[rng.IntN(len(vocab))])
			b.WriteString(sep())
		}
		return b.String()
	}
	seps := []func() string{
		func() string { return " " },
		func() string { return []string{" ", " ", " ", ". ", "! ", ", ", "\n", "? ", " - "}[rng.IntN(9)] },
		func() string { return []string{" ", "\xff", "\u00a0", "’", "''", "\t"}[rng.IntN(6)] },
	}
	var out []string
	for range 400 {
		vocab := small[rng.IntN(len(small))]
		sep := seps[rng.IntN(len(seps))]
		switch rng.IntN(5) {
		case 0: // prefix, a loop of some period, suffix
			p := 1 + rng.IntN(70)
			unit := randWords(vocab, p, sep)
			out = append(out, randWords(vocab, rng.IntN(60), sep)+strings.Repeat(unit, 1+rng.IntN(8))+randWords(vocab, rng.IntN(60), sep))
		case 1: // repeated sentences among others
			var b strings.Builder
			s := randWords(vocab, 2+rng.IntN(10), seps[0]) + ". "
			for range 2 + rng.IntN(12) {
				if rng.IntN(2) == 0 {
					b.WriteString(s)
				} else {
					b.WriteString(randWords(vocab, 1+rng.IntN(15), seps[0]) + ". ")
				}
			}
			out = append(out, b.String())
		case 2: // random words from a small vocabulary
			out = append(out, randWords(vocab, rng.IntN(400), sep))
		case 3:
			out = append(out, llmProse(rng, 200+rng.IntN(6000)))
		case 4: // prose with a degenerate tail of varying length
			p := 4 + rng.IntN(12)
			out = append(out, llmProse(rng, 100+rng.IntN(1500))+" "+strings.Repeat(randWords(proseWords, p, seps[0]), 2+rng.IntN(30)))
		}
	}
	// more words than the cap, loops of exactly 64 and 65 words
	out = append(out, strings.Repeat("alpha beta gamma delta ", maxFillerWords/3),
		randWords(proseWords, 100, seps[0])+strings.Repeat(randWords(proseWords, 64, seps[0]), 3),
		randWords(proseWords, 100, seps[0])+strings.Repeat(randWords(proseWords, 65, seps[0]), 3),
		"", ".", "a", "'''' '''' '''' ''''", strings.Repeat("x ", 12))
	return out
}

// TestRepeatedFillerSameAsBefore: the cheap repeatedFiller finds exactly
// what the previous implementation found, on every edge case and on prose.
func TestRepeatedFillerSameAsBefore(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	sc := new(fillerScratch)
	found := 0
	for i, text := range fillerCases(rng) {
		for _, m := range []int{2, 3, 4, 6} {
			wu, wn, wc, wok := refRepeatedFiller(text, m)
			gu, gn, gc, gok := sc.repeatedFiller(text, m)
			if gu != wu || gn != wn || gc != wc || gok != wok {
				t.Fatalf("case %d (min %d, %d bytes %q...): got (%q, %d, %v, %v), want (%q, %d, %v, %v)",
					i, m, len(text), clipBytes(text, 80), gu, gn, gc, gok, wu, wn, wc, wok)
			}
			if wok {
				found++
			}
		}
	}
	// The cases must exercise both outcomes, or the comparison proves little.
	if found < 100 {
		t.Fatalf("only %d cases were filler; the generator no longer covers the rule", found)
	}
}

func FuzzRepeatedFiller(f *testing.F) {
	for _, s := range fillerCases(rand.New(rand.NewPCG(1, 2)))[:40] {
		f.Add(s, 3)
	}
	sc := new(fillerScratch)
	f.Fuzz(func(t *testing.T, text string, m int) {
		m = 2 + abs(m)%6
		wu, wn, wc, wok := refRepeatedFiller(text, m)
		gu, gn, gc, gok := sc.repeatedFiller(text, m)
		if gu != wu || gn != wn || gc != wc || gok != wok {
			t.Fatalf("min %d: got (%q, %d, %v, %v), want (%q, %d, %v, %v)", m, gu, gn, gc, gok, wu, wn, wc, wok)
		}
	})
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// BenchmarkRepeatedFillerProse: the filler heuristic over varied healthy
// LLM prose of 1-20 KiB (no finding), the case it meets on nearly every step.
func BenchmarkRepeatedFillerProse(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{1 << 10, 4 << 10, 20 << 10} {
		texts := make([]string, 16)
		bytes := 0
		for i := range texts {
			texts[i] = llmProse(rng, size)
			bytes += len(texts[i])
		}
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			sc := new(fillerScratch)
			b.SetBytes(int64(bytes / len(texts)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, _, _, ok := sc.repeatedFiller(texts[i%len(texts)], 3); ok {
					b.Fatal("healthy prose reported as filler")
				}
				i++
			}
		})
	}
}

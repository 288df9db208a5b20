package detect

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// llmProse returns about n bytes of varied LLM-style answer text: markdown
// headings, paragraphs of sentences of 5-30 words from a few hundred words,
// bullet and numbered lists, inline code, numbers and the odd stock phrase
// that an assistant repeats a couple of times. It is what the semantic
// layer sees on every healthy step, so it is what its cost is measured on.
func llmProse(rng *rand.Rand, n int) string {
	var b strings.Builder
	b.Grow(n + 256)
	sentence := func() {
		k := 5 + rng.IntN(26)
		if rng.IntN(10) == 0 {
			b.WriteString(proseOpeners[rng.IntN(len(proseOpeners))])
			b.WriteByte(' ')
		}
		for w := range k {
			word := proseWords[rng.IntN(len(proseWords))]
			switch r := rng.IntN(40); {
			case r == 0:
				word = fmt.Sprintf("%d", rng.IntN(5000))
			case r == 1:
				word = "`" + word + "_" + proseWords[rng.IntN(len(proseWords))] + "()`"
			case r == 2 && w > 0:
				word += ","
			}
			if w == 0 {
				word = strings.ToUpper(word[:1]) + word[1:]
			}
			b.WriteString(word)
			if w < k-1 {
				b.WriteByte(' ')
			}
		}
		b.WriteString([]string{".", ".", ".", ".", "!", "?", ":"}[rng.IntN(7)])
	}
	for b.Len() < n {
		switch rng.IntN(6) {
		case 0:
			b.WriteString("## ")
			w := proseWords[rng.IntN(len(proseWords))]
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
			b.WriteString(" and ")
			b.WriteString(proseWords[rng.IntN(len(proseWords))])
			b.WriteString("\n\n")
		case 1:
			for i := range 2 + rng.IntN(5) {
				if rng.IntN(2) == 0 {
					fmt.Fprintf(&b, "%d. ", i+1)
				} else {
					b.WriteString("- ")
				}
				sentence()
				b.WriteByte('\n')
			}
			b.WriteByte('\n')
		default:
			for range 2 + rng.IntN(6) {
				sentence()
				b.WriteByte(' ')
			}
			b.WriteString("\n\n")
		}
	}
	return strings.TrimSpace(b.String())
}

var proseOpeners = []string{"In summary,", "However,", "Note that", "As mentioned above,", "For example,", "In other words,", "Let me know if you have any other questions."}

var proseWords = strings.Fields(`the of and to a in is that for it as with was on be by this are or from at
	an which have not has but were can their they all there more one will been would also if its other than
	when who into only some these may most time such should first two could over after new used between each
	where both many then those however through because while during under without before within same different
	system data model results value customer account policy refund invoice payment order service support team
	request response error retry timeout latency cache database query index table column schema migration
	deploy release version build test pipeline agent graph node state step tool call retrieval document
	context answer question prompt token limit budget cost region cluster replica primary backup snapshot
	configure enable disable restart monitor alert threshold metric trace span log event queue worker batch
	user admin role permission access key secret certificate rotation expiry session cookie header payload
	quarterly annual monthly weekly daily report summary analysis trend forecast growth decline revenue margin
	important recommended optional required default custom manual automatic recent previous current next final
	check verify confirm review update create delete list describe explain compare suggest consider ensure avoid
	quickly carefully usually typically generally roughly exactly directly separately together instead already
	because therefore although unless whereas meanwhile otherwise furthermore additionally consequently
	Paris Berlin Kubernetes PostgreSQL SQLite OpenTelemetry LangGraph Python Go JSON YAML HTTP gRPC
	naïve café résumé Zürich façade coöperate`)

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

// BenchmarkSemanticProse: the semantic layer over a 12-step run whose
// states hold varied prose of 1-20 KiB (an answer, documents, a message
// history growing step by step), as LangGraph RAG agents produce them.
func BenchmarkSemanticProse(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	var specs []stepSpec
	state := map[string]any{"question": llmProse(rng, 120)}
	var history []any
	for i := range 12 {
		size := 1<<10 + rng.IntN(19<<10)
		docs := make([]any, 0, 4)
		for d := range 4 {
			docs = append(docs, map[string]any{"id": fmt.Sprintf("kb-%d", d), "text": llmProse(rng, size/4)})
		}
		history = append(history, map[string]any{"role": "assistant", "content": llmProse(rng, size/2)})
		out := map[string]any{"answer": llmProse(rng, size), "documents": docs, "messages": append([]any(nil), history...)}
		specs = append(specs, stepSpec{Node: fmt.Sprintf("node_%d", i%4), LG: i + 1, In: state, Out: out})
		next := map[string]any{}
		for k, v := range state {
			next[k] = v
		}
		for k, v := range out {
			next[k] = v
		}
		state = next
	}
	run := newRun(specs...)
	cfg := cfgWith(nil)
	if fs := Semantic(run, cfg); len(fs) != 0 {
		b.Fatalf("healthy prose raised findings:\n%s", dump(fs))
	}
	b.ReportAllocs()
	for b.Loop() {
		Semantic(run, cfg)
	}
}

// refFindPlaceholder and refFindRefusal are the pattern gates as they were
// (on strings.ToLower of the whole head) before they became one pass.
func refFindPlaceholder(s string) (name, match string, ok bool) {
	lower := strings.ToLower(s)
	for _, p := range placeholderPatterns {
		if !strings.Contains(lower, p.literal) {
			continue
		}
		if m, ok := p.match(s); ok {
			return p.name, m, true
		}
	}
	return "", "", false
}

func refFindRefusal(s string) (string, bool) {
	lower := clipBytes(strings.ToLower(s), 1024)
	if !strings.Contains(lower, "as an ai") && !strings.Contains(lower, "sorry") && !strings.Contains(lower, "i can") &&
		!strings.Contains(lower, "i am") && !strings.Contains(lower, "i\u2019m") && !strings.Contains(lower, "i'm") &&
		!strings.Contains(lower, "i must") && !strings.Contains(lower, "i won") {
		return "", false
	}
	head := quoteFolder.Replace(clipBytes(s, 1024))
	loc := refusalRe.FindStringIndex(head)
	if loc == nil {
		return "", false
	}
	if loc[0] > 80 && utf8.RuneCountInString(s) > 300 {
		return "", false
	}
	return strings.TrimRight(head[loc[0]:loc[1]], " ,"), true
}

func checkPatterns(t *testing.T, s string) {
	t.Helper()
	gn, gm, gok := findPlaceholder(s)
	wn, wm, wok := refFindPlaceholder(s)
	if gn != wn || gm != wm || gok != wok {
		t.Fatalf("findPlaceholder(%q) = %q %q %v, want %q %q %v", s, gn, gm, gok, wn, wm, wok)
	}
	gp, gok := findRefusal(s)
	wp, wok := refFindRefusal(s)
	if gp != wp || gok != wok {
		t.Fatalf("findRefusal(%q) = %q %v, want %q %v", s, gp, gok, wp, wok)
	}
}

// patternCases: every placeholder and refusal in the rule's tests, in other
// cases and with the runes whose lowercase is ASCII (U+0130 -> i,
// U+212A -> k) or that fold to ASCII in (?i) regexps (U+017F -> s), and
// lowercasing that changes byte lengths (U+023A, 2 -> 3 bytes; invalid
// bytes -> U+FFFD) in front of a refusal near the 1024-byte cut.
func patternCases(rng *rand.Rand) []string {
	base := []string{
		"PLACEHOLDER", "[placeholder]", "{ Placeholder }", "<YOUR_NAME>", "<your api key>", "YOUR_API_KEY", "{{ name }}", "<<VAR>>",
		"TODO", "a todo list", "TBD", "Lorem ipsum dolor", "[INSERT name here]", "[insert]", "XXXX", "xxx",
		"As an AI language model, I cannot", "I'm sorry, but I cannot help", "I\u2019m sorry, but I can't", "i am unable to help",
		"I must decline.", "I won't be able to help", "I can't assist with that",
		"[\u0130nsert name]", "lorem \u0130psum", "[in\u017fert name]", "lorem ip\u017fum", "\u0130 am sorry, but I cannot",
		"\u212a", "\u0130NSERT", "[\u0130NSERT x] and [insert y]", "\u0130nsert [in\u017fert x]",
	}
	out := append([]string(nil), base...)
	for range 600 {
		var b strings.Builder
		b.WriteString(llmProse(rng, rng.IntN(1500)))
		for range rng.IntN(4) {
			p := []rune(base[rng.IntN(len(base))])
			for i := range p { // random case, sometimes the special runes
				switch rng.IntN(8) {
				case 0:
					p[i] = unicode.ToUpper(p[i])
				case 1:
					p[i] = unicode.ToLower(p[i])
				case 2:
					if p[i] == 'i' || p[i] == 'I' {
						p[i] = '\u0130'
					} else if p[i] == 's' {
						p[i] = '\u017f'
					}
				}
			}
			pad := rng.IntN(1100)
			filler := []string{"\u023a", "\xff", "a", "\u0130"}[rng.IntN(4)]
			b.WriteString(strings.Repeat(filler, pad/len(filler)))
			b.WriteString(string(p))
			b.WriteString(" ")
			b.WriteString(llmProse(rng, rng.IntN(300)))
		}
		out = append(out, b.String())
	}
	return out
}

func TestPatternGatesSameAsBefore(t *testing.T) {
	hits := 0
	for _, s := range patternCases(rand.New(rand.NewPCG(9, 10))) {
		checkPatterns(t, s)
		if _, _, ok := refFindPlaceholder(s); ok {
			hits++
		}
		if _, ok := refFindRefusal(s); ok {
			hits++
		}
	}
	if hits < 200 {
		t.Fatalf("only %d cases matched a pattern: the cases no longer exercise the rules", hits)
	}
}

func FuzzPatternGates(f *testing.F) {
	for _, s := range patternCases(rand.New(rand.NewPCG(1, 1)))[:40] {
		f.Add(s)
	}
	f.Fuzz(checkPatterns)
}

// The cue scan tests 8 positions at a time and the last 10 bytes one by
// one: every pattern, in several cases, at every offset around those
// bounds, in ASCII and non-ASCII surroundings, gives what the gate of
// strings.ToLower gave.
func TestPlaceholderCuesAtEveryOffset(t *testing.T) {
	names := []string{"PLACEHOLDER", "<YOUR_...>", "{{var}}", "<<VAR>>", "TODO", "TBD", "lorem ipsum", "[INSERT ...]", "XXX"}
	for i, p := range placeholderPatterns {
		if p.name != names[i] {
			t.Fatalf("placeholderPatterns[%d] is %q, the ph constants expect %q", i, p.name, names[i])
		}
	}
	cases := []string{"PLACEHOLDER", "[placeholder]", "{ Placeholder }", "<YOUR_NAME>", "<your api key>", "YOUR_API_KEY",
		"{{ name }}", "<<VAR>>", "TODO", "TBD", "Lorem ipsum", "LOREM IPSUM", "lorem Ip\u017fum", "[INSERT name]", "[ insert x]",
		"XXXX", "XXX", "[\u0130nsert x]", "lorem \u0130psum", "m ip", "TOD", "TB", "XX", "{x}{", "<", "[", "{"}
	hits := 0
	for _, c := range cases {
		for _, pad := range []string{"a", " ", "\u00e9", "Z"} {
			for before := range 20 {
				for after := range 12 {
					s := strings.Repeat(pad, before) + c + strings.Repeat(pad, after)
					checkPatterns(t, s)
					if _, _, ok := refFindPlaceholder(s); ok {
						hits++
					}
				}
			}
		}
	}
	if hits < 5000 {
		t.Fatalf("only %d cases matched a placeholder", hits)
	}
}

package detect

import "fmt"

const ruleRepeatedFiller = "semantic.repeated_filler"

// repeatedFiller: the same sentence or phrase of 4+ words is repeated over
// and over and makes up most of the text. The search (filler_repeats.go,
// over the words of filler_words.go) is the speed-critical part: healthy
// prose costs one pass over its bytes and one over its words.
type repeatedFiller struct{}

func init() {
	register(Rule{ID: ruleRepeatedFiller, Layer: LayerSemantic, Severity: SeverityWarning, Threshold: 3,
		ThresholdMeaning: "minimum repetitions of a sentence or 4+-word phrase",
		Description:      "the same sentence or phrase is repeated over and over and makes up most of the text"}, repeatedFiller{})
}

func (repeatedFiller) check(a *analysis) {
	minRepeats := max(2, int(a.cfg.threshold(ruleRepeatedFiller)))
	sc := fillerPool.Get().(*fillerScratch)
	defer fillerPool.Put(sc)
	a.eachText(ruleRepeatedFiller, plainText, func(node string, t *textValue) {
		if unit, n, cover, ok := sc.repeatedFiller(t.head, minRepeats); ok {
			a.emitText(fmt.Sprintf("%s %s repeats %q %d times", node, t.where(), clipRunes(unit, 60), n),
				t.details("repeated", clipRunes(unit, 120), "repeats", n, "coverage", roundTo(cover, 2)))
		}
	})
}

package detect

import (
	"fmt"
	"math/rand/v2"
	"strings"
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

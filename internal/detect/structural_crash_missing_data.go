package detect

import (
	"fmt"
	"regexp"
	"strings"
)

const ruleCrashMissingData = "structural.crash_missing_data"

// crashMissingData links a crash to the missing data it names: a field the
// error text (KeyError: 'documents', "no documents to summarize") or the
// failing frame names, which an earlier step dropped, emptied, misspelled
// or never produced.
type crashMissingData struct{}

func init() {
	register(Rule{ID: ruleCrashMissingData, Layer: LayerStructural, Severity: SeverityCritical,
		Description: "a node crashed on a field that an earlier step dropped, emptied or never produced"}, crashMissingData{})
}

func (crashMissingData) check(a *analysis) {
	for i := range a.run.Steps {
		if s := &a.run.Steps[i]; !isPseudoNode(s.Node) && crashed(s) {
			checkCrash(a, i)
		}
	}
}

func checkCrash(a *analysis, i int) {
	s := &a.run.Steps[i]
	text := crashText(s)
	before := a.stateView().before[i]
	candidates := namedFields(text, crashStackTail(s))
	candidates = append(candidates, mentionedMissing(a, text, i)...)
	seen := map[string]bool{}
	reported := 0
	for _, field := range candidates {
		if seen[field] || reported >= 3 {
			continue
		}
		seen[field] = true
		if !a.missingAt(i, field) {
			continue // the data was there; the crash has another cause
		}
		_, has := before[field]
		producer, how := crashProducer(a, field, i)
		d := map[string]any{"field": field, "producer_step": producer, "producer_node": "", "state": how}
		var msg string
		if producer >= 0 {
			p := &a.run.Steps[producer]
			d["producer_node"] = p.Node
			switch how {
			case "dropped":
				msg = fmt.Sprintf("%s crashed on %q, which %s (step %d) dropped", s.Node, field, p.Node, p.Number)
			case "typo":
				d["typo_key"] = a.typoKey(field, producer)
				msg = fmt.Sprintf("%s crashed on %q, which %s (step %d) wrote under the misspelled key %q", s.Node, field, p.Node, p.Number, d["typo_key"])
			default:
				msg = fmt.Sprintf("%s crashed on %q, which %s (step %d) left empty", s.Node, field, p.Node, p.Number)
			}
		} else if has {
			msg = fmt.Sprintf("%s crashed on %q, which was empty from the start of the run", s.Node, field)
		} else {
			msg = fmt.Sprintf("%s crashed on %q, which no earlier step produced", s.Node, field)
		}
		if w := lastWriter(a.run, field, i); w >= 0 {
			d["last_writer_step"] = w
		}
		d["error"] = clipRunes(strings.TrimSpace(text), 300)
		a.emit(ruleCrashMissingData, i, msg, d)
		reported++
	}
}

// crashProducer finds the step responsible for field being empty or
// missing before step i: the first step of the latest run of empty writes,
// the step whose full-state output dropped it, or the step that wrote it
// under a misspelled key. -1 when no step is to blame (the initial input).
func crashProducer(a *analysis, field string, i int) (int, string) {
	v := a.stateView()
	emptiedBy, droppedBy := -1, -1
	for j := 0; j < i; j++ {
		s := &a.run.Steps[j]
		if out, ok := outputMap(s); ok {
			if val, wrote := out[field]; wrote {
				if isEmptyValue(val) {
					if emptiedBy < 0 {
						emptiedBy = j
					}
				} else {
					emptiedBy = -1
				}
				droppedBy = -1
				continue
			}
		}
		for _, k := range v.dropped[j] {
			if k == field {
				droppedBy, emptiedBy = j, -1
			}
		}
	}
	switch {
	case droppedBy >= 0:
		return droppedBy, "dropped"
	case emptiedBy >= 0:
		return emptiedBy, "emptied"
	}
	if _, has := v.before[i][field]; !has {
		for j := i - 1; j >= 0; j-- {
			if a.typoKey(field, j) != "" {
				return j, "typo"
			}
		}
		return -1, "missing"
	}
	return -1, "empty"
}

// mentionedMissing returns state fields (in the state before step i,
// written by an earlier step, or in the node's contract) that the error text
// names next to a word saying they are absent, e.g. "ValueError: no
// documents to summarize" or "notes is empty". A bare mention ("context
// deadline exceeded") is not enough.
func mentionedMissing(a *analysis, text string, i int) []string {
	known := func(w string) bool {
		if _, ok := a.stateView().before[i][w]; ok {
			return true
		}
		if ws := a.fieldUses().writes[w]; len(ws) > 0 && ws[0] < i {
			return true
		}
		_, ok := a.cfg.Contracts[a.run.Steps[i].Node].Required[w]
		return ok
	}
	words := identRe.FindAllString(clipBytes(text, 4096), -1)
	var out []string
	for k, w := range words {
		if len(w) < 3 || !known(w) {
			continue
		}
		for _, near := range words[max(0, k-3):min(len(words), k+4)] {
			if absenceWords[strings.ToLower(near)] {
				out = append(out, w)
				break
			}
		}
	}
	return out
}

var identRe = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

var absenceWords = map[string]bool{
	"no": true, "empty": true, "missing": true, "none": true, "null": true, "undefined": true,
	"nil": true, "required": true, "without": true, "blank": true, "nothing": true, "absent": true,
	"nonetype": true, "zero": true,
}

package detect

import (
	"fmt"
	"unicode/utf8"
)

const ruleKeyTypo = "structural.key_typo"

// keyTypo: a node wrote a new key that is a near-typo of a field that stays
// missing or empty (one the step's own output empties, the state holds
// empty, the contract requires, or a later step reads or crashes on).
type keyTypo struct{}

func init() {
	register(Rule{ID: ruleKeyTypo, Layer: LayerStructural, Severity: SeverityWarning, Threshold: 2,
		ThresholdMeaning: "maximum edit distance between the new key and the missing field",
		Description:      "a node wrote a new key that is a near-typo of a field that stays missing or empty (a plural pair such as error and errors is two fields)"}, keyTypo{})
}

// maxTypoKeys bounds the keys of one output that key_typo compares.
const maxTypoKeys = 256

func (keyTypo) check(a *analysis) {
	maxDist := int(a.cfg.threshold(ruleKeyTypo))
	for i := range a.run.Steps {
		s := &a.run.Steps[i]
		out, ok := outputMap(s)
		if isPseudoNode(s.Node) || !ok || len(out) > maxTypoKeys {
			continue // hundreds of keys are data (ids, names), not a state schema
		}
		v, uses := a.stateView(), a.fieldUses()
		before := v.before[i]
		after := func(k string) (any, bool) { return v.after(a.run, i, k) }
		input, _ := s.Input.(map[string]any)
		contract := a.cfg.Contracts[s.Node].Required
		for _, k := range sortedKeys(out) {
			if utf8.RuneCountInString(k) < 4 || len(k) > 128 {
				continue
			}
			if _, seen := before[k]; seen {
				continue
			}
			if _, seen := input[k]; seen {
				continue
			}
			if _, declared := contract[k]; declared {
				continue
			}
			best, bestDist := "", maxDist+1
			try := func(cand string) {
				// A plural pair ("error" and "errors", "chunks" and a
				// node's "chunk") names two fields, not one misspelled.
				if cand == k || utf8.RuneCountInString(cand) < 4 || pluralPair(k, cand) {
					return
				}
				if val, has := after(cand); has && !isEmptyValue(val) {
					return
				}
				if val, has := v.groupAfter[i][cand]; has && !isEmptyValue(val) {
					return // a parallel sibling wrote it
				}
				limit := min(maxDist, typoBudget(cand))
				d := editDistance(k, cand, limit)
				if d <= limit && (d < bestDist || (d == bestDist && cand < best)) {
					best, bestDist = cand, d
				}
			}
			for cand, val := range out {
				if isEmptyValue(val) {
					try(cand)
				}
			}
			if !v.full[i] {
				for cand, val := range before {
					if _, updated := out[cand]; !updated && isEmptyValue(val) {
						try(cand)
					}
				}
			}
			for cand := range contract {
				try(cand)
			}
			for cand, idx := range uses.inputs {
				if uses.neededLater(cand, idx, i) {
					try(cand)
				}
			}
			for cand, idx := range uses.crashes {
				if uses.neededLater(cand, idx, i) {
					try(cand)
				}
			}
			if best == "" {
				continue
			}
			state := "missing"
			if _, has := after(best); has {
				state = "empty"
			}
			a.emit(ruleKeyTypo, i, fmt.Sprintf("%s wrote %q, likely a typo of %q, which stays %s", s.Node, k, best, state),
				map[string]any{"field": best, "key": k, "distance": bestDist})
		}
	}
}

// pluralPair: one name is the other with an "s" or "es" added.
func pluralPair(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	switch len(b) - len(a) {
	case 1:
		return b[len(a)] == 's' && b[:len(a)] == a
	case 2:
		return b[len(a):] == "es" && b[:len(a)] == a
	}
	return false
}

// typoKey returns the key of step j's output that is a near-typo of field.
func (a *analysis) typoKey(field string, j int) string {
	out, ok := outputMap(&a.run.Steps[j])
	if !ok {
		return ""
	}
	limit := min(int(a.cfg.threshold(ruleKeyTypo)), typoBudget(field))
	for _, k := range sortedKeys(out) {
		if k != field && utf8.RuneCountInString(k) >= 4 && editDistance(k, field, limit) <= limit {
			return k
		}
	}
	return ""
}

// typoBudget shrinks the allowed distance for short names: two edits turn
// most four-letter words into other words.
func typoBudget(name string) int {
	if utf8.RuneCountInString(name) < 6 {
		return 1
	}
	return 1 << 30
}

// editDistance is the optimal-string-alignment distance (Levenshtein plus
// adjacent transpositions, so "documnets" is one edit from "documents"),
// over runes. It stops early and returns limit+1 once the distance must
// exceed limit.
func editDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d > limit || -d > limit {
		return limit + 1
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

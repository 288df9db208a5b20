package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"sort"
)

// The verdict: origins, victims, the root cause and the confidence in it.

func (c *correlator) severity(l *lineage) float64 {
	w := c.steps[l.origin].weight
	if l.evidenceOnly && w == 0 {
		w = 0.5
	}
	for _, m := range l.members {
		if mw := c.steps[m].weight; mw > 0 {
			w += mw
		} else {
			w += 0.1
		}
	}
	return w
}

func (c *correlator) verdict() *Forensics {
	out := &Forensics{RootCauseStep: -1, Origins: []int{}, Victims: []int{}, Chain: []Link{}}
	involved := map[int]bool{}
	victims := map[int]bool{}
	for _, l := range c.lineages {
		out.Origins = append(out.Origins, l.origin)
		involved[l.origin] = true
		for _, m := range l.members {
			victims[m] = true
			involved[m] = true
		}
	}
	sort.Ints(out.Origins)
	for v := range victims {
		out.Victims = append(out.Victims, v)
	}
	sort.Ints(out.Victims)

	// Root: a step that only repeats its input is never the root cause while
	// another origin exists; then the most severe chain; then the earliest.
	order := make([]int, len(c.lineages))
	for k := range order {
		order[k] = k
	}
	sort.SliceStable(order, func(a, b int) bool {
		la, lb := c.lineages[order[a]], c.lineages[order[b]]
		pa, pb := c.steps[la.origin].passThrough, c.steps[lb.origin].passThrough
		if pa != pb {
			return !pa
		}
		sa, sb := c.severity(la), c.severity(lb)
		if math.Abs(sa-sb) > 1e-9 {
			return sa > sb
		}
		return la.origin < lb.origin
	})
	var root *lineage
	if len(order) > 0 {
		root = c.lineages[order[0]]
		out.RootCauseStep = root.origin
	}
	// The root chain first, then the other chains in the order of their
	// origins; each chain's links in step order.
	chains := append([]int(nil), order...)
	if len(chains) > 1 {
		rest := chains[1:]
		sort.Slice(rest, func(a, b int) bool { return c.lineages[rest[a]].origin < c.lineages[rest[b]].origin })
	}
	for _, idx := range chains {
		links := append([]Link(nil), c.lineages[idx].links...)
		sort.SliceStable(links, func(a, b int) bool {
			if links[a].ToStep != links[b].ToStep {
				return links[a].ToStep < links[b].ToStep
			}
			return links[a].FromStep < links[b].FromStep
		})
		out.Chain = append(out.Chain, links...)
	}
	out.Chain = dedupeLinks(out.Chain)

	ids := map[string]bool{}
	for i := range c.steps {
		if !involved[i] {
			continue
		}
		for _, f := range c.steps[i].findings {
			if f.ID != "" {
				ids[f.ID] = true
			}
		}
	}
	for _, f := range c.runLevel {
		if f.ID != "" {
			ids[f.ID] = true
		}
	}
	out.DetectionIDs = sortedKeys(ids)

	out.Confidence = c.confidence(root, order)
	out.Explanation = c.explain(root, order)
	// One verdict per run: the id depends on the trace alone, so when a run
	// is analysed again (a crash replayed from the write-ahead log, with
	// baselines that moved in between) the new verdict replaces the stored
	// one instead of standing beside it.
	h := sha256.Sum256([]byte(c.run.TraceID))
	out.ID = "for_" + hex.EncodeToString(h[:])[:24]
	return out
}

func dedupeLinks(ls []Link) []Link {
	type key struct {
		from, to   int
		typ, field string
	}
	seen := map[key]bool{}
	out := ls[:0]
	for _, l := range ls {
		k := key{l.FromStep, l.ToStep, l.Type, l.Field}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, l)
	}
	return out
}

// confidence grades the verdict: how strong the root's own evidence is, and
// how well the chain holds together. A lone finding with nothing upstream
// or downstream to corroborate it stays low.
func (c *correlator) confidence(root *lineage, order []int) float64 {
	if root == nil {
		return 0.2
	}
	f := &c.steps[root.origin]
	strength := 0.5
	switch {
	case f.failed || hasSeverity(f.findings, SeverityCritical):
		strength = 0.9
	case hasSeverity(f.findings, SeverityWarning):
		strength = 0.75
	case root.evidenceOnly:
		strength = 0.6
	}
	var conf float64
	if len(root.links) == 0 {
		conf = 0.6 * strength
		if len(f.findings) <= 1 {
			conf *= 0.85
		}
	} else {
		sum := 0.0
		for _, l := range root.links {
			sum += l.Confidence
		}
		conf = 0.5*strength + 0.5*sum/float64(len(root.links))
		corroborating := 0
		for _, m := range root.members {
			if len(c.steps[m].findings) > 0 {
				corroborating++
			}
		}
		if corroborating >= 2 {
			conf += 0.05
		}
	}
	// Another chain nearly as severe makes the choice of root less certain.
	if len(order) > 1 {
		if c.severity(c.lineages[order[1]]) >= 0.8*c.severity(root) {
			conf *= 0.85
		}
	}
	return roundConfidence(math.Max(0.05, math.Min(0.95, conf)))
}

func hasSeverity(fs []Finding, sev string) bool {
	for _, f := range fs {
		if f.Severity == sev {
			return true
		}
	}
	return false
}

// roundConfidence rounds a confidence in [0, 1] to 3 places.
func roundConfidence(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return roundTo(math.Max(0, math.Min(1, x)), 3)
}

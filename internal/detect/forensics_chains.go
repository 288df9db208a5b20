package detect

import (
	"math"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Causal chains (lineages): which degraded value explains a step, how
// strongly, and the links and members it adds to a chain.

// stale reports a degraded value that cannot explain step i in a loop:
// the node overwrites what its own earlier run wrote, or the node that
// started the chain failed again the same way (a retry that failed anew is
// a fresh origin, not a victim of the previous attempt).
func (c *correlator) stale(i int, t *taint, field string, out map[string]any) bool {
	node := c.run.Steps[i].Node
	if _, rewrites := out[field]; rewrites && c.run.Steps[t.writer].Node == node {
		return true
	}
	var origin int
	if t.lineage >= 0 {
		origin = c.lineages[t.lineage].origin
	} else {
		origin = t.path[0]
	}
	if c.run.Steps[origin].Node != node {
		return false
	}
	for _, a := range c.steps[origin].findings {
		for _, b := range c.steps[i].findings {
			if a.Rule == b.Rule {
				return true
			}
		}
	}
	return false
}

// latent records a degraded value written by a step with no problem of its
// own. If the step repeats a latent value it read, the path grows, so the
// first writer stays the one blamed.
func (c *correlator) latent(i int, k string, v any, kind string, in map[string]any) *taint {
	keys := sortedKeys(in)
	if _, ok := in[k]; ok { // the same field first: rerank passing on documents
		keys = append([]string{k}, keys...)
	}
	for _, r := range keys {
		t := c.taints[r]
		if t == nil || t.lineage >= 0 || !carriesTaint(in[r], t) || !carriesTaint(v, t) {
			continue
		}
		path := append([]int(nil), t.path...)
		if len(path) < maxLatentPath {
			path = append(path, i)
		}
		return &taint{lineage: -1, kind: t.kind, value: v, hasValue: true, writer: i, via: i, path: path}
	}
	return &taint{lineage: -1, kind: kind, value: v, hasValue: true, writer: i, via: i, path: []int{i}}
}

// activate turns a latent degradation (or a producer named by a crash) into
// a chain whose origin is the step that first wrote it.
func (c *correlator) activate(inc incoming) int {
	if inc.taint == nil { // producer evidence
		if ls := c.memberOf[inc.from]; len(ls) > 0 {
			return ls[0]
		}
		return c.originLineage(inc.from, len(c.steps[inc.from].findings) == 0)
	}
	t := inc.taint
	lin := c.originLineage(t.path[0], len(c.steps[t.path[0]].findings) == 0)
	for k := 1; k < len(t.path); k++ {
		c.addLink(lin, t.path[k-1], t.path[k], linkType(t.kind, false), inc.field, confPassThrough*latentFactor)
		c.addMember(lin, t.path[k])
	}
	t.lineage = lin
	t.path = nil
	return lin
}

func (c *correlator) linkConf(i int, inc incoming, problem bool) float64 {
	var conf float64
	switch {
	case inc.stepLevel:
		switch inc.kind {
		case damageFailure:
			conf = 0.6
		case damageEmpty:
			conf = 0.55
		case damageAnomaly:
			conf = 0.35
		default:
			conf = 0.4
		}
		conf *= math.Pow(stepDecay, float64(max(0, i-inc.from-1)))
	case inc.taint == nil:
		conf = confProducer
	case inc.needed:
		conf = confNeeded
	case inc.passed:
		conf = confPassThrough
	case problem:
		conf = confRead
	default:
		conf = confTransform
	}
	if inc.taint != nil && inc.taint.lineage < 0 {
		conf *= latentFactor
	}
	return math.Max(0.05, conf)
}

func (c *correlator) originLineage(i int, evidenceOnly bool) int {
	if lin, ok := c.byOrigin[i]; ok {
		return lin
	}
	c.lineages = append(c.lineages, &lineage{origin: i, evidenceOnly: evidenceOnly,
		memberSet: map[int]bool{}, linkSet: map[[2]int]bool{}})
	c.byOrigin[i] = len(c.lineages) - 1
	return len(c.lineages) - 1
}

func (c *correlator) addMember(lin, i int) {
	l := c.lineages[lin]
	if i == l.origin || l.memberSet[i] {
		return
	}
	l.memberSet[i] = true
	l.members = append(l.members, i)
	c.memberOf[i] = append(c.memberOf[i], lin)
}

func (c *correlator) addLink(lin, from, to int, typ, field string, conf float64) {
	l := c.lineages[lin]
	key := [2]int{from, to}
	if from < 0 || from >= to || l.linkSet[key] {
		return
	}
	l.linkSet[key] = true
	a, b := &c.run.Steps[from], &c.run.Steps[to]
	l.links = append(l.links, Link{FromStep: from, ToStep: to, From: a.Node, To: b.Node,
		FromStepID: a.ID, ToStepID: b.ID, Type: typ, Field: field, Confidence: roundConfidence(conf)})
}

// strongest keeps the degraded fields that best explain a step. A
// LangGraph node is handed the whole state, so "present in its input" alone
// is weak: a field it needs or repeats wins; otherwise the most recently
// written degraded fields, which is what a node usually consumes.
func strongest(cands []incoming) []incoming {
	var strong []incoming
	latest := -1
	for _, c := range cands {
		if c.needed || c.passed {
			strong = append(strong, c)
		}
		latest = max(latest, c.taint.writer)
	}
	if len(strong) > 0 {
		return strong
	}
	var out []incoming
	for _, c := range cands {
		if c.taint.writer == latest {
			out = append(out, c)
		}
	}
	return out
}

// better orders two reasons for the same chain: a named field first, then
// stronger evidence, then the closest carrier, then the field name.
func better(a, b incoming) bool {
	if a.needed != b.needed {
		return a.needed
	}
	if a.conf != b.conf {
		return a.conf > b.conf
	}
	if a.from != b.from {
		return a.from > b.from
	}
	return a.field < b.field
}

func linkType(kind string, needed bool) string {
	switch kind {
	case damageDropped, damageInvalid:
		return LinkFieldDrop
	case damagePlaceholder:
		return LinkPlaceholderPropagation
	case damageFailure:
		return LinkToolFailureCascade
	case damageAnomaly:
		return LinkAnomalyCascade
	}
	if needed {
		return LinkFieldDrop
	}
	return LinkEmptyOutput
}

func hasBlankValue(m map[string]any) bool {
	for _, v := range m {
		if isBlankValue(v) {
			return true
		}
	}
	return false
}

// carriesTaint reports whether v carries the degraded value of t: the same
// empty value, the same value, or (for text) the placeholder inside it.
func carriesTaint(v any, t *taint) bool {
	if !t.hasValue {
		return false
	}
	if isBlankValue(t.value) {
		return isBlankValue(v) && sameShape(v, t.value)
	}
	if ts, ok := t.value.(string); ok {
		s, ok := v.(string)
		if !ok {
			return false
		}
		if s == ts {
			return true
		}
		ts = strings.TrimSpace(ts)
		return utf8.RuneCountInString(ts) >= 4 && len(s) <= maxContainBytes && strings.Contains(s, ts)
	}
	return reflect.DeepEqual(v, t.value)
}

func sameShape(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ka, kb := reflect.ValueOf(a).Kind(), reflect.ValueOf(b).Kind()
	if ka == reflect.Array {
		ka = reflect.Slice
	}
	if kb == reflect.Array {
		kb = reflect.Slice
	}
	return ka == kb
}

// passesOn reports whether any output value repeats the degraded value.
func passesOn(out map[string]any, t *taint) bool {
	for _, v := range out { // any order: the answer is the same
		if carriesTaint(v, t) {
			return true
		}
	}
	return false
}

// stillDegraded: the value a step recorded in its input is still the
// degraded one (or degraded anyway), so the damage reached it.
func stillDegraded(v any, t *taint) bool {
	if isBlankValue(v) {
		return true
	}
	if t.kind == damageDropped || !t.hasValue {
		return false
	}
	return carriesTaint(v, t)
}

func hasField(cands []incoming, field string) bool {
	for _, c := range cands {
		if c.field == field {
			return true
		}
	}
	return false
}

package detect

import (
	"bytes"
	"fmt"
	"hash/maphash"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

const ruleLoopStall = "behavioral.loop_stall"

// loopStall finds nodes that produced a near-identical output threshold
// times while nothing else made progress: between two members no step
// produced an output new for its node. Agent loops whose tools return new
// results, and validator retries around a generator that changes its draft,
// make progress and never fire. Outputs are compared by their canonical
// text (canon_text.go) and its 3-grams (trigrams.go).
type loopStall struct{}

func init() {
	register(Rule{ID: ruleLoopStall, Layer: LayerBehavioral, Severity: SeverityWarning, Threshold: 3,
		ThresholdMeaning: "repetitions of the same node with near-identical output and no progress in between",
		Description:      "A node keeps producing the same output (normalized JSON equal or text similarity >= 0.95) while nothing else in the loop changes."}, loopStall{})
}

func (loopStall) check(a *analysis) {
	checkLoopStall(a, a.run, int(a.cfg.threshold(ruleLoopStall)))
}

// outputProfile is a comparable digest of one output.
type outputProfile struct {
	hash  uint64      // canonical normalized text
	shape uint64      // keys and list lengths; a growing list changes it
	text  []byte      // canonical text; nil when too long to compare by similarity
	grams []uint32    // hashed character 3-grams of text, built on first use
	top   *[256]int32 // how many 3-grams of text fall in each gramBucket, built on first use
	// sorted: grams are in order (sorted only for a Dice count, which
	// most pairs never need).
	sorted bool
}

// profileSeed keys the profile hash (only ever compared within one process).
var profileSeed = maphash.MakeSeed()

// newProfile profiles v; its text is written over buf (reused from
// profile to profile: most profiles are compared once and dropped) and is
// only valid until buf is reused, see keep. It returns buf, grown.
func newProfile(v any, buf []byte) (*outputProfile, []byte) {
	c := canonizer{buf: buf[:0], dropVolatile: true, track: true, shape: fnvOffset}
	c.value(v, 0)
	p := &outputProfile{hash: maphash.Bytes(profileSeed, c.buf), shape: c.shape}
	if len(c.buf) <= maxGramBytes {
		p.text = c.buf
	}
	return p, c.buf
}

// keep makes p's text its own, for a profile kept as a cluster's
// representative: only while the node has outputs left to compare with it.
func (p *outputProfile) keep(more bool) {
	switch {
	case !more:
		p.text, p.grams, p.top = nil, nil, nil // never compared again
	case p.text != nil:
		p.text = bytes.Clone(p.text)
	}
}

// isNearIdentical: equal canonical texts, or the same shape and a text similarity
// (Dice coefficient of character 3-grams) of at least 0.95. Texts whose
// lengths alone rule that out are rejected before building any 3-grams.
func isNearIdentical(a, b *outputProfile) bool {
	if a.hash == b.hash {
		return true
	}
	if a.shape != b.shape || a.text == nil || b.text == nil {
		return false
	}
	// Dice <= 2*min/(a+b) over the 3-gram counts.
	ga, gb := max(len(a.text)-2, 1), max(len(b.text)-2, 1)
	if 2*float64(min(ga, gb)) < nearIdentical*float64(ga+gb) {
		return false
	}
	// Grams in different buckets never match, so the common count is at
	// most the sum of the smaller per-bucket counts: most different
	// long outputs are ruled out without sorting any 3-grams.
	if ga+gb >= topBoundGrams {
		ta, tb := a.gramTop(), b.gramTop()
		bound := 0
		for i := range ta {
			bound += int(min(ta[i], tb[i]))
		}
		if 2*float64(bound)/float64(ga+gb) < nearIdentical { // ga, gb: the gram counts
			return false
		}
	}
	return diceAtLeast(a.sortedGrams(), b.sortedGrams(), nearIdentical)
}

// topBoundGrams: below this many 3-grams in a pair, sorting them is as
// cheap as the per-top-byte bound.
const topBoundGrams = 1024

// gramTop counts the 3-grams of the text per bucket straight from the
// text: most pairs are ruled out by these counts, without the grams.
func (p *outputProfile) gramTop() *[256]int32 {
	if p.top == nil {
		p.top = new([256]int32)
		s := p.text
		if len(s) < 3 {
			p.top[gramBucket(trigrams(s)[0])]++
			return p.top
		}
		x := uint32(s[0]) | uint32(s[1])<<8
		for _, c := range s[2:] { // the grams of trigrams, in order
			x |= uint32(c) << 16
			p.top[gramBucket(x)]++
			x >>= 8
		}
	}
	return p.top
}

// gramBucket spreads grams over 256 buckets for the bound of isNearIdentical
// (any function of the gram bounds the common count).
func gramBucket(g uint32) uint32 { return g * 0x9e3779b1 >> 24 }

func (p *outputProfile) sortedGrams() []uint32 {
	if p.grams == nil {
		p.grams = trigrams(p.text)
	}
	if !p.sorted {
		radixSort(p.grams)
		p.sorted = true
	}
	return p.grams
}

type stallCluster struct {
	rep   *outputProfile
	last  int   // index of the latest member
	steps []int // members of the current streak
	hitAt int   // step where the streak reached the threshold, -1 before
	exact bool  // all members of the streak had the same canonical output
}

func checkLoopStall(a *analysis, run *agentrun.Run, threshold int) {
	if threshold < 2 {
		threshold = 2
	}
	// A node that ran once cannot repeat itself: skip profiling it.
	runs, left := map[string]int{}, map[string]int{} // left: outputs of the node not yet profiled
	for i := range run.Steps {
		if run.Steps[i].HasOutput {
			runs[run.Steps[i].Node]++
			left[run.Steps[i].Node]++
		}
	}
	byNode := map[string][]*stallCluster{}
	var fired []*stallCluster
	var buf []byte // canonical texts are written here
	lastNew := -1  // latest step whose output was new for its node
	for i := range run.Steps {
		s := &run.Steps[i]
		if !s.HasOutput {
			continue // a step that threw made no progress and has no output to compare
		}
		if runs[s.Node] < 2 {
			lastNew = i // a first output is always new
			continue
		}
		var p *outputProfile
		p, buf = newProfile(s.Output, buf)
		left[s.Node]--
		cs := byNode[s.Node]
		var c *stallCluster
		for k := len(cs) - 1; k >= 0; k-- {
			if isNearIdentical(cs[k].rep, p) {
				c = cs[k]
				break
			}
		}
		if c == nil {
			lastNew = i
			p.keep(left[s.Node] > 0)
			cs = append(cs, &stallCluster{rep: p, last: i, steps: []int{i}, hitAt: -1, exact: true})
			if len(cs) > maxStallClusters {
				cs = cs[1:]
			}
			byNode[s.Node] = cs
			continue
		}
		progressed := lastNew > c.last
		c.last = i
		if progressed {
			if c.hitAt >= 0 {
				continue // already reported; that streak is over
			}
			c.steps, c.exact = c.steps[:0], true
		}
		c.steps = append(c.steps, i)
		c.exact = c.exact && c.rep.hash == p.hash
		if len(c.steps) >= threshold && c.hitAt < 0 {
			c.hitAt = i
			fired = append(fired, c)
		}
	}
	for _, c := range fired {
		nums := make([]int, 0, len(c.steps))
		for k, idx := range c.steps {
			if k == 20 {
				break
			}
			nums = append(nums, run.Steps[idx].Number)
		}
		node := run.Steps[c.hitAt].Node
		match := "near_identical"
		if c.exact {
			match = "identical"
		}
		how := "without progress in between"
		if consecutive(run, c.steps) {
			how = "in a row"
		}
		a.emit(ruleLoopStall, c.hitAt, fmt.Sprintf("node %q ran %d times %s with the same output", node, len(c.steps), how),
			map[string]any{"repetitions": len(c.steps), "steps": nums, "match": match, "threshold": threshold})
	}
}

// consecutive reports whether the steps follow each other with no other
// node's step in between.
func consecutive(run *agentrun.Run, idx []int) bool {
	for k := 1; k < len(idx); k++ {
		if idx[k] != idx[k-1]+1 {
			return false
		}
	}
	return len(idx) > 0
}

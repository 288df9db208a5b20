package detect

import (
	"strconv"
)

// The statistical layer compares each step with the recent history of the
// same (pipeline, node) (baselines.go): duration, tokens and output size.
// Deviations are scored with a robust z-score (robust_stats.go), and a
// finding also needs a large factor over the median and a large absolute
// change, so ordinary jitter and variation never raise one; nor does a
// deviation the node routinely shows (deviationHabit). Its rules are the
// files statistical_*.go.

// stepMetrics measures every step of the run, once for the rules and the
// baselines both.
func (a *analysis) stepMetrics() []stepMetrics {
	if a.metrics == nil {
		a.metrics = measureRun(a.run)
	}
	return a.metrics
}

// nodeStats holds the baselines' statistics of the run's nodes, computed
// once per node and metric even when a node ran many times.
type nodeStats struct {
	cfg     StatisticalConfig // the layer's configuration, defaults applied
	hist    map[string]*[numMetrics][]uint32
	stats   map[nodeMetric]robust
	scratch []float64
}

type nodeMetric struct {
	node   string
	metric int
}

func (a *analysis) nodeStats() *nodeStats {
	if a.stats == nil {
		nodes := make([]string, len(a.run.Steps))
		for i := range a.run.Steps {
			nodes[i] = a.run.Steps[i].Node
		}
		a.stats = &nodeStats{
			cfg:     a.cfg.WithDefaults().Statistical,
			hist:    a.base.history(a.run.PipelineName, nodes),
			stats:   map[nodeMetric]robust{},
			scratch: make([]float64, 0, DefaultBaselineWindow), // grows if the window is larger
		}
	}
	return a.stats
}

func (n *nodeStats) of(node string, m int) robust {
	k := nodeMetric{node, m}
	if r, ok := n.stats[k]; ok {
		return r
	}
	var r robust
	if h := n.hist[node]; h != nil {
		r = robustStats(h[m], n.scratch)
	}
	n.stats[k] = r
	return r
}

// deviation is how far one step's value is from its baseline.
type deviation struct {
	x, dev, z float64
	r         robust
	// up / down: the change is at least MinRelativeChange of the median and
	// the value at least MinFactor times it (or at most the median divided
	// by MinFactor).
	up, down bool
}

// eachDeviation calls fn for every step whose metric is measured and has a
// baseline of enough samples. A failed step is already reported: only its
// latency (e.g. a timeout) adds information.
func (a *analysis) eachDeviation(metric int, fn func(i int, d deviation, failed bool)) {
	ns := a.nodeStats()
	ms := a.stepMetrics()
	rel, factor := ns.cfg.MinRelativeChange, max(ns.cfg.MinFactor, 1)
	for i := range a.run.Steps {
		s := &a.run.Steps[i]
		m := &ms[i]
		failed := s.Failed()
		if !m.ok[metric] || (failed && metric != metricDuration) {
			continue
		}
		r := ns.of(s.Node, metric)
		if r.n < ns.cfg.MinSamples || r.n == 0 {
			continue
		}
		x := m.v[metric]
		dev := x - r.median
		fn(i, deviation{x: x, dev: dev, z: r.zScore(x), r: r,
			up:   dev >= rel*r.median && x >= factor*r.median,
			down: -dev >= rel*r.median && x*factor <= r.median}, failed)
	}
}

// deviationHabit judges step i's deviation against its node's baseline:
// usual when at least usualShare of the samples lie at least halfway from
// the median to the value (a node slow by design on a cache miss, short
// by design on a yes/no question: a second mode the median and MAD do not
// see), unusual when the baseline makes that share unlikely
// (judgeShare), else too little history to tell.
func (a *analysis) deviationHabit(i, metric int, d deviation) habit {
	h := a.nodeStats().hist[a.run.Steps[i].Node]
	if h == nil {
		return habitUnknown
	}
	half := d.r.median + d.dev/2
	n := 0
	for _, v := range h[metric] {
		if d.dev > 0 && float64(v) >= half || d.dev < 0 && float64(v) <= half {
			n++
		}
	}
	return judgeShare(n, len(h[metric]))
}

// zThreshold is the z threshold of a rule: its own override, else the
// layer's.
func (a *analysis) zThreshold(rule string) float64 {
	if t := a.cfg.Rules[rule].Threshold; t > 0 {
		return t
	}
	return a.nodeStats().cfg.ZThreshold
}

// emitDeviation reports a deviation of a metric with its figures, judged
// against the node's baseline (deviationHabit): none when the node shows
// it routinely, info when its baseline is too short to call it unusual.
// It returns the finding's index, whether it was emitted, and whether it
// was softened to info.
func (a *analysis) emitDeviation(rule string, i, metric int, d deviation, msg string) (int, bool, bool) {
	return a.emitJudged(rule, i, judgement{habit: a.deviationHabit(i, metric, d), infoWithoutHistory: true}, msg, map[string]any{
		"metric":  metricNames[metric],
		"value":   d.x,
		"median":  roundTo(d.r.median, 3),
		"mad":     roundTo(d.r.mad, 3),
		"z":       roundTo(d.z, 3),
		"samples": d.r.n,
	})
}

func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

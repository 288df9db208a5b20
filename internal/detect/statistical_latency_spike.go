package detect

import "fmt"

const ruleLatencySpike = "statistical.latency_spike"

// latencySpike: a step took far longer than its baseline.
type latencySpike struct{}

func init() {
	register(Rule{ID: ruleLatencySpike, Layer: LayerStatistical, Severity: SeverityWarning, Threshold: 2.5, ThresholdMeaning: zThresholdMeaning,
		Description: "A step took far longer than its baseline for this pipeline and node."}, latencySpike{})
}

// zThresholdMeaning is the threshold of every statistical rule.
const zThresholdMeaning = "robust z-score; 0 uses statistical.z_threshold"

func (latencySpike) check(a *analysis) {
	a.eachDeviation(metricDuration, func(i int, d deviation, _ bool) {
		if isLatencySpike(a, d) {
			a.emitDeviation(ruleLatencySpike, i, metricDuration, d,
				fmt.Sprintf("node %q took %s ms, usually %s ms", a.run.Steps[i].Node, num(d.x), num(d.r.median)))
		}
	})
}

func isLatencySpike(a *analysis, d deviation) bool {
	return d.up && d.dev >= a.nodeStats().cfg.MinAbsoluteMs && d.z >= a.zThreshold(ruleLatencySpike)
}

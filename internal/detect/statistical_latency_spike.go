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

// isLatencySpike: far above the median, by the z-score, the factor and an
// added time no pause of the process explains.
func isLatencySpike(a *analysis, d deviation) bool {
	cfg := &a.nodeStats().cfg
	return d.up && d.dev >= max(cfg.MinAbsoluteMs, cfg.MinSpikeMs) && d.z >= a.zThreshold(ruleLatencySpike)
}

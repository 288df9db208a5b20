package detect

import "fmt"

const ruleTooFast = "statistical.too_fast"

// tooFast: a step that did not fail finished far faster than its baseline:
// it may have skipped its work.
type tooFast struct{}

func init() {
	register(Rule{ID: ruleTooFast, Layer: LayerStatistical, Severity: SeverityWarning, Threshold: 2.5, ThresholdMeaning: zThresholdMeaning,
		Description: "A step finished far faster than its baseline: it may have skipped its work."}, tooFast{})
}

func (tooFast) check(a *analysis) {
	a.eachDeviation(metricDuration, func(i int, d deviation, failed bool) {
		if failed || !d.down || -d.dev < a.nodeStats().cfg.MinAbsoluteMs || d.z > -a.zThreshold(ruleTooFast) || isLatencySpike(a, d) {
			return // a duration is one or the other, a spike first
		}
		a.emitDeviation(ruleTooFast, i, metricDuration, d,
			fmt.Sprintf("node %q finished in %s ms, usually %s ms: it may have skipped its work", a.run.Steps[i].Node, num(d.x), num(d.r.median)))
	})
}

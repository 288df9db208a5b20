package detect

import "fmt"

const ruleOutputSize = "statistical.output_size_anomaly"

// outputSizeAnomaly: a step's output is far larger than its baseline
// (info), or collapsed to near nothing where it is usually substantial (a
// warning, unless the rule's severity is configured).
type outputSizeAnomaly struct{}

func init() {
	register(Rule{ID: ruleOutputSize, Layer: LayerStatistical, Severity: SeverityInfo, Threshold: 2.5, ThresholdMeaning: zThresholdMeaning,
		Description: "A step's output is far larger than its baseline (info), or collapsed to near nothing where it is usually substantial (warning)."}, outputSizeAnomaly{})
}

func (outputSizeAnomaly) check(a *analysis) {
	a.eachDeviation(metricBytes, func(i int, d deviation, _ bool) {
		node, minBytes, zt := a.run.Steps[i].Node, a.nodeStats().cfg.MinAbsoluteBytes, a.zThreshold(ruleOutputSize)
		grew := d.up && d.dev >= minBytes && d.z >= zt
		collapsed := d.down && -d.dev >= minBytes && d.z <= -zt && d.x <= d.r.median/10
		if grew {
			a.emitDeviation(ruleOutputSize, i, metricBytes, d,
				fmt.Sprintf("node %q output is %s bytes, usually %s", node, num(d.x), num(d.r.median)))
		}
		if !collapsed {
			return
		}
		k, ok, info := a.emitDeviation(ruleOutputSize, i, metricBytes, d,
			fmt.Sprintf("node %q output collapsed to %s bytes, usually %s", node, num(d.x), num(d.r.median)))
		// A collapse to nothing is worse than growth.
		if ok && !info && a.cfg.Rules[ruleOutputSize].Severity == "" {
			a.out[k].Severity = SeverityWarning
		}
	})
}

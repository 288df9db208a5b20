package detect

import "fmt"

const ruleTokenBlowup = "statistical.token_blowup"

// tokenBlowup: a step used far more tokens than its baseline.
type tokenBlowup struct{}

func init() {
	register(Rule{ID: ruleTokenBlowup, Layer: LayerStatistical, Severity: SeverityWarning, Threshold: 2.5, ThresholdMeaning: zThresholdMeaning,
		Description: "A step used far more tokens than its baseline."}, tokenBlowup{})
}

func (tokenBlowup) check(a *analysis) {
	a.eachDeviation(metricTokens, func(i int, d deviation, _ bool) {
		if d.up && d.dev >= a.nodeStats().cfg.MinAbsoluteTokens && d.z >= a.zThreshold(ruleTokenBlowup) {
			a.emitDeviation(ruleTokenBlowup, i, metricTokens, d,
				fmt.Sprintf("node %q used %s tokens, usually %s", a.run.Steps[i].Node, num(d.x), num(d.r.median)))
		}
	})
}

package detect

import "fmt"

const ruleRateLimited = "behavioral.rate_limited"

// rateLimited: a tool, call or node hit a rate limit, as a value it
// produced says (output_signals.go) or, failing that, an error message of
// the span or its calls.
type rateLimited struct{}

func init() {
	register(Rule{ID: ruleRateLimited, Layer: LayerBehavioral, Severity: SeverityWarning,
		Description: "A tool, call or node hit a rate limit (HTTP 429, rate limit or Too Many Requests text)."}, rateLimited{})
}

func (rateLimited) check(a *analysis) {
	for i := range a.run.Steps {
		s := &a.run.Steps[i]
		seen := map[string]bool{} // each distinct value once per step
		for _, src := range a.outputSignals(i) {
			hit := src.rate
			if hit == nil || seen[hit.value] {
				continue
			}
			seen[hit.value] = true
			d := map[string]any{"field": hit.field, "value": hit.value}
			msg := fmt.Sprintf("node %q hit a rate limit", s.Node)
			if src.tool != "" {
				d["tool"] = src.tool
				msg = fmt.Sprintf("tool %q hit a rate limit in node %q", src.tool, s.Node)
			}
			a.emit(ruleRateLimited, i, msg, d)
		}
		if len(seen) > 0 {
			continue
		}
		// Error messages of the span and its calls: any rate-limit mention counts.
		for _, m := range errorMessages(s) {
			if isRateLimitText(m.text, true) {
				d := map[string]any{"field": m.field, "value": preview(m.text)}
				msg := fmt.Sprintf("node %q hit a rate limit", s.Node)
				if m.tool != "" {
					d["tool"] = m.tool
					msg = fmt.Sprintf("tool %q hit a rate limit in node %q", m.tool, s.Node)
				}
				a.emit(ruleRateLimited, i, msg, d)
				break
			}
		}
	}
}

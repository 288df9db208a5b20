package detect

import "fmt"

const ruleRateLimited = "behavioral.rate_limited"

// rateLimited: a tool, call or node hit a rate limit, as a value it
// produced says (output_signals.go) or, failing that, an error message of
// the span or its calls. A rate limit waited out (a later call of the same
// tool succeeded) is info: the run recovered, as clients are meant to.
type rateLimited struct{}

func init() {
	register(Rule{ID: ruleRateLimited, Layer: LayerBehavioral, Severity: SeverityWarning,
		Description: "A tool, call or node hit a rate limit (HTTP 429, rate limit or Too Many Requests text) and no later call of the same tool succeeded (one that did: info)."}, rateLimited{})
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
			emitRateLimit(a, i, src.call, src.tool, hit.field, hit.value)
		}
		if len(seen) > 0 {
			continue
		}
		// Error messages of the span and its calls: any rate-limit mention counts.
		for _, m := range errorMessages(s) {
			if isRateLimitText(m.text, true) {
				call := m.call
				if call < 0 {
					call = len(s.Calls) // the node span ends after its calls
				}
				emitRateLimit(a, i, call, m.tool, m.field, preview(m.text))
				break
			}
		}
	}
}

func emitRateLimit(a *analysis, i, call int, tool, field, value string) {
	node := a.run.Steps[i].Node
	d := map[string]any{"field": field, "value": value}
	msg := fmt.Sprintf("node %q hit a rate limit", node)
	if tool != "" {
		d["tool"] = tool
		msg = fmt.Sprintf("tool %q hit a rate limit in node %q", tool, node)
	}
	recovered := a.succeededLater(i, call, tool)
	if recovered {
		d["recovered"] = true
		msg += "; a later call of it succeeded"
	}
	if k, ok := a.emit(ruleRateLimited, i, msg, d); ok && recovered {
		a.out[k].Severity = SeverityInfo
	}
}

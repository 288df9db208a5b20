package detect

import (
	"math/rand/v2"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func init() {
	addLookAlikes(ruleTooFast, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "an LLM node answering from its cache in a third of its runs",
			history: func(k int) *agentrun.Run {
				ms := 2000 + k%9*10
				if k%3 == 0 {
					ms = 6
				}
				return stRun("p", stSpec{node: "generate", ms: ms}, stSpec{node: "plan", ms: 2000 + k%9*10})
			},
			healthy: stRun("p", stSpec{node: "generate", ms: 5}, stSpec{node: "plan", ms: 2010}),
			fault:   stRun("p", stSpec{node: "generate", ms: 2010}, stSpec{node: "plan", ms: 5}),
		}}
	})
}

func TestStatisticalTooFast(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	base := NewBaselines(0, 0)
	cfg := cfgWith(nil)
	for range 30 {
		stAnalyze(stRun("p", stSpec{node: "generate", ms: jitter(r, 2000, 40)}), cfg, base)
	}
	f := one(t, Statistical(stRun("p", stSpec{node: "generate", ms: 15}), cfg, base), ruleTooFast)
	if f.Severity != SeverityWarning || f.Step != 0 || f.Details["metric"] != "duration_ms" || f.Details["value"] != 15.0 {
		t.Fatalf("finding = %+v", f)
	}
	if z := f.Details["z"].(float64); z > -2.5 {
		t.Fatalf("z = %v", z)
	}
	// A step that failed fast is already an error, not a skipped step.
	if fs := Statistical(stRun("p", stSpec{node: "generate", ms: 15, failed: true}), cfg, base); len(fs) != 0 {
		t.Fatalf("failed step: %s", dump(fs))
	}
	// A failed step that hung is still a latency spike (a timeout).
	one(t, Statistical(stRun("p", stSpec{node: "generate", ms: 30000, failed: true}), cfg, base), ruleLatencySpike)
	// 100 ms nodes can never be "too fast": the absolute gate is 250 ms.
	for range 30 {
		stAnalyze(stRun("p", stSpec{node: "quick", ms: jitter(r, 100, 2)}), cfg, base)
	}
	none(t, Statistical(stRun("p", stSpec{node: "quick", ms: 0}), cfg, base), ruleTooFast)
}

package detect

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func init() {
	addLookAlikes(ruleOutputSize, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "an answer node short by design in one run of four (a yes/no question)",
			history: func(k int) *agentrun.Run {
				b := 6000 + k*7
				if k%4 == 0 {
					b = 40
				}
				return stRun("p", stSpec{node: "answer", ms: 900, bytes: b}, stSpec{node: "summary", ms: 900, bytes: 6000 + k*7})
			},
			healthy: stRun("p", stSpec{node: "answer", ms: 900, bytes: 38}, stSpec{node: "summary", ms: 900, bytes: 6100}),
			fault:   stRun("p", stSpec{node: "answer", ms: 900, bytes: 6100}, stSpec{node: "summary", ms: 900, bytes: 38}),
		}}
	})
}

func TestStatisticalOutputSize(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	base := NewBaselines(0, 0)
	cfg := cfgWith(nil)
	for range 40 {
		stAnalyze(stRun("p", stSpec{node: "retrieve", ms: 100, bytes: jitter(r, 5000, 100)}), cfg, base)
	}
	big := one(t, Statistical(stRun("p", stSpec{node: "retrieve", ms: 100, bytes: 60000}), cfg, base), ruleOutputSize)
	if big.Severity != SeverityInfo || big.Details["metric"] != "output_bytes" || big.Details["value"] != 60000.0 {
		t.Fatalf("growth = %+v", big)
	}
	gone := one(t, Statistical(stRun("p", stSpec{node: "retrieve", ms: 100, bytes: 2}), cfg, base), ruleOutputSize)
	if gone.Severity != SeverityWarning || gone.Details["value"] != 2.0 || !strings.Contains(gone.Message, "collapsed") {
		t.Fatalf("collapse = %+v", gone)
	}
	// Smaller but not near nothing: quiet.
	none(t, Statistical(stRun("p", stSpec{node: "retrieve", ms: 100, bytes: 2000}), cfg, base), ruleOutputSize)
	// An explicit severity wins over the collapse escalation.
	info := cfgWith(map[string]RuleConfig{ruleOutputSize: {Severity: SeverityInfo}})
	if f := one(t, Statistical(stRun("p", stSpec{node: "retrieve", ms: 100, bytes: 2}), info, base), ruleOutputSize); f.Severity != SeverityInfo {
		t.Fatalf("override = %+v", f)
	}
}

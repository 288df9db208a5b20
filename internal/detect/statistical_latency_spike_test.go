package detect

import (
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The layer's gates (z-score, factor, minimum samples, overrides) are
// tested on this rule in statistical_test.go.

func init() {
	addLookAlikes(ruleLatencySpike, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a 100 ms model call taking 4x while the process was paused for 300 ms",
			history: func(k int) *agentrun.Run { return stRun("p", stSpec{node: "chat", ms: 95 + k%11, tokens: 600}) },
			healthy: stRun("p", stSpec{node: "chat", ms: 400, tokens: 600}),
			fault:   stRun("p", stSpec{node: "chat", ms: 6000, tokens: 600}),
		}, {
			pattern: "a lookup that misses its cache in one run of five",
			history: func(k int) *agentrun.Run {
				ms := 40 + k%5
				if k%5 == 0 {
					ms = 2500 + k
				}
				return stRun("p", stSpec{node: "lookup", ms: ms})
			},
			healthy: stRun("p", stSpec{node: "lookup", ms: 2600}),
			fault:   stRun("p", stSpec{node: "lookup", ms: 30000}),
		}}
	})
}

// A node with a second mode by design (a cache miss in one run of five, a
// short answer now and then) is judged against it, not against its median.
func TestStatisticalUsualModeIsQuiet(t *testing.T) {
	base := NewBaselines(0, 0)
	cfg := cfgWith(nil)
	for i := range 100 {
		ms, bytes := 40+i%5, 6000+i%7
		if i%5 == 0 {
			ms, bytes = 2500+i%9, 60 // a cache miss; a short-by-design answer
		}
		if fs := stAnalyze(stRun("p", stSpec{node: "lookup", ms: ms, bytes: bytes}), cfg, base); len(fs) != 0 && i >= 10 {
			t.Fatalf("run %d: %s", i, dump(fs))
		}
	}
	if fs := Statistical(stRun("p", stSpec{node: "lookup", ms: 2600, bytes: 55}), cfg, base); len(fs) != 0 {
		t.Fatalf("the second mode raised: %s", dump(fs))
	}
	// Beyond both modes is still unusual.
	fs := Statistical(stRun("p", stSpec{node: "lookup", ms: 30000, bytes: 6000}), cfg, base)
	one(t, fs, ruleLatencySpike)
}

package detect

import (
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The findings of this rule are tested with the latency spike's, in
// TestStatisticalJitterNeverFiresButSpikesDo and
// TestStatisticalModerateChangesAreQuiet (statistical_test.go).

func init() {
	addLookAlikes(ruleTokenBlowup, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "an answer turn using 1.65x the tokens of a tool turn",
			history: func(k int) *agentrun.Run {
				return stRun("p", stSpec{node: "chat", ms: 900, tokens: int64(480 + k%7*6)})
			},
			healthy: stRun("p", stSpec{node: "chat", ms: 900, tokens: 824}),
			fault:   stRun("p", stSpec{node: "chat", ms: 900, tokens: 27710}),
		}}
	})
}

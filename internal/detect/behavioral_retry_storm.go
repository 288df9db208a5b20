package detect

import (
	"cmp"
	"fmt"
	"strconv"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

const ruleRetryStorm = "behavioral.retry_storm"

// retryStorm: the same tool is called again and again with the same
// arguments (compared in canonical form, canon_text.go).
type retryStorm struct{}

func init() {
	register(Rule{ID: ruleRetryStorm, Layer: LayerBehavioral, Severity: SeverityWarning, Threshold: 3,
		ThresholdMeaning: "calls of one tool with identical (normalized) arguments in a run",
		Description:      "The same tool is called again and again with the same arguments."}, retryStorm{})
}

func (retryStorm) check(a *analysis) {
	checkRetryStorm(a, a.run, int(a.cfg.threshold(ruleRetryStorm)))
}

func checkRetryStorm(a *analysis, run *agentrun.Run, threshold int) {
	if threshold < 2 {
		threshold = 2
	}
	type group struct {
		tool, args string
		count      int
		hitAt      int
	}
	groups := map[string]*group{}
	var hits []*group
	add := func(step int, tool, rawArgs string) {
		args := canonArgs(rawArgs)
		key := tool + "\x00" + args
		g := groups[key]
		if g == nil {
			g = &group{tool: tool, args: args, hitAt: -1}
			groups[key] = g
		}
		g.count++
		if g.count == threshold {
			g.hitAt = step
			hits = append(hits, g)
		}
	}
	for i := range run.Steps {
		s := &run.Steps[i]
		if isToolStep(s) && s.HasInput {
			add(i, s.Node, string(agentrun.JSON(s.Input)))
		}
		for j := range s.Calls {
			c := &s.Calls[j]
			if isToolCall(c) {
				add(i, cmp.Or(c.Tool, c.Name), c.Arguments)
			}
		}
	}
	for _, g := range hits {
		a.emit(ruleRetryStorm, g.hitAt, fmt.Sprintf("tool %q was called %d times with the same arguments", g.tool, g.count),
			map[string]any{"tool": g.tool, "key": strconv.FormatUint(fnv(fnvOffset, g.args), 16), "calls": g.count,
				"arguments": preview(g.args), "threshold": threshold})
	}
}

// canonArgs normalizes tool arguments: JSON re-encoded canonically (sorted
// keys, collapsed whitespace in strings), other text whitespace-collapsed.
func canonArgs(raw string) string {
	v := parseJSONOrText(raw)
	if s, ok := v.(string); ok {
		return collapseSpace(s)
	}
	c := canonizer{}
	c.value(v, 0)
	return string(c.buf)
}

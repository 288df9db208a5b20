package detect

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

const ruleRetryStorm = "behavioral.retry_storm"

// retryStorm: the same tool is called again and again with the same
// arguments (compared in canonical form, canon_text.go) and its results
// never move on. Polling a status tool while the status changes (pending,
// processing, approved) and a retry that ends in success are progress.
type retryStorm struct{}

func init() {
	register(Rule{ID: ruleRetryStorm, Layer: LayerBehavioral, Severity: SeverityWarning, Threshold: 3,
		ThresholdMeaning: "calls of one tool with identical (normalized) arguments in a run",
		Description:      "The same tool is called again and again with the same arguments, and its result never changes to a new success (polling while the status moves on, or a retry that succeeds, is progress)."}, retryStorm{})
}

func (retryStorm) check(a *analysis) {
	checkRetryStorm(a, a.run, int(a.cfg.threshold(ruleRetryStorm)))
}

// Outcomes of a call, besides a result's hash: it failed, or its result is
// not known (not recorded by the instrumentation).
const (
	outcomeFailed uint64 = iota
	outcomeUnknown
)

func checkRetryStorm(a *analysis, run *agentrun.Run, threshold int) {
	if threshold < 2 {
		threshold = 2
	}
	type group struct {
		tool, args string
		count      int
		hitAt      int
		first      [2]int // the first call (step, call or -1 for a tool step): its outcome is asked when a repeat comes
		last       uint64 // the previous call's outcome
		progressed bool   // a repeat returned a new successful result
	}
	groups := map[string]*group{}
	var hits []*group
	add := func(step, call int, tool, rawArgs string) {
		args := canonArgs(rawArgs)
		key := tool + "\x00" + args
		g := groups[key]
		if g == nil {
			g = &group{tool: tool, args: args, hitAt: -1}
			groups[key] = g
		}
		g.count++
		switch g.count {
		case 1:
			g.first = [2]int{step, call} // most calls are never repeated: no need to hash their result
		case 2:
			g.last = callOutcome(run, g.first[0], g.first[1])
			fallthrough
		default:
			o := callOutcome(run, step, call)
			if o != g.last && o > outcomeUnknown {
				g.progressed = true
			}
			g.last = o
		}
		if g.count == threshold {
			g.hitAt = step
			hits = append(hits, g)
		}
	}
	for i := range run.Steps {
		s := &run.Steps[i]
		if isToolStep(s) && s.HasInput {
			add(i, -1, s.Node, string(agentrun.JSON(s.Input)))
		}
		for j := range s.Calls {
			c := &s.Calls[j]
			if isToolCall(c) {
				add(i, j, cmp.Or(c.Tool, c.Name), c.Arguments)
			}
		}
	}
	for _, g := range hits {
		if g.progressed {
			continue
		}
		a.emit(ruleRetryStorm, g.hitAt, fmt.Sprintf("tool %q was called %d times with the same arguments", g.tool, g.count),
			map[string]any{"tool": g.tool, "key": strconv.FormatUint(fnv(fnvOffset, g.args), 16), "calls": g.count,
				"arguments": preview(g.args), "threshold": threshold})
	}
}

// callOutcome is what a tool call (call j of step i, or the tool step
// itself when j is -1) returned: failed, unknown, or the hash of its
// result's canonical text without volatile keys (a timestamp alone is no
// news).
func callOutcome(run *agentrun.Run, i, j int) uint64 {
	s := &run.Steps[i]
	if j < 0 {
		switch {
		case s.Failed():
			return outcomeFailed
		case !s.HasOutput:
			return outcomeUnknown
		}
		return resultOutcome(s.Output)
	}
	c := &s.Calls[j]
	switch {
	case c.Status == agentrun.StatusError || len(c.Exceptions) > 0:
		return outcomeFailed
	case strings.TrimSpace(c.Result) == "":
		return outcomeUnknown
	}
	return resultOutcome(parseJSONOrText(c.Result))
}

func resultOutcome(v any) uint64 {
	if sig := scanSignals(v); sig.err != nil || sig.rate != nil {
		return outcomeFailed
	}
	c := canonizer{dropVolatile: true}
	c.value(v, 0)
	return max(fnv(fnvOffset, string(c.buf)), outcomeUnknown+1)
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

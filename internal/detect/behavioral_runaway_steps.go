package detect

import (
	"fmt"
	"slices"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

const ruleRunawaySteps = "behavioral.runaway_steps"

// runawaySteps: the run has more steps than the limit, or one node ran in
// more than a quarter of it as many supersteps. A fan-out that runs a node
// many times at once (a map over documents) is one round of work, not a
// loop.
type runawaySteps struct{}

func init() {
	register(Rule{ID: ruleRunawaySteps, Layer: LayerBehavioral, Severity: SeverityWarning, Threshold: 100,
		ThresholdMeaning: "maximum steps per run; one node may run at most a quarter of it",
		Description:      "The run has more steps than the limit, or one node ran in more supersteps than a pipeline should need (a fan-out running it many times in one superstep counts once)."}, runawaySteps{})
}

func (runawaySteps) check(a *analysis) {
	checkRunaway(a, a.run, int(a.cfg.threshold(ruleRunawaySteps)))
}

func checkRunaway(a *analysis, run *agentrun.Run, maxSteps int) {
	if maxSteps <= 0 || len(run.Steps) == 0 {
		return
	}
	if n := len(run.Steps); n > maxSteps {
		a.emit(ruleRunawaySteps, -1, fmt.Sprintf("run has %d steps, more than the limit of %d", n, maxSteps),
			map[string]any{"metric": "steps", "count": n, "limit": maxSteps})
	}
	perNode := maxSteps / 4
	if perNode < 1 {
		perNode = 1
	}
	counts := map[string]int{}
	first := map[string]int{}
	var order []string
	for _, g := range a.supersteps() {
		for k, i := range g {
			node := run.Steps[i].Node
			if slices.ContainsFunc(g[:k], func(j int) bool { return run.Steps[j].Node == node }) {
				continue // ran already in this superstep
			}
			counts[node]++
			if counts[node] == perNode+1 {
				first[node] = i
				order = append(order, node)
			}
		}
	}
	for _, node := range order {
		a.emit(ruleRunawaySteps, first[node], fmt.Sprintf("node %q ran %d times, more than the limit of %d", node, counts[node], perNode),
			map[string]any{"metric": "node_executions", "count": counts[node], "limit": perNode})
	}
}

package detect

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

const ruleUnexpectedTransition = "structural.unexpected_transition"

// unexpectedTransition compares the observed order with the declared graph
// (the run's gen_ai.workflow.edges and Config.Edges). A step's
// predecessors are the steps of the previous superstep, so fan-out and
// fan-in never alarm. A predecessor with no declared outgoing edge is most
// likely routed by a conditional edge the instrumentation did not export;
// it only judges when every predecessor declares where it may go.
type unexpectedTransition struct{}

func init() {
	register(Rule{ID: ruleUnexpectedTransition, Layer: LayerStructural, Severity: SeverityWarning,
		Description: "a node ran after nodes that have no declared edge to it"}, unexpectedTransition{})
}

func (unexpectedTransition) check(a *analysis) {
	next := map[string]map[string]bool{}
	add := func(e agentrun.Edge) {
		if next[e.From] == nil {
			next[e.From] = map[string]bool{}
		}
		next[e.From][e.To] = true
	}
	for _, e := range a.run.Edges {
		add(e)
	}
	for _, s := range a.cfg.Edges {
		if e, ok := ParseEdge(s); ok {
			add(e)
		}
	}
	if len(next) == 0 {
		return
	}
	prev := []string{"__start__"}
	var prevSteps []int
	for _, g := range a.stateView().groups {
		var cur []string
		var curSteps []int
		for _, i := range g {
			if !isPseudoNode(a.run.Steps[i].Node) {
				cur = append(cur, a.run.Steps[i].Node)
				curSteps = append(curSteps, i)
			}
		}
		if len(cur) == 0 {
			continue
		}
		judge := true
		for _, p := range prev {
			if len(next[p]) == 0 {
				judge = false
			}
		}
		for k, i := range curSteps {
			if !judge {
				break
			}
			node := cur[k]
			allowed := false
			for _, p := range prev {
				if next[p][node] {
					allowed = true
					break
				}
			}
			if allowed {
				continue
			}
			var from []string
			for src, dsts := range next {
				if dsts[node] {
					from = append(from, src)
				}
			}
			sort.Strings(from)
			preds := slices.Compact(slices.Sorted(slices.Values(prev)))
			msg := fmt.Sprintf("%s ran after %s, but the graph declares no edge to it from there", node, strings.Join(preds, ", "))
			if len(from) == 0 {
				msg = fmt.Sprintf("%s ran after %s, but the declared graph has no edge into %s", node, strings.Join(preds, ", "), node)
			}
			d := map[string]any{"predecessors": preds, "declared_sources": from}
			if len(prevSteps) > 0 {
				d["predecessor_steps"] = prevSteps
			}
			a.emit(ruleUnexpectedTransition, i, msg, d)
		}
		prev, prevSteps = cur, curSteps
	}
}

package detect

import (
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func init() {
	addLookAlikes(ruleUnexpectedTransition, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a second pass through a conditional router whose edges the instrumentation did not export",
			cfg: func() Config {
				return Config{Edges: []string{"retrieve -> rerank", "rerank -> synthesize", "synthesize -> validate"}}
			},
			healthy: secondPassRun("validate"),
			fault:   secondPassRun("rerank"),
		}}
	})
}

func TestUnexpectedTransition(t *testing.T) {
	linear := []agentrun.Edge{{From: "__start__", To: "plan"}, {From: "plan", To: "retrieve"}, {From: "retrieve", To: "synthesize"}, {From: "synthesize", To: "__end__"}}
	run := newRun(
		stepSpec{Node: "plan", LG: 1, In: j(`{"q":"x"}`), Out: j(`{"query":"x"}`)},
		stepSpec{Node: "synthesize", LG: 2, In: j(`{}`), Out: j(`{"answer":"a"}`)},
	)
	run.Edges = linear
	fs := structural(run)
	f := one(t, fs, ruleUnexpectedTransition)
	expect(t, f, 1, SeverityWarning, map[string]any{"predecessors": []string{"plan"}, "declared_sources": []string{"retrieve"}})

	t.Run("cfg edges count too", func(t *testing.T) {
		run := newRun(
			stepSpec{Node: "plan", In: j(`{"q":"x"}`), Out: j(`{"query":"x"}`)},
			stepSpec{Node: "rogue", In: j(`{}`), Out: j(`{"answer":"a"}`)},
		)
		cfg := cfgWith(nil)
		cfg.Edges = []string{"__start__ -> plan", "plan -> synthesize"}
		expect(t, one(t, Structural(run, cfg), ruleUnexpectedTransition), 1, SeverityWarning, map[string]any{"predecessors": []string{"plan"}})
		none(t, structural(run), ruleUnexpectedTransition) // no declared graph, no opinion
	})
	t.Run("first step", func(t *testing.T) {
		run := newRun(stepSpec{Node: "retrieve", In: j(`{"q":"x"}`), Out: j(`{"documents":["d"]}`)})
		run.Edges = linear
		expect(t, one(t, structural(run), ruleUnexpectedTransition), 0, SeverityWarning, map[string]any{"predecessors": []string{"__start__"}})
	})
	t.Run("clean: fan-out, fan-in, loops, conditional routing", func(t *testing.T) {
		run := newRun(
			stepSpec{Node: "plan", LG: 1, In: j(`{"q":"x"}`), Out: j(`{"query":"x"}`)},
			stepSpec{Node: "web", LG: 2, In: j(`{}`), Out: j(`{"web":["w"]}`)},
			stepSpec{Node: "kb", LG: 2, Parallel: true, In: j(`{}`), Out: j(`{"kb":["k"]}`)},
			stepSpec{Node: "merge", LG: 3, In: j(`{}`), Out: j(`{"documents":["w","k"]}`)},
			stepSpec{Node: "agent", LG: 4, In: j(`{}`), Out: j(`{"answer":"draft"}`)},
			// "agent" routes by a conditional edge that is not declared
			stepSpec{Node: "tools", LG: 5, In: j(`{}`), Out: j(`{"tool_out":"t"}`)},
			stepSpec{Node: "agent", LG: 6, In: j(`{}`), Out: j(`{"answer":"final"}`)},
		)
		run.Edges = []agentrun.Edge{{From: "__start__", To: "plan"}, {From: "plan", To: "web"}, {From: "plan", To: "kb"},
			{From: "web", To: "merge"}, {From: "kb", To: "merge"}, {From: "merge", To: "agent"}, {From: "tools", To: "agent"}}
		none(t, structural(run), ruleUnexpectedTransition)
	})
	t.Run("clean: plain spans overlapping in time are parallel", func(t *testing.T) {
		run := newRun(
			stepSpec{Node: "split", Convention: "plain", In: j(`{"q":"x"}`), Out: j(`{"parts":["a","b"]}`)},
			stepSpec{Node: "worker_a", Convention: "plain", In: j(`{}`), Out: j(`{"a":"1"}`)},
			stepSpec{Node: "worker_b", Convention: "plain", Parallel: true, In: j(`{}`), Out: j(`{"b":"2"}`)},
			stepSpec{Node: "join", Convention: "plain", In: j(`{}`), Out: j(`{"result":"12"}`)},
		)
		run.Edges = []agentrun.Edge{{From: "__start__", To: "split"}, {From: "split", To: "worker_a"}, {From: "split", To: "worker_b"},
			{From: "worker_a", To: "join"}, {From: "worker_b", To: "join"}}
		none(t, structural(run), ruleUnexpectedTransition)
	})
}

// secondPassRun: retrieve, rerank, synthesize, validate, then back to
// retrieve after from (the router validate, or rerank for the fault).
func secondPassRun(from string) *agentrun.Run {
	nodes := []string{"retrieve", "rerank", "synthesize", "validate", "retrieve", "rerank", "synthesize", "validate"}
	if from == "rerank" {
		nodes = []string{"retrieve", "rerank", "retrieve", "rerank", "synthesize", "validate"}
	}
	var specs []stepSpec
	for k, n := range nodes {
		specs = append(specs, stepSpec{Node: n, LG: k + 1, In: j(`{"question":"q"}`), Out: map[string]any{"pass_" + n: k},
			Duration: 10 * time.Millisecond})
	}
	return newRun(specs...)
}

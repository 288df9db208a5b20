package detect

import (
	"fmt"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func init() {
	addLookAlikes(ruleRunawaySteps, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a map over 30 documents: summarize runs 30 times in one superstep",
			healthy: mapReduceRun(30, true),
			fault:   mapReduceRun(30, false),
		}}
	})
}

func TestRunawaySteps(t *testing.T) {
	var steps []agentrun.Step
	for i := range 101 {
		steps = append(steps, bhStep(t, fmt.Sprintf("node%d", i%5), `{}`, fmt.Sprintf(`{"i":%d}`, i)))
	}
	fs := byRule(Behavioral(bhRun("p", steps...), cfgWith(nil)), ruleRunawaySteps)
	// Five nodes share 101 steps (21 runs at most each): only the run-level finding.
	if len(fs) != 1 || fs[0].Step != -1 || fs[0].Details["count"] != 101 || fs[0].Details["limit"] != 100 || fs[0].Node != "" {
		t.Fatalf("findings = %s", dump(fs))
	}

	steps = steps[:0]
	for i := range 30 {
		steps = append(steps, bhStep(t, "agent", `{}`, fmt.Sprintf(`{"i":%d}`, i)))
	}
	f := one(t, Behavioral(bhRun("p", steps...), cfgWith(nil)), ruleRunawaySteps)
	if f.Step != 25 || f.Node != "agent" || f.Details["count"] != 30 || f.Details["limit"] != 25 || f.Severity != SeverityWarning {
		t.Fatalf("finding = %+v", f)
	}
	// Threshold 40 allows 10 runs of one node.
	f = one(t, Behavioral(bhRun("p", steps[:12]...), cfgWith(map[string]RuleConfig{ruleRunawaySteps: {Threshold: 40}})), ruleRunawaySteps)
	if f.Step != 10 || f.Details["limit"] != 10 {
		t.Fatalf("finding = %+v", f)
	}
	none(t, Behavioral(bhRun("p", steps[:25]...), cfgWith(nil)), ruleRunawaySteps)
	none(t, Behavioral(bhRun("p", steps...), cfgWith(map[string]RuleConfig{ruleRunawaySteps: {Disabled: true}})), ruleRunawaySteps)

	// A map over 30 documents runs summarize 30 times in one superstep
	// (LangGraph's Send): one round of work, not a loop.
	steps = steps[:0]
	for i := range 30 {
		s := bhStep(t, "summarize", `{"doc":1}`, fmt.Sprintf(`{"summaries":["s%d"]}`, i))
		s.LangGraphStep = 2
		steps = append(steps, s)
	}
	none(t, Behavioral(bhRun("p", steps...), cfgWith(nil)), ruleRunawaySteps)
}

// mapReduceRun: split, then summarize once per document (all in one
// superstep when parallel, as LangGraph's Send runs them; one per
// superstep otherwise), then combine.
func mapReduceRun(docs int, parallel bool) *agentrun.Run {
	specs := []stepSpec{{Node: "split", LG: 1, In: j(`{"text":"t"}`), Out: map[string]any{"chunks": docs}}}
	for d := range docs {
		lg := 2
		if !parallel {
			lg = 2 + d
		}
		specs = append(specs, stepSpec{Node: "summarize", LG: lg, Parallel: parallel && d > 0, In: map[string]any{"chunk": d},
			Out: map[string]any{"summaries": []any{fmt.Sprintf("summary of chunk %d", d)}}})
	}
	specs = append(specs, stepSpec{Node: "combine", LG: docs + 3, In: j(`{"summaries":["s"]}`), Out: j(`{"summary":"All chunks summarized."}`)})
	return newRun(specs...)
}

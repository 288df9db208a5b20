package detect

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func init() {
	addLookAlikes(ruleLoopStall, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "an agent that says the same while the status it polls moves on",
			healthy: pollRun(t, "Checking the refund status again.", "pending", "processing", "approved"),
			fault:   pollRun(t, "Checking the refund status again.", "pending", "pending", "pending", "pending"),
		}}
	})
}

func TestLoopStallSameOutputInARow(t *testing.T) {
	out := `{"answer":"I could not find the answer in the documents."}`
	run := bhRun("rag",
		bhStep(t, "retrieve", `{"q":"x"}`, `{"documents":["a"]}`),
		bhStep(t, "generate", `{"q":"x"}`, out),
		bhStep(t, "generate", `{"q":"x"}`, out),
		bhStep(t, "generate", `{"q":"x"}`, out),
	)
	f := one(t, Behavioral(run, cfgWith(nil)), ruleLoopStall)
	if f.Severity != SeverityWarning || f.Step != 3 || f.Node != "generate" || f.Layer != LayerBehavioral {
		t.Fatalf("finding = %+v", f)
	}
	if f.Details["repetitions"] != 3 || f.Details["match"] != "identical" ||
		!reflect.DeepEqual(f.Details["steps"], []int{2, 3, 4}) || !strings.Contains(f.Message, "in a row") {
		t.Fatalf("details = %v, message %q", f.Details, f.Message)
	}
}

func TestLoopStallNearIdenticalText(t *testing.T) {
	base := strings.Repeat("The quarterly report shows revenue growth across all regions and segments. ", 8)
	run := bhRun("p",
		bhText("summarize", "doc", base+"Generated at 10:01."),
		bhText("summarize", "doc", base+"Generated at 10:02."),
		bhText("summarize", "doc", base+"Generated at 10:03."),
	)
	f := one(t, Behavioral(run, cfgWith(nil)), ruleLoopStall)
	if f.Details["match"] != "near_identical" || f.Step != 2 {
		t.Fatalf("finding = %+v", f)
	}
}

func TestLoopStallWholeLoopWithoutProgress(t *testing.T) {
	// plan -> act -> plan -> act ... where neither node ever says anything new.
	var steps []agentrun.Step
	for range 3 {
		steps = append(steps,
			bhStep(t, "plan", `{}`, `{"plan":"search the web for the release date"}`),
			bhStep(t, "act", `{}`, `{"observation":"no results"}`))
	}
	fs := Behavioral(bhRun("agent", steps...), cfgWith(nil))
	f := one(t, fs, ruleLoopStall)
	// The first pass through the loop is new; the last node of the loop
	// reaches three repetitions on the third pass.
	if f.Node != "act" || f.Step != 5 || !strings.Contains(f.Message, "without progress") {
		t.Fatalf("finding = %+v", f)
	}
}

func TestLoopStallIgnoresLegitimateLoops(t *testing.T) {
	t.Run("agent iterations with changing outputs", func(t *testing.T) {
		var steps []agentrun.Step
		for i := range 6 {
			steps = append(steps,
				bhStep(t, "agent", `{}`, fmt.Sprintf(`{"messages":[{"type":"ai","content":"Step %d: I will look up source %d next."}]}`, i, i)),
				bhStep(t, "tools", `{}`, fmt.Sprintf(`{"messages":[{"type":"tool","content":"page %d: population %d"}]}`, i, 1000+i*37)))
		}
		none(t, Behavioral(bhRun("agent", steps...), cfgWith(nil)), ruleLoopStall)
	})
	t.Run("validator rejects until the draft is good", func(t *testing.T) {
		var steps []agentrun.Step
		for i := range 4 {
			steps = append(steps,
				bhStep(t, "write", `{}`, fmt.Sprintf(`{"draft":"draft number %d with more detail each time"}`, i)))
			verdict := `{"valid":false}`
			if i == 3 {
				verdict = `{"valid":true}`
			}
			steps = append(steps, bhStep(t, "validate", `{}`, verdict))
		}
		none(t, Behavioral(bhRun("writer", steps...), cfgWith(nil)), ruleLoopStall)
	})
	t.Run("router repeats its decision while search finds new pages", func(t *testing.T) {
		var steps []agentrun.Step
		for i := range 5 {
			steps = append(steps,
				bhStep(t, "route", `{}`, `{"next":"search"}`),
				bhStep(t, "search", `{}`, fmt.Sprintf(`{"results":["page-%d"]}`, i)))
		}
		none(t, Behavioral(bhRun("research", steps...), cfgWith(nil)), ruleLoopStall)
	})
	t.Run("a growing list is progress", func(t *testing.T) {
		var steps []agentrun.Step
		items := []string{}
		for i := range 5 {
			items = append(items, fmt.Sprintf(`"a long enough item number %d of the collection"`, i))
			steps = append(steps, bhStep(t, "collect", `{}`, `{"items":[`+strings.Join(items, ",")+`]}`))
		}
		none(t, Behavioral(bhRun("crawl", steps...), cfgWith(nil)), ruleLoopStall)
	})
	t.Run("two identical outputs only", func(t *testing.T) {
		run := bhRun("p", bhStep(t, "a", `{}`, `{"x":1}`), bhStep(t, "a", `{}`, `{"x":1}`))
		none(t, Behavioral(run, cfgWith(nil)), ruleLoopStall)
	})
}

func TestLoopStallConfig(t *testing.T) {
	steps := func(n int) *agentrun.Run {
		var ss []agentrun.Step
		for range n {
			ss = append(ss, bhStep(t, "poll", `{}`, `{"state":"pending","job":"j-1"}`))
		}
		return bhRun("p", ss...)
	}
	cfg := cfgWith(map[string]RuleConfig{ruleLoopStall: {Threshold: 4}})
	none(t, Behavioral(steps(3), cfg), ruleLoopStall)
	f := one(t, Behavioral(steps(4), cfg), ruleLoopStall)
	if f.Step != 3 || f.Details["threshold"] != 4 {
		t.Fatalf("finding = %+v", f)
	}
	none(t, Behavioral(steps(5), cfgWith(map[string]RuleConfig{ruleLoopStall: {Disabled: true}})), ruleLoopStall)
	f = one(t, Behavioral(steps(3), cfgWith(map[string]RuleConfig{ruleLoopStall: {Severity: SeverityCritical}})), ruleLoopStall)
	if f.Severity != SeverityCritical {
		t.Fatalf("severity override ignored: %+v", f)
	}
}

package detect

import (
	"fmt"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// Every rule has look-alikes: healthy patterns of real pipelines that look
// like the rule's fault. Each is analysed by every layer, as the processor
// does (after the history it would have seen), and must raise no warning
// at all; the same pipeline with the fault must raise the rule. A rule
// registered without a look-alike fails TestEveryRuleHasALookAlike.

type lookAlike struct {
	pattern string // the healthy pattern, as real pipelines show it
	cfg     func() Config
	// history builds run k of the runs the baselines saw first (nil: none).
	history func(k int) *agentrun.Run
	healthy *agentrun.Run
	fault   *agentrun.Run // the same pipeline with the rule's fault
}

// historyRuns is how many history runs a look-alike's baselines saw.
const historyRuns = 30

// lookAlikesOf holds the look-alikes of each rule, added by the rule's
// test file (<layer>_<name>_test.go) so that they sit next to its tests.
var lookAlikesOf = map[string]func(t *testing.T) []lookAlike{}

func addLookAlikes(id string, build func(t *testing.T) []lookAlike) {
	if _, dup := lookAlikesOf[id]; dup {
		panic("look-alikes of " + id + " added twice")
	}
	lookAlikesOf[id] = build
}

func lookAlikes(t *testing.T) map[string][]lookAlike {
	table := map[string][]lookAlike{}
	for id, build := range lookAlikesOf {
		table[id] = build(t)
	}
	return table
}

func TestEveryRuleHasALookAlike(t *testing.T) {
	table := lookAlikes(t)
	for _, id := range RuleIDs() {
		if len(table[id]) == 0 {
			t.Errorf("rule %s has no look-alike: add a healthy pattern that looks like its fault with addLookAlikes in its test file", id)
		}
	}
	for id := range table {
		if _, ok := Rules[id]; !ok {
			t.Errorf("look-alikes for %q, which is no rule", id)
		}
	}
}

func TestLookAlikesRaiseNoWarning(t *testing.T) {
	table := lookAlikes(t)
	for _, id := range RuleIDs() {
		for _, la := range table[id] {
			t.Run(id+"/"+la.pattern, func(t *testing.T) {
				cfg := Config{}
				if la.cfg != nil {
					cfg = la.cfg()
				}
				cfg = cfg.WithDefaults()
				withHistory := func() *Baselines {
					base := NewBaselines(0, 0)
					for k := 0; la.history != nil && k < historyRuns; k++ {
						Analyze(la.history(k), &cfg, base)
					}
					return base
				}
				res := Analyze(la.healthy, &cfg, withHistory())
				for _, f := range res.Findings {
					// no warning at all, and not even the info of an info rule
					if f.Severity != SeverityInfo || f.Rule == id && Rules[id].Severity == SeverityInfo {
						t.Errorf("healthy look-alike raised %s %s on %q: %s", f.Severity, f.Rule, f.Node, f.Message)
					}
				}
				if res.Status != "ok" {
					t.Errorf("healthy look-alike is %s", res.Status)
				}
				if la.fault == nil {
					t.Fatal("no fault twin: a look-alike shows its worth next to the fault it looks like")
				}
				res = Analyze(la.fault, &cfg, withHistory())
				found := false
				for _, f := range res.Findings {
					// an info rule (nothing wrong, only what happened) at its own severity
					found = found || f.Rule == id && (f.Severity != SeverityInfo || Rules[id].Severity == SeverityInfo)
				}
				if !found {
					t.Errorf("the fault it looks like is not found by %s:\n%s", id, dump(res.Findings))
				}
			})
		}
	}
}

// ---- pipelines the look-alikes of several rules share --------------------

// toolRun: a model turn, then the tool as a step of its own (GenAI
// execute_tool), then the answer.
func toolRun(t *testing.T, tool, args, result string) *agentrun.Run {
	return newRun(
		stepSpec{Node: "chat", Kind: "chat", In: j(`[{"role":"user","content":"Where is my order?"}]`),
			Out: j(`[{"role":"assistant","tool_calls":[{"name":"` + tool + `"}]}]`)},
		stepSpec{Node: tool, Kind: "execute_tool", In: j(args), Out: j(result)},
		stepSpec{Node: "chat", Kind: "chat", In: j(`[{"role":"user","content":"Where is my order?"}]`),
			Out: j(`[{"role":"assistant","content":"Here is what I found about your order."}]`)},
	)
}

// pollRun: an agent polling get_refund_status once per status; say is what
// the agent answers each time ("" = a new sentence each time).
func pollRun(t *testing.T, say string, statuses ...string) *agentrun.Run {
	var specs []stepSpec
	for k, st := range statuses {
		text := say
		if text == "" {
			text = fmt.Sprintf("Let me check refund R-5874 (attempt %d).", k+1)
		}
		specs = append(specs,
			stepSpec{Node: "agent", LG: 2*k + 1, In: j(`{"refund_id":"R-5874"}`), Out: map[string]any{"message": text}},
			stepSpec{Node: "get_refund_status", LG: 2*k + 2, Kind: "execute_tool", In: j(`{"refund_id":"R-5874"}`),
				Out: map[string]any{"refund_id": "R-5874", "status": st}})
	}
	return newRun(specs...)
}

// answerRun: a question and an answer node writing out.
func answerRun(out map[string]any) *agentrun.Run {
	return newRun(
		stepSpec{Node: "plan", In: j(`{"question":"How do refunds work?"}`), Out: j(`{"query":"refunds"}`)},
		stepSpec{Node: "answer", In: j(`{"question":"How do refunds work?","query":"refunds"}`), Out: out},
	)
}

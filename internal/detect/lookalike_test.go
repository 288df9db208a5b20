package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/testutil"
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

// ---- the pipelines of the look-alikes ----------------------------------

// nestedRun: a node whose output is a reply thread nested depth levels,
// mapped from OpenInference spans (the mapping measures the depth).
func nestedRun(t *testing.T, depth int) *agentrun.Run {
	thread := strings.Repeat(`{"reply":`, depth) + `"ok"` + strings.Repeat("}", depth)
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	id := fmt.Sprintf("%032x", 0xd000+depth)
	td := testutil.BuildTraces(t,
		testutil.Span{TraceID: id, SpanID: "00000000000000a1", Name: "LangGraph", Start: at, End: at.Add(time.Second),
			Attrs: map[string]any{"openinference.span.kind": "CHAIN"}},
		testutil.Span{TraceID: id, SpanID: "00000000000000a2", ParentID: "00000000000000a1", Name: "load_thread", Start: at, End: at.Add(time.Second),
			Attrs: map[string]any{"openinference.span.kind": "CHAIN", "input.value": `{"thread_id":"t-1"}`, "input.mime_type": "application/json",
				"output.value": `{"thread":` + thread + `}`, "output.mime_type": "application/json"}})
	runs := agentrun.MapTraces(td, agentrun.Options{})
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	return runs[0]
}

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

func init() {
	addLookAlikes(ruleDeepJSON, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a comment thread nested 800 replies deep, storable as JSON",
			healthy: nestedRun(t, 800),
			fault:   nestedRun(t, agentrun.MaxStoredJSONDepth+100),
		}}
	})
}

func init() {
	addLookAlikes(ruleCorruptedJSON, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "JSON Lines, a {name} template and [1]-style citations, none of them broken JSON",
			healthy: answerRun(map[string]any{"log": "{\"event\":\"start\"}\n{\"event\":\"done\"}", "template": "{name} ordered {count} items",
				"answer": "[1] Smith et al. describe the refund flow."}),
			fault: answerRun(map[string]any{"answer": `{"answer": "Refunds take 5 days", "sources": [1, 2`}),
		}}
	})
}

func init() {
	addLookAlikes(ruleNullLike, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: `an answer quoting "N/A" as the receipt shows it`,
			healthy: answerRun(map[string]any{"answer": `When no message is added, the gift message line of the receipt reads "N/A".`}),
			fault:   answerRun(map[string]any{"answer": "N/A"}),
		}}
	})
}

func init() {
	addLookAlikes(rulePlaceholder, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: `a knowledge-base answer quoting "TODO" comments as content`,
			healthy: answerRun(map[string]any{"answer": `Comments marked "TODO" or FIXME are reported as warnings in strict mode, so run the linter with --strict in CI.`}),
			fault:   answerRun(map[string]any{"answer": "TODO: write the answer about the linter."}),
		}}
	})
}

func init() {
	addLookAlikes(ruleRefusal, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "an apology that goes on to help, and a policy the agent cannot change",
			healthy: answerRun(map[string]any{"answer": "I'm sorry for the delay! Your refund for order A-1 was approved today and reaches your card within 5 days. " +
				"Shipping costs cannot be refunded under our policy."}),
			fault: answerRun(map[string]any{"answer": "I'm sorry, but I can't help with that request."}),
		}}
	})
}

func init() {
	addLookAlikes(ruleRepeatedFiller, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "numbered steps that share their wording",
			healthy: answerRun(map[string]any{"answer": "Step 1: open Settings. Step 2: open Billing. Step 3: open Invoices. Step 4: download the PDF."}),
			fault:   answerRun(map[string]any{"answer": strings.Repeat("I will look into this for you. ", 6)}),
		}}
	})
}

func init() {
	addLookAlikes(ruleSignatureMatch, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a user quoting the error text the signature matches, the answer explaining it in other words",
			cfg: func() Config {
				return Config{Signatures: []Signature{{ID: "kb-down", Match: MatchContains, Pattern: "knowledge base unavailable"}}}
			},
			healthy: newRun(stepSpec{Node: "answer", In: j(`{"question":"The app said knowledge base unavailable, what now?"}`),
				Out: j(`{"answer":"That message appears while the search index is rebuilt; try again in a minute."}`)}),
			fault: newRun(stepSpec{Node: "answer", In: j(`{"question":"How do refunds work?"}`),
				Out: j(`{"answer":"Sorry, the knowledge base unavailable right now."}`)}),
		}}
	})
}

func init() {
	addLookAlikes(ruleTruncated, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a short answer that stops without a full stop, the model having stopped on its own",
			healthy: answerRun(map[string]any{"answer": "Yes, see https://docs.example.com/refunds", "finish_reason": "stop"}),
			fault:   answerRun(map[string]any{"answer": "Refunds for annual plans are prorated and", "finish_reason": "length"}),
		}}
	})
}

func init() {
	addLookAlikes(ruleWhitespace, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "an answer an LLM wrapped in blank lines",
			healthy: answerRun(map[string]any{"answer": "\n\nYour order shipped on May 2.\n"}),
			fault:   answerRun(map[string]any{"answer": " \n\t "}),
		}}
	})
}

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

func init() {
	addLookAlikes(ruleOutputSize, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "an answer node short by design in one run of four (a yes/no question)",
			history: func(k int) *agentrun.Run {
				b := 6000 + k*7
				if k%4 == 0 {
					b = 40
				}
				return stRun("p", stSpec{node: "answer", ms: 900, bytes: b}, stSpec{node: "summary", ms: 900, bytes: 6000 + k*7})
			},
			healthy: stRun("p", stSpec{node: "answer", ms: 900, bytes: 38}, stSpec{node: "summary", ms: 900, bytes: 6100}),
			fault:   stRun("p", stSpec{node: "answer", ms: 900, bytes: 6100}, stSpec{node: "summary", ms: 900, bytes: 38}),
		}}
	})
}

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

func init() {
	addLookAlikes(ruleTooFast, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "an LLM node answering from its cache in a third of its runs",
			history: func(k int) *agentrun.Run {
				ms := 2000 + k%9*10
				if k%3 == 0 {
					ms = 6
				}
				return stRun("p", stSpec{node: "generate", ms: ms}, stSpec{node: "plan", ms: 2000 + k%9*10})
			},
			healthy: stRun("p", stSpec{node: "generate", ms: 5}, stSpec{node: "plan", ms: 2010}),
			fault:   stRun("p", stSpec{node: "generate", ms: 2010}, stSpec{node: "plan", ms: 5}),
		}}
	})
}

package detect

import (
	"fmt"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func init() {
	addLookAlikes(ruleInputEcho, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a spell checker that returns text needing no change, as it does in a third of its runs",
			history: func(k int) *agentrun.Run {
				in := fmt.Sprintf("Pleese refund order number %d to my card", k)
				out := fmt.Sprintf("Please refund order number %d to my card", k)
				if k%3 == 0 {
					in = out
				}
				return newRun(textStep("spellcheck", in, out))
			},
			healthy: newRun(textStep("spellcheck", "Please refund order number 77 to my card", "Please refund order number 77 to my card")),
			fault:   newRun(textStep("summarize", "Please refund order number 77 to my card", "Please refund order number 77 to my card")),
		}}
	})
}

func TestInputEchoText(t *testing.T) {
	q := "What were the main causes of the 2008 financial crisis?"
	run := bhRun("p", bhText("rewrite", q, "  what were the main causes of the 2008\nfinancial crisis?  "))
	f := one(t, Behavioral(run, cfgWith(nil)), ruleInputEcho)
	if f.Severity != SeverityWarning || f.Step != 0 || f.Details["field"] != "output" {
		t.Fatalf("finding = %+v", f)
	}
}

func TestInputEchoLLMCall(t *testing.T) {
	prompt := `[{"role":"system","content":"You are helpful."},{"role":"user","content":"Summarize the attached contract in three bullet points."}]`
	result := `[{"role":"assistant","content":"Summarize the attached contract in three bullet points."}]`
	run := bhRun("p", withCalls(bhStep(t, "summarize", `{"doc":"d"}`, `{"summary":"x"}`), bhLLM(prompt, result, 300)))
	f := one(t, Behavioral(run, cfgWith(nil)), ruleInputEcho)
	if f.Details["field"] != "llm_result" || f.Details["model"] != "gpt-4o" {
		t.Fatalf("finding = %+v", f)
	}
}

func TestInputEchoLangChainShapes(t *testing.T) {
	// OpenInference input.value / output.value of a LangChain chat model.
	prompt := `{"messages":[[{"lc":1,"type":"constructor","id":["langchain","schema","messages","SystemMessage"],"kwargs":{"content":"Be brief.","type":"system"}},` +
		`{"lc":1,"type":"constructor","id":["langchain","schema","messages","HumanMessage"],"kwargs":{"content":"List three uses of graphene in batteries.","type":"human"}}]]}`
	echo := `{"generations":[[{"text":"List three uses of graphene in batteries.","type":"ChatGeneration"}]],"llm_output":null}`
	answer := `{"generations":[[{"text":"Anodes, cathode coatings and current collectors.","type":"ChatGeneration"}]],"llm_output":null}`
	run := bhRun("p", withCalls(bhStep(t, "gen", `{}`, `{"a":1}`), bhLLM(prompt, echo, 80)))
	one(t, Behavioral(run, cfgWith(nil)), ruleInputEcho)
	run = bhRun("p", withCalls(bhStep(t, "gen", `{}`, `{"a":1}`), bhLLM(prompt, answer, 80)))
	none(t, Behavioral(run, cfgWith(nil)), ruleInputEcho)
}

func TestInputEchoQuiet(t *testing.T) {
	state := `{"question":"What were the main causes of the 2008 financial crisis?","documents":["a","b"]}`
	fs := Behavioral(bhRun("p",
		bhStep(t, "passthrough", state, state),        // dict pass-through is not echo
		bhText("shout", "short input", "short input"), // under 20 characters
		bhText("translate", "Good morning, how are you today?", "Bonjour, comment allez-vous aujourd'hui ?"),
		withCalls(bhStep(t, "gen", `{}`, `{}`), bhLLM(`[{"role":"user","content":"Name the capital of France, please."}]`,
			`[{"role":"assistant","content":"The capital of France is Paris."}]`, 50)),
	), cfgWith(nil))
	none(t, fs, ruleInputEcho)
	run := bhRun("p", bhText("rewrite", "twenty-one characters", "twenty-one characters"))
	one(t, Behavioral(run, cfgWith(nil)), ruleInputEcho)
	none(t, Behavioral(run, cfgWith(map[string]RuleConfig{ruleInputEcho: {Threshold: 40}})), ruleInputEcho)
}

func textStep(node, in, out string) stepSpec {
	return stepSpec{Node: node, In: in, Out: out}
}

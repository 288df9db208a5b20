package detect

import (
	"fmt"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func init() {
	addLookAlikes(ruleRateLimited, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a search API answering 429 once, waited out and retried with success",
			healthy: newRun(stepSpec{Node: "search_api", In: j(`{"question":"sso"}`), Out: j(`{"search_results":[{"id":"web-1"}]}`),
				Calls: []agentrun.Call{toolCall("web_search", `{"query":"sso"}`, `{"status":429,"error":"Too Many Requests","retry_after_ms":20}`),
					toolCall("web_search", `{"query":"sso"}`, `{"status":"ok","results":[{"id":"web-1"}]}`)}}),
			fault: newRun(stepSpec{Node: "search_api", In: j(`{"question":"sso"}`), Out: j(`{"search_results":[{"id":"web-1"}]}`),
				Calls: []agentrun.Call{toolCall("web_search", `{"query":"sso"}`, `{"status":429,"error":"Too Many Requests","retry_after_ms":20}`)}}),
		}}
	})
}

func TestRateLimited(t *testing.T) {
	cases := []struct {
		name  string
		step  agentrun.Step
		field string
	}{
		{"status 429", withCalls(bhStep(t, "n", `{}`, `{}`), bhTool("api", `{}`, `{"status":429}`)), "status"},
		{"error text", withCalls(bhStep(t, "n", `{}`, `{}`), bhTool("api", `{}`, `{"error":"Rate limit exceeded, retry in 20s"}`)), "error"},
		{"openai error object", withCalls(bhStep(t, "n", `{}`, `{}`), bhTool("api", `{}`,
			`{"error":{"message":"Rate limit reached for gpt-4o in organization org-x","type":"requests","code":"rate_limit_exceeded"}}`)), "error"},
		{"plain text", withCalls(bhStep(t, "n", `{}`, `{}`), bhTool("api", `{}`, `429 Too Many Requests`)), "$"},
		{"node output", bhStep(t, "n", `{}`, `{"result":{"code":"rate_limit_exceeded"}}`), "result.code"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := Behavioral(bhRun("p", c.step), cfgWith(nil))
			f := one(t, fs, ruleRateLimited)
			if f.Severity != SeverityWarning || f.Step != 0 || f.Details["field"] != c.field {
				t.Fatalf("finding = %+v", f)
			}
			none(t, fs, ruleToolError) // 429 is not reported twice
		})
	}
	t.Run("exception on the LLM call", func(t *testing.T) {
		c := bhLLM(`hi`, ``, 0)
		c.Status = agentrun.StatusError
		c.Exceptions = []agentrun.Exception{{Type: "openai.RateLimitError", Message: "Error code: 429"}}
		step := withCalls(bhStep(t, "generate", `{}`, ``), c)
		fs := Behavioral(bhRun("p", step), cfgWith(nil))
		f := one(t, fs, ruleRateLimited)
		if f.Details["field"] != "call_exception" {
			t.Fatalf("finding = %+v", f)
		}
		one(t, fs, ruleErrorSpan)
	})
}

// A 429 waited out: the same tool answers on a later call, in the same
// step or a later one (an agent that calls the tool again). Info; a later
// call that fails too, or of another tool, is no recovery.
func TestRateLimitedRecovered(t *testing.T) {
	limited := bhTool("web_search", `{"query":"sso"}`, `{"status":429,"error":"Too Many Requests","retry_after_ms":20}`)
	ok := bhTool("web_search", `{"query":"sso"}`, `{"status":"ok","results":[{"id":"web-1"}]}`)
	f := one(t, Behavioral(bhRun("p", withCalls(bhStep(t, "search_api", `{}`, `{"search_results":[{"id":"web-1"}]}`), limited, ok)), cfgWith(nil)), ruleRateLimited)
	if f.Severity != SeverityInfo || f.Details["recovered"] != true {
		t.Fatalf("finding = %+v", f)
	}
	tool := func(out string) agentrun.Step {
		s := bhStep(t, "check_inventory", `{"sku":"BTL-750"}`, out)
		s.Kind = "execute_tool"
		return s
	}
	agent := bhStep(t, "agent", `{}`, `{"m":1}`)
	f = one(t, Behavioral(bhRun("p", tool(`{"error":"Too Many Requests","status":429}`), agent, tool(`{"sku":"BTL-750","in_stock":12}`)), cfgWith(nil)), ruleRateLimited)
	if f.Severity != SeverityInfo {
		t.Fatalf("finding = %+v", f)
	}
	for name, run := range map[string]*agentrun.Run{
		"no retry":       bhRun("p", withCalls(bhStep(t, "search_api", `{}`, `{}`), limited)),
		"retry limited":  bhRun("p", withCalls(bhStep(t, "search_api", `{}`, `{}`), limited, limited)),
		"another tool":   bhRun("p", withCalls(bhStep(t, "search_api", `{}`, `{}`), limited, bhTool("kb_search", `{}`, `{"results":["a"]}`))),
		"success before": bhRun("p", withCalls(bhStep(t, "search_api", `{}`, `{}`), ok, limited)),
		"retry errors":   bhRun("p", tool(`{"status":429}`), agent, tool(`{"error":"upstream down"}`)),
	} {
		if f := one(t, Behavioral(run, cfgWith(nil)), ruleRateLimited); f.Severity != SeverityWarning {
			t.Errorf("%s: %+v", name, f)
		}
	}
}

func TestRateLimitedQuietOnProse(t *testing.T) {
	long := strings.Repeat("Our public API applies a rate limit of 100 requests per minute per key. ", 40)
	for _, out := range []string{
		`{"answer":"The API has a rate limit of 100 requests per minute."}`,
		`{"answer":"` + long + `"}`,
		`{"docs":["HTTP 429 Too Many Requests means the client sent too many requests."]}`,
	} {
		fs := Behavioral(bhRun("p", withCalls(bhStep(t, "answer", `{}`, out), bhTool("docs", `{}`, out))), cfgWith(nil))
		none(t, fs, ruleRateLimited)
		none(t, fs, ruleToolError)
	}
	fs := Behavioral(bhRun("p", bhText("answer", "q", "The rate limit is 100 requests per minute.")), cfgWith(nil))
	none(t, fs, ruleRateLimited)
}

func toolCall(tool, args, result string) agentrun.Call {
	return agentrun.Call{SpanID: fmt.Sprintf("c-%s-%d", tool, len(result)), Name: tool, Kind: "tool", Tool: tool, Arguments: args, Result: result, Status: agentrun.StatusOK}
}

package detect

import (
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func init() {
	addLookAlikes(ruleRetryStorm, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a refund status polled with the same arguments while it moves from pending to approved",
			healthy: pollRun(t, "", "pending", "processing", "approved"),
			fault:   pollRun(t, "", "pending", "pending", "pending"),
		}}
	})
}

func TestRetryStormAcrossSteps(t *testing.T) {
	run := bhRun("agent",
		bhStep(t, "agent", `{}`, `{"m":1}`),
		withCalls(bhStep(t, "tools", `{}`, `{"m":2}`), bhTool("web_search", `{"query":"release date","k":5}`, `{"results":[]}`)),
		bhStep(t, "agent", `{}`, `{"m":3}`),
		withCalls(bhStep(t, "tools", `{}`, `{"m":4}`), bhTool("web_search", `{ "k": 5, "query": "release  date" }`, `{"results":[]}`)),
		bhStep(t, "agent", `{}`, `{"m":5}`),
		withCalls(bhStep(t, "tools", `{}`, `{"m":6}`), bhTool("web_search", "{\"query\":\"release date\",\n\"k\":5}", `{"results":[]}`)),
	)
	f := one(t, Behavioral(run, cfgWith(nil)), ruleRetryStorm)
	if f.Severity != SeverityWarning || f.Step != 5 || f.Details["tool"] != "web_search" || f.Details["calls"] != 3 {
		t.Fatalf("finding = %+v", f)
	}
}

func TestRetryStormWithinOneStep(t *testing.T) {
	call := bhTool("fetch_url", `{"url":"https://example.com/a"}`, `{"status":503}`)
	run := bhRun("p", withCalls(bhStep(t, "fetch", `{}`, `{"page":null}`), call, call, call, call))
	f := one(t, Behavioral(run, cfgWith(nil)), ruleRetryStorm)
	if f.Step != 0 || f.Details["calls"] != 4 || f.Details["tool"] != "fetch_url" {
		t.Fatalf("finding = %+v", f)
	}
}

func TestRetryStormToolSteps(t *testing.T) {
	// GenAI convention: the node span is the tool execution itself.
	mk := func() agentrun.Step {
		s := bhStep(t, "get_weather", `{"city":"Paris"}`, `{"temp":21}`)
		s.Kind = "execute_tool"
		return s
	}
	f := one(t, Behavioral(bhRun("p", mk(), mk(), mk()), cfgWith(nil)), ruleRetryStorm)
	if f.Details["tool"] != "get_weather" || f.Step != 2 {
		t.Fatalf("finding = %+v", f)
	}
}

func TestRetryStormQuietWhenArgumentsChange(t *testing.T) {
	run := bhRun("agent",
		withCalls(bhStep(t, "tools", `{}`, `{"m":1}`), bhTool("web_search", `{"query":"release date"}`, `{"results":["old"]}`)),
		withCalls(bhStep(t, "tools", `{}`, `{"m":2}`), bhTool("web_search", `{"query":"release date 2024"}`, `{"results":["a"]}`)),
		withCalls(bhStep(t, "tools", `{}`, `{"m":3}`), bhTool("web_search", `{"query":"official release date 2024"}`, `{"results":["b"]}`)),
		withCalls(bhStep(t, "tools", `{}`, `{"m":4}`), bhTool("lookup", `{"query":"release date"}`, `{"results":["c"]}`)),
	)
	none(t, Behavioral(run, cfgWith(nil)), ruleRetryStorm)
	// Threshold override: two identical calls are enough when configured so.
	run = bhRun("p", withCalls(bhStep(t, "s", `{}`, `{}`), bhTool("t", `{"a":1}`, `ok`), bhTool("t", `{"a":1}`, `ok`)))
	none(t, Behavioral(run, cfgWith(nil)), ruleRetryStorm)
	one(t, Behavioral(run, cfgWith(map[string]RuleConfig{ruleRetryStorm: {Threshold: 2}})), ruleRetryStorm)
	run = bhRun("p", withCalls(bhStep(t, "s", `{}`, `{}`), bhTool("t", `{"a":1}`, `ok`), bhTool("t", `{"a":1}`, `ok`), bhTool("t", `{"a":1}`, `ok`)))
	none(t, Behavioral(run, cfgWith(map[string]RuleConfig{ruleRetryStorm: {Disabled: true}})), ruleRetryStorm)
}

// Polling a status tool with the same arguments while its result changes
// is waiting for progress, and a retry that ends in success is recovery;
// the same result (or the same failure) again and again is a storm.
func TestRetryStormPollingAndRecovery(t *testing.T) {
	poll := func(results ...string) *agentrun.Run {
		var steps []agentrun.Step
		for _, r := range results {
			s := bhStep(t, "get_refund_status", `{"refund_id":"R-5874"}`, r)
			s.Kind = "execute_tool"
			steps = append(steps, bhStep(t, "agent", `{}`, `{"m":1}`), s)
		}
		return bhRun("support", steps...)
	}
	none(t, Behavioral(poll(`{"status":"pending","checked_at":"12:00"}`, `{"status":"processing","checked_at":"12:01"}`,
		`{"status":"approved","checked_at":"12:02"}`), cfgWith(nil)), ruleRetryStorm)
	// Waiting on "pending" a few times is still polling once it moves on.
	none(t, Behavioral(poll(`{"status":"pending"}`, `{"status":"pending"}`, `{"status":"pending"}`, `{"status":"approved"}`), cfgWith(nil)), ruleRetryStorm)
	// Only a volatile timestamp changes: no news.
	one(t, Behavioral(poll(`{"status":"pending","timestamp":1}`, `{"status":"pending","timestamp":2}`, `{"status":"pending","timestamp":3}`), cfgWith(nil)), ruleRetryStorm)
	// The same failure with another request id each time is no progress.
	one(t, Behavioral(poll(`{"error":"upstream timeout","request_id":"a1"}`, `{"error":"upstream timeout","request_id":"b2"}`,
		`{"error":"gateway timeout","request_id":"c3"}`), cfgWith(nil)), ruleRetryStorm)

	// A call retried after two failures that then succeeds.
	fail := bhTool("kb_search", `{"q":"refund"}`, "")
	fail.Status, fail.StatusMessage = agentrun.StatusError, "503 Service Unavailable"
	ok := bhTool("kb_search", `{"q":"refund"}`, `{"results":["Refunds within 30 days."]}`)
	none(t, Behavioral(bhRun("p", withCalls(bhStep(t, "retrieve", `{}`, `{"documents":["d"]}`), fail, fail, ok)), cfgWith(nil)), ruleRetryStorm)
	one(t, Behavioral(bhRun("p", withCalls(bhStep(t, "retrieve", `{}`, `{"documents":[]}`), fail, fail, fail)), cfgWith(nil)), ruleRetryStorm)
}

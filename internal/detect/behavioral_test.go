package detect

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// ---- loop_stall ----------------------------------------------------------

func TestLoopStallSameOutputInARow(t *testing.T) {
	out := `{"answer":"I could not find the answer in the documents."}`
	run := bhRun("rag",
		bhStep(t, "retrieve", `{"q":"x"}`, `{"documents":["a"]}`),
		bhStep(t, "generate", `{"q":"x"}`, out),
		bhStep(t, "generate", `{"q":"x"}`, out),
		bhStep(t, "generate", `{"q":"x"}`, out),
	)
	f := bhOne(t, Behavioral(run, bhCfg(nil)), ruleLoopStall)
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
	f := bhOne(t, Behavioral(run, bhCfg(nil)), ruleLoopStall)
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
	fs := Behavioral(bhRun("agent", steps...), bhCfg(nil))
	f := bhOne(t, fs, ruleLoopStall)
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
		bhNone(t, Behavioral(bhRun("agent", steps...), bhCfg(nil)), ruleLoopStall)
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
		bhNone(t, Behavioral(bhRun("writer", steps...), bhCfg(nil)), ruleLoopStall)
	})
	t.Run("router repeats its decision while search finds new pages", func(t *testing.T) {
		var steps []agentrun.Step
		for i := range 5 {
			steps = append(steps,
				bhStep(t, "route", `{}`, `{"next":"search"}`),
				bhStep(t, "search", `{}`, fmt.Sprintf(`{"results":["page-%d"]}`, i)))
		}
		bhNone(t, Behavioral(bhRun("research", steps...), bhCfg(nil)), ruleLoopStall)
	})
	t.Run("a growing list is progress", func(t *testing.T) {
		var steps []agentrun.Step
		items := []string{}
		for i := range 5 {
			items = append(items, fmt.Sprintf(`"a long enough item number %d of the collection"`, i))
			steps = append(steps, bhStep(t, "collect", `{}`, `{"items":[`+strings.Join(items, ",")+`]}`))
		}
		bhNone(t, Behavioral(bhRun("crawl", steps...), bhCfg(nil)), ruleLoopStall)
	})
	t.Run("two identical outputs only", func(t *testing.T) {
		run := bhRun("p", bhStep(t, "a", `{}`, `{"x":1}`), bhStep(t, "a", `{}`, `{"x":1}`))
		bhNone(t, Behavioral(run, bhCfg(nil)), ruleLoopStall)
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
	cfg := bhCfg(map[string]RuleConfig{ruleLoopStall: {Threshold: 4}})
	bhNone(t, Behavioral(steps(3), cfg), ruleLoopStall)
	f := bhOne(t, Behavioral(steps(4), cfg), ruleLoopStall)
	if f.Step != 3 || f.Details["threshold"] != 4 {
		t.Fatalf("finding = %+v", f)
	}
	bhNone(t, Behavioral(steps(5), bhCfg(map[string]RuleConfig{ruleLoopStall: {Disabled: true}})), ruleLoopStall)
	f = bhOne(t, Behavioral(steps(3), bhCfg(map[string]RuleConfig{ruleLoopStall: {Severity: SeverityCritical}})), ruleLoopStall)
	if f.Severity != SeverityCritical {
		t.Fatalf("severity override ignored: %+v", f)
	}
}

// ---- retry_storm ---------------------------------------------------------

func TestRetryStormAcrossSteps(t *testing.T) {
	run := bhRun("agent",
		bhStep(t, "agent", `{}`, `{"m":1}`),
		withCalls(bhStep(t, "tools", `{}`, `{"m":2}`), bhTool("web_search", `{"query":"release date","k":5}`, `{"results":[]}`)),
		bhStep(t, "agent", `{}`, `{"m":3}`),
		withCalls(bhStep(t, "tools", `{}`, `{"m":4}`), bhTool("web_search", `{ "k": 5, "query": "release  date" }`, `{"results":[]}`)),
		bhStep(t, "agent", `{}`, `{"m":5}`),
		withCalls(bhStep(t, "tools", `{}`, `{"m":6}`), bhTool("web_search", "{\"query\":\"release date\",\n\"k\":5}", `{"results":[]}`)),
	)
	f := bhOne(t, Behavioral(run, bhCfg(nil)), ruleRetryStorm)
	if f.Severity != SeverityWarning || f.Step != 5 || f.Details["tool"] != "web_search" || f.Details["calls"] != 3 {
		t.Fatalf("finding = %+v", f)
	}
}

func TestRetryStormWithinOneStep(t *testing.T) {
	call := bhTool("fetch_url", `{"url":"https://example.com/a"}`, `{"status":503}`)
	run := bhRun("p", withCalls(bhStep(t, "fetch", `{}`, `{"page":null}`), call, call, call, call))
	f := bhOne(t, Behavioral(run, bhCfg(nil)), ruleRetryStorm)
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
	f := bhOne(t, Behavioral(bhRun("p", mk(), mk(), mk()), bhCfg(nil)), ruleRetryStorm)
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
	bhNone(t, Behavioral(run, bhCfg(nil)), ruleRetryStorm)
	// Threshold override: two identical calls are enough when configured so.
	run = bhRun("p", withCalls(bhStep(t, "s", `{}`, `{}`), bhTool("t", `{"a":1}`, `ok`), bhTool("t", `{"a":1}`, `ok`)))
	bhNone(t, Behavioral(run, bhCfg(nil)), ruleRetryStorm)
	bhOne(t, Behavioral(run, bhCfg(map[string]RuleConfig{ruleRetryStorm: {Threshold: 2}})), ruleRetryStorm)
	run = bhRun("p", withCalls(bhStep(t, "s", `{}`, `{}`), bhTool("t", `{"a":1}`, `ok`), bhTool("t", `{"a":1}`, `ok`), bhTool("t", `{"a":1}`, `ok`)))
	bhNone(t, Behavioral(run, bhCfg(map[string]RuleConfig{ruleRetryStorm: {Disabled: true}})), ruleRetryStorm)
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
	bhNone(t, Behavioral(poll(`{"status":"pending","checked_at":"12:00"}`, `{"status":"processing","checked_at":"12:01"}`,
		`{"status":"approved","checked_at":"12:02"}`), bhCfg(nil)), ruleRetryStorm)
	// Waiting on "pending" a few times is still polling once it moves on.
	bhNone(t, Behavioral(poll(`{"status":"pending"}`, `{"status":"pending"}`, `{"status":"pending"}`, `{"status":"approved"}`), bhCfg(nil)), ruleRetryStorm)
	// Only a volatile timestamp changes: no news.
	bhOne(t, Behavioral(poll(`{"status":"pending","timestamp":1}`, `{"status":"pending","timestamp":2}`, `{"status":"pending","timestamp":3}`), bhCfg(nil)), ruleRetryStorm)
	// The same failure with another request id each time is no progress.
	bhOne(t, Behavioral(poll(`{"error":"upstream timeout","request_id":"a1"}`, `{"error":"upstream timeout","request_id":"b2"}`,
		`{"error":"gateway timeout","request_id":"c3"}`), bhCfg(nil)), ruleRetryStorm)

	// A call retried after two failures that then succeeds.
	fail := bhTool("kb_search", `{"q":"refund"}`, "")
	fail.Status, fail.StatusMessage = agentrun.StatusError, "503 Service Unavailable"
	ok := bhTool("kb_search", `{"q":"refund"}`, `{"results":["Refunds within 30 days."]}`)
	bhNone(t, Behavioral(bhRun("p", withCalls(bhStep(t, "retrieve", `{}`, `{"documents":["d"]}`), fail, fail, ok)), bhCfg(nil)), ruleRetryStorm)
	bhOne(t, Behavioral(bhRun("p", withCalls(bhStep(t, "retrieve", `{}`, `{"documents":[]}`), fail, fail, fail)), bhCfg(nil)), ruleRetryStorm)
}

func withCalls(s agentrun.Step, calls ...agentrun.Call) agentrun.Step {
	s.Calls = append(s.Calls, calls...)
	return s
}

// ---- tool_error ----------------------------------------------------------

func TestToolErrorShapes(t *testing.T) {
	cases := []struct {
		name, result, field, value string
	}{
		{"error string", `{"error":"connection refused"}`, "error", "connection refused"},
		{"error object", `{"error":{"code":"E42","message":"bad key"}}`, "error", `{"code":"E42","message":"bad key"}`},
		{"errors list", `{"data":null,"errors":[{"message":"field x missing"}]}`, "errors", `[{"message":"field x missing"}]`},
		{"exception", `{"exception":"ValueError"}`, "exception", "ValueError"},
		{"err", `{"err":true}`, "err", "true"},
		{"error_message", `{"error_message":"timeout"}`, "error_message", "timeout"},
		{"status code", `{"status_code":500,"body":"oops"}`, "status_code", "500"},
		{"status 404", `{"status":404}`, "status", "404"},
		{"status as text", `{"status":"503"}`, "status", "503"},
		{"status error", `{"status":"error","message":"no such table"}`, "status", "error"},
		{"success false", `{"success":false}`, "success", "false"},
		{"ok false", `{"ok":false,"reason":"quota"}`, "ok", "false"},
		{"nested", `{"response":{"meta":{"status":502}}}`, "response.meta.status", "502"},
		{"text", `Error: could not connect to database`, "$", "Error: could not connect to database"},
		{"python text", `KeyError: 'documents'`, "$", "KeyError: 'documents'"},
		{"traceback", "Traceback (most recent call last):\n  File x", "$", "Traceback (most recent call last):\n  File x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := bhRun("p", withCalls(bhStep(t, "search", `{}`, `{"ok":1}`), bhTool("web_search", `{"q":1}`, c.result)))
			f := bhOne(t, Behavioral(run, bhCfg(nil)), ruleToolError)
			if f.Severity != SeverityWarning || f.Step != 0 || f.Details["tool"] != "web_search" ||
				f.Details["field"] != c.field || f.Details["value"] != c.value {
				t.Fatalf("finding = %+v", f)
			}
			bhNone(t, Behavioral(run, bhCfg(nil)), ruleRateLimited)
		})
	}
}

func TestToolErrorInNodeOutputAndDedup(t *testing.T) {
	// The tool result and the node output carry the same error: one finding.
	run := bhRun("p", withCalls(bhStep(t, "search", `{}`, `{"error":"index unavailable"}`),
		bhTool("vector_search", `{"q":"x"}`, `{"error":"index unavailable"}`)))
	f := bhOne(t, Behavioral(run, bhCfg(nil)), ruleToolError)
	if f.Details["tool"] != "vector_search" {
		t.Fatalf("finding = %+v", f)
	}
	run = bhRun("p", bhStep(t, "parse", `{}`, `{"messages":[{"type":"tool","status":"error","content":"bad input"}]}`))
	f = bhOne(t, Behavioral(run, bhCfg(nil)), ruleToolError)
	if f.Details["field"] != "messages[0].status" || f.Details["tool"] != nil || !strings.Contains(f.Message, `"parse"`) {
		t.Fatalf("finding = %+v", f)
	}
}

func TestToolErrorQuietOnCleanValues(t *testing.T) {
	clean := []string{
		`{"error":null,"results":["a"]}`,
		`{"error":"","errors":[],"exception":{},"err":false}`,
		`{"error":"None"}`,
		`{"status":200,"status_code":201,"data":[1]}`,
		`{"status":"success","items":[1]}`,
		`{"success":true,"ok":true}`,
		`{"error_handling":"retry with backoff","errors_seen":3}`,
		`{"text":"Error handling in Go uses explicit error values; exceptions are rare."}`,
		`Error handling is covered in chapter 7 of the guide.`,
		`The ValueError is raised when an argument has the right type but a wrong value.`,
		`{"status":"done","code":"python"}`,
	}
	for _, res := range clean {
		run := bhRun("p", withCalls(bhStep(t, "search", `{}`, `{"answer":"fine"}`), bhTool("docs", `{"q":1}`, res)))
		fs := Behavioral(run, bhCfg(nil))
		bhNone(t, fs, ruleToolError)
		bhNone(t, fs, ruleRateLimited)
	}
}

func TestToolErrorConfig(t *testing.T) {
	run := bhRun("p", withCalls(bhStep(t, "s", `{}`, `{}`), bhTool("t", `{}`, `{"error":"x"}`)))
	bhNone(t, Behavioral(run, bhCfg(map[string]RuleConfig{ruleToolError: {Disabled: true}})), ruleToolError)
	f := bhOne(t, Behavioral(run, bhCfg(map[string]RuleConfig{ruleToolError: {Severity: SeverityCritical}})), ruleToolError)
	if f.Severity != SeverityCritical {
		t.Fatalf("finding = %+v", f)
	}
}

// ---- rate_limited --------------------------------------------------------

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
			fs := Behavioral(bhRun("p", c.step), bhCfg(nil))
			f := bhOne(t, fs, ruleRateLimited)
			if f.Severity != SeverityWarning || f.Step != 0 || f.Details["field"] != c.field {
				t.Fatalf("finding = %+v", f)
			}
			bhNone(t, fs, ruleToolError) // 429 is not reported twice
		})
	}
	t.Run("exception on the LLM call", func(t *testing.T) {
		c := bhLLM(`hi`, ``, 0)
		c.Status = agentrun.StatusError
		c.Exceptions = []agentrun.Exception{{Type: "openai.RateLimitError", Message: "Error code: 429"}}
		step := withCalls(bhStep(t, "generate", `{}`, ``), c)
		fs := Behavioral(bhRun("p", step), bhCfg(nil))
		f := bhOne(t, fs, ruleRateLimited)
		if f.Details["field"] != "call_exception" {
			t.Fatalf("finding = %+v", f)
		}
		bhOne(t, fs, ruleErrorSpan)
	})
}

// A 429 waited out: the same tool answers on a later call, in the same
// step or a later one (an agent that calls the tool again). Info; a later
// call that fails too, or of another tool, is no recovery.
func TestRateLimitedRecovered(t *testing.T) {
	limited := bhTool("web_search", `{"query":"sso"}`, `{"status":429,"error":"Too Many Requests","retry_after_ms":20}`)
	ok := bhTool("web_search", `{"query":"sso"}`, `{"status":"ok","results":[{"id":"web-1"}]}`)
	f := bhOne(t, Behavioral(bhRun("p", withCalls(bhStep(t, "search_api", `{}`, `{"search_results":[{"id":"web-1"}]}`), limited, ok)), bhCfg(nil)), ruleRateLimited)
	if f.Severity != SeverityInfo || f.Details["recovered"] != true {
		t.Fatalf("finding = %+v", f)
	}
	tool := func(out string) agentrun.Step {
		s := bhStep(t, "check_inventory", `{"sku":"BTL-750"}`, out)
		s.Kind = "execute_tool"
		return s
	}
	agent := bhStep(t, "agent", `{}`, `{"m":1}`)
	f = bhOne(t, Behavioral(bhRun("p", tool(`{"error":"Too Many Requests","status":429}`), agent, tool(`{"sku":"BTL-750","in_stock":12}`)), bhCfg(nil)), ruleRateLimited)
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
		if f := bhOne(t, Behavioral(run, bhCfg(nil)), ruleRateLimited); f.Severity != SeverityWarning {
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
		fs := Behavioral(bhRun("p", withCalls(bhStep(t, "answer", `{}`, out), bhTool("docs", `{}`, out))), bhCfg(nil))
		bhNone(t, fs, ruleRateLimited)
		bhNone(t, fs, ruleToolError)
	}
	fs := Behavioral(bhRun("p", bhText("answer", "q", "The rate limit is 100 requests per minute.")), bhCfg(nil))
	bhNone(t, fs, ruleRateLimited)
}

// ---- error_span ----------------------------------------------------------

func TestErrorSpanNode(t *testing.T) {
	s := bhStep(t, "synthesize", `{"question":"q"}`, ``)
	s.Status = agentrun.StatusError
	s.StatusMessage = "KeyError: 'documents'"
	s.Exceptions = []agentrun.Exception{{Type: "KeyError", Message: "'documents'", Stacktrace: "Traceback ..."}}
	run := bhRun("rag", bhStep(t, "retrieve", `{}`, `{"docs":[]}`), s)
	f := bhOne(t, Behavioral(run, bhCfg(nil)), ruleErrorSpan)
	if f.Severity != SeverityCritical || f.Step != 1 || f.Details["exception_type"] != "KeyError" ||
		f.Details["exception_message"] != "'documents'" || f.Message != `node "synthesize" failed: KeyError: 'documents'` {
		t.Fatalf("finding = %+v", f)
	}
}

func TestErrorSpanExceptionWithoutMessage(t *testing.T) {
	s := bhStep(t, "load", `{}`, ``)
	s.Exceptions = []agentrun.Exception{{Type: "StopIteration"}}
	f := bhOne(t, Behavioral(bhRun("p", s), bhCfg(nil)), ruleErrorSpan)
	if f.Message != `node "load" failed: StopIteration` {
		t.Fatalf("message = %q", f.Message)
	}
}

func TestErrorSpanNestedCallOnce(t *testing.T) {
	bad := bhTool("sql", `{"q":"select"}`, ``)
	bad.Status = agentrun.StatusError
	bad.StatusMessage = "connection reset"
	bad2 := bad
	bad2.Tool = "sql2"
	run := bhRun("p", withCalls(bhStep(t, "query", `{}`, `{"rows":[1]}`), bad, bad2))
	f := bhOne(t, Behavioral(run, bhCfg(nil)), ruleErrorSpan) // one per step
	if f.Details["call"] != "execute_tool sql" || f.Details["tool"] != "sql" || f.Details["call_status_message"] != "connection reset" {
		t.Fatalf("finding = %+v", f)
	}
	if !strings.Contains(f.Message, `tool call "sql" failed: connection reset`) {
		t.Fatalf("message = %q", f.Message)
	}
}

func TestErrorSpanQuietAndConfig(t *testing.T) {
	run := bhRun("p", withCalls(bhStep(t, "a", `{}`, `{"x":1}`), bhTool("t", `{}`, `{"y":2}`)))
	bhNone(t, Behavioral(run, bhCfg(nil)), ruleErrorSpan)
	s := bhStep(t, "a", `{}`, ``)
	s.Status = agentrun.StatusError
	run = bhRun("p", s)
	bhNone(t, Behavioral(run, bhCfg(map[string]RuleConfig{ruleErrorSpan: {Disabled: true}})), ruleErrorSpan)
	f := bhOne(t, Behavioral(run, bhCfg(map[string]RuleConfig{ruleErrorSpan: {Severity: SeverityWarning}})), ruleErrorSpan)
	if f.Severity != SeverityWarning || f.Message != `node "a" failed` {
		t.Fatalf("finding = %+v", f)
	}
}

// ---- runaway_steps -------------------------------------------------------

func TestRunawaySteps(t *testing.T) {
	var steps []agentrun.Step
	for i := range 101 {
		steps = append(steps, bhStep(t, fmt.Sprintf("node%d", i%5), `{}`, fmt.Sprintf(`{"i":%d}`, i)))
	}
	fs := bhOnly(Behavioral(bhRun("p", steps...), bhCfg(nil)), ruleRunawaySteps)
	// Five nodes share 101 steps (21 runs at most each): only the run-level finding.
	if len(fs) != 1 || fs[0].Step != -1 || fs[0].Details["count"] != 101 || fs[0].Details["limit"] != 100 || fs[0].Node != "" {
		t.Fatalf("findings = %s", bhDump(fs))
	}

	steps = steps[:0]
	for i := range 30 {
		steps = append(steps, bhStep(t, "agent", `{}`, fmt.Sprintf(`{"i":%d}`, i)))
	}
	f := bhOne(t, Behavioral(bhRun("p", steps...), bhCfg(nil)), ruleRunawaySteps)
	if f.Step != 25 || f.Node != "agent" || f.Details["count"] != 30 || f.Details["limit"] != 25 || f.Severity != SeverityWarning {
		t.Fatalf("finding = %+v", f)
	}
	// Threshold 40 allows 10 runs of one node.
	f = bhOne(t, Behavioral(bhRun("p", steps[:12]...), bhCfg(map[string]RuleConfig{ruleRunawaySteps: {Threshold: 40}})), ruleRunawaySteps)
	if f.Step != 10 || f.Details["limit"] != 10 {
		t.Fatalf("finding = %+v", f)
	}
	bhNone(t, Behavioral(bhRun("p", steps[:25]...), bhCfg(nil)), ruleRunawaySteps)
	bhNone(t, Behavioral(bhRun("p", steps...), bhCfg(map[string]RuleConfig{ruleRunawaySteps: {Disabled: true}})), ruleRunawaySteps)

	// A map over 30 documents runs summarize 30 times in one superstep
	// (LangGraph's Send): one round of work, not a loop.
	steps = steps[:0]
	for i := range 30 {
		s := bhStep(t, "summarize", `{"doc":1}`, fmt.Sprintf(`{"summaries":["s%d"]}`, i))
		s.LangGraphStep = 2
		steps = append(steps, s)
	}
	bhNone(t, Behavioral(bhRun("p", steps...), bhCfg(nil)), ruleRunawaySteps)
}

// ---- input_echo ----------------------------------------------------------

func TestInputEchoText(t *testing.T) {
	q := "What were the main causes of the 2008 financial crisis?"
	run := bhRun("p", bhText("rewrite", q, "  what were the main causes of the 2008\nfinancial crisis?  "))
	f := bhOne(t, Behavioral(run, bhCfg(nil)), ruleInputEcho)
	if f.Severity != SeverityWarning || f.Step != 0 || f.Details["field"] != "output" {
		t.Fatalf("finding = %+v", f)
	}
}

func TestInputEchoLLMCall(t *testing.T) {
	prompt := `[{"role":"system","content":"You are helpful."},{"role":"user","content":"Summarize the attached contract in three bullet points."}]`
	result := `[{"role":"assistant","content":"Summarize the attached contract in three bullet points."}]`
	run := bhRun("p", withCalls(bhStep(t, "summarize", `{"doc":"d"}`, `{"summary":"x"}`), bhLLM(prompt, result, 300)))
	f := bhOne(t, Behavioral(run, bhCfg(nil)), ruleInputEcho)
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
	bhOne(t, Behavioral(run, bhCfg(nil)), ruleInputEcho)
	run = bhRun("p", withCalls(bhStep(t, "gen", `{}`, `{"a":1}`), bhLLM(prompt, answer, 80)))
	bhNone(t, Behavioral(run, bhCfg(nil)), ruleInputEcho)
}

func TestInputEchoQuiet(t *testing.T) {
	state := `{"question":"What were the main causes of the 2008 financial crisis?","documents":["a","b"]}`
	fs := Behavioral(bhRun("p",
		bhStep(t, "passthrough", state, state),        // dict pass-through is not echo
		bhText("shout", "short input", "short input"), // under 20 characters
		bhText("translate", "Good morning, how are you today?", "Bonjour, comment allez-vous aujourd'hui ?"),
		withCalls(bhStep(t, "gen", `{}`, `{}`), bhLLM(`[{"role":"user","content":"Name the capital of France, please."}]`,
			`[{"role":"assistant","content":"The capital of France is Paris."}]`, 50)),
	), bhCfg(nil))
	bhNone(t, fs, ruleInputEcho)
	run := bhRun("p", bhText("rewrite", "twenty-one characters", "twenty-one characters"))
	bhOne(t, Behavioral(run, bhCfg(nil)), ruleInputEcho)
	bhNone(t, Behavioral(run, bhCfg(map[string]RuleConfig{ruleInputEcho: {Threshold: 40}})), ruleInputEcho)
}

// ---- claimed_success_empty -------------------------------------------------

func TestClaimedSuccessEmpty(t *testing.T) {
	cases := []struct{ out, field string }{
		{`{"status":"success","results":[]}`, "results"},
		{`{"success":true,"data":{}}`, "data"},
		{`{"ok":true,"items":null}`, "items"},
		{`{"search":{"status":"OK","result":"  "}}`, "search.result"},
	}
	for _, c := range cases {
		run := bhRun("p", bhStep(t, "search", `{}`, c.out))
		f := bhOne(t, Behavioral(run, bhCfg(nil)), ruleClaimedSuccessEmpty)
		if f.Severity != SeverityWarning || f.Details["field"] != c.field || f.Step != 0 {
			t.Fatalf("%s: finding = %+v", c.out, f)
		}
	}
	run := bhRun("p", withCalls(bhStep(t, "s", `{}`, `{"n":1}`), bhTool("crm", `{}`, `{"status":"success","records":[]}`)))
	if f := bhOne(t, Behavioral(run, bhCfg(nil)), ruleClaimedSuccessEmpty); f.Details["tool"] != "crm" {
		t.Fatalf("finding = %+v", f)
	}
	for _, out := range []string{
		`{"status":"success","results":[{"id":1}]}`,
		`{"status":"error","results":[]}`,
		`{"results":[]}`,
		`{"success":true,"message":"saved"}`,
	} {
		bhNone(t, Behavioral(bhRun("p", bhStep(t, "search", `{}`, out)), bhCfg(nil)), ruleClaimedSuccessEmpty)
	}
}

// ---- whole layer ---------------------------------------------------------

// cleanCorpus is a set of healthy runs: none of them may raise a warning.
func cleanCorpus(t testing.TB) []*agentrun.Run {
	var runs []*agentrun.Run
	// Linear RAG.
	runs = append(runs, bhRun("rag",
		withCalls(bhStep(t, "retrieve", `{"question":"How do I rotate API keys?"}`, `{"documents":["Keys rotate via the console.","Error handling: failed rotations are retried."]}`),
			agentrun.Call{Name: "retriever", Kind: "retriever", Arguments: "How do I rotate API keys?", Result: `[{"page_content":"Keys rotate via the console."}]`, Status: agentrun.StatusOK}),
		bhStep(t, "rerank", `{}`, `{"documents":["Keys rotate via the console."]}`),
		withCalls(bhStep(t, "synthesize", `{}`, `{"answer":"Open the console, choose Keys, then Rotate. Failed rotations are retried automatically."}`),
			bhLLM(`[{"role":"user","content":"How do I rotate API keys?"}]`, `[{"role":"assistant","content":"Open the console, choose Keys, then Rotate."}]`, 540)),
	))
	// Fan-out: three workers in one superstep, then a join.
	fan := []agentrun.Step{bhStep(t, "plan", `{"topic":"solar"}`, `{"tasks":["cost","efficiency","policy"]}`)}
	for _, w := range []string{"cost", "efficiency", "policy"} {
		fan = append(fan, withCalls(bhStep(t, "research_"+w, `{}`, fmt.Sprintf(`{"%s_notes":"notes about %s"}`, w, w)),
			bhTool("web_search", fmt.Sprintf(`{"query":"solar %s"}`, w), `{"results":["r1","r2"],"status":"ok"}`)))
	}
	fan = append(fan, bhStep(t, "join", `{}`, `{"report":"combined report"}`))
	runs = append(runs, bhRun("fanout", fan...))
	// Agent loop with a retry that changes its arguments.
	runs = append(runs, bhRun("agent",
		withCalls(bhStep(t, "agent", `{}`, `{"messages":[{"type":"ai","content":"","tool_calls":[{"name":"search","args":{"q":"acme revenue"}}]}]}`),
			bhLLM(`[{"role":"user","content":"What was ACME revenue in 2023?"}]`, `{"tool_calls":[{"name":"search"}]}`, 400)),
		withCalls(bhStep(t, "tools", `{}`, `{"messages":[{"type":"tool","status":"success","content":"ACME is a company."}]}`),
			bhTool("search", `{"q":"acme revenue"}`, `{"results":["ACME is a company."]}`)),
		withCalls(bhStep(t, "agent", `{}`, `{"messages":[{"type":"ai","content":"","tool_calls":[{"name":"search","args":{"q":"acme 2023 annual report revenue"}}]}]}`),
			bhLLM(`[{"role":"user","content":"What was ACME revenue in 2023?"}]`, `{"tool_calls":[{"name":"search"}]}`, 450)),
		withCalls(bhStep(t, "tools", `{}`, `{"messages":[{"type":"tool","status":"success","content":"Revenue 2023: $4.2B"}]}`),
			bhTool("search", `{"q":"acme 2023 annual report revenue"}`, `{"results":["Revenue 2023: $4.2B"]}`)),
		withCalls(bhStep(t, "agent", `{}`, `{"messages":[{"type":"ai","content":"ACME's 2023 revenue was $4.2B."}]}`),
			bhLLM(`[{"role":"user","content":"What was ACME revenue in 2023?"}]`, `ACME's 2023 revenue was $4.2B.`, 480)),
	))
	// Tools whose successful results talk about errors.
	runs = append(runs, bhRun("docs",
		withCalls(bhStep(t, "lookup", `{"q":"error handling"}`, `{"answer":"Error handling: wrap errors with context; see the errors package.","status":"ok"}`),
			bhTool("docs_search", `{"q":"error handling"}`, `{"success":true,"results":[{"title":"Error handling best practices","snippet":"An error: value should be checked; exceptions are not used."}],"error":null}`),
			bhTool("http_get", `{"url":"https://go.dev/blog/errors"}`, `{"status":200,"body":"Errors are values. Rate limits and error codes are explained below."}`)),
		bhText("format", "Error handling: wrap errors with context.", "## Error handling\n\nWrap errors with context."),
	))
	return runs
}

func TestBehavioralCleanCorpus(t *testing.T) {
	for _, run := range cleanCorpus(t) {
		if fs := Behavioral(run, bhCfg(nil)); len(fs) != 0 {
			t.Errorf("pipeline %s: unexpected findings: %s", run.PipelineName, bhDump(fs))
		}
	}
}

func TestBehavioralHostileValues(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 500) + `{"error":"deep"}` + strings.Repeat(`}`, 500)
	huge := strings.Repeat("x", 5<<20)
	steps := []agentrun.Step{
		bhStep(t, "deep", `{}`, deep),
		bhText("bad\xffutf8", "\xff\xfe invalid bytes here, long enough", "\xff\xfe invalid bytes here, long enough"),
		withCalls(bhStep(t, "tool", `{}`, `{}`), bhTool("t", "{not json", "{\"error\": \"unterminated"), bhTool("t", huge, huge)),
		{Node: "nothing"},
		bhStep(t, "sql", `{}`, `{"error":"'; DROP TABLE detections; --<script>alert(1)</script>"}`),
	}
	fs := Behavioral(bhRun("p", steps...), bhCfg(nil))
	for _, f := range fs {
		if len(f.Message) > 600 {
			t.Errorf("message not bounded: %d bytes", len(f.Message))
		}
		if v, ok := f.Details["value"].(string); ok && len(v) > 2*previewBytes {
			t.Errorf("value not bounded: %d bytes", len(v))
		}
	}
	// The deep error is beyond the walk depth: not reported, and no crash.
	// Hostile text is reported verbatim (escaping is the renderers' job).
	errs := bhOnly(fs, ruleToolError)
	if len(errs) != 1 || errs[0].Step != 4 || errs[0].Details["value"] != "'; DROP TABLE detections; --<script>alert(1)</script>" {
		t.Fatalf("tool errors = %s", bhDump(errs))
	}
	if f := bhOne(t, fs, ruleInputEcho); f.Step != 1 || !utf8.ValidString(f.Details["preview"].(string)) {
		t.Fatalf("echo = %+v", f)
	}
	if Behavioral(nil, nil) != nil || len(Behavioral(&agentrun.Run{}, nil)) != 0 {
		t.Fatal("nil run or empty run must give no findings")
	}
}

func TestBehavioralDeterministicIDs(t *testing.T) {
	mk := func() *agentrun.Run {
		return bhRun("p", withCalls(bhStep(t, "s", `{}`, `{"error":"a","errors":["b"],"status":500}`),
			bhTool("t", `{}`, `{"error":"a"}`), bhTool("u", `{}`, `{"error":"c"}`)))
	}
	a, b := Behavioral(mk(), bhCfg(nil)), Behavioral(mk(), bhCfg(nil))
	if len(a) == 0 || !reflect.DeepEqual(a, b) {
		t.Fatalf("not deterministic:%s\nvs%s", bhDump(a), bhDump(b))
	}
	ids := map[string]bool{}
	for _, f := range a {
		if ids[f.ID] {
			t.Fatalf("duplicate id %s in %s", f.ID, bhDump(a))
		}
		ids[f.ID] = true
	}
}

// benchRun is a 30-step agent run with tools, LLM calls and dict states.
func benchRun(tb testing.TB) *agentrun.Run {
	var steps []agentrun.Step
	for i := range 10 {
		steps = append(steps,
			withCalls(bhStep(tb, "agent", `{"messages":[]}`, fmt.Sprintf(`{"messages":[{"type":"ai","content":"Thinking about step %d of the research plan; next I will search for more evidence.","tool_calls":[{"name":"search","args":{"q":"topic %d"}}]}]}`, i, i)),
				bhLLM(fmt.Sprintf(`[{"role":"system","content":"You are a researcher."},{"role":"user","content":"Research topic %d"}]`, i), fmt.Sprintf(`[{"role":"assistant","content":"Searching topic %d"}]`, i), 500)),
			withCalls(bhStep(tb, "tools", `{}`, fmt.Sprintf(`{"messages":[{"type":"tool","status":"success","content":"result %d: %s"}]}`, i, strings.Repeat("lorem ipsum dolor ", 20))),
				bhTool("search", fmt.Sprintf(`{"q":"topic %d","k":5}`, i), fmt.Sprintf(`{"results":["doc %d a","doc %d b"],"status":"ok"}`, i, i))),
			bhStep(tb, "reflect", `{}`, fmt.Sprintf(`{"notes":"reflection %d","confidence":0.%d}`, i, i)),
		)
	}
	return bhRun("bench", steps...)
}

func BenchmarkBehavioral(b *testing.B) {
	run := benchRun(b)
	cfg := bhCfg(nil)
	b.ReportAllocs()
	for b.Loop() {
		if fs := Behavioral(run, cfg); len(fs) > 1 { // runaway is quiet at 10 runs per node
			b.Fatalf("unexpected findings: %s", bhDump(fs))
		}
	}
}

package detect

import (
	"strings"
	"testing"
)

func init() {
	addLookAlikes(ruleToolError, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a tool result with a success status, a null error and prose about error handling",
			healthy: toolRun(t, "issue_refund", `{"order":"A-1"}`, `{"status":200,"error":null,"errors":[],"refund_id":"re_1","note":"See the error handling guide if a refund stalls."}`),
			fault:   toolRun(t, "issue_refund", `{"order":"A-1"}`, `{"status":502,"error":"Bad gateway from the payment provider"}`),
		}}
	})
}

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
			f := one(t, Behavioral(run, cfgWith(nil)), ruleToolError)
			if f.Severity != SeverityWarning || f.Step != 0 || f.Details["tool"] != "web_search" ||
				f.Details["field"] != c.field || f.Details["value"] != c.value {
				t.Fatalf("finding = %+v", f)
			}
			none(t, Behavioral(run, cfgWith(nil)), ruleRateLimited)
		})
	}
}

func TestToolErrorInNodeOutputAndDedup(t *testing.T) {
	// The tool result and the node output carry the same error: one finding.
	run := bhRun("p", withCalls(bhStep(t, "search", `{}`, `{"error":"index unavailable"}`),
		bhTool("vector_search", `{"q":"x"}`, `{"error":"index unavailable"}`)))
	f := one(t, Behavioral(run, cfgWith(nil)), ruleToolError)
	if f.Details["tool"] != "vector_search" {
		t.Fatalf("finding = %+v", f)
	}
	run = bhRun("p", bhStep(t, "parse", `{}`, `{"messages":[{"type":"tool","status":"error","content":"bad input"}]}`))
	f = one(t, Behavioral(run, cfgWith(nil)), ruleToolError)
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
		fs := Behavioral(run, cfgWith(nil))
		none(t, fs, ruleToolError)
		none(t, fs, ruleRateLimited)
	}
}

func TestToolErrorConfig(t *testing.T) {
	run := bhRun("p", withCalls(bhStep(t, "s", `{}`, `{}`), bhTool("t", `{}`, `{"error":"x"}`)))
	none(t, Behavioral(run, cfgWith(map[string]RuleConfig{ruleToolError: {Disabled: true}})), ruleToolError)
	f := one(t, Behavioral(run, cfgWith(map[string]RuleConfig{ruleToolError: {Severity: SeverityCritical}})), ruleToolError)
	if f.Severity != SeverityCritical {
		t.Fatalf("finding = %+v", f)
	}
}

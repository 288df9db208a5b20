package detect

import (
	"testing"
)

func init() {
	addLookAlikes(ruleClaimedSuccessEmpty, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a list API that succeeds with items and an empty errors list",
			healthy: toolRun(t, "list_orders", `{"customer":"c-1"}`, `{"ok":true,"items":[{"id":"A-1"}],"errors":[],"next_cursor":null}`),
			fault:   toolRun(t, "list_orders", `{"customer":"c-1"}`, `{"ok":true,"items":[],"errors":[]}`),
		}}
	})
}

func TestClaimedSuccessEmpty(t *testing.T) {
	cases := []struct{ out, field string }{
		{`{"status":"success","results":[]}`, "results"},
		{`{"success":true,"data":{}}`, "data"},
		{`{"ok":true,"items":null}`, "items"},
		{`{"search":{"status":"OK","result":"  "}}`, "search.result"},
	}
	for _, c := range cases {
		run := bhRun("p", bhStep(t, "search", `{}`, c.out))
		f := one(t, Behavioral(run, cfgWith(nil)), ruleClaimedSuccessEmpty)
		if f.Severity != SeverityWarning || f.Details["field"] != c.field || f.Step != 0 {
			t.Fatalf("%s: finding = %+v", c.out, f)
		}
	}
	run := bhRun("p", withCalls(bhStep(t, "s", `{}`, `{"n":1}`), bhTool("crm", `{}`, `{"status":"success","records":[]}`)))
	if f := one(t, Behavioral(run, cfgWith(nil)), ruleClaimedSuccessEmpty); f.Details["tool"] != "crm" {
		t.Fatalf("finding = %+v", f)
	}
	for _, out := range []string{
		`{"status":"success","results":[{"id":1}]}`,
		`{"status":"error","results":[]}`,
		`{"results":[]}`,
		`{"success":true,"message":"saved"}`,
	} {
		none(t, Behavioral(bhRun("p", bhStep(t, "search", `{}`, out)), cfgWith(nil)), ruleClaimedSuccessEmpty)
	}
}

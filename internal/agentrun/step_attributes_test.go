package agentrun_test

import (
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	tu "github.com/arguslabs/argus-otel/internal/testutil"
)

func TestStepAttributesValidate(t *testing.T) {
	ok := agentrun.StepAttributes{Name: []string{"app.step"}, Input: []string{"app.in", "app.args"}, Output: []string{"app.out"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	if err := (agentrun.StepAttributes{}).Validate(); err != nil {
		t.Fatalf("empty config refused: %v", err)
	}
	many := make([]string, 17)
	for i := range many {
		many[i] = "k" + strings.Repeat("x", i)
	}
	bad := agentrun.StepAttributes{
		Name:   []string{"", "argus.step.name"},
		Input:  []string{"app.x"},
		Output: append([]string{"app.x"}, many...),
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{
		"step_attributes.name[0]: empty attribute key",
		`step_attributes.name[1]: "argus.step.name" is in the processor's own argus.* namespace`,
		`step_attributes.output[0]: "app.x" is already listed under step_attributes.input`,
		"step_attributes.output: 18 keys, at most 16",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// Custom instrumentation: the configured attributes name the steps and hold
// their states; Apply marks the spans so that a mapping without the config
// (the exporter's) finds the same steps.
func TestStepAttributesApplyAndMap(t *testing.T) {
	td := tu.BuildTraces(t,
		span(0, -1, "handle request", 0, 100, nil),
		span(1, 0, "stage", 1, 40, map[string]any{"app.stage": "classify", "app.in": `{"text":"refund please"}`, "app.out": `{"intent":"refund"}`}),
		span(2, 1, "http POST", 2, 30, map[string]any{"http.request.method": "POST"}),
		span(3, 0, "stage", 41, 90, map[string]any{"app.stage": "answer", "app.args": `{"intent":"refund"}`}),
		span(4, 3, "gen", 42, 80, map[string]any{"app.stage": "draft"}),
	)
	cfg := agentrun.StepAttributes{Name: []string{"app.stage"}, Input: []string{"app.in", "app.args"}, Output: []string{"app.out"}}
	cfg.Apply(td)
	cfg.Apply(td) // idempotent
	r := oneRun(t, td, agentrun.Options{})
	eq(t, "nodes", nodes(r), []string{"classify", "answer", "draft"})
	eq(t, "convention", r.Steps[0].Convention, agentrun.ConvCustom)
	eq(t, "input", r.Steps[0].Input, js(t, `{"text":"refund please"}`))
	eq(t, "output", r.Steps[0].Output, js(t, `{"intent":"refund"}`))
	eq(t, "second input key", r.Steps[1].Input, js(t, `{"intent":"refund"}`))
	eq(t, "no output attribute", r.Steps[1].HasOutput, false)
	eq(t, "calls", len(r.Steps[0].Calls), 1)
	eq(t, "nested step's parent", r.Steps[2].ParentSpanID, r.Steps[1].SpanID)

	// Spans that carry none of the keys are left alone.
	plain := tu.BuildTraces(t, span(0, -1, "root", 0, 10, nil), span(1, 0, "work", 1, 5, map[string]any{"x": 1}))
	cfg.Apply(plain)
	for s := range agentrun.Spans(plain) {
		if _, ok := s.Attributes().Get(agentrun.AttrStepName); ok {
			t.Errorf("span %q marked without a configured attribute", s.Name())
		}
	}
}

// A span shape no convention knows keeps its content: attributes named like
// an input or an output become the step's states.
func TestUnknownSDKStatesFromAttributeNames(t *testing.T) {
	td := tu.BuildTraces(t,
		span(0, -1, "agent run", 0, 100, nil),
		span(1, 0, "plan", 1, 40, map[string]any{"acme.step.input": `{"goal":"ship"}`, "acme.step.output": `{"plan":["a","b"]}`, "acme.tokens": 12}),
		span(2, 0, "search", 41, 90, map[string]any{"acme.tool.query": "shipping rates", "acme.tool_result": `[{"rate":4.5}]`}),
		span(3, 0, "notify", 91, 99, map[string]any{"acme.retries": 0}),
	)
	r := oneRun(t, td, agentrun.Options{})
	eq(t, "nodes", nodes(r), []string{"plan", "search", "notify"})
	eq(t, "plan in", r.Steps[0].Input, js(t, `{"goal":"ship"}`))
	eq(t, "plan out", r.Steps[0].Output, js(t, `{"plan":["a","b"]}`))
	eq(t, "search in", r.Steps[1].Input, "shipping rates")
	eq(t, "search out", r.Steps[1].Output, js(t, `[{"rate":4.5}]`))
	eq(t, "a count is no content", r.Steps[2].HasInput || r.Steps[2].HasOutput, false)
}

package detect

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// stepSpec describes one step of a hand-built run. Zero values mean: status
// ok, input and output present, no LangGraph superstep, 10 ms duration,
// starting 1 ms after the previous step ended.
type stepSpec struct {
	Node string
	// In / Out are decoded JSON values (use j(`...`) or plain Go maps/slices
	// of any). Set NoInput / NoOutput for an absent attribute (a node that
	// threw has no output).
	In, Out           any
	NoInput, NoOutput bool
	OutputMalformed   bool
	Status            string // "" = ok
	StatusMessage     string
	Exceptions        []agentrun.Exception
	Calls             []agentrun.Call
	LG                int           // langgraph_step; 0 = absent (-1 on the Step)
	Duration          time.Duration // 0 = 10 ms
	Parallel          bool          // starts together with the previous step
	Kind              string        // AI-convention kind of the node span
	Convention        string        // "" = openinference
	Metadata          map[string]any
}

const testTraceID = "0af7651916cd43dd8448eb211c80319c"

var testEpoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newRun builds a Run the way the mapping would: steps numbered from 1,
// ids "<trace>-<span>", Failed when any step failed.
func newRun(specs ...stepSpec) *agentrun.Run {
	run := &agentrun.Run{
		TraceID:      testTraceID,
		PipelineName: "test-graph",
		RootSpanID:   "00000000000000ff",
		Start:        testEpoch,
		Metadata:     map[string]any{},
	}
	at := testEpoch.Add(time.Millisecond)
	var prevStart time.Time
	for i, sp := range specs {
		d := sp.Duration
		if d == 0 {
			d = 10 * time.Millisecond
		}
		start := at
		if sp.Parallel && i > 0 {
			start = prevStart
		}
		spanID := fmt.Sprintf("%016x", i+1)
		st := agentrun.Step{
			ID:            agentrun.StepID(testTraceID, spanID),
			SpanID:        spanID,
			ParentSpanID:  run.RootSpanID,
			Number:        i + 1,
			Node:          sp.Node,
			LangGraphStep: -1,
			Convention:    "openinference",
			SpanKind:      "internal",
			Kind:          sp.Kind,
			Start:         start,
			End:           start.Add(d),
			Input:         sp.In,
			Output:        sp.Out,
			HasInput:      !sp.NoInput,
			HasOutput:     !sp.NoOutput,
			Status:        agentrun.StatusOK,
			StatusMessage: sp.StatusMessage,
			Exceptions:    sp.Exceptions,
			Calls:         sp.Calls,
			Metadata:      sp.Metadata,
		}
		st.OutputMalformed = sp.OutputMalformed
		if sp.NoOutput {
			st.Output = nil
		}
		if sp.NoInput {
			st.Input = nil
		}
		if sp.LG != 0 {
			st.LangGraphStep = sp.LG
		}
		if sp.Convention != "" {
			st.Convention = sp.Convention
		}
		if sp.Status != "" {
			st.Status = sp.Status
		}
		if st.Metadata == nil {
			st.Metadata = map[string]any{}
		}
		run.Steps = append(run.Steps, st)
		if st.Failed() {
			run.Failed = true
		}
		prevStart = start
		if end := st.End.Add(time.Millisecond); end.After(at) {
			at = end
		}
		run.End = at
	}
	run.SpanCount = len(specs) + 1
	return run
}

// j decodes JSON text as the mapping does (numbers as float64).
func j(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(fmt.Sprintf("bad test JSON %q: %v", s, err))
	}
	return v
}

// keyError is the exception a Python node raises on state["field"].
func keyError(field string) []agentrun.Exception {
	return []agentrun.Exception{{Type: "KeyError", Message: "'" + field + "'",
		Stacktrace: "Traceback (most recent call last):\n  File \"graph.py\", line 42, in synthesize\n    docs = state[\"" + field + "\"]\nKeyError: '" + field + "'"}}
}

// byRule returns the findings of one rule.
func byRule(fs []Finding, rule string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

// one asserts exactly one finding of rule and returns it.
func one(t *testing.T, fs []Finding, rule string) Finding {
	t.Helper()
	got := byRule(fs, rule)
	if len(got) != 1 {
		t.Fatalf("want exactly one %s finding, got %d:\n%s", rule, len(got), dump(fs))
	}
	return got[0]
}

// none asserts that no finding of the given rules exists.
func none(t *testing.T, fs []Finding, rules ...string) {
	t.Helper()
	for _, r := range rules {
		if got := byRule(fs, r); len(got) > 0 {
			t.Fatalf("want no %s finding, got:\n%s", r, dump(got))
		}
	}
}

// noAlarms asserts no warning or critical finding at all.
func noAlarms(t *testing.T, fs []Finding) {
	t.Helper()
	var bad []Finding
	for _, f := range fs {
		if f.Severity != SeverityInfo {
			bad = append(bad, f)
		}
	}
	if len(bad) > 0 {
		t.Fatalf("want no warning/critical findings, got:\n%s", dump(bad))
	}
}

// expect checks the essentials of a finding.
func expect(t *testing.T, f Finding, step int, severity string, details map[string]any) {
	t.Helper()
	if f.Step != step {
		t.Errorf("%s: step = %d, want %d (%s)", f.Rule, f.Step, step, f.Message)
	}
	if f.Severity != severity {
		t.Errorf("%s: severity = %s, want %s", f.Rule, f.Severity, severity)
	}
	for k, want := range details {
		if got := f.Details[k]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: details[%q] = %v, want %v (%s)", f.Rule, k, got, want, f.Message)
		}
	}
	if f.ID == "" || !strings.HasPrefix(f.ID, "det_") {
		t.Errorf("%s: bad id %q", f.Rule, f.ID)
	}
	if f.Message == "" {
		t.Errorf("%s: empty message", f.Rule)
	}
}

func dump(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  [%s] %s step=%d %s %v\n", f.Severity, f.Rule, f.Step, f.Message, f.Details)
	}
	return b.String()
}

// cfgWith returns a defaulted config with rule overrides.
func cfgWith(rules map[string]RuleConfig) *Config {
	c := Config{Rules: rules}.WithDefaults()
	return &c
}

func byRuleStep(fs []Finding, rule string, step int) []Finding {
	var out []Finding
	for _, f := range byRule(fs, rule) {
		if f.Step == step {
			out = append(out, f)
		}
	}
	return out
}

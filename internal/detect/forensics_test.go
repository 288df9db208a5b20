package detect

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The correlator (Correlate) as a whole and the builders of its tests; its
// tests by concern: the causal chains in forensics_chains_test.go, the
// verdict (origins, root cause, confidence, id) in forensics_verdict_test.go.

// ---- builders -------------------------------------------------------------

const fxtTrace = "0af7651916cd43dd8448eb211c80319c"

// fxtJSON parses a JSON literal the way the mapping does ([]any, map[string]any).
func fxtJSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %q: %v", s, err)
	}
	return v
}

type fxtStep struct {
	node, in, out string // JSON; out "" = the node produced no output
	status        string
	exc           *agentrun.Exception
	calls         []agentrun.Call
}

func fxtRun(t testing.TB, steps ...fxtStep) *agentrun.Run {
	t.Helper()
	run := &agentrun.Run{TraceID: fxtTrace, PipelineName: "rag"}
	for i, s := range steps {
		st := agentrun.Step{
			ID:            fmt.Sprintf("%s-%016x", fxtTrace, i+1),
			SpanID:        fmt.Sprintf("%016x", i+1),
			Number:        i + 1,
			Node:          s.node,
			LangGraphStep: i + 1,
			Status:        agentrun.StatusOK,
			Calls:         s.calls,
		}
		if s.in != "" {
			st.Input, st.HasInput = fxtJSON(t, s.in), true
		}
		if s.out != "" {
			st.Output, st.HasOutput = fxtJSON(t, s.out), true
		}
		if s.status != "" {
			st.Status = s.status
		}
		if s.exc != nil {
			st.Exceptions = []agentrun.Exception{*s.exc}
		}
		if st.Status == agentrun.StatusError {
			run.Failed = true
		}
		run.Steps = append(run.Steps, st)
	}
	return run
}

// fxtFinding builds a Finding shaped like the layers' (id, layer, node and
// the details cfg.finding adds).
func fxtFinding(run *agentrun.Run, rule, sev string, step int, details map[string]any) Finding {
	if details == nil {
		details = map[string]any{}
	}
	layer, _, _ := strings.Cut(rule, ".")
	details["rule"] = rule
	node := ""
	if step >= 0 && step < len(run.Steps) {
		node = run.Steps[step].Node
		details["node"] = node
		details["step_number"] = run.Steps[step].Number
	}
	return Finding{
		ID:       findingID(run.TraceID, rule, step, details),
		Rule:     rule,
		Layer:    layer,
		Severity: sev,
		Step:     step,
		Node:     node,
		Message:  rule + " on " + node,
		Details:  details,
	}
}

type fxtLink struct {
	from, to   int
	typ, field string
}

func fxtLinks(fo *Forensics) []fxtLink {
	var out []fxtLink
	for _, l := range fo.Chain {
		out = append(out, fxtLink{l.FromStep, l.ToStep, l.Type, l.Field})
	}
	return out
}

// fxtCheck asserts what must hold for every verdict, whatever the input.
func fxtCheck(t *testing.T, run *agentrun.Run, fs []Finding, fo *Forensics) {
	t.Helper()
	if fo == nil {
		t.Fatal("Correlate returned nil for non-empty findings")
	}
	n := 0
	if run != nil {
		n = len(run.Steps)
	}
	if fo.RootCauseStep < -1 || fo.RootCauseStep >= n {
		t.Errorf("RootCauseStep %d out of range [-1,%d)", fo.RootCauseStep, n)
	}
	if fo.RootCauseStep >= 0 && !fxtContains(fo.Origins, fo.RootCauseStep) {
		t.Errorf("root %d is not among origins %v", fo.RootCauseStep, fo.Origins)
	}
	for name, idx := range map[string][]int{"origins": fo.Origins, "victims": fo.Victims} {
		if !sort.IntsAreSorted(idx) {
			t.Errorf("%s not sorted: %v", name, idx)
		}
		for k, i := range idx {
			if i < 0 || i >= n || (k > 0 && idx[k-1] == i) {
				t.Errorf("%s: bad or duplicate index %d in %v", name, i, idx)
			}
		}
	}
	for _, l := range fo.Chain {
		if l.FromStep < 0 || l.ToStep >= n || l.FromStep >= l.ToStep {
			t.Errorf("link %+v goes backwards or out of range", l)
			continue
		}
		if l.From != run.Steps[l.FromStep].Node || l.To != run.Steps[l.ToStep].Node ||
			l.FromStepID != run.Steps[l.FromStep].ID || l.ToStepID != run.Steps[l.ToStep].ID {
			t.Errorf("link %+v names the wrong steps", l)
		}
		if l.Confidence < 0 || l.Confidence > 1 {
			t.Errorf("link confidence %v out of [0,1]", l.Confidence)
		}
		switch l.Type {
		case LinkFieldDrop, LinkEmptyOutput, LinkPlaceholderPropagation, LinkToolFailureCascade, LinkAnomalyCascade:
		default:
			t.Errorf("unknown link type %q", l.Type)
		}
	}
	ids := map[string]bool{}
	for _, f := range fs {
		ids[f.ID] = true
	}
	if !sort.StringsAreSorted(fo.DetectionIDs) {
		t.Errorf("detection ids not sorted: %v", fo.DetectionIDs)
	}
	for k, id := range fo.DetectionIDs {
		if !ids[id] || (k > 0 && fo.DetectionIDs[k-1] == id) {
			t.Errorf("detection id %q unknown or duplicated", id)
		}
	}
	if fo.Confidence < 0 || fo.Confidence > 1 {
		t.Errorf("confidence %v out of [0,1]", fo.Confidence)
	}
	if !strings.HasPrefix(fo.ID, "for_") || len(fo.ID) != 28 {
		t.Errorf("bad id %q", fo.ID)
	}
	if fo.Explanation == "" || !utf8.ValidString(fo.Explanation) || strings.ContainsAny(fo.Explanation, "\n\r\x00") ||
		len(fo.Explanation) > 2000 {
		t.Errorf("bad explanation %q", fo.Explanation)
	}
}

func fxtContains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// fxtSentences counts sentences in explanations built from plain node names.
func fxtSentences(s string) int {
	return strings.Count(s+" ", ". ")
}

// fxtCrashRun: the crash three steps after the empty retrieval.
func fxtCrashRun(t testing.TB) *agentrun.Run {
	return fxtRun(t,
		fxtStep{node: "plan", in: `{"question":"What is OTLP?"}`, out: `{"query":"OTLP definition"}`},
		fxtStep{node: "retrieve", in: `{"question":"What is OTLP?","query":"OTLP definition"}`, out: `{"documents":[]}`},
		fxtStep{node: "rerank", in: `{"question":"What is OTLP?","query":"OTLP definition","documents":[]}`, out: `{"documents":[]}`},
		fxtStep{node: "format_context", in: `{"question":"What is OTLP?","query":"OTLP definition","documents":[]}`, out: `{"context":""}`},
		fxtStep{node: "synthesize", in: `{"question":"What is OTLP?","query":"OTLP definition","context":""}`,
			status: agentrun.StatusError, exc: &agentrun.Exception{Type: "KeyError", Message: "'documents'"}},
	)
}

// ---- determinism and robustness ----------------------------------------------

func TestForensicsDeterministic(t *testing.T) {
	run := fxtCrashRun(t)
	fs := []Finding{
		fxtFinding(run, "structural.empty_retrieval", SeverityWarning, 1, map[string]any{"field": "documents"}),
		fxtFinding(run, "structural.dropped_field", SeverityWarning, 3, map[string]any{"field": "documents"}),
		fxtFinding(run, "behavioral.error_span", SeverityCritical, 4, nil),
		fxtFinding(run, "structural.crash_missing_data", SeverityCritical, 4, map[string]any{"field": "documents", "producer_step": 1}),
		fxtFinding(run, "statistical.too_fast", SeverityInfo, 2, nil),
		fxtFinding(run, "behavioral.runaway_steps", SeverityWarning, -1, nil),
	}
	first := Correlate(run, fs)
	for k := range 25 {
		perm := append([]Finding(nil), fs...)
		// a different order each round
		for i := range perm {
			j := (i*7 + k*3) % len(perm)
			perm[i], perm[j] = perm[j], perm[i]
		}
		again := Correlate(fxtCrashRun(t), perm)
		if !reflect.DeepEqual(first, again) {
			t.Fatalf("round %d differs:\n%+v\n%+v", k, first, again)
		}
	}
	other := fxtCrashRun(t)
	other.TraceID = strings.Repeat("1", 32)
	if Correlate(other, fs).ID == first.ID {
		t.Error("forensics id ignores the trace id")
	}
}

func TestForensicsOddInput(t *testing.T) {
	if Correlate(fxtCrashRun(t), nil) != nil || Correlate(nil, nil) != nil {
		t.Fatal("empty findings must give nil")
	}
	bad := "syn\xffthe\x00size\n<script>alert(1)</script>"
	huge := strings.Repeat("lorem ipsum ", 20000)
	cases := map[string]func() (*agentrun.Run, []Finding){
		"nil run": func() (*agentrun.Run, []Finding) {
			return nil, []Finding{{ID: "det_a", Rule: "behavioral.error_span", Severity: SeverityCritical, Step: 3}}
		},
		"run-level only": func() (*agentrun.Run, []Finding) {
			run := fxtCrashRun(t)
			return run, []Finding{
				fxtFinding(run, "behavioral.runaway_steps", SeverityWarning, -1, nil),
				{ID: "det_far", Rule: "semantic.placeholder", Severity: SeverityWarning, Step: 99},
				{ID: "det_neg", Rule: "semantic.placeholder", Severity: SeverityWarning, Step: -7},
			}
		},
		"one step": func() (*agentrun.Run, []Finding) {
			run := fxtRun(t, fxtStep{node: "only", in: `"just text"`, out: `[1,2,3]`})
			return run, []Finding{fxtFinding(run, "semantic.truncated", SeverityWarning, 0, nil)}
		},
		"no inputs, odd details": func() (*agentrun.Run, []Finding) {
			run := fxtRun(t,
				fxtStep{node: "a", out: `{"x":""}`},
				fxtStep{node: "b", out: `null`},
				fxtStep{node: bad, in: `[]`, status: agentrun.StatusError,
					exc: &agentrun.Exception{Type: "KeyError", Message: "'x' " + bad + huge}},
			)
			return run, []Finding{
				{ID: "det_1", Rule: "structural.crash_missing_data", Severity: SeverityCritical, Step: 2,
					Details: map[string]any{"field": "x", "producer_step": "abc", "producer_node": 42}},
				{ID: "det_2", Rule: "structural.crash_missing_data", Severity: SeverityCritical, Step: 2,
					Details: map[string]any{"field": []any{"x"}, "producer_step": json.Number("99999999999")}},
				{ID: "det_3", Rule: "structural.crash_missing_data", Severity: "bogus", Step: 2,
					Details: map[string]any{"field": "x", "producer_step": 1e300}},
				{ID: "det_4", Rule: "no.such_rule", Severity: "", Step: 1, Details: nil},
				{ID: "det_4", Rule: "no.such_rule", Severity: "", Step: 1, Details: nil},
				{ID: "", Rule: "", Severity: SeverityWarning, Step: 0},
			}
		},
		"cycle of one node": func() (*agentrun.Run, []Finding) {
			var steps []fxtStep
			for range 40 {
				steps = append(steps, fxtStep{node: "loop", in: `{"s":""}`, out: `{"s":""}`})
			}
			run := fxtRun(t, steps...)
			var fs []Finding
			for i := 0; i < 40; i += 3 {
				fs = append(fs, fxtFinding(run, "behavioral.loop_stall", SeverityWarning, i, nil),
					fxtFinding(run, "semantic.whitespace", SeverityWarning, i, map[string]any{"field": "s"}))
			}
			return run, fs
		},
		"huge and hostile values": func() (*agentrun.Run, []Finding) {
			run := fxtRun(t,
				fxtStep{node: "w", in: `{"q":"x"}`},
				fxtStep{node: bad, in: `{"q":"x"}`},
			)
			run.Steps[0].Output = map[string]any{"blob": huge, "'; DROP TABLE traces; --": ""}
			run.Steps[1].Input = map[string]any{"blob": huge, "'; DROP TABLE traces; --": ""}
			run.Steps[1].Output = map[string]any{"copy": huge}
			run.Steps[1].Calls = []agentrun.Call{{Name: bad, Status: agentrun.StatusError, StatusMessage: huge}}
			return run, []Finding{
				fxtFinding(run, "semantic.placeholder", SeverityWarning, 0, map[string]any{"field": "blob"}),
				fxtFinding(run, "behavioral.tool_error", SeverityCritical, 1, map[string]any{"tool": bad}),
			}
		},
	}
	names := make([]string, 0, len(cases))
	for name := range cases {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			run, fs := cases[name]()
			fo := Correlate(run, fs)
			fxtCheck(t, run, fs, fo)
			if len(fo.Explanation) > 1200 {
				t.Errorf("explanation not bounded: %d bytes", len(fo.Explanation))
			}
		})
	}
}

// ---- benchmark ----------------------------------------------------------------

// fxtBenchRun is a 30-step RAG-with-retries run with 20 findings.
func fxtBenchRun(b *testing.B) (*agentrun.Run, []Finding) {
	nodes := []string{"plan", "retrieve", "rerank", "format_context", "synthesize", "validate"}
	var steps []fxtStep
	state := map[string]any{"question": "What is OTLP?", "history": []any{"a", "b", "c"}}
	for i := range 30 {
		node := nodes[i%len(nodes)]
		in, _ := json.Marshal(state)
		var out map[string]any
		switch node {
		case "plan":
			out = map[string]any{"query": fmt.Sprintf("otlp %d", i)}
		case "retrieve", "rerank":
			out = map[string]any{"documents": []any{}}
		case "format_context":
			out = map[string]any{"context": ""}
		case "synthesize":
			out = map[string]any{"answer": "TODO"}
		default:
			out = map[string]any{"verdict": "retry", "notes": strings.Repeat("n", 2000)}
		}
		for k, v := range out {
			state[k] = v
		}
		ob, _ := json.Marshal(out)
		steps = append(steps, fxtStep{node: node, in: string(in), out: string(ob)})
	}
	run := fxtRun(b, steps...)
	var fs []Finding
	for i := 0; len(fs) < 20; i++ {
		s := i % 30
		switch run.Steps[s].Node {
		case "retrieve":
			fs = append(fs, fxtFinding(run, "structural.empty_retrieval", SeverityWarning, s, map[string]any{"field": "documents"}))
		case "synthesize":
			fs = append(fs, fxtFinding(run, "semantic.placeholder", SeverityWarning, s, map[string]any{"field": "answer"}))
		case "format_context":
			fs = append(fs, fxtFinding(run, "structural.dropped_field", SeverityWarning, s, map[string]any{"field": "context"}))
		case "validate":
			fs = append(fs, fxtFinding(run, "statistical.latency_spike", SeverityWarning, s, map[string]any{"metric": "duration_ms"}))
		}
	}
	return run, fs[:20]
}

func BenchmarkCorrelate(b *testing.B) {
	run, fs := fxtBenchRun(b)
	if Correlate(run, fs) == nil {
		b.Fatal("no verdict")
	}
	b.ReportAllocs()
	for b.Loop() {
		Correlate(run, fs)
	}
}

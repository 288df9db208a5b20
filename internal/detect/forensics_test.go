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

// ---- the crash three steps after the empty retrieval -----------------------

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

func TestForensicsCrashThreeStepsAfterEmptyRetrieval(t *testing.T) {
	run := fxtCrashRun(t)
	fs := []Finding{
		fxtFinding(run, "structural.empty_retrieval", SeverityWarning, 1, map[string]any{"field": "documents"}),
		fxtFinding(run, "behavioral.error_span", SeverityCritical, 4, map[string]any{"exception_type": "KeyError"}),
		fxtFinding(run, "structural.crash_missing_data", SeverityCritical, 4,
			map[string]any{"field": "documents", "producer_step": 1, "producer_node": "retrieve", "state": "emptied"}),
	}
	fo := Correlate(run, fs)
	fxtCheck(t, run, fs, fo)

	if fo.RootCauseStep != 1 {
		t.Fatalf("root cause = %d, want 1 (retrieve); %+v", fo.RootCauseStep, fo)
	}
	if !reflect.DeepEqual(fo.Origins, []int{1}) || !reflect.DeepEqual(fo.Victims, []int{2, 3, 4}) {
		t.Errorf("origins %v victims %v, want [1] and [2 3 4]", fo.Origins, fo.Victims)
	}
	want := []fxtLink{
		{1, 2, LinkEmptyOutput, "documents"},
		{2, 3, LinkEmptyOutput, "documents"},
		{3, 4, LinkFieldDrop, "documents"},
	}
	if got := fxtLinks(fo); !reflect.DeepEqual(got, want) {
		t.Errorf("chain = %+v\nwant    %+v", got, want)
	}
	if l := fo.Chain[0]; l.From != "retrieve" || l.To != "rerank" || l.FromStepID != run.Steps[1].ID {
		t.Errorf("first link names %q -> %q (%s)", l.From, l.To, l.FromStepID)
	}
	// The crash names the field, so the last hop is the strongest.
	if fo.Chain[2].Confidence <= fo.Chain[1].Confidence {
		t.Errorf("link confidences %v %v: the named field should be stronger", fo.Chain[1].Confidence, fo.Chain[2].Confidence)
	}
	wantIDs := []string{fs[0].ID, fs[1].ID, fs[2].ID}
	sort.Strings(wantIDs)
	if !reflect.DeepEqual(fo.DetectionIDs, wantIDs) {
		t.Errorf("detection ids %v, want %v", fo.DetectionIDs, wantIDs)
	}
	if fo.Confidence < 0.7 {
		t.Errorf("confidence %v: a three-hop chain ending in a crash that names the field should be >= 0.7", fo.Confidence)
	}
	wantText := `retrieve (step 2) returned an empty "documents" list. ` +
		`rerank (step 3) and format_context (step 4) passed the empty value on, and synthesize (step 5) failed with KeyError: 'documents'. ` +
		`Root cause: retrieve (step 2).`
	if fo.Explanation != wantText {
		t.Errorf("explanation\n got %q\nwant %q", fo.Explanation, wantText)
	}
}

func TestForensicsCrashVariants(t *testing.T) {
	t.Run("format_context reports the drop", func(t *testing.T) {
		run := fxtCrashRun(t)
		fs := []Finding{
			fxtFinding(run, "structural.empty_retrieval", SeverityWarning, 1, map[string]any{"field": "documents"}),
			fxtFinding(run, "structural.dropped_field", SeverityWarning, 3, map[string]any{"field": "documents", "how": "missing"}),
			fxtFinding(run, "behavioral.error_span", SeverityCritical, 4, nil),
		}
		fo := Correlate(run, fs)
		fxtCheck(t, run, fs, fo)
		want := []fxtLink{
			{1, 2, LinkEmptyOutput, "documents"},
			{2, 3, LinkEmptyOutput, "documents"},
			{3, 4, LinkFieldDrop, "documents"},
		}
		if fo.RootCauseStep != 1 || !reflect.DeepEqual(fxtLinks(fo), want) {
			t.Errorf("root %d chain %+v, want 1 and %+v", fo.RootCauseStep, fxtLinks(fo), want)
		}
		if !reflect.DeepEqual(fo.Victims, []int{2, 3, 4}) {
			t.Errorf("victims %v", fo.Victims)
		}
		if !strings.Contains(fo.Explanation, `format_context (step 4) dropped "documents"`) {
			t.Errorf("explanation should describe the drop: %q", fo.Explanation)
		}
	})
	t.Run("only the crash evidence, no finding on retrieve", func(t *testing.T) {
		run := fxtCrashRun(t)
		fs := []Finding{
			fxtFinding(run, "behavioral.error_span", SeverityCritical, 4, nil),
			fxtFinding(run, "structural.crash_missing_data", SeverityCritical, 4,
				map[string]any{"field": "documents", "producer_step": 1, "producer_node": "retrieve"}),
		}
		fo := Correlate(run, fs)
		fxtCheck(t, run, fs, fo)
		if fo.RootCauseStep != 1 {
			t.Fatalf("root %d, want retrieve (1): the crash is never the root when an upstream origin exists", fo.RootCauseStep)
		}
		if fxtContains(fo.Origins, 4) || !fxtContains(fo.Victims, 4) {
			t.Errorf("synthesize must be a victim only: origins %v victims %v", fo.Origins, fo.Victims)
		}
		if fxtContains(fo.Origins, 2) {
			t.Errorf("rerank only passed the value on, yet is an origin: %v", fo.Origins)
		}
		if !strings.Contains(fo.Explanation, `retrieve (step 2) returned an empty "documents" list`) {
			t.Errorf("explanation %q", fo.Explanation)
		}
	})
	t.Run("producer named by a 1-based number", func(t *testing.T) {
		run := fxtRun(t,
			fxtStep{node: "load", in: `{"path":"a.txt"}`, out: `{"text":"hello"}`},
			fxtStep{node: "split", in: `{"path":"a.txt","text":"hello"}`, out: `{"chunks":"x"}`},
			fxtStep{node: "embed", in: `{"path":"a.txt","text":"hello","chunks":"x"}`,
				status: agentrun.StatusError, exc: &agentrun.Exception{Type: "ValueError", Message: "no vectors"}},
		)
		fs := []Finding{
			fxtFinding(run, "behavioral.error_span", SeverityCritical, 2, nil),
			// producer_step 2 is a number here: index 2 is embed itself.
			fxtFinding(run, "structural.crash_missing_data", SeverityCritical, 2,
				map[string]any{"field": "vectors", "producer_step": 2.0, "producer_node": "split"}),
		}
		fo := Correlate(run, fs)
		fxtCheck(t, run, fs, fo)
		if fo.RootCauseStep != 1 {
			t.Fatalf("root %d, want split (1)", fo.RootCauseStep)
		}
		want := []fxtLink{{1, 2, LinkFieldDrop, "vectors"}}
		if !reflect.DeepEqual(fxtLinks(fo), want) {
			t.Errorf("chain %+v, want %+v", fxtLinks(fo), want)
		}
		if fo.Chain[0].Confidence != confProducer {
			t.Errorf("producer evidence confidence %v", fo.Chain[0].Confidence)
		}
	})
}

// ---- tool failure cascade --------------------------------------------------

func TestForensicsToolFailureCascade(t *testing.T) {
	failing := []agentrun.Call{{Name: "web_search", Kind: "tool", Tool: "web_search",
		Status: agentrun.StatusError, StatusMessage: "500 Internal Server Error"}}
	t.Run("search output carries the failure", func(t *testing.T) {
		run := fxtRun(t,
			fxtStep{node: "plan", in: `{"question":"weather in Paris?"}`, out: `{"query":"weather Paris"}`},
			fxtStep{node: "search", in: `{"question":"weather in Paris?","query":"weather Paris"}`,
				out: `{"results":"HTTP 500: upstream unavailable"}`, calls: failing},
			fxtStep{node: "summarize", in: `{"question":"weather in Paris?","query":"weather Paris","results":"HTTP 500: upstream unavailable"}`,
				out: `{"summary":"[summary unavailable]"}`},
			fxtStep{node: "answer", in: `{"question":"weather in Paris?","summary":"[summary unavailable]"}`,
				out: `{"answer":"N/A"}`},
		)
		fs := []Finding{
			fxtFinding(run, "behavioral.tool_error", SeverityCritical, 1, map[string]any{"field": "results", "tool": "web_search", "value": "HTTP 500"}),
			fxtFinding(run, "behavioral.error_span", SeverityCritical, 1, map[string]any{"tool": "web_search"}),
			fxtFinding(run, "semantic.placeholder", SeverityWarning, 2, map[string]any{"field": "summary"}),
			fxtFinding(run, "semantic.null_like", SeverityWarning, 3, map[string]any{"field": "answer"}),
		}
		fo := Correlate(run, fs)
		fxtCheck(t, run, fs, fo)
		if fo.RootCauseStep != 1 || !reflect.DeepEqual(fo.Origins, []int{1}) || !reflect.DeepEqual(fo.Victims, []int{2, 3}) {
			t.Fatalf("root %d origins %v victims %v, want 1 [1] [2 3]", fo.RootCauseStep, fo.Origins, fo.Victims)
		}
		want := []fxtLink{
			{1, 2, LinkToolFailureCascade, "results"},
			{2, 3, LinkPlaceholderPropagation, "summary"},
		}
		if !reflect.DeepEqual(fxtLinks(fo), want) {
			t.Errorf("chain %+v, want %+v", fxtLinks(fo), want)
		}
		for _, s := range []string{`search (step 2) had a failing tool call to "web_search" (500 Internal Server Error)`,
			`summarize (step 3) wrote placeholder text into "summary"`, `answer (step 4) wrote a null-like value into "answer"`,
			"Root cause: search (step 2)."} {
			if !strings.Contains(fo.Explanation, s) {
				t.Errorf("explanation %q lacks %q", fo.Explanation, s)
			}
		}
		if n := fxtSentences(fo.Explanation); n < 1 || n > 3 {
			t.Errorf("%d sentences: %q", n, fo.Explanation)
		}
	})
	t.Run("search crashed without output", func(t *testing.T) {
		run := fxtRun(t,
			fxtStep{node: "plan", in: `{"question":"weather in Paris?"}`, out: `{"query":"weather Paris"}`},
			fxtStep{node: "search", in: `{"question":"weather in Paris?","query":"weather Paris"}`,
				status: agentrun.StatusError, exc: &agentrun.Exception{Type: "HTTPError", Message: "500 Server Error"}, calls: failing},
			fxtStep{node: "log", in: `{"question":"weather in Paris?","query":"weather Paris"}`, out: `{"logged":true}`},
			fxtStep{node: "summarize", in: `{"question":"weather in Paris?","query":"weather Paris","logged":true}`, out: `{"summary":"TODO"}`},
		)
		fs := []Finding{
			fxtFinding(run, "behavioral.error_span", SeverityCritical, 1, nil),
			fxtFinding(run, "semantic.placeholder", SeverityWarning, 3, map[string]any{"field": "summary"}),
		}
		fo := Correlate(run, fs)
		fxtCheck(t, run, fs, fo)
		// The healthy log step in between is not part of the chain, and the
		// gap weakens the link.
		want := []fxtLink{{1, 3, LinkToolFailureCascade, ""}}
		if fo.RootCauseStep != 1 || !reflect.DeepEqual(fxtLinks(fo), want) || !reflect.DeepEqual(fo.Victims, []int{3}) {
			t.Fatalf("root %d chain %+v victims %v, want 1 %+v [3]", fo.RootCauseStep, fxtLinks(fo), fo.Victims, want)
		}
		if c := fo.Chain[0].Confidence; c >= 0.6 || c < 0.4 {
			t.Errorf("a whole-step failure one healthy step away should give about 0.48, got %v", c)
		}
		if !strings.Contains(fo.Explanation, "search (step 2) failed with HTTPError: 500 Server Error") {
			t.Errorf("explanation %q", fo.Explanation)
		}
	})
}

// ---- placeholder propagation ------------------------------------------------

func TestForensicsPlaceholderPropagation(t *testing.T) {
	run := fxtRun(t,
		fxtStep{node: "draft", in: `{"topic":"otel"}`, out: `{"draft":"TODO: write the introduction"}`},
		fxtStep{node: "review", in: `{"topic":"otel","draft":"TODO: write the introduction"}`, out: `{"reviewed":"TODO: write the introduction"}`},
		fxtStep{node: "style", in: `{"topic":"otel","draft":"TODO: write the introduction","reviewed":"TODO: write the introduction"}`, out: `{"tone":"formal"}`},
		fxtStep{node: "publish", in: `{"topic":"otel","reviewed":"TODO: write the introduction","tone":"formal"}`,
			out: `{"post":"Intro: TODO: write the introduction"}`},
	)
	fs := []Finding{
		fxtFinding(run, "semantic.placeholder", SeverityWarning, 0, map[string]any{"field": "draft"}),
		fxtFinding(run, "semantic.placeholder", SeverityWarning, 3, map[string]any{"field": "post"}),
	}
	fo := Correlate(run, fs)
	fxtCheck(t, run, fs, fo)
	if fo.RootCauseStep != 0 {
		t.Fatalf("root %d, want draft (0)", fo.RootCauseStep)
	}
	// style read the placeholder but wrote something healthy: not in the chain.
	want := []fxtLink{
		{0, 1, LinkPlaceholderPropagation, "draft"},
		{1, 3, LinkPlaceholderPropagation, "reviewed"},
	}
	if !reflect.DeepEqual(fxtLinks(fo), want) {
		t.Errorf("chain %+v, want %+v", fxtLinks(fo), want)
	}
	if !reflect.DeepEqual(fo.Victims, []int{1, 3}) {
		t.Errorf("victims %v, want [1 3]", fo.Victims)
	}
	if !strings.Contains(fo.Explanation, "review (step 2) passed the placeholder text on") {
		t.Errorf("explanation %q", fo.Explanation)
	}
}

// ---- pass-through nodes are never the root cause ------------------------------

func TestForensicsPassThroughIsSkipped(t *testing.T) {
	// retrieve has no finding of its own; the layer flagged the reranker that
	// handed on the same empty list. retrieve, the writer, is the origin.
	run := fxtRun(t,
		fxtStep{node: "retrieve", in: `{"query":"q"}`, out: `{"documents":[]}`},
		fxtStep{node: "rerank", in: `{"query":"q","documents":[]}`, out: `{"documents":[]}`},
		fxtStep{node: "identity", in: `{"query":"q","documents":[]}`, out: `{"query":"q","documents":[]}`},
		fxtStep{node: "answer", in: `{"query":"q","documents":[]}`, out: `{"answer":"I cannot answer that."}`},
	)
	fs := []Finding{
		fxtFinding(run, "structural.empty_retrieval", SeverityWarning, 1, map[string]any{"field": "documents"}),
		fxtFinding(run, "semantic.refusal", SeverityWarning, 3, map[string]any{"field": "answer"}),
	}
	fo := Correlate(run, fs)
	fxtCheck(t, run, fs, fo)
	if fo.RootCauseStep != 0 {
		t.Fatalf("root %d, want retrieve (0); %s", fo.RootCauseStep, fo.Explanation)
	}
	if !reflect.DeepEqual(fo.Origins, []int{0}) || !reflect.DeepEqual(fo.Victims, []int{1, 2, 3}) {
		t.Errorf("origins %v victims %v, want [0] [1 2 3]", fo.Origins, fo.Victims)
	}
	want := []fxtLink{
		{0, 1, LinkEmptyOutput, "documents"},
		{1, 2, LinkEmptyOutput, "documents"},
		{2, 3, LinkEmptyOutput, "documents"},
	}
	if !reflect.DeepEqual(fxtLinks(fo), want) {
		t.Errorf("chain %+v, want %+v", fxtLinks(fo), want)
	}
	if !strings.HasPrefix(fo.Explanation, `retrieve (step 1) returned an empty "documents" list.`) {
		t.Errorf("explanation %q", fo.Explanation)
	}
	// An origin without a finding of its own is weaker evidence.
	for _, l := range fo.Chain[:1] {
		if l.Confidence >= confPassThrough {
			t.Errorf("link from an unflagged origin has confidence %v", l.Confidence)
		}
	}
}

// ---- a crash nothing upstream explains ------------------------------------

func TestForensicsCrashWithoutUpstreamCause(t *testing.T) {
	run := fxtRun(t,
		fxtStep{node: "plan", in: `{"question":"q"}`, out: `{"query":"q"}`},
		fxtStep{node: "synthesize", in: `{"question":"q","query":"q"}`,
			status: agentrun.StatusError, exc: &agentrun.Exception{Type: "KeyError", Message: "'citations'"}},
	)
	fs := []Finding{
		fxtFinding(run, "behavioral.error_span", SeverityCritical, 1, nil),
		fxtFinding(run, "structural.crash_missing_data", SeverityCritical, 1,
			map[string]any{"field": "citations", "producer_step": -1, "producer_node": "", "state": "missing"}),
	}
	fo := Correlate(run, fs)
	fxtCheck(t, run, fs, fo)
	if fo.RootCauseStep != 1 || !reflect.DeepEqual(fo.Origins, []int{1}) || len(fo.Victims) != 0 || len(fo.Chain) != 0 {
		t.Fatalf("got root %d origins %v victims %v chain %+v; want the crashing node alone", fo.RootCauseStep, fo.Origins, fo.Victims, fo.Chain)
	}
	chain := Correlate(fxtCrashRun(t), []Finding{
		fxtFinding(fxtCrashRun(t), "structural.empty_retrieval", SeverityWarning, 1, map[string]any{"field": "documents"}),
		fxtFinding(fxtCrashRun(t), "behavioral.error_span", SeverityCritical, 4, nil),
	})
	if fo.Confidence >= chain.Confidence || fo.Confidence > 0.6 {
		t.Errorf("confidence %v of a crash with no upstream cause should be low and below a corroborated chain (%v)", fo.Confidence, chain.Confidence)
	}
	want := `synthesize (step 2) failed with KeyError: 'citations', and no earlier step explains the missing "citations". Root cause: synthesize (step 2).`
	if fo.Explanation != want {
		t.Errorf("explanation\n got %q\nwant %q", fo.Explanation, want)
	}
}

// ---- warnings only ----------------------------------------------------------

func TestForensicsWarningsOnly(t *testing.T) {
	run := fxtRun(t,
		fxtStep{node: "plan", in: `{"question":"q"}`, out: `{"query":"q"}`},
		fxtStep{node: "retrieve", in: `{"question":"q","query":"q"}`, out: `{"documents":["a","b"]}`},
		fxtStep{node: "answer", in: `{"question":"q","query":"q","documents":["a","b"]}`, out: `{"answer":"[INSERT ANSWER HERE]"}`},
	)
	fs := []Finding{fxtFinding(run, "semantic.placeholder", SeverityWarning, 2, map[string]any{"field": "answer"})}
	fo := Correlate(run, fs)
	fxtCheck(t, run, fs, fo)
	if fo.RootCauseStep != 2 || !reflect.DeepEqual(fo.Origins, []int{2}) || len(fo.Victims) != 0 || len(fo.Chain) != 0 {
		t.Fatalf("root %d origins %v victims %v chain %v", fo.RootCauseStep, fo.Origins, fo.Victims, fo.Chain)
	}
	if want := `answer (step 3) wrote placeholder text into "answer". Root cause: answer (step 3).`; fo.Explanation != want {
		t.Errorf("explanation %q, want %q", fo.Explanation, want)
	}
	if fo.Confidence <= 0 || fo.Confidence >= 0.5 {
		t.Errorf("a single warning is thin evidence: confidence %v", fo.Confidence)
	}
	if !reflect.DeepEqual(fo.DetectionIDs, []string{fs[0].ID}) {
		t.Errorf("detection ids %v", fo.DetectionIDs)
	}
}

func TestForensicsInfoOnly(t *testing.T) {
	// Info findings start no chain while something worse exists, but a run
	// that failed with only info findings still gets an origin.
	run := fxtRun(t,
		fxtStep{node: "a", in: `{"x":1}`, out: `{"y":2}`},
		fxtStep{node: "b", in: `{"x":1,"y":2}`, out: `{"z":3}`},
	)
	fs := []Finding{fxtFinding(run, "statistical.too_fast", SeverityInfo, 1, map[string]any{"metric": "duration_ms"})}
	fo := Correlate(run, fs)
	fxtCheck(t, run, fs, fo)
	if fo.RootCauseStep != 1 {
		t.Errorf("root %d, want 1", fo.RootCauseStep)
	}
	// With a real problem elsewhere, the info finding is not involved.
	fs = append(fs, fxtFinding(run, "semantic.placeholder", SeverityWarning, 0, map[string]any{"field": "y"}))
	fo = Correlate(run, fs)
	fxtCheck(t, run, fs, fo)
	if fo.RootCauseStep != 0 || !reflect.DeepEqual(fo.Origins, []int{0}) || !reflect.DeepEqual(fo.DetectionIDs, []string{fs[1].ID}) {
		t.Errorf("root %d origins %v ids %v", fo.RootCauseStep, fo.Origins, fo.DetectionIDs)
	}
}

// ---- several problems -------------------------------------------------------

func TestForensicsIndependentProblems(t *testing.T) {
	run := fxtCrashRun(t)
	run.Steps = append(run.Steps, agentrun.Step{ID: fxtTrace + "-06", Number: 6, Node: "judge", Status: agentrun.StatusOK,
		Input: fxtJSON(t, `{"question":"What is OTLP?"}`), Output: fxtJSON(t, `{"score":0.2}`), HasInput: true, HasOutput: true})
	fs := []Finding{
		fxtFinding(run, "statistical.latency_spike", SeverityWarning, 5, map[string]any{"metric": "duration_ms"}),
		fxtFinding(run, "structural.empty_retrieval", SeverityWarning, 1, map[string]any{"field": "documents"}),
		fxtFinding(run, "behavioral.error_span", SeverityCritical, 4, nil),
		fxtFinding(run, "behavioral.runaway_steps", SeverityWarning, -1, nil),
	}
	fo := Correlate(run, fs)
	fxtCheck(t, run, fs, fo)
	if fo.RootCauseStep != 1 || !reflect.DeepEqual(fo.Origins, []int{1, 5}) {
		t.Fatalf("root %d origins %v, want 1 and [1 5]", fo.RootCauseStep, fo.Origins)
	}
	if len(fo.DetectionIDs) != 4 {
		t.Errorf("detection ids %v: run-level and independent findings are involved too", fo.DetectionIDs)
	}
	if !strings.HasSuffix(fo.Explanation, "Root cause: retrieve (step 2); independent problems also start at judge (step 6).") {
		t.Errorf("explanation %q", fo.Explanation)
	}
	if n := fxtSentences(fo.Explanation); n != 3 {
		t.Errorf("%d sentences: %q", n, fo.Explanation)
	}
}

func TestForensicsUnflaggedEmptyValueIsNotBlamed(t *testing.T) {
	// plan legitimately returns no filters; nothing later needs them. The
	// placeholder answer is the answer node's own problem.
	run := fxtRun(t,
		fxtStep{node: "plan", in: `{"question":"q"}`, out: `{"query":"q","filters":[]}`},
		fxtStep{node: "retrieve", in: `{"question":"q","query":"q","filters":[]}`, out: `{"documents":["a"]}`},
		fxtStep{node: "answer", in: `{"question":"q","query":"q","filters":[],"documents":["a"]}`, out: `{"answer":"TODO"}`},
	)
	fs := []Finding{fxtFinding(run, "semantic.placeholder", SeverityWarning, 2, map[string]any{"field": "answer"})}
	fo := Correlate(run, fs)
	fxtCheck(t, run, fs, fo)
	if fo.RootCauseStep != 2 || !reflect.DeepEqual(fo.Origins, []int{2}) || len(fo.Chain) != 0 {
		t.Errorf("root %d origins %v chain %+v, want answer alone", fo.RootCauseStep, fo.Origins, fxtLinks(fo))
	}
}

func TestForensicsFreshestDegradationWins(t *testing.T) {
	// Two independent origins. pack and render are handed the whole state,
	// with both degraded fields in it. pack passes the empty list on and
	// render crashes on what pack wrote: both belong to that chain only, not
	// to the older placeholder they merely saw.
	run := fxtRun(t,
		fxtStep{node: "title", in: `{"topic":"t"}`, out: `{"title":"TODO title"}`},
		fxtStep{node: "search", in: `{"topic":"t"}`, out: `{"hits":[]}`},
		fxtStep{node: "pack", in: `{"topic":"t","title":"TODO title","hits":[]}`, out: `{"bundle":[]}`},
		fxtStep{node: "render", in: `{"topic":"t","title":"TODO title","hits":[],"bundle":[]}`,
			status: agentrun.StatusError, exc: &agentrun.Exception{Type: "IndexError", Message: "list index out of range"}},
	)
	fs := []Finding{
		fxtFinding(run, "semantic.placeholder", SeverityWarning, 0, map[string]any{"field": "title"}),
		fxtFinding(run, "structural.empty_retrieval", SeverityWarning, 1, map[string]any{"field": "hits"}),
		fxtFinding(run, "behavioral.error_span", SeverityCritical, 3, nil),
	}
	fo := Correlate(run, fs)
	fxtCheck(t, run, fs, fo)
	want := []fxtLink{{1, 2, LinkEmptyOutput, "hits"}, {2, 3, LinkEmptyOutput, "bundle"}}
	if fo.RootCauseStep != 1 || !reflect.DeepEqual(fxtLinks(fo), want) || !reflect.DeepEqual(fo.Origins, []int{0, 1}) {
		t.Errorf("root %d origins %v chain %+v, want 1 [0 1] %+v", fo.RootCauseStep, fo.Origins, fxtLinks(fo), want)
	}
}

func TestForensicsFailedToolCallIsAnOrigin(t *testing.T) {
	// The search node's own span is fine, but its tool call failed: that is
	// the node's own failure even though its input carried a placeholder.
	run := fxtRun(t,
		fxtStep{node: "plan", in: `{"question":"q"}`, out: `{"query":"TODO"}`},
		fxtStep{node: "search", in: `{"question":"q","query":"TODO"}`, out: `{"results":"timeout"}`,
			calls: []agentrun.Call{{Name: "web", Kind: "tool", Tool: "web", Status: agentrun.StatusError, StatusMessage: "deadline exceeded"}}},
	)
	fs := []Finding{
		fxtFinding(run, "semantic.placeholder", SeverityWarning, 0, map[string]any{"field": "query"}),
		fxtFinding(run, "behavioral.error_span", SeverityCritical, 1, map[string]any{"tool": "web"}),
	}
	fo := Correlate(run, fs)
	fxtCheck(t, run, fs, fo)
	if fo.RootCauseStep != 1 || !reflect.DeepEqual(fo.Origins, []int{0, 1}) || len(fo.Victims) != 0 {
		t.Errorf("root %d origins %v victims %v, want 1 [0 1] []", fo.RootCauseStep, fo.Origins, fo.Victims)
	}
	if !strings.HasPrefix(fo.Explanation, `search (step 2) had a failing call to "web" (deadline exceeded).`) {
		t.Errorf("explanation %q", fo.Explanation)
	}
}

func TestForensicsTieGoesToEarliest(t *testing.T) {
	run := fxtRun(t,
		fxtStep{node: "a", in: `{"x":1}`, out: `{"y":"ok"}`},
		fxtStep{node: "b", in: `{"x":1,"y":"ok"}`, out: `{"z":"lorem ipsum"}`},
		fxtStep{node: "c", in: `{"x":1,"y":"ok","z":"lorem ipsum"}`, out: `{"w":"fine"}`},
		fxtStep{node: "d", in: `{"x":1,"y":"ok","z":"lorem ipsum","w":"fine"}`, out: `{"v":"TODO"}`},
	)
	fs := []Finding{
		fxtFinding(run, "semantic.placeholder", SeverityWarning, 3, map[string]any{"field": "v"}),
		fxtFinding(run, "statistical.latency_spike", SeverityWarning, 1, map[string]any{"metric": "duration_ms"}),
	}
	fo := Correlate(run, fs)
	fxtCheck(t, run, fs, fo)
	if fo.RootCauseStep != 1 || !reflect.DeepEqual(fo.Origins, []int{1, 3}) || len(fo.Chain) != 0 {
		t.Errorf("root %d origins %v chain %v, want the earlier of two equal problems", fo.RootCauseStep, fo.Origins, fo.Chain)
	}
}

func TestForensicsLoopRefersToStepsByNumber(t *testing.T) {
	// agent <-> tool cycle: the third tool call fails, the next agent turn
	// writes a placeholder. The root is that tool step, not the first "tool".
	var steps []fxtStep
	for k := range 3 {
		steps = append(steps,
			fxtStep{node: "agent", in: `{"task":"t"}`, out: fmt.Sprintf(`{"plan":"call %d"}`, k)},
			fxtStep{node: "tool", in: `{"task":"t"}`, out: fmt.Sprintf(`{"observation":"ok %d"}`, k)})
	}
	steps[5].out = `{"observation":"rate limit exceeded"}`
	steps = append(steps, fxtStep{node: "agent", in: `{"task":"t","observation":"rate limit exceeded"}`, out: `{"final":"N/A"}`})
	run := fxtRun(t, steps...)
	fs := []Finding{
		fxtFinding(run, "behavioral.rate_limited", SeverityWarning, 5, map[string]any{"field": "observation", "value": "rate limit exceeded"}),
		fxtFinding(run, "semantic.null_like", SeverityWarning, 6, map[string]any{"field": "final"}),
	}
	fo := Correlate(run, fs)
	fxtCheck(t, run, fs, fo)
	want := []fxtLink{{5, 6, LinkToolFailureCascade, "observation"}}
	if fo.RootCauseStep != 5 || !reflect.DeepEqual(fxtLinks(fo), want) {
		t.Fatalf("root %d chain %+v", fo.RootCauseStep, fxtLinks(fo))
	}
	if !strings.Contains(fo.Explanation, "tool (step 6) was rate limited") || !strings.Contains(fo.Explanation, "agent (step 7)") {
		t.Errorf("explanation %q", fo.Explanation)
	}
}

func TestForensicsRetryThatFailsAgainIsAFreshOrigin(t *testing.T) {
	run := fxtRun(t,
		fxtStep{node: "plan", in: `{"question":"q"}`, out: `{"query":"q1"}`},
		fxtStep{node: "retrieve", in: `{"question":"q","query":"q1"}`, out: `{"documents":[]}`},
		fxtStep{node: "synthesize", in: `{"question":"q","query":"q1","documents":[]}`, out: `{"answer":"TBD"}`},
		fxtStep{node: "validate", in: `{"question":"q","query":"q1","documents":[],"answer":"TBD"}`, out: `{"verdict":"retry"}`},
		fxtStep{node: "plan", in: `{"question":"q","query":"q1","documents":[],"answer":"TBD","verdict":"retry"}`, out: `{"query":"q2"}`},
		fxtStep{node: "retrieve", in: `{"question":"q","query":"q2","documents":[],"answer":"TBD","verdict":"retry"}`, out: `{"documents":[]}`},
		fxtStep{node: "synthesize", in: `{"question":"q","query":"q2","documents":[],"answer":"TBD","verdict":"retry"}`, out: `{"answer":"TBD"}`},
	)
	fs := []Finding{
		fxtFinding(run, "structural.empty_retrieval", SeverityWarning, 1, map[string]any{"field": "documents"}),
		fxtFinding(run, "semantic.placeholder", SeverityWarning, 2, map[string]any{"field": "answer"}),
		fxtFinding(run, "structural.empty_retrieval", SeverityWarning, 5, map[string]any{"field": "documents"}),
		fxtFinding(run, "semantic.placeholder", SeverityWarning, 6, map[string]any{"field": "answer"}),
	}
	fo := Correlate(run, fs)
	fxtCheck(t, run, fs, fo)
	// The second retrieval ran a new query and came back empty again: its
	// own failure, not a victim of the stale empty list or the old answer.
	if fo.RootCauseStep != 1 || !reflect.DeepEqual(fo.Origins, []int{1, 5}) || !reflect.DeepEqual(fo.Victims, []int{2, 6}) {
		t.Fatalf("root %d origins %v victims %v, want 1 [1 5] [2 6]", fo.RootCauseStep, fo.Origins, fo.Victims)
	}
	want := []fxtLink{{1, 2, LinkEmptyOutput, "documents"}, {5, 6, LinkEmptyOutput, "documents"}}
	if !reflect.DeepEqual(fxtLinks(fo), want) {
		t.Errorf("chain %+v, want %+v", fxtLinks(fo), want)
	}
	if !strings.HasSuffix(fo.Explanation, "Root cause: retrieve (step 2); independent problems also start at retrieve (step 6).") {
		t.Errorf("explanation %q", fo.Explanation)
	}
}

func TestForensicsAnomalyCascade(t *testing.T) {
	run := fxtRun(t,
		fxtStep{node: "retrieve", in: `{"q":"x"}`, out: `{"documents":["a"]}`},
		fxtStep{node: "compress", in: `{"q":"x","documents":["a"]}`, out: `{"notes":"a"}`},
		fxtStep{node: "answer", in: `{"q":"x","notes":"a"}`, out: `{"answer":"..."}`},
	)
	fs := []Finding{
		fxtFinding(run, "statistical.output_size_anomaly", SeverityWarning, 1, map[string]any{"metric": "output_bytes"}),
		fxtFinding(run, "semantic.repeated_filler", SeverityWarning, 2, map[string]any{"field": "answer"}),
	}
	fo := Correlate(run, fs)
	fxtCheck(t, run, fs, fo)
	want := []fxtLink{{1, 2, LinkAnomalyCascade, ""}}
	if fo.RootCauseStep != 1 || !reflect.DeepEqual(fxtLinks(fo), want) {
		t.Fatalf("root %d chain %+v", fo.RootCauseStep, fxtLinks(fo))
	}
	if fo.Chain[0].Confidence > 0.5 {
		t.Errorf("an anomaly cascade is weak evidence: %v", fo.Chain[0].Confidence)
	}
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

func TestForensicsRunLevelOnly(t *testing.T) {
	run := fxtRun(t,
		fxtStep{node: "a", in: `{"x":1}`, out: `{"y":2}`},
		fxtStep{node: "b", in: `{"x":1,"y":2}`, out: `{"z":3}`},
	)
	fs := []Finding{fxtFinding(run, "behavioral.runaway_steps", SeverityWarning, -1, nil)}
	fo := Correlate(run, fs)
	fxtCheck(t, run, fs, fo)
	if fo.RootCauseStep != -1 || len(fo.Origins) != 0 || len(fo.Chain) != 0 || !reflect.DeepEqual(fo.DetectionIDs, []string{fs[0].ID}) {
		t.Errorf("got %+v", fo)
	}
	if !strings.Contains(fo.Explanation, "behavioral.runaway_steps") {
		t.Errorf("explanation %q", fo.Explanation)
	}

	// A span that failed is evidence even when no layer reported on its step.
	crash := fxtCrashRun(t)
	fs = []Finding{fxtFinding(crash, "behavioral.runaway_steps", SeverityWarning, -1, nil)}
	fo = Correlate(crash, fs)
	fxtCheck(t, crash, fs, fo)
	if fo.RootCauseStep != 1 || !fxtContains(fo.Victims, 4) {
		t.Errorf("root %d victims %v: the failed synthesize span should lead back to retrieve", fo.RootCauseStep, fo.Victims)
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

// TestForensicsOneVerdictPerRun: analysing a run again with different
// findings (a replay after a crash, baselines that moved) yields the same
// forensics id, so the store keeps one verdict per run, the latest.
func TestForensicsOneVerdictPerRun(t *testing.T) {
	run := fxtCrashRun(t)
	first := []Finding{
		fxtFinding(run, "structural.empty_retrieval", SeverityWarning, 1, map[string]any{"field": "documents"}),
		fxtFinding(run, "behavioral.error_span", SeverityCritical, 4, map[string]any{"exception_type": "KeyError"}),
	}
	second := append(append([]Finding(nil), first...),
		fxtFinding(run, "statistical.latency_spike", SeverityWarning, 1, map[string]any{"metric": "duration_ms"}))
	a, b := Correlate(run, first), Correlate(run, second)
	if a == nil || b == nil {
		t.Fatal("no forensics")
	}
	if reflect.DeepEqual(a.DetectionIDs, b.DetectionIDs) {
		t.Fatal("the two analyses should differ in their findings")
	}
	if a.ID != b.ID {
		t.Errorf("forensics ids %s and %s differ for one run: a re-analysis would store a second verdict", a.ID, b.ID)
	}
	other := fxtCrashRun(t)
	other.TraceID = "ffffffffffffffffffffffffffffffff"
	if c := Correlate(other, first); c == nil || c.ID == a.ID {
		t.Errorf("another run got the same forensics id")
	}
}

package detect

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The causal chains of the correlator: which links (empty output, field
// drop, tool failure cascade, placeholder propagation, anomaly cascade) it
// draws from a degraded value to the steps it reaches.

// ---- the crash three steps after the empty retrieval -----------------------

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

// ---- anomaly cascade -------------------------------------------------------

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

package detect

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The verdict of the correlator: which steps are origins and which
// victims, which origin is the root cause, and the verdict's id.

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

// ---- run-level findings only, one verdict per run ---------------------------

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

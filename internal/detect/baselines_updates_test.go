package detect

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

func shapeOf(t *testing.T, base *Baselines, pipeline, node string) *updateShape {
	t.Helper()
	u := base.updates(pipeline, []string{node})[node]
	if u == nil {
		t.Fatalf("no update shape for %s/%s", pipeline, node)
	}
	return u
}

func TestUpdateShapeCounts(t *testing.T) {
	base := NewBaselines(0, 0)
	for i := range 10 {
		out := `{}`
		switch i % 5 {
		case 1:
			out = `{"feedback":"cite the source","score":0.4}`
		case 2:
			out = `{"feedback":null,"documents":[]}`
		}
		base.Observe(bhRun("p", bhStep(t, "validate", `{"answer":"a"}`, out)))
	}
	// A failed step and a truncated output say nothing of the node.
	failed := bhStep(t, "validate", `{"answer":"a"}`, `{}`)
	failed.Status = agentrun.StatusError
	base.Observe(bhRun("p", failed))
	base.Observe(bhRun("p", bhStep(t, "validate", `{"answer":"a"}`, `{"_argus_truncated":true,"original_bytes":9}`)))

	u := shapeOf(t, base, "p", "validate")
	if u.updates != 10 || u.empty != 6 || u.emptyRetrieval != 8 {
		t.Fatalf("updates %d empty %d empty retrieval %d, want 10 6 8", u.updates, u.empty, u.emptyRetrieval)
	}
	fb := u.field("feedback")
	if fb == nil || fb.writes != 4 || fb.empty != 2 || fb.types[0] != 2 || fb.types[1] != 2 {
		t.Fatalf("feedback = %+v", fb)
	}
	if sc := u.field("score"); sc == nil || sc.writes != 2 || sc.types[2] != 2 {
		t.Fatalf("score = %+v", sc)
	}
	if u.field("answer") != nil {
		t.Fatal("a field of the input counted as written")
	}
}

// The counts weigh the last window to 2x window updates: a node that
// changed its habit is judged by the new one.
func TestUpdateShapeForgets(t *testing.T) {
	base := NewBaselines(10, 0)
	for range 100 {
		base.Observe(bhRun("p", bhStep(t, "n", `{"q":1}`, `{"old":"x"}`)))
	}
	for range 30 {
		base.Observe(bhRun("p", bhStep(t, "n", `{"q":1}`, `{}`)))
	}
	u := shapeOf(t, base, "p", "n")
	if u.updates >= 10 || u.updates < 5 {
		t.Fatalf("updates %d, want within [window/2, window)", u.updates)
	}
	if u.field("old") != nil || u.empty+1 < u.updates {
		t.Fatalf("old habit still weighs: %+v", u)
	}
}

// A full state of many keys keeps the first maxShapeFields in sorted order,
// whatever the map order.
func TestUpdateShapeFieldCapIsDeterministic(t *testing.T) {
	out := map[string]any{}
	for i := range 40 {
		out[fmt.Sprintf("k%02d", i)] = "v"
	}
	var first []string
	for range 20 {
		base := NewBaselines(0, 0)
		base.Observe(bhRun("p", agentrun.Step{Node: "n", Status: agentrun.StatusOK, Output: out, HasOutput: true}))
		u := shapeOf(t, base, "p", "n")
		var names []string
		for _, f := range u.fields {
			names = append(names, f.name)
		}
		if len(names) != maxShapeFields {
			t.Fatalf("%d fields kept", len(names))
		}
		if first == nil {
			first = names
		} else if !slices.Equal(first, names) {
			t.Fatalf("fields %v, then %v", first, names)
		}
	}
	if first[0] != "k00" || first[maxShapeFields-1] != "k15" {
		t.Fatalf("fields %v", first)
	}
}

func TestUpdateShapeSnapshotRoundTrip(t *testing.T) {
	base := NewBaselines(50, 0)
	for i := range 120 {
		out := `{"documents":[{"id":1}],"notes":null}`
		if i%4 == 0 {
			out = `{}`
		}
		base.Observe(bhRun("p", bhStep(t, "retrieve", `{"q":"x"}`, out), bhStep(t, "route", `{"q":"x"}`, `{}`)))
	}
	snap, err := base.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(snap, []byte(`"version":2`)) || !bytes.Contains(snap, []byte(`"updates":{"n":`)) {
		t.Fatalf("snapshot lacks the update shapes: %.300s", snap)
	}
	restored := NewBaselines(50, 0)
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"retrieve", "route"} {
		a, b := shapeOf(t, base, "p", node), shapeOf(t, restored, "p", node)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("%s: %+v, restored %+v", node, a, b)
		}
	}
	again, _ := restored.Snapshot()
	if !bytes.Equal(snap, again) {
		t.Fatal("snapshot changed over a restore")
	}
	// A smaller window halves the counts into it.
	small := NewBaselines(5, 0)
	if err := small.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if u := shapeOf(t, small, "p", "route"); u.updates >= 10 || u.empty != u.updates {
		t.Fatalf("route in a window of 5: %+v", u)
	}
}

// testdata/baselines_v1.json was written by the version-1 code (before the
// update shapes) from the 30 healthy runs of the OpenInference LangGraph
// recording. It restores: the samples as they were, no update shapes, so
// the router validate is judged without history until it has some.
func TestBaselinesRestoreVersion1(t *testing.T) {
	old, err := os.ReadFile("testdata/baselines_v1.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(old, []byte(`{"version":1,`)) {
		t.Fatalf("not a version-1 snapshot: %.40s", old)
	}
	base := NewBaselines(0, 0)
	if err := base.Restore(old); err != nil {
		t.Fatal(err)
	}
	runs := sdkRecording(t, "openinference-langgraph", "healthy_")
	fresh := NewBaselines(0, 0)
	for _, r := range runs {
		fresh.Observe(r)
	}
	if base.Len() != fresh.Len() || base.Len() != 5 {
		t.Fatalf("%d keys restored, %d observed", base.Len(), fresh.Len())
	}
	nodes := []string{"retrieve", "search_api", "rerank", "synthesize", "validate"}
	for _, n := range nodes {
		if a, b := base.history("docs_rag", []string{n})[n], fresh.history("docs_rag", []string{n})[n]; fmt.Sprint(*a) != fmt.Sprint(*b) {
			t.Fatalf("%s: restored samples %v differ from the same runs observed %v", n, *a, *b)
		}
	}
	for n, u := range base.updates("docs_rag", nodes) {
		if u == nil || u.updates != 0 {
			t.Fatalf("%s: update shape %+v from a version-1 snapshot", n, u)
		}
	}
	cfg := Config{}.WithDefaults()
	judged := func() string {
		for _, f := range Analyze(runs[0], &cfg, base).Findings {
			if f.Rule == ruleEmptyUpdate {
				return f.Severity
			}
		}
		return "none"
	}
	if got := judged(); got != SeverityInfo {
		t.Fatalf("validate's {} without update history: %s, want info", got)
	}
	for _, r := range runs[1:6] {
		Analyze(r, &cfg, base)
	}
	if got := judged(); got != "none" {
		t.Fatalf("validate's {} after 6 updates that were all {}: %s, want none", got)
	}
	snap, _ := base.Snapshot()
	if !bytes.HasPrefix(snap, []byte(`{"version":2,`)) {
		t.Fatalf("saved as %.20s", snap)
	}
}

func TestBaselinesRestoreRejectsBadShapes(t *testing.T) {
	base := NewBaselines(0, 0)
	base.Observe(bhRun("p", bhStep(t, "n", `{"q":1}`, `{"a":1}`)))
	before, _ := base.Snapshot()
	key := func(updates string) string {
		return `{"version":2,"window":200,"keys":[{"pipeline":"p","node":"n","duration_ms":[1],"tokens":[],"output_bytes":[7],"updates":` + updates + `}]}`
	}
	var many []string
	for i := range maxShapeFields + 1 {
		many = append(many, fmt.Sprintf(`{"name":"f%d","writes":1,"empty":0,"types":{}}`, i))
	}
	for _, bad := range []string{
		key(`{"n":1,"empty":2,"empty_retrieval":0,"fields":[]}`),
		key(`{"n":1,"empty":0,"empty_retrieval":3,"fields":[]}`),
		key(`{"n":1,"empty":0,"empty_retrieval":0,"fields":[{"name":"a","writes":2,"empty":0,"types":{}}]}`),
		key(`{"n":2,"empty":0,"empty_retrieval":0,"fields":[{"name":"a","writes":1,"empty":2,"types":{}}]}`),
		key(`{"n":2,"empty":0,"empty_retrieval":0,"fields":[{"name":"a","writes":1,"empty":0,"types":{"date":1}}]}`),
		key(`{"n":2,"empty":0,"empty_retrieval":0,"fields":[{"name":"a","writes":1,"empty":0,"types":{"string":1,"number":1}}]}`),
		key(`{"n":2,"empty":0,"empty_retrieval":0,"fields":[{"name":"a","writes":1,"empty":0,"types":{}},{"name":"a","writes":1,"empty":0,"types":{}}]}`),
		key(`{"n":2,"empty":0,"empty_retrieval":0,"fields":[{"name":"a","writes":1,"empty":0,"types":{"string":-1}}]}`),
		key(`{"n":-2,"empty":0,"empty_retrieval":0,"fields":[]}`),
		key(`{"n":20,"empty":0,"empty_retrieval":0,"fields":[` + strings.Join(many, ",") + `]}`),
		key(`"some text"`),
	} {
		if err := base.Restore([]byte(bad)); err == nil {
			t.Errorf("Restore accepted %s", bad)
		}
	}
	after, _ := base.Snapshot()
	if !bytes.Equal(before, after) {
		t.Fatal("a rejected Restore changed the baselines")
	}
}

// sdkRecording maps the recordings of an SDK whose names start with prefix,
// in name order.
func sdkRecording(t *testing.T, sdk, prefix string) []*agentrun.Run {
	t.Helper()
	var runs []*agentrun.Run
	for _, rec := range testutil.LoadRecordings(t, sdk) {
		if strings.HasPrefix(rec.Name, prefix) {
			runs = append(runs, agentrun.MapTraces(rec.Traces, agentrun.Options{})...)
		}
	}
	return runs
}

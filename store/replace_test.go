package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// inProgress is batchOf(r) as the exporter writes a run still going:
// metadata analysis in_progress, no detections (nothing analysed yet).
func inProgress(r run) TraceBatch {
	b := batchOf(r)
	b.Detections = nil
	b.Traces[0].Trace.Metadata = json.RawMessage(`{"analysis":"in_progress","span_count":1}`)
	return b
}

// A run stored in progress over several batches, with a wrong step (a
// call that arrived before its parent and was mapped as a step of its
// own), then written whole at completion: the whole batch replaces the
// trace row, the steps (the wrong one deleted, the others renumbered from
// the batch), the detections and the forensics, in one transaction; and
// writing it again changes nothing.
func TestReplaceWholeRun(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		const id = "replace-1"
		first := inProgress(run{id: id, pipeline: "rag", start: t0, steps: 2, key: "p1"})
		stray := inProgress(run{id: id, pipeline: "rag", start: t0, steps: 0, key: "p2"})
		stray.Steps = []Step{{ID: id + "-stray", TraceID: id, StepNumber: 1, NodeName: "retrieve",
			InputState: json.RawMessage(`null`), OutputState: json.RawMessage(`{"documents":[]}`),
			Timestamp: t0.Add(5 * time.Millisecond), Metadata: json.RawMessage(`{}`)}}
		for _, b := range []TraceBatch{first, stray} {
			if err := s.WriteBatch(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.GetTrace(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Trace.InProgress() || len(got.Steps) != 3 {
			t.Fatalf("in progress: analysis %q, %d steps; want in_progress, 3", got.Trace.Analysis(), len(got.Steps))
		}
		// An earlier analysis (released early) left a detection the whole
		// analysis does not have, and a forensics row.
		old := TraceBatch{
			Detections: []Detection{{ID: id + "-old", TraceID: id, StepID: id + "-stray", Layer: "structural",
				Severity: "warning", Message: "empty retrieval", Details: json.RawMessage(`{}`), CreatedAt: t0}},
			Forensics: []Forensics{{ID: id + "-f-old", TraceID: id, RootCauseStep: id + "-stray",
				DetectionIDs: json.RawMessage(`["` + id + `-old"]`), CausalChain: json.RawMessage(`[]`), CreatedAt: t0}},
		}
		if err := s.WriteBatch(ctx, old); err != nil {
			t.Fatal(err)
		}

		whole := batchOf(run{id: id, pipeline: "rag", status: "warning", start: t0, steps: 3, key: "whole", root: true, spans: 7})
		whole.Traces[0].Replace = true
		whole.Traces[0].Trace.Metadata = json.RawMessage(`{"analysis":"final","span_count":7}`)
		whole.Forensics = []Forensics{{ID: id + "-f", TraceID: id, RootCauseStep: id + "-s01",
			DetectionIDs: json.RawMessage(`["` + id + `-d1"]`), CausalChain: json.RawMessage(`[]`),
			Explanation: "node1 returned nothing", CreatedAt: t0}}
		for range 2 { // written again (a replay): the same rows
			if err := s.WriteBatch(ctx, whole); err != nil {
				t.Fatal(err)
			}
			got, err = s.GetTrace(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got.Trace.InProgress() || got.Trace.Analysis() != AnalysisFinal {
				t.Errorf("analysis %q after the whole run, want final", got.Trace.Analysis())
			}
			if got.Trace.Status != "warning" || got.Trace.NodeCount != 3 || got.Trace.DetectionCount != 2 {
				t.Errorf("trace %+v: want warning, 3 steps, 2 detections", got.Trace)
			}
			if n := metaOf(t, got.Trace.Metadata)["span_count"]; n != float64(7) {
				t.Errorf("span_count %v, want 7: the whole run's, not added to the in-progress counts", n)
			}
			if len(got.Steps) != 3 {
				t.Fatalf("%d steps, want the whole run's 3", len(got.Steps))
			}
			for i, st := range got.Steps {
				if want := whole.Steps[i]; st.ID != want.ID || st.StepNumber != i+1 {
					t.Errorf("step %d = %s #%d, want %s #%d", i, st.ID, st.StepNumber, want.ID, i+1)
				}
			}
			var ids []string
			for _, d := range got.Detections {
				ids = append(ids, d.ID)
			}
			if len(ids) != 2 || count(t, s, "SELECT COUNT(*) FROM detections WHERE id = ?", id+"-old") != 0 {
				t.Errorf("detections %v, want the whole analysis' two", ids)
			}
			if len(got.Forensics) != 1 || got.Forensics[0].ID != id+"-f" || got.Forensics[0].RootCauseStep != id+"-s01" {
				t.Errorf("forensics %+v, want the whole analysis' verdict", got.Forensics)
			}
			if n := count(t, s, "SELECT COALESCE(SUM(runs), 0) FROM run_counts WHERE pipeline_name = 'rag'"); n != 1 {
				t.Errorf("run_counts holds %d runs of the pipeline, want 1: a replaced run counts once, in its final status", n)
			}
			if n := count(t, s, "SELECT COALESCE(SUM(runs), 0) FROM run_counts WHERE pipeline_name = 'rag' AND status = 'warning'"); n != 1 {
				t.Errorf("run_counts: %d warning runs, want the final status counted", n)
			}
		}

		// Other traces are untouched.
		other := batchOf(run{id: "replace-2", start: t0, steps: 2})
		if err := s.WriteBatch(ctx, other); err != nil {
			t.Fatal(err)
		}
		again := whole
		again.Traces = append([]TraceUpdate(nil), whole.Traces...)
		if err := s.WriteBatch(ctx, again); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s, "SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", "replace-2"); n != 2 {
			t.Errorf("replacing one trace deleted steps of another: %d left", n)
		}
	})
}

// Late spans after the final write merge as before and keep the analysis
// state: a late batch has no analysis key.
func TestLateAfterFinalKeepsAnalysis(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		whole := batchOf(run{id: "late-1", start: t0, steps: 2, root: true})
		whole.Traces[0].Replace = true
		whole.Traces[0].Trace.Metadata = json.RawMessage(`{"analysis":"final"}`)
		if err := s.WriteBatch(ctx, whole); err != nil {
			t.Fatal(err)
		}
		late := batchOf(run{id: "late-1", start: t0.Add(time.Second), steps: 0, key: "late"})
		late.Detections = nil
		if err := s.WriteBatch(ctx, late); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetTrace(ctx, "late-1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Trace.Analysis() != AnalysisFinal || len(got.Steps) != 2 {
			t.Errorf("analysis %q, %d steps after a late batch; want final, 2", got.Trace.Analysis(), len(got.Steps))
		}
	})
}

func TestTraceAnalysis(t *testing.T) {
	for meta, want := range map[string]string{
		`{}`:                           AnalysisFinal,
		`{"analysis":"in_progress"}`:   AnalysisInProgress,
		`{"analysis":"final"}`:         AnalysisFinal,
		`{"analysis":"partial"}`:       AnalysisPartial,
		`not json`:                     AnalysisFinal,
		`{"analysis":["in_progress"]}`: AnalysisFinal,
	} {
		tr := Trace{Metadata: json.RawMessage(meta)}
		if got := tr.Analysis(); got != want {
			t.Errorf("%s: Analysis() = %q, want %q", meta, got, want)
		}
		if tr.InProgress() != (want == AnalysisInProgress) {
			t.Errorf("%s: InProgress() = %v", meta, tr.InProgress())
		}
	}
}

// Spans of a run that arrive after it was analysed (and were followed as a
// run of their own, in progress, then "whole") must not replace it: a
// replacing batch merges into a trace that is not in progress.
func TestReplaceNeverOverwritesAnAnalysedRun(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		const id = "analysed-1"
		if err := s.WriteBatch(ctx, batchOf(run{id: id, start: t0, steps: 3, root: true})); err != nil {
			t.Fatal(err)
		}
		late := inProgress(run{id: id, start: t0.Add(time.Minute), steps: 0, key: "late"})
		late.Steps = []Step{{ID: id + "-late", TraceID: id, NodeName: "straggler", Timestamp: t0.Add(time.Minute),
			InputState: json.RawMessage(`null`), OutputState: json.RawMessage(`null`), Metadata: json.RawMessage(`{}`)}}
		if err := s.WriteBatch(ctx, late); err != nil {
			t.Fatal(err)
		}
		whole := late
		whole.Traces = []TraceUpdate{late.Traces[0]}
		whole.Traces[0].Replace = true
		whole.Traces[0].BatchKey = "late-whole"
		whole.Traces[0].Trace.Metadata = json.RawMessage(`{"analysis":"final"}`)
		if err := s.WriteBatch(ctx, whole); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetTrace(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Steps) != 4 || len(got.Detections) != 2 {
			t.Errorf("%d steps, %d detections: the analysed run must keep its 3 steps and 2 detections, plus the straggler",
				len(got.Steps), len(got.Detections))
		}
	})
}

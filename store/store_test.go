package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The public schema: exactly the seed's columns, in the seed's order, plus
// audit_logs, quarantine and schema_migrations.
var wantColumns = map[string][]string{
	"traces":      {"id", "created_at", "pipeline_name", "status", "duration_ms", "node_count", "detection_count", "metadata"},
	"trace_steps": {"id", "trace_id", "step_number", "node_name", "input_state", "output_state", "duration_ms", "timestamp", "metadata"},
	"detections":  {"id", "trace_id", "step_id", "layer", "severity", "message", "details", "created_at"},
	"forensics":   {"id", "trace_id", "root_cause_step", "detection_ids", "explanation", "causal_chain", "created_at"},
	"audit_logs": {"id", "timestamp", "trace_id", "status", "event_type", "action", "actor_type", "actor_id",
		"target_type", "target_id", "metadata", "created_at"},
	"schema_migrations": {"version", "name", "applied_at"},
	"quarantine":        {"id", "created_at", "table_name", "record_id", "trace_id", "reason", "code", "record"},
}

func columns(t *testing.T, s Store, table string) []string {
	t.Helper()
	db, d := raw(s)
	q := `SELECT name FROM pragma_table_info(?) ORDER BY cid`
	if d.postgres {
		q = `SELECT column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`
	}
	rows, err := db.Query(q, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func TestMigrateSchema(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, cfg Config) {
		ctx := context.Background()
		if err := s.Migrate(ctx); err != nil { // second run: a no-op
			t.Fatalf("second Migrate: %v", err)
		}
		if n := count(t, s, "SELECT count(*) FROM schema_migrations"); n != len(migrations) {
			t.Errorf("schema_migrations has %d rows, want %d", n, len(migrations))
		}
		for table, want := range wantColumns {
			if got := columns(t, s, table); !slices.Equal(got, want) {
				t.Errorf("%s columns = %v, want %v", table, got, want)
			}
		}
		// Several collectors starting at once on one database.
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s2, err := Open(ctx, cfg)
				if err != nil {
					errs <- err
					return
				}
				defer s2.Close()
				errs <- s2.Migrate(ctx)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent Migrate: %v", err)
			}
		}
		if n := count(t, s, "SELECT count(*) FROM schema_migrations"); n != len(migrations) {
			t.Errorf("after concurrent migrations schema_migrations has %d rows, want %d", n, len(migrations))
		}
	})
}

func TestMigrateFreshConcurrent(t *testing.T) {
	// Migrations racing on a database that has no schema yet.
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.cfg(t)
			ctx := context.Background()
			stores := make([]Store, 4)
			for i := range stores {
				s, err := Open(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				stores[i] = s
			}
			var wg sync.WaitGroup
			errs := make([]error, len(stores))
			for i, s := range stores {
				wg.Add(1)
				go func() { defer wg.Done(); errs[i] = s.Migrate(ctx) }()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("store %d: %v", i, err)
				}
			}
			if n := count(t, stores[0], "SELECT count(*) FROM schema_migrations"); n != len(migrations) {
				t.Errorf("schema_migrations has %d rows, want %d", n, len(migrations))
			}
		})
	}
}

func TestRoundtrip(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		if _, err := s.GetTrace(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetTrace(unknown) = %v, want ErrNotFound", err)
		}
		if _, err := s.Last(ctx, TraceFilter{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Last(empty store) = %v, want ErrNotFound", err)
		}
		b := batchOf(run{id: "t1", pipeline: "rag", status: "warning", start: t0, steps: 3, root: true, spans: 7})
		b.Forensics = []Forensics{{
			ID: "t1-f", TraceID: "t1", RootCauseStep: "t1-s01", DetectionIDs: json.RawMessage(`["t1-d1"]`),
			Explanation: "node1 dropped the docs",
			CausalChain: json.RawMessage(`[{"from":"node1","to":"node2","from_step_id":"t1-s01","to_step_id":"t1-s02","type":"field_drop","confidence":0.9}]`),
			CreatedAt:   t0.Add(time.Second),
		}}
		if err := s.WriteBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
		full, err := s.GetTrace(ctx, "t1")
		if err != nil {
			t.Fatal(err)
		}
		tr := full.Trace
		if tr.ID != "t1" || tr.PipelineName != "rag" || tr.Status != "warning" || !tr.CreatedAt.Equal(t0) ||
			tr.DurationMs != 35 || tr.NodeCount != 3 || tr.DetectionCount != 2 {
			t.Errorf("trace = %+v", tr)
		}
		m := metaOf(t, tr.Metadata)
		if m["service.name"] != "svc" || m["span_count"] != float64(7) || m["end_time"] != "2026-03-14T09:26:53.624Z" {
			t.Errorf("metadata = %s", tr.Metadata)
		}
		if len(full.Steps) != 3 {
			t.Fatalf("steps = %d, want 3", len(full.Steps))
		}
		for i, st := range full.Steps {
			w := b.Steps[i]
			if st.ID != w.ID || st.TraceID != "t1" || st.StepNumber != i+1 || st.NodeName != w.NodeName ||
				st.DurationMs != 9 || !st.Timestamp.Equal(w.Timestamp) {
				t.Errorf("step %d = %+v, want %+v", i, st, w)
			}
			jsonEqual(t, "input_state", st.InputState, w.InputState)
			jsonEqual(t, "output_state", st.OutputState, w.OutputState)
			jsonEqual(t, "step metadata", st.Metadata, w.Metadata)
		}
		if len(full.Detections) != 2 {
			t.Fatalf("detections = %+v", full.Detections)
		}
		// Step-linked first (by step number), run-level last.
		d0, d1 := full.Detections[0], full.Detections[1]
		if d0.ID != "t1-d1" || d0.StepID != "t1-s00" || d0.Layer != "semantic" || d0.Severity != "warning" ||
			d0.Message != "empty output" || !d0.CreatedAt.Equal(b.Detections[0].CreatedAt) {
			t.Errorf("detection 0 = %+v", d0)
		}
		jsonEqual(t, "details", d0.Details, b.Detections[0].Details)
		if d1.ID != "t1-d2" || d1.StepID != "" {
			t.Errorf("detection 1 = %+v", d1)
		}
		if len(full.Forensics) != 1 {
			t.Fatalf("forensics = %+v", full.Forensics)
		}
		f := full.Forensics[0]
		if f.RootCauseStep != "t1-s01" || f.Explanation != "node1 dropped the docs" || !f.CreatedAt.Equal(t0.Add(time.Second)) {
			t.Errorf("forensics = %+v", f)
		}
		jsonEqual(t, "detection_ids", f.DetectionIDs, b.Forensics[0].DetectionIDs)
		jsonEqual(t, "causal_chain", f.CausalChain, b.Forensics[0].CausalChain)

		last, err := s.Last(ctx, TraceFilter{})
		if err != nil || last.Trace.ID != "t1" || len(last.Steps) != 3 {
			t.Errorf("Last = %+v, %v", last, err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Error(err)
		}
	})
}

func TestRetryIsIdempotent(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		b := batchOf(run{id: "r1", pipeline: "p", start: t0, steps: 4, root: true, spans: 5})
		for range 3 {
			if err := s.WriteBatch(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		full, err := s.GetTrace(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		if full.Trace.NodeCount != 4 || full.Trace.DetectionCount != 2 || len(full.Steps) != 4 || len(full.Detections) != 2 {
			t.Errorf("after retries: trace %+v, %d steps, %d detections", full.Trace, len(full.Steps), len(full.Detections))
		}
		m := metaOf(t, full.Trace.Metadata)
		if m["span_count"] != float64(5) {
			t.Errorf("span_count = %v after a retried batch, want 5", m["span_count"])
		}
		if keys, _ := m["_argus_batches"].([]any); len(keys) != 1 || keys[0] != "k-r1" {
			t.Errorf("_argus_batches = %v", m["_argus_batches"])
		}
		for i, st := range full.Steps {
			if st.StepNumber != i+1 {
				t.Errorf("step %s number %d, want %d", st.ID, st.StepNumber, i+1)
			}
		}
		if n := count(t, s, "SELECT count(*) FROM trace_steps"); n != 4 {
			t.Errorf("%d step rows, want 4", n)
		}
		// A batch with no key cannot be recognised as a retry: its counters add.
		nk := batchOf(run{id: "r1", start: t0, spans: 1})
		nk.Traces[0].BatchKey = ""
		nk.Detections = nil
		if err := s.WriteBatch(ctx, nk); err != nil {
			t.Fatal(err)
		}
		full, _ = s.GetTrace(ctx, "r1")
		if m := metaOf(t, full.Trace.Metadata); m["span_count"] != float64(6) {
			t.Errorf("span_count = %v, want 6", m["span_count"])
		}
	})
}

func TestLateBatchMerge(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		// First batch: two child steps (langgraph 2 and 3), no root yet.
		b1 := TraceBatch{Traces: []TraceUpdate{{
			Trace: Trace{ID: "L", CreatedAt: t0.Add(time.Second), Status: "ok",
				Metadata: json.RawMessage(`{"span_count":3,"service.name":"child","note":"first"}`)},
			End: t0.Add(3 * time.Second), BatchKey: "b1",
		}}}
		for i, lg := range []int{2, 3} {
			b1.Steps = append(b1.Steps, Step{ID: fmt.Sprintf("L-%d", lg), TraceID: "L", StepNumber: i + 1,
				NodeName: fmt.Sprintf("n%d", lg), Timestamp: t0.Add(time.Duration(lg) * time.Second),
				Metadata: json.RawMessage(fmt.Sprintf(`{"langgraph_step":%d}`, lg))})
		}
		if err := s.WriteBatch(ctx, b1); err != nil {
			t.Fatal(err)
		}
		// Late batch: the root and the first step, started earlier, ends later, failed.
		b2 := TraceBatch{Traces: []TraceUpdate{{
			Trace: Trace{ID: "L", CreatedAt: t0, PipelineName: "rag", Status: "failed",
				Metadata: json.RawMessage(`{"span_count":2,"service.name":"root","extra":true}`)},
			End: t0.Add(5 * time.Second), HasRoot: true, BatchKey: "b2",
		}}, Steps: []Step{{ID: "L-1", TraceID: "L", StepNumber: 1, NodeName: "n1",
			Timestamp: t0.Add(500 * time.Millisecond), Metadata: json.RawMessage(`{"langgraph_step":1}`)}},
			Detections: []Detection{{ID: "L-d", TraceID: "L", StepID: "L-2", Layer: "structural",
				Severity: "critical", Message: "m", CreatedAt: t0}}}
		if err := s.WriteBatch(ctx, b2); err != nil {
			t.Fatal(err)
		}
		// Another late non-root batch must not rename the pipeline nor soften the status.
		b3 := TraceBatch{Traces: []TraceUpdate{{
			Trace: Trace{ID: "L", CreatedAt: t0.Add(4 * time.Second), PipelineName: "other", Status: "warning",
				Metadata: json.RawMessage(`{"span_count":1}`)},
			End: t0.Add(4 * time.Second), BatchKey: "b3",
		}}, Steps: []Step{{ID: "L-3b", TraceID: "L", StepNumber: 1, NodeName: "n3b",
			Timestamp: t0.Add(3500 * time.Millisecond), Metadata: json.RawMessage(`{"langgraph_step":"3"}`)}}}
		if err := s.WriteBatch(ctx, b3); err != nil {
			t.Fatal(err)
		}
		full, err := s.GetTrace(ctx, "L")
		if err != nil {
			t.Fatal(err)
		}
		tr := full.Trace
		if !tr.CreatedAt.Equal(t0) || tr.DurationMs != 5000 || tr.Status != "failed" || tr.PipelineName != "rag" ||
			tr.NodeCount != 4 || tr.DetectionCount != 1 {
			t.Errorf("merged trace = %+v", tr)
		}
		m := metaOf(t, tr.Metadata)
		if m["span_count"] != float64(6) || m["service.name"] != "root" || m["note"] != "first" || m["extra"] != true {
			t.Errorf("merged metadata = %s", tr.Metadata)
		}
		var got []string
		for _, st := range full.Steps {
			got = append(got, fmt.Sprintf("%d:%s", st.StepNumber, st.ID))
		}
		want := []string{"1:L-1", "2:L-2", "3:L-3", "4:L-3b"}
		if !slices.Equal(got, want) {
			t.Errorf("steps after late batches = %v, want %v", got, want)
		}
		// The detection named a step stored by the earlier batch: kept linked.
		if len(full.Detections) != 1 || full.Detections[0].StepID != "L-2" {
			t.Errorf("detections = %+v", full.Detections)
		}
		// Retrying the late batch changes nothing.
		if err := s.WriteBatch(ctx, b2); err != nil {
			t.Fatal(err)
		}
		again, _ := s.GetTrace(ctx, "L")
		if metaOf(t, again.Trace.Metadata)["span_count"] != float64(6) || again.Trace.NodeCount != 4 {
			t.Errorf("after retrying the late batch: %+v", again.Trace)
		}
	})
}

func TestDanglingReferences(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		b := TraceBatch{
			// No TraceUpdate at all: the trace row is created from the rows.
			Steps: []Step{{ID: "D-s1", TraceID: "D", StepNumber: 1, NodeName: "a", Timestamp: t0}},
			Detections: []Detection{
				{ID: "D-d1", TraceID: "D", StepID: "D-missing", Layer: "behavioral", Severity: "warning",
					Message: "m", Details: json.RawMessage(`{"rule":"r","node":"ghost"}`), CreatedAt: t0},
				{ID: "D-d2", TraceID: "D", StepID: "D-s1", Layer: "behavioral", Severity: "info", CreatedAt: t0},
			},
			Forensics: []Forensics{
				{ID: "D-f1", TraceID: "D", RootCauseStep: "D-gone", CausalChain: json.RawMessage(`[]`), CreatedAt: t0},
				{ID: "D-f2", TraceID: "D", RootCauseStep: "D-gone2", CreatedAt: t0,
					CausalChain: json.RawMessage(`[{"from":"x","to":"y","from_step_id":"D-gone2","to_step_id":"D-s1","type":"field_drop"}]`)},
			},
		}
		if err := s.WriteBatch(ctx, b); err != nil {
			t.Fatalf("dangling references failed the batch: %v", err)
		}
		full, err := s.GetTrace(ctx, "D")
		if err != nil {
			t.Fatal(err)
		}
		if !full.Trace.CreatedAt.Equal(t0) || full.Trace.Status != "ok" || full.Trace.NodeCount != 1 || full.Trace.DetectionCount != 2 {
			t.Errorf("implicit trace = %+v", full.Trace)
		}
		byID := map[string]Detection{}
		for _, d := range full.Detections {
			byID[d.ID] = d
		}
		if d := byID["D-d1"]; d.StepID != "" {
			t.Errorf("dangling step_id stored as %q, want NULL", d.StepID)
		} else {
			jsonEqual(t, "details", d.Details, json.RawMessage(`{"rule":"r","node":"ghost","step_ref":"D-missing"}`))
		}
		if d := byID["D-d2"]; d.StepID != "D-s1" {
			t.Errorf("valid step_id lost: %+v", d)
		}
		if n := count(t, s, "SELECT count(*) FROM detections WHERE step_id IS NULL"); n != 1 {
			t.Errorf("%d detections with NULL step_id, want 1", n)
		}
		for _, f := range full.Forensics {
			if f.RootCauseStep != "" {
				t.Errorf("forensics %s root_cause_step = %q, want NULL", f.ID, f.RootCauseStep)
			}
			switch f.ID {
			case "D-f1":
				jsonEqual(t, "chain", f.CausalChain, json.RawMessage(`[{"type":"root_cause_ref","step_ref":"D-gone"}]`))
			case "D-f2":
				jsonEqual(t, "chain", f.CausalChain, json.RawMessage(`[{"from":"x","to":"y","from_step_id":"D-gone2","to_step_id":"D-s1","type":"field_drop"},{"type":"root_cause_ref","step_ref":"D-gone2"}]`))
			}
		}
		// Node filter finds the dangling detection by the node in its details.
		ds, n, err := s.ListDetections(ctx, DetectionFilter{Node: "ghost"})
		if err != nil || n != 1 || len(ds) != 1 || ds[0].ID != "D-d1" {
			t.Errorf("ListDetections(Node ghost) = %v, %d, %v", ds, n, err)
		}

		// The missing steps arrive in a later batch: the references are restored.
		late := TraceBatch{Steps: []Step{
			{ID: "D-missing", TraceID: "D", StepNumber: 1, NodeName: "ghost", Timestamp: t0.Add(time.Second)},
			{ID: "D-gone", TraceID: "D", StepNumber: 2, NodeName: "b", Timestamp: t0.Add(2 * time.Second)},
		}}
		if err := s.WriteBatch(ctx, late); err != nil {
			t.Fatal(err)
		}
		full, err = s.GetTrace(ctx, "D")
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range full.Detections {
			if d.ID == "D-d1" {
				if d.StepID != "D-missing" {
					t.Errorf("late step not reattached: %+v", d)
				}
				jsonEqual(t, "details after reattach", d.Details, json.RawMessage(`{"rule":"r","node":"ghost"}`))
			}
		}
		for _, f := range full.Forensics {
			if f.ID == "D-f1" {
				if f.RootCauseStep != "D-gone" {
					t.Errorf("late root cause not reattached: %+v", f)
				}
				jsonEqual(t, "chain after reattach", f.CausalChain, json.RawMessage(`[]`))
			}
			if f.ID == "D-f2" && f.RootCauseStep != "" {
				t.Errorf("D-f2 root cause %q, its step never arrived", f.RootCauseStep)
			}
		}
		if full.Trace.NodeCount != 3 || full.Trace.DetectionCount != 2 {
			t.Errorf("counts after late steps: %+v", full.Trace)
		}
	})
}

func TestPurge(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		for i := range 5 {
			b := batchOf(run{id: fmt.Sprintf("p%d", i), start: t0.Add(time.Duration(i) * time.Hour), steps: 2})
			b.Forensics = []Forensics{{ID: fmt.Sprintf("p%d-f", i), TraceID: fmt.Sprintf("p%d", i),
				RootCauseStep: fmt.Sprintf("p%d-s00", i), CreatedAt: t0}}
			if err := s.WriteBatch(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.Purge(ctx, t0.Add(3*time.Hour)) // p0, p1, p2
		if err != nil || n != 3 {
			t.Fatalf("Purge = %d, %v; want 3", n, err)
		}
		for table, want := range map[string]int{"traces": 2, "trace_steps": 4, "detections": 4, "forensics": 2} {
			if got := count(t, s, "SELECT count(*) FROM "+table); got != want {
				t.Errorf("%s: %d rows after purge, want %d", table, got, want)
			}
		}
		if got := count(t, s, "SELECT count(*) FROM trace_steps WHERE trace_id IN ('p0','p1','p2')"); got != 0 {
			t.Errorf("%d steps of purged traces remain", got)
		}
		if _, err := s.GetTrace(ctx, "p0"); !errors.Is(err, ErrNotFound) {
			t.Errorf("purged trace still readable: %v", err)
		}
		if n, err := s.Purge(ctx, t0); err != nil || n != 0 {
			t.Errorf("second purge = %d, %v", n, err)
		}
	})
}

// seedTraces writes traces with known pipelines, statuses, times and detections.
//
//	a0..a3: pipeline "alpha", ok/warning/failed/ok, a2 has a critical detection
//	b0..b2: pipeline "beta", created at the same instant (tie-break by id)
func seedTraces(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	statuses := []string{"ok", "warning", "failed", "ok"}
	for i, st := range statuses {
		b := batchOf(run{id: fmt.Sprintf("a%d", i), pipeline: "alpha", status: st,
			start: t0.Add(time.Duration(i) * time.Minute), steps: 2})
		if i == 2 {
			b.Detections = append(b.Detections, Detection{ID: "a2-crit", TraceID: "a2", StepID: "a2-s01",
				Layer: "structural", Severity: "critical", Message: "cycle", CreatedAt: t0.Add(time.Hour),
				Details: json.RawMessage(`{"node":"node1"}`)})
		}
		if err := s.WriteBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		b := batchOf(run{id: fmt.Sprintf("b%d", i), pipeline: "beta", start: t0.Add(10 * time.Minute)})
		if err := s.WriteBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
}

func ids[T any](xs []T, id func(T) string) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func traceID(t Trace) string   { return t.ID }
func detID(d Detection) string { return d.ID }
func auditID(a AuditLog) string {
	return a.ID
}

func TestListTraces(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		seedTraces(t, s)
		cases := []struct {
			name  string
			f     TraceFilter
			want  []string
			total int
		}{
			{"all newest first, ties by id desc", TraceFilter{}, []string{"b2", "b1", "b0", "a3", "a2", "a1", "a0"}, 7},
			{"pipeline", TraceFilter{Pipeline: "alpha"}, []string{"a3", "a2", "a1", "a0"}, 4},
			{"status", TraceFilter{Status: "ok"}, []string{"b2", "b1", "b0", "a3", "a0"}, 5},
			{"trace id", TraceFilter{TraceID: "a1"}, []string{"a1"}, 1},
			{"since inclusive", TraceFilter{Since: t0.Add(2 * time.Minute)}, []string{"b2", "b1", "b0", "a3", "a2"}, 5},
			{"until exclusive", TraceFilter{Until: t0.Add(2 * time.Minute)}, []string{"a1", "a0"}, 2},
			{"min severity critical", TraceFilter{MinSeverity: "critical"}, []string{"a2"}, 1},
			{"min severity warning", TraceFilter{MinSeverity: "warning"}, []string{"a3", "a2", "a1", "a0"}, 4},
			{"min severity info", TraceFilter{MinSeverity: "info"}, []string{"b2", "b1", "b0", "a3", "a2", "a1", "a0"}, 7},
			{"page", TraceFilter{Limit: 2, Offset: 1}, []string{"b1", "b0"}, 7},
			{"page past the end", TraceFilter{Limit: 2, Offset: 10}, []string{}, 7},
			{"combined", TraceFilter{Pipeline: "alpha", Status: "ok", Since: t0.Add(time.Second)}, []string{"a3"}, 1},
			{"no match", TraceFilter{Pipeline: "gamma"}, []string{}, 0},
		}
		for _, c := range cases {
			got, total, err := s.ListTraces(ctx, c.f)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			if g := ids(got, traceID); !slices.Equal(g, c.want) || total != c.total {
				t.Errorf("%s: got %v (total %d), want %v (total %d)", c.name, g, total, c.want, c.total)
			}
		}
		last, err := s.Last(ctx, TraceFilter{Pipeline: "alpha", MinSeverity: "critical"})
		if err != nil || last.Trace.ID != "a2" || len(last.Detections) != 3 {
			t.Errorf("Last(alpha, critical) = %+v, %v", last, err)
		}
		if _, err := s.Last(ctx, TraceFilter{Pipeline: "gamma"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Last(no match) = %v, want ErrNotFound", err)
		}
		// Limit 0 means 100.
		for i := range 105 {
			if err := s.WriteBatch(ctx, batchOf(run{id: fmt.Sprintf("z%03d", i), start: t0.Add(-time.Hour)})); err != nil {
				t.Fatal(err)
			}
		}
		got, total, err := s.ListTraces(ctx, TraceFilter{})
		if err != nil || len(got) != 100 || total != 112 {
			t.Errorf("default limit: %d rows, total %d, %v", len(got), total, err)
		}
		for _, bad := range []TraceFilter{{Limit: -1}, {Offset: -1}, {Limit: MaxLimit + 1}, {Status: "weird"}, {MinSeverity: "fatal"}} {
			if _, _, err := s.ListTraces(ctx, bad); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("ListTraces(%+v) = %v, want ErrInvalidArgument", bad, err)
			}
		}
	})
}

func TestListDetections(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		seedTraces(t, s)
		// Each a-trace: <id>-d1 (semantic warning, step node0, created start+25ms),
		// <id>-d2 (statistical info, run-level, +26ms); b-traces only d2 at t0+10m+5ms+1ms.
		cases := []struct {
			name  string
			f     DetectionFilter
			want  []string
			total int
		}{
			{"trace", DetectionFilter{TraceID: "a2"}, []string{"a2-crit", "a2-d2", "a2-d1"}, 3},
			{"layer", DetectionFilter{Layer: "structural"}, []string{"a2-crit"}, 1},
			{"severity exact", DetectionFilter{Severity: "warning"}, []string{"a3-d1", "a2-d1", "a1-d1", "a0-d1"}, 4},
			{"min severity", DetectionFilter{MinSeverity: "warning", TraceID: "a2"}, []string{"a2-crit", "a2-d1"}, 2},
			{"node via step", DetectionFilter{Node: "node1"}, []string{"a2-crit"}, 1},
			{"node via details", DetectionFilter{Node: "run", TraceID: "a0"}, []string{"a0-d2"}, 1},
			{"since", DetectionFilter{Since: t0.Add(10 * time.Minute)}, []string{"a2-crit", "b2-d2", "b1-d2", "b0-d2"}, 4},
			{"page", DetectionFilter{Layer: "statistical", Limit: 2, Offset: 2}, []string{"b0-d2", "a3-d2"}, 7},
		}
		for _, c := range cases {
			got, total, err := s.ListDetections(ctx, c.f)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			if g := ids(got, detID); !slices.Equal(g, c.want) || total != c.total {
				t.Errorf("%s: got %v (total %d), want %v (total %d)", c.name, g, total, c.want, c.total)
			}
		}
		for _, bad := range []DetectionFilter{{Layer: "mystic"}, {Severity: "x"}, {MinSeverity: "y"}, {Limit: -5}} {
			if _, _, err := s.ListDetections(ctx, bad); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("ListDetections(%+v) = %v, want ErrInvalidArgument", bad, err)
			}
		}
	})
}

func TestAuditLogs(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		logs := []AuditLog{
			{ID: "a1", Timestamp: t0, TraceID: "t1", Status: "SUCCESS", EventType: "trace.export", Action: "create",
				ActorType: "service", ActorID: "collector", TargetType: "trace", TargetID: "t1",
				Metadata: json.RawMessage(`{"spans":3}`)},
			{ID: "a2", Timestamp: t0.Add(time.Minute), TraceID: "t2", Status: "FAILURE", EventType: "trace.export",
				Action: "create", ActorType: "service", ActorID: "collector", TargetType: "trace"},
			{ID: "a3", Timestamp: t0.Add(time.Minute), Status: "SUCCESS", EventType: "report.view", Action: "read",
				ActorType: "user", ActorID: "alice", TargetType: "report"},
			{Timestamp: t0.Add(2 * time.Minute), Status: "SUCCESS", EventType: "report.view", Action: "read",
				ActorType: "user", ActorID: "bob", TargetType: "report"},
		}
		if err := s.InsertAuditLogs(ctx, logs); err != nil {
			t.Fatal(err)
		}
		if logs[3].ID == "" || logs[3].CreatedAt.IsZero() {
			t.Errorf("generated id/created_at not written back: %+v", logs[3])
		}
		gen := logs[3].ID
		cases := []struct {
			name  string
			f     AuditFilter
			want  []string
			total int
		}{
			{"all, newest first, ties by id desc", AuditFilter{}, []string{gen, "a3", "a2", "a1"}, 4},
			{"trace", AuditFilter{TraceID: "t1"}, []string{"a1"}, 1},
			{"event type", AuditFilter{EventType: "report.view"}, []string{gen, "a3"}, 2},
			{"status", AuditFilter{Status: "FAILURE"}, []string{"a2"}, 1},
			{"action", AuditFilter{Action: "create"}, []string{"a2", "a1"}, 2},
			{"actor", AuditFilter{ActorID: "alice"}, []string{"a3"}, 1},
			{"since", AuditFilter{Since: t0.Add(time.Minute)}, []string{gen, "a3", "a2"}, 3},
			{"until", AuditFilter{Until: t0.Add(time.Minute)}, []string{"a1"}, 1},
			{"page", AuditFilter{Limit: 2, Offset: 1}, []string{"a3", "a2"}, 4},
		}
		for _, c := range cases {
			got, total, err := s.ListAuditLogs(ctx, c.f)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			if g := ids(got, auditID); !slices.Equal(g, c.want) || total != c.total {
				t.Errorf("%s: got %v (total %d), want %v (total %d)", c.name, g, total, c.want, c.total)
			}
		}
		got, _, _ := s.ListAuditLogs(ctx, AuditFilter{TraceID: "t1"})
		if len(got) == 1 {
			a := got[0]
			if !a.Timestamp.Equal(t0) || a.Timestamp.Location() != time.UTC || a.TargetID != "t1" || a.ActorType != "service" {
				t.Errorf("audit row = %+v", a)
			}
			jsonEqual(t, "audit metadata", a.Metadata, json.RawMessage(`{"spans":3}`))
		}
		// A duplicate id fails the whole call, permanently, and inserts nothing.
		err := s.InsertAuditLogs(ctx, []AuditLog{
			{ID: "new", Timestamp: t0, Status: "SUCCESS", ActorType: "user", ActorID: "x", TargetType: "report"},
			{ID: "a1", Timestamp: t0, Status: "SUCCESS", ActorType: "user", ActorID: "x", TargetType: "report"},
		})
		if err == nil || !IsPermanent(err) {
			t.Errorf("duplicate audit id: err = %v, permanent = %v", err, IsPermanent(err))
		}
		if _, n, _ := s.ListAuditLogs(ctx, AuditFilter{}); n != 4 {
			t.Errorf("failed insert left rows: total %d, want 4", n)
		}
		for _, bad := range [][]AuditLog{
			{{Status: "SUCCESS"}}, // no timestamp
			{{Timestamp: t0, Metadata: json.RawMessage(`{bad`)}},
			{{Timestamp: t0, Metadata: json.RawMessage(`[1]`)}},
		} {
			if err := s.InsertAuditLogs(ctx, bad); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("InsertAuditLogs(%+v) = %v, want ErrInvalidArgument", bad, err)
			}
		}
	})
}

func TestConcurrentAuditInserts(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, cfg Config) {
		ctx := context.Background()
		// A second store on the same database: on SQLite that is a second
		// writer connection, so the inserts really contend for the file lock.
		s2 := openStore(t, cfg)
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st := s
				if i%2 == 1 {
					st = s2
				}
				logs := make([]AuditLog, 3)
				for j := range logs {
					logs[j] = AuditLog{Timestamp: t0.Add(time.Duration(i) * time.Second), Status: "SUCCESS",
						EventType: "load", ActorType: "service", ActorID: fmt.Sprint(i), TargetType: "trace",
						Metadata: json.RawMessage(fmt.Sprintf(`{"i":%d,"j":%d}`, i, j))}
				}
				errs <- st.InsertAuditLogs(ctx, logs)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent insert failed: %v", err)
			}
		}
		if _, total, err := s.ListAuditLogs(ctx, AuditFilter{EventType: "load"}); err != nil || total != 3*n {
			t.Errorf("total = %d, %v; want %d", total, err, 3*n)
		}
	})
}

func TestConcurrentWriteBatch(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, cfg Config) {
		ctx := context.Background()
		s2 := openStore(t, cfg)
		const writers = 8
		const perWriter = 10
		var wg sync.WaitGroup
		errs := make(chan error, writers*perWriter*2)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st := s
				if w%2 == 1 {
					st = s2
				}
				for i := range perWriter {
					// Own traces, plus one trace "shared" that every writer
					// extends with its own late step.
					errs <- st.WriteBatch(ctx, batchOf(run{id: fmt.Sprintf("w%d-%d", w, i), start: t0, steps: 3, spans: 1}))
					shared := TraceBatch{Traces: []TraceUpdate{{
						Trace:    Trace{ID: "shared", CreatedAt: t0, Metadata: json.RawMessage(`{"span_count":1}`)},
						BatchKey: fmt.Sprintf("w%d-%d", w, i), End: t0.Add(time.Second),
					}}, Steps: []Step{{ID: fmt.Sprintf("shared-w%d-%d", w, i), TraceID: "shared", StepNumber: 1,
						Timestamp: t0.Add(time.Duration(w*perWriter+i) * time.Millisecond)}}}
					errs <- st.WriteBatch(ctx, shared)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent WriteBatch: %v", err)
			}
		}
		full, err := s.GetTrace(ctx, "shared")
		if err != nil {
			t.Fatal(err)
		}
		if m := metaOf(t, full.Trace.Metadata); m["span_count"] != float64(writers*perWriter) {
			t.Errorf("shared span_count = %v, want %d (lost or doubled merges)", m["span_count"], writers*perWriter)
		}
		if full.Trace.NodeCount != writers*perWriter || len(full.Steps) != writers*perWriter {
			t.Errorf("shared node_count = %d, steps = %d", full.Trace.NodeCount, len(full.Steps))
		}
		for i, st := range full.Steps {
			if st.StepNumber != i+1 {
				t.Fatalf("shared step %d has number %d: numbering not in order", i, st.StepNumber)
			}
		}
		if n := count(t, s, "SELECT count(*) FROM trace_steps"); n != writers*perWriter*4 {
			t.Errorf("%d steps, want %d", n, writers*perWriter*4)
		}
	})
}

var sqliteTS = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestJSONAndTimeStorage(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		paris := time.FixedZone("CET", 3600)
		b := batchOf(run{id: "j1", start: t0.In(paris), steps: 2})
		b.Steps[0].InputState = json.RawMessage(`"plain string state"`)
		b.Steps[1].OutputState = nil // no output captured
		b.Steps[1].InputState = json.RawMessage(`{"big":1e400,"nested":{"a":[1,2,{"b":null}]},"nul":"x\u0000y","esc":"\\u0000"}`)
		if err := s.WriteBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
		full, err := s.GetTrace(ctx, "j1")
		if err != nil {
			t.Fatal(err)
		}
		if full.Trace.CreatedAt.Location() != time.UTC || !full.Trace.CreatedAt.Equal(t0) {
			t.Errorf("created_at = %v, want %v in UTC", full.Trace.CreatedAt, t0)
		}
		for _, st := range full.Steps {
			if st.Timestamp.Location() != time.UTC {
				t.Errorf("step timestamp not UTC: %v", st.Timestamp)
			}
		}
		jsonEqual(t, "string state", full.Steps[0].InputState, json.RawMessage(`"plain string state"`))
		jsonEqual(t, "missing output", full.Steps[1].OutputState, json.RawMessage(`null`))
		var in map[string]any
		_ = json.Unmarshal(full.Steps[1].InputState, &in)
		if in["nul"] != "x\uFFFDy" || in["esc"] != `\u0000` {
			t.Errorf("NUL handling: %s", full.Steps[1].InputState)
		}

		db, d := raw(s)
		if d.postgres {
			var typ string
			if err := db.QueryRow(`SELECT pg_typeof(metadata)::text FROM traces LIMIT 1`).Scan(&typ); err != nil || typ != "jsonb" {
				t.Errorf("metadata type %q, %v", typ, err)
			}
			if err := db.QueryRow(`SELECT pg_typeof(created_at)::text FROM traces LIMIT 1`).Scan(&typ); err != nil || typ != "timestamp with time zone" {
				t.Errorf("created_at type %q, %v", typ, err)
			}
			return
		}
		// SQLite: every JSON column valid, every timestamp in the fixed UTC form.
		for table, cols := range map[string][]string{
			"traces": {"metadata"}, "trace_steps": {"input_state", "output_state", "metadata"},
			"detections": {"details"},
		} {
			for _, c := range cols {
				if n := count(t, s, "SELECT count(*) FROM "+table+" WHERE NOT json_valid("+c+")"); n != 0 {
					t.Errorf("%s.%s: %d invalid JSON values", table, c, n)
				}
			}
		}
		rows, err := db.Query(`SELECT created_at, datetime(created_at) FROM traces UNION ALL
			SELECT timestamp, datetime(timestamp) FROM trace_steps UNION ALL
			SELECT created_at, datetime(created_at) FROM detections`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var ts string
			var dt *string
			if err := rows.Scan(&ts, &dt); err != nil {
				t.Fatal(err)
			}
			if !sqliteTS.MatchString(ts) || dt == nil {
				t.Errorf("stored timestamp %q (datetime() = %v)", ts, dt)
			}
		}
		var first string
		_ = db.QueryRow(`SELECT created_at FROM traces WHERE id = 'j1'`).Scan(&first)
		if first != "2026-03-14T09:26:53.589Z" {
			t.Errorf("created_at stored as %q", first)
		}
	})
}

func TestHostileStrings(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		evil := `x'); DROP TABLE traces; --`
		html := `<script>alert("x")</script><img src=x onerror=alert(1)>`
		b := batchOf(run{id: evil, pipeline: evil, start: t0, steps: 1})
		b.Steps[0].NodeName = html
		b.Detections[0].Message = html + " ' OR 1=1 --"
		b.Detections[0].Details = json.RawMessage(`{"node":"` + strings.ReplaceAll(html, `"`, `\"`) + `"}`)
		huge := strings.Repeat("0123456789abcdef", 1<<18) // 4 MiB
		b.Steps[0].OutputState = json.RawMessage(`{"blob":"` + huge + `"}`)
		bad := TraceBatch{Traces: []TraceUpdate{{Trace: Trace{ID: "utf", CreatedAt: t0,
			PipelineName: "bad\xff\xfeutf8\x00nul"}}}}
		for _, x := range []TraceBatch{b, bad} {
			if err := s.WriteBatch(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		got, n, err := s.ListTraces(ctx, TraceFilter{Pipeline: evil})
		if err != nil || n != 1 || got[0].ID != evil || got[0].PipelineName != evil {
			t.Fatalf("ListTraces(evil) = %+v, %d, %v", got, n, err)
		}
		full, err := s.GetTrace(ctx, evil)
		if err != nil {
			t.Fatal(err)
		}
		if full.Steps[0].NodeName != html || full.Detections[0].Message != html+" ' OR 1=1 --" {
			t.Errorf("strings not stored verbatim: %q / %q", full.Steps[0].NodeName, full.Detections[0].Message)
		}
		var blob struct{ Blob string }
		if err := json.Unmarshal(full.Steps[0].OutputState, &blob); err != nil || blob.Blob != huge {
			t.Errorf("4 MiB state came back with %d bytes: %v", len(full.Steps[0].OutputState), err)
		}
		ds, _, err := s.ListDetections(ctx, DetectionFilter{Node: html})
		if err != nil || len(ds) != 1 {
			t.Errorf("ListDetections(Node html) = %v, %v", ds, err)
		}
		u, err := s.GetTrace(ctx, "utf")
		if err != nil || u.Trace.PipelineName != "bad\uFFFDutf8\uFFFDnul" {
			t.Errorf("invalid UTF-8 / NUL pipeline = %q, %v", u.Trace.PipelineName, err)
		}
		if n := count(t, s, "SELECT count(*) FROM traces"); n != 2 {
			t.Errorf("%d traces, want 2 (table intact)", n)
		}
	})
}

func TestInvalidBatches(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		good := func() TraceBatch { return batchOf(run{id: "v", start: t0, steps: 1}) }
		cases := map[string]func(b *TraceBatch){
			"empty trace id":      func(b *TraceBatch) { b.Traces[0].Trace.ID = "" },
			"bad status":          func(b *TraceBatch) { b.Traces[0].Trace.Status = "exploded" },
			"metadata not JSON":   func(b *TraceBatch) { b.Traces[0].Trace.Metadata = json.RawMessage(`{"a":`) },
			"metadata not object": func(b *TraceBatch) { b.Traces[0].Trace.Metadata = json.RawMessage(`[1,2]`) },
			"state not JSON":      func(b *TraceBatch) { b.Steps[0].InputState = json.RawMessage(`{'single':1}`) },
			"step without trace":  func(b *TraceBatch) { b.Steps[0].TraceID = "" },
			"unknown layer":       func(b *TraceBatch) { b.Detections[0].Layer = "psychic" },
			"unknown severity":    func(b *TraceBatch) { b.Detections[0].Severity = "meh" },
			"details not object":  func(b *TraceBatch) { b.Detections[0].Details = json.RawMessage(`"x"`) },
			"detection_ids object": func(b *TraceBatch) {
				b.Forensics = []Forensics{{ID: "f", TraceID: "v", DetectionIDs: json.RawMessage(`{}`)}}
			},
		}
		for name, mutate := range cases {
			b := good()
			mutate(&b)
			err := s.WriteBatch(ctx, b)
			if err == nil || !IsPermanent(err) || !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("%s: err = %v, want a permanent ErrInvalidArgument", name, err)
			}
		}
		if n := count(t, s, "SELECT count(*) FROM traces"); n != 0 {
			t.Errorf("rejected batches wrote %d traces", n)
		}
		if err := s.WriteBatch(ctx, TraceBatch{}); err != nil {
			t.Errorf("empty batch: %v", err)
		}
		// Duplicate rows within one batch: the last one wins, no error.
		b := good()
		dup := b.Steps[0]
		dup.NodeName = "renamed"
		b.Steps = append(b.Steps, dup)
		b.Traces = append(b.Traces, TraceUpdate{Trace: Trace{ID: "v", Status: "failed"}})
		if err := s.WriteBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
		full, _ := s.GetTrace(ctx, "v")
		if len(full.Steps) != 1 || full.Steps[0].NodeName != "renamed" || full.Trace.Status != "failed" {
			t.Errorf("duplicates in a batch: %+v", full)
		}
	})
}

package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLastRuns(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		none, err := s.LastRuns(ctx, "")
		if err != nil || len(none) != 0 {
			t.Fatalf("empty store: %+v, %v", none, err)
		}
		seedTraces(t, s) // alpha: t0 to t0+3m; beta: t0+10m
		old := t0.AddDate(-2, 0, 0)
		for _, r := range []run{
			{id: "u0", pipeline: "", start: old},                          // an unnamed pipeline
			{id: "q0", pipeline: "quiet", start: old},                     // went quiet two years ago
			{id: "q1", pipeline: "quiet", start: old.Add(time.Hour)},      // its newest
			{id: "q2", pipeline: "quiet", start: old.Add(-time.Hour)},     // written last, older
			{id: "z0", pipeline: "zz-future", start: t0.AddDate(1, 0, 0)}, // clock ahead
		} {
			if err := s.WriteBatch(ctx, batchOf(r)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.LastRuns(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		want := []LastRun{{"", old}, {"alpha", t0.Add(3 * time.Minute)}, {"beta", t0.Add(10 * time.Minute)},
			{"quiet", old.Add(time.Hour)}, {"zz-future", t0.AddDate(1, 0, 0)}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("LastRuns = %+v\nwant %+v", got, want)
		}
		one, err := s.LastRuns(ctx, "quiet")
		if err != nil || !reflect.DeepEqual(one, []LastRun{{"quiet", old.Add(time.Hour)}}) {
			t.Errorf("LastRuns(quiet) = %+v, %v", one, err)
		}
		if nope, err := s.LastRuns(ctx, "nope"); err != nil || len(nope) != 0 {
			t.Errorf("LastRuns(nope) = %+v, %v", nope, err)
		}

		// At most MaxLastRuns pipelines, the first by name.
		var b TraceBatch
		for i := range MaxLastRuns {
			r := batchOf(run{id: fmt.Sprintf("m%03d", i), pipeline: fmt.Sprintf("many-%03d", i), start: t0})
			b.Traces = append(b.Traces, r.Traces...)
			b.Detections = append(b.Detections, r.Detections...)
		}
		if err := s.WriteBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
		got, err = s.LastRuns(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != MaxLastRuns || got[0].Pipeline != "" || got[1].Pipeline != "alpha" ||
			got[3].Pipeline != "many-000" || got[MaxLastRuns-1].Pipeline != fmt.Sprintf("many-%03d", MaxLastRuns-4) {
			t.Errorf("bounded LastRuns: %d pipelines, %+v ... %+v", len(got), got[:4], got[len(got)-1])
		}
	})
}

// TestLastRunsPlan: on SQLite every read of LastRuns is a seek in
// traces_pipeline_idx, never a scan of traces, so the home page costs the
// same with a thousand runs or ten million.
func TestLastRunsPlan(t *testing.T) {
	s := openStore(t, backends[0].cfg(t))
	db, d := raw(s)
	rows, err := db.Query("EXPLAIN QUERY PLAN "+fmt.Sprintf(lastRunsSQL, d.ph(1)), MaxLastRuns)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	seeks := 0
	for _, step := range plan {
		if strings.Contains(step, "traces") {
			if !strings.Contains(step, "USING COVERING INDEX traces_pipeline_idx") {
				t.Errorf("a step of the plan does not seek traces_pipeline_idx: %q", step)
			}
			seeks++
		}
	}
	if seeks != 3 {
		t.Errorf("plan reads traces %d times, want 3:\n%s", seeks, strings.Join(plan, "\n"))
	}
}

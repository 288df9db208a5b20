package store

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// seedRunsList adds forensics to seedTraces' runs: a2's root cause is its
// step node1, b1's is node0.
func seedRunsList(t *testing.T, s Store) {
	t.Helper()
	seedTraces(t, s)
	ctx := context.Background()
	for id, step := range map[string]string{"a2": "a2-s01", "b1": "b1-s00"} {
		b := TraceBatch{Forensics: []Forensics{{ID: id + "-f", TraceID: id, RootCauseStep: step,
			Explanation: "why", CreatedAt: t0.Add(time.Hour)}}}
		if id == "b1" {
			// b1 has no steps in seedTraces: give it one so the root cause exists.
			one := batchOf(run{id: "b1", pipeline: "beta", start: t0.Add(10 * time.Minute), steps: 1})
			b.Traces, b.Steps = one.Traces, one.Steps
		}
		if err := s.WriteBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
}

func runIDs(p *RunsPage) []string {
	out := []string{}
	for _, r := range p.Runs {
		out = append(out, r.ID)
	}
	return out
}

func TestListRuns(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		seedRunsList(t, s)
		all := []string{"b2", "b1", "b0", "a3", "a2", "a1", "a0"}
		for _, c := range []struct {
			name string
			f    TraceFilter
			want []string
		}{
			{"all, newest first, ties by id", TraceFilter{}, all},
			{"pipeline", TraceFilter{Pipeline: "alpha"}, []string{"a3", "a2", "a1", "a0"}},
			{"status", TraceFilter{Status: "failed"}, []string{"a2"}},
			{"since/until", TraceFilter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, []string{"a2", "a1"}},
			{"min severity", TraceFilter{MinSeverity: "critical"}, []string{"a2"}},
			{"node: a step of it ran", TraceFilter{Node: "node1"}, []string{"a3", "a2", "a1", "a0"}},
			{"node that never ran", TraceFilter{Node: "nope"}, []string{}},
			{"rule", TraceFilter{Rule: "semantic.empty"}, []string{"a3", "a2", "a1", "a0"}},
			{"rule on a node", TraceFilter{Rule: "semantic.empty", Node: "node0"}, []string{"a3", "a2", "a1", "a0"}},
			{"rule not on that node", TraceFilter{Rule: "semantic.empty", Node: "node1"}, []string{}},
			{"run-level rule names its node in details", TraceFilter{Rule: "statistical.latency_spike", Node: "run", Pipeline: "beta"}, []string{"b2", "b1", "b0"}},
			{"root cause", TraceFilter{RootCause: "node1"}, []string{"a2"}},
			{"root cause (2)", TraceFilter{RootCause: "node0"}, []string{"b1"}},
			{"combined", TraceFilter{Pipeline: "alpha", Node: "node0", Status: "ok"}, []string{"a3", "a0"}},
		} {
			p, err := s.ListRuns(ctx, RunFilter{TraceFilter: c.f})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if got := runIDs(p); !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s: got %v, want %v", c.name, got, c.want)
			}
		}

		// Keyset pages of 2, forward then back: no overlap, no gap.
		var got []string
		var pages []*RunsPage
		f := RunFilter{TraceFilter: TraceFilter{Limit: 2}}
		for {
			p, err := s.ListRuns(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, p)
			got = append(got, runIDs(p)...)
			if p.Older == nil {
				break
			}
			f.Before = p.Older
		}
		if !reflect.DeepEqual(got, all) {
			t.Errorf("paging forward: got %v, want %v", got, all)
		}
		if len(pages) != 4 || pages[0].Newer != nil || pages[1].Newer == nil {
			t.Errorf("page links wrong: %d pages, first newer %v", len(pages), pages[0].Newer)
		}
		back, err := s.ListRuns(ctx, RunFilter{TraceFilter: TraceFilter{Limit: 2}, After: pages[2].Newer})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(runIDs(back), runIDs(pages[1])) || back.Older == nil || back.Newer == nil {
			t.Errorf("paging back: got %v (older %v newer %v), want %v", runIDs(back), back.Older, back.Newer, runIDs(pages[1]))
		}

		// Row facts: detections by severity and the root-cause node.
		p, err := s.ListRuns(ctx, RunFilter{TraceFilter: TraceFilter{TraceID: "a2"}})
		if err != nil || len(p.Runs) != 1 {
			t.Fatalf("a2: %v %v", p, err)
		}
		r := p.Runs[0]
		if r.Critical != 1 || r.Warning != 1 || r.Info != 1 || r.RootCauseNode != "node1" {
			t.Errorf("a2 row = %+v", r)
		}

		// Cursors survive their URL form; bad ones and both directions are refused.
		c := Cursor{CreatedAt: t0, ID: "a,b"}
		if back, err := ParseCursor(c.String()); err != nil || back != c {
			t.Errorf("ParseCursor(%q) = %v, %v", c.String(), back, err)
		}
		for _, bad := range []string{"", "x", "2026-01-01T00:00:00Z,", "yesterday,a1"} {
			if _, err := ParseCursor(bad); err == nil {
				t.Errorf("ParseCursor(%q) accepted", bad)
			}
		}
		if _, err := s.ListRuns(ctx, RunFilter{Before: &c, After: &c}); err == nil {
			t.Error("before and after together accepted")
		}
	})
}

func TestNeighbors(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		seedTraces(t, s)
		for id, want := range map[string][2]string{
			"a0": {"", "a1"}, "a1": {"a0", "a2"}, "a3": {"a2", ""},
			"b1": {"b0", "b2"}, // same instant: by id
		} {
			prev, next, err := s.Neighbors(ctx, id)
			if err != nil || prev != want[0] || next != want[1] {
				t.Errorf("Neighbors(%s) = %q, %q, %v; want %q, %q", id, prev, next, err, want[0], want[1])
			}
		}
		if _, _, err := s.Neighbors(ctx, "nope"); err == nil {
			t.Error("unknown id: no error")
		}
	})
}

func TestPipelineStats(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		seedRunsList(t, s)
		w := StatsWindow{Since: t0.Add(-time.Hour), Until: t0.Add(time.Hour), Bucket: BucketMinute}
		stats, err := s.PipelineStats(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		if len(stats) != 2 || stats[0].Pipeline != "alpha" || stats[1].Pipeline != "beta" {
			t.Fatalf("pipelines = %+v", stats)
		}
		a := stats[0]
		if a.Runs != 4 || !reflect.DeepEqual(a.ByStatus, map[string]int{"ok": 2, "warning": 1, "failed": 1}) {
			t.Errorf("alpha counts = %d %v", a.Runs, a.ByStatus)
		}
		if len(a.Series) != 4 || !a.Series[2].Start.Equal(t0.Truncate(time.Minute).Add(2*time.Minute)) ||
			a.Series[2].Counts["failed"] != 1 {
			t.Errorf("alpha series = %+v", a.Series)
		}
		wantRules := []Count{{"semantic.empty", 4}, {"statistical.latency_spike", 4}}
		if !reflect.DeepEqual(a.TopRules, wantRules) {
			t.Errorf("alpha rules = %+v, want %+v", a.TopRules, wantRules)
		}
		if a.TopRuns != 4 || !a.TopSince.Equal(t0) {
			t.Errorf("alpha top sample: %d runs since %s", a.TopRuns, a.TopSince)
		}
		if !reflect.DeepEqual(a.TopRootCauses, []Count{{"node1", 1}}) {
			t.Errorf("alpha root causes = %+v", a.TopRootCauses)
		}
		if a.SampledRuns != 4 || len(a.NodeLatency) != 2 || a.NodeLatency[0] != (NodeLatency{Node: "node0", Steps: 4, P50: 9, P90: 9, P99: 9}) {
			t.Errorf("alpha latency = %d %+v", a.SampledRuns, a.NodeLatency)
		}
		if b := stats[1]; b.Runs != 3 || !reflect.DeepEqual(b.TopRootCauses, []Count{{"node0", 1}}) {
			t.Errorf("beta = %+v", b)
		}

		// One pipeline, hour buckets; an empty window is no pipelines.
		hourly := w.Since.Truncate(time.Hour)
		one, err := s.PipelineStats(ctx, StatsWindow{Since: hourly, Until: w.Until, Bucket: BucketHour, Pipeline: "beta"})
		if err != nil || len(one) != 1 || one[0].Runs != 3 || len(one[0].Series) != 1 {
			t.Errorf("beta alone = %+v, %v", one, err)
		}
		none, err := s.PipelineStats(ctx, StatsWindow{Since: t0.Add(time.Hour).Truncate(time.Hour), Until: t0.Add(2 * time.Hour), Bucket: BucketDay})
		if err != nil || len(none) != 0 {
			t.Errorf("empty window = %+v, %v", none, err)
		}
		for _, bad := range []StatsWindow{{}, {Since: t0, Until: t0, Bucket: BucketDay}, {Since: t0, Until: t0.Add(time.Hour), Bucket: "week"},
			{Since: t0, Until: t0.Add(time.Hour), Bucket: BucketHour}} { // run_counts has whole hours
			if _, err := s.PipelineStats(ctx, bad); err == nil {
				t.Errorf("window %+v accepted", bad)
			}
		}

		d, err := s.DetectionStats(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		// Each pair per minute: the alpha runs start a minute apart, the
		// beta runs together 10 minutes after the first.
		minute := func(m, n int) BucketCount {
			return BucketCount{Start: t0.Truncate(time.Minute).Add(time.Duration(m) * time.Minute), N: n}
		}
		want := []DetectionCount{
			{Rule: "semantic.empty", Node: "node0", Severity: "warning", Detections: 4, Runs: 4,
				Buckets: []BucketCount{minute(0, 1), minute(1, 1), minute(2, 1), minute(3, 1)}},
			{Rule: "statistical.latency_spike", Node: "run", Severity: "info", Detections: 7, Runs: 7,
				Buckets: []BucketCount{minute(0, 1), minute(1, 1), minute(2, 1), minute(3, 1), minute(10, 3)}},
			{Rule: "", Node: "node1", Severity: "critical", Detections: 1, Runs: 1, Buckets: []BucketCount{minute(2, 1)}},
		}
		if len(d.Rows) != 3 {
			t.Fatalf("detection rows = %+v", d.Rows)
		}
		// Ordered by detections, then rule, node.
		if !reflect.DeepEqual(d.Rows, []DetectionCount{want[1], want[0], want[2]}) {
			t.Errorf("detection rows = %+v", d.Rows)
		}
		total := 0
		for _, b := range d.Series {
			for _, n := range b.Counts {
				total += n
			}
		}
		if total != 12 {
			t.Errorf("detection series total %d, want 12: %+v", total, d.Series)
		}
	})
}

func TestPercentile(t *testing.T) {
	v := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for pct, want := range map[int]int64{50: 5, 90: 9, 99: 10, 1: 1} {
		if got := percentile(v, pct); got != want {
			t.Errorf("p%d = %d, want %d", pct, got, want)
		}
	}
	if percentile(nil, 50) != 0 || percentile([]int64{7}, 99) != 7 {
		t.Error("edge cases")
	}
}

// bigRun writes a run of n steps with states of about stateBytes each.
func bigRun(t testing.TB, s Store, id string, n, stateBytes int) {
	t.Helper()
	ctx := context.Background()
	pad := make([]byte, stateBytes)
	for i := range pad {
		pad[i] = 'x'
	}
	const per = 2000
	for from := 0; from < n; from += per {
		b := TraceBatch{Traces: []TraceUpdate{{
			Trace: Trace{ID: id, CreatedAt: t0, PipelineName: "big", Status: "ok", Metadata: json.RawMessage(`{}`)},
			End:   t0.Add(time.Duration(n) * time.Millisecond), HasRoot: from == 0, BatchKey: fmt.Sprintf("big-%d", from),
		}}}
		for i := from; i < min(from+per, n); i++ {
			b.Steps = append(b.Steps, Step{
				ID: fmt.Sprintf("%s-%06d", id, i), TraceID: id, StepNumber: i + 1, NodeName: fmt.Sprintf("n%d", i%7),
				InputState:  json.RawMessage(fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, pad)),
				OutputState: json.RawMessage(fmt.Sprintf(`{"k%d":%d}`, i%5, i)),
				DurationMs:  1, Timestamp: t0.Add(time.Duration(i) * time.Millisecond),
				Metadata: json.RawMessage(`{}`),
			})
			if i%1000 == 999 {
				b.Detections = append(b.Detections, Detection{ID: fmt.Sprintf("%s-d%d", id, i), TraceID: id,
					StepID: fmt.Sprintf("%s-%06d", id, i), Layer: "semantic", Severity: "warning",
					Message: "m", Details: json.RawMessage(`{"rule":"r"}`), CreatedAt: t0})
			}
		}
		if err := s.WriteBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
}

func TestGetRunPage(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		bigRun(t, s, "big", 2500, 100)
		seedRunsList(t, s)

		p, err := s.GetRunPage(ctx, "big", StepWindow{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Steps) != DefaultStepPage || !p.More || p.TotalSteps != 2500 || p.Whole() ||
			p.Steps[0].StepNumber != 1 || p.Warning != 2 {
			t.Errorf("first page: %d steps, more %v, total %d, warning %d", len(p.Steps), p.More, p.TotalSteps, p.Warning)
		}
		// The last page; detections only of the window's steps.
		p, err = s.GetRunPage(ctx, "big", StepWindow{After: 1900, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Steps) != 600 || p.More || p.Steps[0].StepNumber != 1901 || len(p.Detections) != 1 || p.Detections[0].ID != "big-d1999" {
			t.Errorf("last page: %d steps from %d, more %v, detections %d", len(p.Steps), p.Steps[0].StepNumber, p.More, len(p.Detections))
		}
		// The byte budget ends a window early but never empty.
		const budget = 1300
		p, err = s.GetRunPage(ctx, "big", StepWindow{Limit: 1000, MaxBytes: budget})
		if err != nil || !p.More || len(p.Steps) < 2 {
			t.Fatalf("byte budget: %d steps, more %v, %v", len(p.Steps), p.More, err)
		}
		read := 0
		for i, st := range p.Steps {
			if i == len(p.Steps)-1 && read >= budget {
				t.Errorf("byte budget: step %d read after %d bytes", st.StepNumber, read)
			}
			read += len(st.InputState) + len(st.OutputState) + len(st.Metadata)
		}
		if read < budget {
			t.Errorf("byte budget: window ended at %d bytes, below %d", read, budget)
		}
		p, err = s.GetRunPage(ctx, "big", StepWindow{After: 5, MaxBytes: 1})
		if err != nil || len(p.Steps) != 1 || p.Steps[0].StepNumber != 6 {
			t.Errorf("tiny budget: %v %v", p, err)
		}
		// A small run is whole, with its run-level detections.
		p, err = s.GetRunPage(ctx, "a2", StepWindow{})
		if err != nil || !p.Whole() || len(p.Steps) != 2 || len(p.Detections) != 3 || len(p.Forensics) != 1 || p.Critical != 1 {
			t.Errorf("a2 page: %+v, %v", p, err)
		}
		if _, err := s.GetRunPage(ctx, "nope", StepWindow{}); err == nil {
			t.Error("unknown run: no error")
		}
		for _, bad := range []StepWindow{{After: -1}, {Limit: MaxStepPage + 1}, {MaxBytes: -1}} {
			if _, err := s.GetRunPage(ctx, "a2", bad); err == nil {
				t.Errorf("window %+v accepted", bad)
			}
		}

		// EachStep streams every step; states only up to statesUpTo.
		n, withStates, warned := 0, 0, 0
		err = s.EachStep(ctx, "big", 100, func(st StepSummary) error {
			n++
			if st.StepNumber != n {
				t.Fatalf("step %d out of order (%d)", st.StepNumber, n)
			}
			if st.OutputState != nil {
				withStates++
			}
			if st.WorstSeverity == "warning" {
				warned++
			}
			return nil
		})
		if err != nil || n != 2500 || withStates != 100 || warned != 2 {
			t.Errorf("EachStep: %d steps, %d with states, %d warned, %v", n, withStates, warned, err)
		}
	})
}

// runCounts reads run_counts as pipeline/status -> runs, hours summed.
func runCounts(t *testing.T, s Store) map[string]int {
	t.Helper()
	db, _ := raw(s)
	rows, err := db.Query("SELECT pipeline_name, status, runs FROM run_counts")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var p, st string
		var n int
		if err := rows.Scan(&p, &st, &n); err != nil {
			t.Fatal(err)
		}
		out[p+"/"+st] += n
	}
	return out
}

// TestRunCounts: run_counts follows every write (new runs, a late batch
// that makes a run worse and earlier, a retried batch) and purges, and
// equals counting the traces.
func TestRunCounts(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		seedTraces(t, s)
		want := map[string]int{"alpha/ok": 2, "alpha/warning": 1, "alpha/failed": 1, "beta/ok": 3}
		if got := runCounts(t, s); !reflect.DeepEqual(got, want) {
			t.Fatalf("after seeding: %v, want %v", got, want)
		}
		// A late batch of a0: failed now, and it started an hour earlier.
		late := batchOf(run{id: "a0", pipeline: "alpha", status: "failed", start: t0.Add(-time.Hour), key: "late-a0"})
		late.Steps, late.Detections = nil, nil
		for range 2 { // the retry changes nothing
			if err := s.WriteBatch(ctx, late); err != nil {
				t.Fatal(err)
			}
		}
		want = map[string]int{"alpha/ok": 1, "alpha/warning": 1, "alpha/failed": 2, "beta/ok": 3}
		if got := runCounts(t, s); !reflect.DeepEqual(got, want) {
			t.Fatalf("after a late batch: %v, want %v", got, want)
		}
		stats, err := s.PipelineStats(ctx, StatsWindow{Since: t0.Add(-2 * time.Hour).Truncate(time.Hour), Until: t0.Add(2 * time.Hour), Bucket: BucketHour})
		if err != nil || len(stats) != 2 || stats[0].Runs != 4 || stats[0].ByStatus["failed"] != 2 || len(stats[0].Series) != 2 {
			t.Fatalf("stats from run_counts: %+v, %v", stats, err)
		}
		if _, err := s.Purge(ctx, t0.Add(5*time.Minute)); err != nil { // the alpha runs
			t.Fatal(err)
		}
		if got, want := runCounts(t, s), map[string]int{"beta/ok": 3}; !reflect.DeepEqual(got, want) {
			t.Fatalf("after purge: %v, want %v", got, want)
		}
	})
}

// TestListRunsSearchIsBounded: a filter checked run by run examines
// MaxRunsSearched runs per page at most, says where it stopped, and the
// next page goes on from there until the runs run out.
func TestListRunsSearchIsBounded(t *testing.T) {
	defer func(n int) { MaxRunsSearched = n }(MaxRunsSearched)
	MaxRunsSearched = 3
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		seedRunsList(t, s) // newest first: b2 b1 b0 a3 a2 a1 a0; b1's root cause is node0
		f := RunFilter{TraceFilter: TraceFilter{RootCause: "node0"}}
		var pages [][]string
		var stops []string
		for range 5 {
			p, err := s.ListRuns(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, runIDs(p))
			if p.Searched != nil {
				stops = append(stops, p.Searched.ID)
			}
			if p.Older == nil {
				break
			}
			f.Before = p.Older
		}
		if want := [][]string{{"b1"}, {}, {}}; !reflect.DeepEqual(pages, want) {
			t.Errorf("pages %v, want %v", pages, want)
		}
		if want := []string{"b0", "a1"}; !reflect.DeepEqual(stops, want) {
			t.Errorf("searches stopped at %v, want %v", stops, want)
		}
		// A page filled before the bound is an ordinary page.
		MaxRunsSearched = 100
		defer func() { MaxRunsSearched = 3 }()
		p, err := s.ListRuns(ctx, RunFilter{TraceFilter: TraceFilter{Node: "node0", Limit: 2}})
		if err != nil || !reflect.DeepEqual(runIDs(p), []string{"b1", "a3"}) || p.Searched != nil || p.Older == nil {
			t.Errorf("node0 page: %v %+v %v", runIDs(p), p, err)
		}
	})
}

// TestDetectionStatsCap: more rule x node pairs than MaxDetectionRows,
// arriving by name while the busiest are spread among them: the table is
// the MaxDetectionRows with the most detections, whatever their names.
func TestDetectionStatsCap(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		const pairs = 2*MaxDetectionRows + 50
		b := batchOf(run{id: "many", pipeline: "alpha", start: t0})
		b.Detections = nil
		var want []string
		for k := range pairs {
			node := fmt.Sprintf("n%03d", k)
			for j := range 1 + k%3 { // k%3 == 2: three detections
				b.Detections = append(b.Detections, Detection{ID: fmt.Sprintf("%s-%d", node, j), TraceID: "many",
					Layer: "statistical", Severity: "info", Message: "m", CreatedAt: t0,
					Details: json.RawMessage(`{"rule":"r","node":"` + node + `"}`)})
			}
			if k%3 == 2 {
				want = append(want, node)
			}
		}
		for k := 1; len(want) < MaxDetectionRows; k += 3 { // then two, by name
			want = append(want, fmt.Sprintf("n%03d", k))
		}
		if err := s.WriteBatch(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		d, err := s.DetectionStats(context.Background(), StatsWindow{Since: t0.Truncate(time.Hour), Until: t0.Add(time.Hour), Bucket: BucketHour})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range d.Rows {
			got = append(got, r.Node)
			if r.Runs != 1 || len(r.Buckets) != 1 || r.Buckets[0].N != r.Detections {
				t.Errorf("row %+v: one run, one bucket holding all its detections", r)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("rows = %v\nwant %v", got, want)
		}
	})
}

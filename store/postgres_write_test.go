package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// bigState is a JSON state of about n bytes of varied words: large enough to
// be TOASTed and compressed, unlike a repeated phrase that stays inline.
func bigState(seed uint64, n int) json.RawMessage {
	words := strings.Fields("refund policy returns thirty days annual plans pro rata support order number invoice late payment")
	rng := rand.New(rand.NewPCG(seed, 7))
	var b strings.Builder
	b.WriteString(`{"context":"`)
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		b.WriteByte(' ')
		b.WriteString(fmt.Sprint(rng.Uint32()))
		b.WriteByte(' ')
	}
	b.WriteString(`"}`)
	return json.RawMessage(b.String())
}

// New rows go straight into their table and stored ones through the upsert;
// a batch mixing both must store the new rows and replace the stored ones,
// including a step that moves to another trace.
func TestPostgresWriteMixesNewAndStoredRows(t *testing.T) {
	s := openStore(t, Config{Driver: DriverPostgres, DSN: testutil.PostgresDSN(t)})
	ctx := context.Background()
	step := func(id, trace, node string, n int, seed uint64) Step {
		return Step{ID: id, TraceID: trace, StepNumber: n, NodeName: node, InputState: bigState(seed, 16<<10),
			OutputState: bigState(seed+1, 12<<10), DurationMs: 5, Timestamp: t0.Add(time.Duration(n) * time.Second),
			Metadata: json.RawMessage(fmt.Sprintf(`{"langgraph_step":%d}`, n))}
	}
	det := func(id, stepID, msg string) Detection {
		return Detection{ID: id, TraceID: "T", StepID: stepID, Layer: "semantic", Severity: "warning",
			Message: msg, Details: json.RawMessage(`{"rule":"r"}`), CreatedAt: t0}
	}
	update := func(id, key string) TraceUpdate {
		return TraceUpdate{Trace: Trace{ID: id, CreatedAt: t0, Status: "ok", Metadata: json.RawMessage(`{"span_count":1}`)},
			End: t0.Add(10 * time.Second), BatchKey: key}
	}
	b1 := TraceBatch{Traces: []TraceUpdate{update("T", "b1"), update("A", "a1")},
		Steps:      []Step{step("T-1", "T", "one", 1, 10), step("T-2", "T", "two", 2, 20), step("X", "A", "x", 1, 30)},
		Detections: []Detection{det("D1", "T-1", "first")}}
	if err := s.WriteBatch(ctx, b1); err != nil {
		t.Fatal(err)
	}
	// T-2 and D1 again with new content, T-3 and D2 new; X moves to trace B.
	changed := step("T-2", "T", "two-again", 2, 40)
	b2 := TraceBatch{Traces: []TraceUpdate{update("T", "b2"), update("B", "b1")},
		Steps:      []Step{changed, step("T-3", "T", "three", 3, 50), step("X", "B", "x-moved", 1, 60)},
		Detections: []Detection{det("D1", "T-2", "replaced"), det("D2", "T-3", "second")}}
	if err := s.WriteBatch(ctx, b2); err != nil {
		t.Fatal(err)
	}
	full, err := s.GetTrace(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	if full.Trace.NodeCount != 3 || full.Trace.DetectionCount != 2 || len(full.Steps) != 3 || len(full.Detections) != 2 {
		t.Fatalf("trace %+v with %d steps, %d detections; want 3 and 2", full.Trace, len(full.Steps), len(full.Detections))
	}
	for i, want := range []Step{b1.Steps[0], changed, b2.Steps[1]} {
		got := full.Steps[i]
		if got.ID != want.ID || got.NodeName != want.NodeName || got.StepNumber != i+1 {
			t.Errorf("step %d = %s %q #%d, want %s %q #%d", i, got.ID, got.NodeName, got.StepNumber, want.ID, want.NodeName, i+1)
		}
		jsonEqual(t, want.ID+" input_state", got.InputState, want.InputState)
		jsonEqual(t, want.ID+" output_state", got.OutputState, want.OutputState)
	}
	msgs := map[string]string{}
	for _, d := range full.Detections {
		msgs[d.ID] = d.Message + "@" + d.StepID
	}
	if msgs["D1"] != "replaced@T-2" || msgs["D2"] != "second@T-3" {
		t.Errorf("detections = %v", msgs)
	}
	if n := count(t, s, "SELECT count(*) FROM trace_steps WHERE id = 'X' AND trace_id = 'B' AND node_name = 'x-moved'"); n != 1 {
		t.Errorf("step X did not move to trace B")
	}
	if n := count(t, s, "SELECT count(*) FROM trace_steps"); n != 4 {
		t.Errorf("%d step rows, want 4", n)
	}
	// Written again, the second batch changes nothing.
	if err := s.WriteBatch(ctx, b2); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count(*) FROM trace_steps"); n != 4 {
		t.Errorf("%d step rows after a retry, want 4", n)
	}
	if n := count(t, s, "SELECT count(*) FROM detections"); n != 2 {
		t.Errorf("%d detections after a retry, want 2", n)
	}
}

// States compressed by WriteBatch use lz4 where the server has it, on the
// direct path and on the upsert path (through the staging table) alike.
func TestPostgresStatesUseLZ4(t *testing.T) {
	s := openStore(t, Config{Driver: DriverPostgres, DSN: testutil.PostgresDSN(t)})
	if !s.(*pgStore).lz4 {
		t.Skip("server without lz4 TOAST compression (before PostgreSQL 14 or built without lz4)")
	}
	ctx := context.Background()
	b := batchOf(run{id: "z", start: t0, steps: 3, spans: 3})
	for i := range b.Steps {
		b.Steps[i].InputState = bigState(uint64(i), 20<<10)
		b.Steps[i].OutputState = bigState(uint64(i+100), 20<<10)
	}
	if err := s.WriteBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	b.Traces[0].BatchKey = "again"
	b.Steps[0].OutputState = bigState(999, 20<<10) // through the upsert
	if err := s.WriteBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	q := `SELECT count(*) FROM trace_steps WHERE pg_column_compression(input_state) = 'lz4'
		AND pg_column_compression(output_state) = 'lz4'`
	if n := count(t, s, q); n != 3 {
		t.Errorf("%d of 3 steps have lz4-compressed states", n)
	}
	// The session default is untouched outside the write transaction.
	db, _ := raw(s)
	var now, reset string
	if err := db.QueryRowContext(ctx, `SELECT setting, reset_val FROM pg_settings
		WHERE name = 'default_toast_compression'`).Scan(&now, &reset); err != nil {
		t.Fatal(err)
	}
	if now != reset {
		t.Errorf("default_toast_compression = %s outside WriteBatch, want the session's %s", now, reset)
	}
}

// A new step id stored by another trace's transaction between this batch's
// look-up and its COPY (ids shared between traces, which the exporter never
// produces) fails the direct COPY; WriteBatch then upserts, as before.
func TestPostgresWriteRaceOnNewID(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	s := openStore(t, Config{Driver: DriverPostgres, DSN: dsn})
	ctx := context.Background()
	db, _ := raw(s)
	update := func(id string) TraceUpdate {
		return TraceUpdate{Trace: Trace{ID: id, CreatedAt: t0, Status: "ok", Metadata: json.RawMessage(`{"span_count":1}`)},
			End: t0.Add(time.Second), BatchKey: id}
	}
	if err := s.WriteBatch(ctx, TraceBatch{Traces: []TraceUpdate{update("A")}}); err != nil {
		t.Fatal(err)
	}
	// Another writer holds step X of trace A, not yet committed.
	other, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Rollback() }()
	if _, err := other.ExecContext(ctx, `INSERT INTO trace_steps (id, trace_id, step_number, timestamp)
		VALUES ('X', 'A', 1, now())`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- s.WriteBatch(ctx, TraceBatch{Traces: []TraceUpdate{update("B")},
			Steps: []Step{{ID: "X", TraceID: "B", StepNumber: 1, NodeName: "b", Timestamp: t0}}})
	}()
	// Commit once the batch waits on X's index entry: its COPY then fails.
	deadline := time.Now().Add(10 * time.Second)
	for count(t, s, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND wait_event_type = 'Lock' AND query LIKE 'copy%'`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the batch never waited on the uncommitted step")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := other.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("WriteBatch after losing the race: %v", err)
	}
	if n := count(t, s, "SELECT count(*) FROM trace_steps WHERE id = 'X' AND trace_id = 'B' AND node_name = 'b'"); n != 1 {
		t.Errorf("step X not upserted into trace B")
	}
	full, err := s.GetTrace(ctx, "B")
	if err != nil || full.Trace.NodeCount != 1 {
		t.Errorf("trace B = %+v, %v; want node_count 1", full.Trace, err)
	}
}

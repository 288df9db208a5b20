package faults

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/internal/loadgen"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

// bufferedSetup holds traces in the detector for five minutes: only a
// stop releases them.
func bufferedSetup(t *testing.T) setup {
	return setup{dir: t.TempDir(), detector: "max_run_duration: 5m\n    root_quiet_period: 5m\n    tick: 1s"}
}

// sendRuns sends n runs, half of them failing, one per request.
func sendRuns(t *testing.T, c *collector, n int) (acked map[string]int, failing map[string]bool) {
	t.Helper()
	client := dial(t, c.grpcAddr)
	shape := faultShape
	shape.FailShare = 0.5
	gen, err := loadgen.NewGenerator(shape, 5, 1)
	require.NoError(t, err)
	acked, failing = map[string]int{}, map[string]bool{}
	for range n {
		td, spans := gen.NewRequest()
		cnt := gen.AddRun(spans, time.Now())
		id := spans.At(0).TraceID().String()
		require.NoError(t, client.send(context.Background(), td))
		acked[id] = int(cnt.NodeSpans)
		if cnt.FailingTraces > 0 {
			failing[id] = true
		}
	}
	require.NotEmpty(t, failing)
	return acked, failing
}

// sigterm stops c and checks it exits cleanly within a 20 s grace period.
func sigterm(t *testing.T, c *collector) {
	t.Helper()
	began := time.Now()
	require.True(t, c.stop(20*time.Second), "the collector exits within its grace period")
	require.Zero(t, c.cmd.ProcessState.ExitCode())
	t.Logf("stopped in %s", time.Since(began).Round(time.Millisecond))
}

// requireWhole checks no trace is marked partial: released early by the
// shutdown, each run had its root (sent in one request), so it was whole.
// (A trace released early without its root is partial: the processor's
// TestEvictionPartialOnlyWithoutRoot.)
func requireWhole(t *testing.T, db *sql.DB, acked map[string]int) {
	t.Helper()
	for id := range acked {
		var meta string
		require.NoError(t, db.QueryRow("SELECT CAST(metadata AS TEXT) FROM traces WHERE id = '"+id+"'").Scan(&meta))
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(meta), &m))
		require.Nil(t, m["partial"], "trace %s metadata %s", id, meta)
	}
}

// TestSIGTERMWritesBufferedTraces: traces buffered in the detector are
// detected and written before the process exits (the forwards of the
// shutdown wait for the database), and the write-ahead log is left empty:
// a restart stores nothing twice.
func TestSIGTERMWritesBufferedTraces(t *testing.T) {
	s := bufferedSetup(t)
	c := startCollector(t, s)
	acked, failing := sendRuns(t, c, 40)
	time.Sleep(300 * time.Millisecond)
	db := openSQLite(t, s.dbPath())
	require.Zero(t, count(t, db, "SELECT COUNT(*) FROM traces"), "all traces are still buffered")

	sigterm(t, c)
	requireNoDuplicates(t, db, acked)
	requireDetected(t, db, failing)
	requireWhole(t, db, acked)

	// Nothing is replayed: every record was released once its rows were in.
	s.metrics = true
	c2 := startCollector(t, s)
	require.Zero(t, c2.metric(t, "otelcol_argusdetector_wal_replayed_records"))
	require.Zero(t, c2.metric(t, "otelcol_argusdetector_wal_records"))
	require.True(t, c2.stop(20*time.Second))
	requireNoDuplicates(t, db, acked)
	requireWhole(t, db, acked)
}

// TestSIGTERMWhileDatabaseLocked: the database is locked when the stop
// comes, so the shutdown's forwards fail until the detector's shutdown
// bound (30 s) ends. The write-ahead log, the only durable copy, keeps
// every acknowledged span; the next start (database free) writes them all.
func TestSIGTERMWhileDatabaseLocked(t *testing.T) {
	s := bufferedSetup(t)
	c := startCollector(t, s)
	acked, failing := sendRuns(t, c, 40)
	time.Sleep(300 * time.Millisecond)
	unlock := testutil.LockSQLite(t, s.dbPath())

	began := time.Now()
	require.True(t, c.stop(90*time.Second), "the collector gives up on the locked database and exits")
	t.Logf("stopped in %s, exit code %d", time.Since(began).Round(time.Millisecond), c.cmd.ProcessState.ExitCode())
	unlock()
	db := openSQLite(t, s.dbPath())
	require.Zero(t, count(t, db, "SELECT COUNT(*) FROM traces"), "nothing could be written")

	// Released on replay by a short max_run_duration, detected again, written.
	s.detector = "max_run_duration: 1s\n    root_quiet_period: 200ms\n    tick: 100ms"
	s.metrics = true
	c2 := startCollector(t, s)
	// One record per acknowledged request (one run each).
	require.Equal(t, float64(len(acked)), c2.metric(t, "otelcol_argusdetector_wal_replayed_records"))
	requireAllStored(t, db, acked, 60*time.Second)
	requireDetected(t, db, failing)
	require.True(t, c2.stop(20*time.Second))
}

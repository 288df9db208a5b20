package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// walBatch is one batch of runs with ~bytes of step state in all.
func walBatch(n, runs, steps, stateBytes int) TraceBatch {
	state := json.RawMessage(`{"text":"` + strings.Repeat("state text ", stateBytes/11) + `"}`)
	var b TraceBatch
	for r := range runs {
		id := fmt.Sprintf("wal-%04d-%02d", n, r)
		b.Traces = append(b.Traces, TraceUpdate{
			Trace: Trace{ID: id, CreatedAt: t0, PipelineName: "rag", Status: "ok"},
			End:   t0.Add(time.Second), HasRoot: true, BatchKey: id,
		})
		for s := range steps {
			b.Steps = append(b.Steps, Step{ID: fmt.Sprintf("%s-%02d", id, s), TraceID: id, StepNumber: s + 1,
				NodeName: "node", InputState: state, OutputState: state, Timestamp: t0})
		}
	}
	return b
}

// TestSQLiteWALBounded writes far more than the WAL bound while readers
// (the store's own pool and a separate read-only store, as the CLI and the
// HTTP API open it) query all the time. The -wal file must stay within the
// bound after every batch, every read must succeed and see whole batches,
// and every row must be stored. Both checkpoint modes are checked: in the
// background, and in the writer's commits.
func TestSQLiteWALBounded(t *testing.T) {
	for _, c := range []struct {
		name  string
		every time.Duration
	}{{"background", 5 * time.Millisecond}, {"in-commit", 0}} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "wal.db")
			tune := defaultSQLiteTuning
			tune.autoCheckpoint = 64 // 1 MiB with 16 KiB pages
			tune.checkpointEvery = c.every
			st, err := openSQLiteTuned(ctx, Config{Driver: DriverSQLite, Path: path, BusyTimeout: DefaultBusyTimeout}, tune)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = st.Close() }()
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			ro, err := Open(ctx, Config{Driver: DriverSQLite, Path: path, ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = ro.Close() }()

			const batches, runs, steps, stateBytes = 40, 4, 8, 8 << 10 // 0.5 MiB of state per batch, 20 MiB in all
			done := make(chan struct{})
			var wg sync.WaitGroup
			var readErr error
			var reads int
			var mu sync.Mutex
			for _, r := range []Store{st, ro} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-done:
							return
						default:
						}
						traces, total, err := r.ListTraces(ctx, TraceFilter{Limit: 5})
						if err == nil && total%runs != 0 {
							err = fmt.Errorf("read saw %d traces, not whole batches of %d", total, runs)
						}
						if err == nil && len(traces) > 0 {
							var full *Full
							if full, err = r.GetTrace(ctx, traces[0].ID); err == nil && len(full.Steps) != steps {
								err = fmt.Errorf("trace %s read with %d steps, want %d", traces[0].ID, len(full.Steps), steps)
							}
						}
						mu.Lock()
						reads++
						if err != nil && readErr == nil {
							readErr = err
						}
						mu.Unlock()
						if err != nil {
							return
						}
						time.Sleep(100 * time.Microsecond) // a busy API, not a spin
					}
				}()
			}

			// The bound: twice the WAL limit (where the truncating
			// checkpoint starts) plus the batches written while it waits for
			// readers; far below the ~40 MiB of pages written in all.
			bound := 2*tune.walLimit() + 8*int64(runs*steps*2*stateBytes)
			var maxWAL int64
			for n := range batches {
				if err := st.WriteBatch(ctx, walBatch(n, runs, steps, stateBytes)); err != nil {
					t.Fatal(err)
				}
				fi, err := os.Stat(path + "-wal")
				if err != nil {
					t.Fatal(err)
				}
				maxWAL = max(maxWAL, fi.Size())
				if fi.Size() > bound {
					t.Fatalf("after batch %d the WAL is %d bytes, above the bound %d", n, fi.Size(), bound)
				}
			}
			close(done)
			wg.Wait()
			if readErr != nil {
				t.Fatalf("read during writes: %v", readErr)
			}
			if reads == 0 {
				t.Fatal("no read ran during the writes")
			}
			if n := count(t, st, "SELECT count(*) FROM trace_steps"); n != batches*runs*steps {
				t.Fatalf("stored %d steps, want %d", n, batches*runs*steps)
			}
			db, _ := os.Stat(path)
			t.Logf("largest WAL %d bytes (bound %d), database %d bytes, %d reads", maxWAL, bound, db.Size(), reads)
		})
	}
}

// TestSQLiteWALAfterLongRead: a reader holding one snapshot (a long export,
// say) keeps SQLite from starting the WAL over, so it grows while the read
// lasts; writes go on, and once the reader is done the WAL comes back
// within its bound.
func TestSQLiteWALAfterLongRead(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wal.db")
	tune := defaultSQLiteTuning
	tune.autoCheckpoint = 64 // 1 MiB with 16 KiB pages
	st, err := openSQLiteTuned(ctx, Config{Driver: DriverSQLite, Path: path, BusyTimeout: DefaultBusyTimeout}, tune)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const runs, steps, stateBytes = 4, 8, 8 << 10
	batchBytes := int64(runs * steps * 2 * stateBytes)
	bound := 2*tune.walLimit() + 8*batchBytes
	write := func(from, to int) {
		for n := from; n < to; n++ {
			if err := st.WriteBatch(ctx, walBatch(n, runs, steps, stateBytes)); err != nil {
				t.Fatal(err)
			}
		}
	}
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}

	write(0, 2)
	tx, err := st.(*sqliteStore).read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var before int
	if err := tx.QueryRow("SELECT count(*) FROM trace_steps").Scan(&before); err != nil {
		t.Fatal(err)
	}
	write(2, 32)
	grown := walSize()
	if grown <= bound {
		t.Fatalf("WAL %d bytes while a reader held its snapshot: the test needs it above %d", grown, bound)
	}
	var still int
	if err := tx.QueryRow("SELECT count(*) FROM trace_steps").Scan(&still); err != nil || still != before {
		t.Fatalf("the long reader's snapshot changed: %d then %d (%v)", before, still, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(truncatePause) // the writer's last TRUNCATE attempt failed
	write(32, 34)
	if got := walSize(); got > bound {
		t.Fatalf("WAL %d bytes after the reader ended, above the bound %d (it had grown to %d)", got, bound, grown)
	}
	if n := count(t, st, "SELECT count(*) FROM trace_steps"); n != 34*runs*steps {
		t.Fatalf("stored %d steps, want %d", n, 34*runs*steps)
	}
}

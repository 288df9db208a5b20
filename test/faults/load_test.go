package faults

import (
	"context"
	"database/sql"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/internal/loadgen"
)

// faultShape is small LangGraph runs, so a few seconds of load are hundreds
// of traces.
var faultShape = loadgen.Shape{NodesMin: 3, NodesMax: 7, StateMin: 256, StateMax: 2048, FailShare: 0.2, Service: "faults"}

// ledger is what the server acknowledged: trace id -> node steps.
type ledger struct {
	mu      sync.Mutex
	acked   map[string]int
	failing map[string]bool // acknowledged runs generated to fail
	refused int
}

func (l *ledger) snapshot() (acked map[string]int, failing map[string]bool, refused int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	acked, failing = make(map[string]int, len(l.acked)), make(map[string]bool, len(l.failing))
	for k, v := range l.acked {
		acked[k] = v
	}
	for k := range l.failing {
		failing[k] = true
	}
	return acked, failing, l.refused
}

// load sends one whole run per request from workers goroutines until ctx
// ends (or the client is told to stop), recording every acknowledged trace.
// A refused request is counted and tried with a new run after a short pause,
// as an SDK's retry would. The returned func waits for the workers.
func load(ctx context.Context, t *testing.T, client *otlpClient, workers int, seed uint64) (*ledger, func()) {
	t.Helper()
	l := &ledger{acked: map[string]int{}, failing: map[string]bool{}}
	var wg sync.WaitGroup
	for w := range workers {
		gen, err := loadgen.NewGenerator(faultShape, seed, uint64(w)+1)
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				td, spans := gen.NewRequest()
				c := gen.AddRun(spans, time.Now())
				id := spans.At(0).TraceID().String()
				if err := client.send(ctx, td); err != nil {
					l.mu.Lock()
					l.refused++
					l.mu.Unlock()
					select {
					case <-ctx.Done():
					case <-time.After(20 * time.Millisecond):
					}
					continue
				}
				l.mu.Lock()
				l.acked[id] = int(c.NodeSpans)
				if c.FailingTraces > 0 {
					l.failing[id] = true
				}
				l.mu.Unlock()
			}
		}()
	}
	return l, wg.Wait
}

type stepCounts struct{ rows, ids, numbers int }

// storedSteps reads, per trace, its trace_steps rows, distinct step ids and
// distinct step numbers.
func storedSteps(db *sql.DB) (map[string]stepCounts, error) {
	rows, err := db.Query(`SELECT trace_id, COUNT(*), COUNT(DISTINCT id), COUNT(DISTINCT step_number) FROM trace_steps GROUP BY trace_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]stepCounts{}
	for rows.Next() {
		var id string
		var c stepCounts
		if err := rows.Scan(&id, &c.rows, &c.ids, &c.numbers); err != nil {
			return nil, err
		}
		out[id] = c
	}
	return out, rows.Err()
}

// requireAllStored waits until every acknowledged trace is stored with all
// its node steps, then checks nothing is duplicated.
func requireAllStored(t *testing.T, db *sql.DB, acked map[string]int, within time.Duration) {
	t.Helper()
	var missing []string
	deadline := time.Now().Add(within)
	for {
		steps, err := storedSteps(db)
		missing = missing[:0]
		if err == nil {
			for id, n := range acked {
				if steps[id].rows < n {
					missing = append(missing, id)
				}
			}
		}
		if err == nil && len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			sort.Strings(missing)
			t.Fatalf("%d of %d acknowledged traces are missing or incomplete after %s (last error %v), e.g. %v",
				len(missing), len(acked), within, err, missing[:min(5, len(missing))])
		}
		time.Sleep(250 * time.Millisecond)
	}
	requireNoDuplicates(t, db, acked)
}

func requireNoDuplicates(t *testing.T, db *sql.DB, acked map[string]int) {
	t.Helper()
	steps, err := storedSteps(db)
	require.NoError(t, err)
	for id, n := range acked {
		c := steps[id]
		require.Equal(t, stepCounts{n, n, n}, c, "trace %s: want %d steps, each once, numbered 1..%d", id, n, n)
	}
	var rows, ids int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT id) FROM traces`).Scan(&rows, &ids))
	require.Equal(t, ids, rows, "traces rows")
	require.NoError(t, db.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT id) FROM trace_steps`).Scan(&rows, &ids))
	require.Equal(t, ids, rows, "trace_steps rows")
	require.NoError(t, db.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT id) FROM detections`).Scan(&rows, &ids))
	require.Equal(t, ids, rows, "detections rows")
	// Every acknowledged trace has its traces row.
	rs, err := db.Query(`SELECT id FROM traces`)
	require.NoError(t, err)
	defer rs.Close()
	stored := map[string]bool{}
	for rs.Next() {
		var id string
		require.NoError(t, rs.Scan(&id))
		stored[id] = true
	}
	require.NoError(t, rs.Err())
	for id := range acked {
		require.True(t, stored[id], "trace %s has steps but no traces row", id)
	}
}

// requireDetected checks each acknowledged failing run was analyzed: it is
// stored failed, with a forensics row blaming a step.
func requireDetected(t *testing.T, db *sql.DB, failing map[string]bool) {
	t.Helper()
	for id := range failing {
		var status string
		var forensics int
		// id is hex from the generator, safe to inline for both drivers.
		require.NoError(t, db.QueryRow(`SELECT status, (SELECT COUNT(*) FROM forensics f WHERE f.trace_id = t.id AND f.root_cause_step IS NOT NULL)
			FROM traces t WHERE t.id = '`+id+`'`).Scan(&status, &forensics))
		require.Equal(t, "failed", status, "failing run %s", id)
		require.Equal(t, 1, forensics, "failing run %s has one forensics row with a root cause", id)
	}
}

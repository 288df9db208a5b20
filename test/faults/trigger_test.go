package faults

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// A PostgreSQL trigger that RAISEs (SQLSTATE P0001) is an error of unknown
// meaning to the store (store.ClassUnknown): the tests below send real
// OTLP through the built collector into a database with such a trigger.

// triggerStoreWithin bounds how long the runs take to be stored. On a quiet
// machine they are all in the database ~3 s after the last request (each
// run is released 200 ms after its root goes quiet, then one salvage). It
// is far below what a retry would take: the exporter's retry_on_failure
// (5 s first, up to 5 m) and the detector's forward_retry_limit (15 m),
// left at their defaults, so a run that got there by retrying fails it.
const triggerStoreWithin = 45 * time.Second

// triggerRuns is how many normal runs each test sends.
const triggerRuns = 40

// refuseBy installs on table a trigger raising message (P0001) for each
// row where when holds ("true" for every row).
func refuseBy(t *testing.T, db *sql.DB, table, when, message string) {
	t.Helper()
	_, err := db.Exec(`CREATE OR REPLACE FUNCTION argus_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION '%', TG_ARGV[0]; END $$`)
	require.NoError(t, err)
	_, err = db.Exec(fmt.Sprintf(`CREATE TRIGGER argus_test_refuse BEFORE INSERT OR UPDATE ON %s
		FOR EACH ROW WHEN (%s) EXECUTE FUNCTION argus_test_refuse('%s')`, table, when, message))
	require.NoError(t, err)
}

// sendAround sends the runs ids (three nodes each) and, at position at, the
// poisoned run given, alternating OTLP/gRPC and OTLP/HTTP (JSON); every
// request must be acknowledged.
func sendAround(t *testing.T, c *collector, ids []string, at int, poison func() []byte) {
	t.Helper()
	client := dial(t, c.grpcAddr)
	for i, id := range ids {
		if i == at && poison != nil {
			require.Equal(t, http.StatusOK, postJSON(t, c, poison()), "the poisoned run is acknowledged")
		}
		td := langgraphTrace(id, []string{"plan", "retrieve", "answer"}, nil)
		if i%2 == 0 {
			require.NoError(t, client.send(context.Background(), td))
		} else {
			require.Equal(t, http.StatusOK, postJSON(t, c, mustJSON(t, td)))
		}
	}
}

// runIDs are n trace ids starting with prefix (two hex digits).
func runIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%030x", prefix, i+1)
	}
	return ids
}

// waitStored waits until every run of ids has its trace row and its three
// steps.
func waitStored(t *testing.T, db *sql.DB, ids []string, within time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		var traces, steps int
		_ = db.QueryRow("SELECT COUNT(*) FROM traces WHERE id = ANY($1)", ids).Scan(&traces)
		_ = db.QueryRow("SELECT COUNT(*) FROM trace_steps WHERE trace_id = ANY($1)", ids).Scan(&steps)
		if traces == len(ids) && steps == 3*len(ids) {
			break
		}
		if time.Since(start) > within {
			t.Fatalf("%d runs not stored within %s: %d trace rows, %d steps", len(ids), within, traces, steps)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d runs stored %s after the last request", len(ids), time.Since(start).Round(100*time.Millisecond))
}

// retries is what grows while anything is retried: the detector's
// refused forwards, the exporter's failed pushes (each attempt of its
// retry_on_failure, counted by /health) and requests it gave up on.
type retries struct{ forwards, failedPushes, failedSpans float64 }

func (c *collector) retries(t *testing.T) retries {
	t.Helper()
	_, body := c.apiHealth(t)
	var failures float64
	if w, ok := body["writes"].(map[string]any); ok {
		failures, _ = w["failures"].(float64)
	}
	return retries{
		forwards:     c.metric(t, "otelcol_argusdetector_forward_retries"),
		failedPushes: failures,
		failedSpans:  c.metric(t, "otelcol_exporter_send_failed_spans", `exporter="argus"`),
	}
}

// requireRetriesStopped checks nothing is being retried: the counters do
// not move over a few seconds (the exporter's first retry comes after
// 5 s +-50%, the detector's within a second).
func requireRetriesStopped(t *testing.T, c *collector) retries {
	t.Helper()
	before := c.retries(t)
	time.Sleep(4 * time.Second)
	after := c.retries(t)
	require.Equal(t, before, after, "something is still retried")
	return after
}

// TestTriggerRefusingOneRunQuarantinesIt: a trigger refuses rows of one
// run (its trace row, one of its steps, or all of its rows) among 40
// normal runs on the same PostgreSQL database, the run in the middle of
// the traffic or alone in its detector shard's flush (sent first, then a
// pause). Once, an error of unknown meaning was retried as transient
// without end and held every run of the poisoned one's shard; then, a run
// alone in its flush (no other row of the batch showed the database
// stores rows) was still retried, holding its shard for the exporter's
// retries and the detector's forward_retry_limit. Now the database
// answers a probe, so the batch is salvaged: the 40 runs and the poisoned
// run's other rows are stored within triggerStoreWithin, the refused rows
// are in the quarantine table with the trigger's message, counted, nothing
// is retried, and /health is degraded naming them.
func TestTriggerRefusingOneRunQuarantinesIt(t *testing.T) {
	const poison = "9a000000000000000000000000000001"
	for _, tc := range []struct {
		name, table, when, message string
		// root and nodes: the poisoned run.
		root  string
		nodes []string
		// alone: sent first, alone in its flush; else amid the others.
		alone bool
		// stored: the run's trace row is stored (a minimal one in place
		// of a refused one); steps: how many of its steps are.
		stored bool
		steps  int
	}{
		{name: "trace row", table: "traces", when: "NEW.pipeline_name = 'poisoned-pipeline'", message: "policy refuses this pipeline",
			root: "poisoned-pipeline", nodes: []string{"plan", "retrieve", "answer"}, stored: true, steps: 3},
		{name: "step row", table: "trace_steps", when: "NEW.node_name = 'poisoned-node'", message: "policy refuses this node",
			root: "LangGraph", nodes: []string{"plan", "poisoned-node", "answer"}, stored: true, steps: 2},
		{name: "only step, alone", table: "trace_steps", when: "NEW.node_name = 'poisoned-node'", message: "policy refuses this node",
			root: "LangGraph", nodes: []string{"poisoned-node"}, alone: true, stored: true, steps: 0},
		{name: "whole run, alone", table: "traces", when: "NEW.id = '" + poison + "'", message: "policy refuses this run",
			root: "LangGraph", nodes: []string{"plan", "retrieve", "answer"}, alone: true, stored: false, steps: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn := testutil.PostgresDSN(t)
			c := startCollector(t, setup{dir: t.TempDir(), exporter: postgresExporter(dsn), metrics: true, api: true})
			db := openPostgres(t, dsn)
			refuseBy(t, db, tc.table, tc.when, tc.message)

			poisoned := func() []byte {
				td := langgraphTrace(poison, tc.nodes, nil)
				td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetName(tc.root)
				return mustJSON(t, td)
			}
			ids := runIDs("9b", triggerRuns)
			if tc.alone {
				require.Equal(t, http.StatusOK, postJSON(t, c, poisoned()))
				// Released 200 ms after its root went quiet, checked every
				// 100 ms: flushed alone well before the others come.
				time.Sleep(time.Second)
				sendAround(t, c, ids, -1, nil)
			} else {
				sendAround(t, c, ids, triggerRuns/2, poisoned)
			}
			waitStored(t, db, ids, triggerStoreWithin)

			var reason, code string
			require.Eventually(t, func() bool {
				return db.QueryRow("SELECT reason, code FROM quarantine WHERE trace_id = $1 AND table_name = $2 LIMIT 1", poison, tc.table).
					Scan(&reason, &code) == nil
			}, triggerStoreWithin, 200*time.Millisecond, "the refused row is quarantined")
			require.Equal(t, "P0001", code)
			require.Contains(t, reason, tc.message)
			quarantined := count(t, db, "SELECT COUNT(*) FROM quarantine")
			require.Equal(t, quarantined, count(t, db, "SELECT COUNT(*) FROM quarantine WHERE trace_id = $1", poison),
				"only the poisoned run's rows are quarantined")
			if tc.stored {
				require.Equal(t, 1, quarantined, "only the refused row is quarantined")
			}

			// The poisoned run's other rows are stored: a minimal trace row
			// in place of a refused one, the steps not refused.
			storedRows := 0
			if tc.stored {
				storedRows = 1
			}
			require.Equal(t, storedRows, count(t, db, "SELECT COUNT(*) FROM traces WHERE id = $1", poison))
			require.Equal(t, tc.steps, count(t, db, "SELECT COUNT(*) FROM trace_steps WHERE trace_id = $1", poison))
			require.Zero(t, count(t, db, "SELECT COUNT(*) FROM trace_steps WHERE node_name = 'poisoned-node'"))
			require.Zero(t, count(t, db, "SELECT COUNT(*) FROM traces WHERE id LIKE 'argus-probe-%'"), "no probe row is kept")

			require.Equal(t, float64(quarantined), c.metric(t, "otelcol_argusexporter_rows_quarantined"))
			require.Positive(t, c.metric(t, "otelcol_argusexporter_rows_quarantined", fmt.Sprintf(`table="%s"`, tc.table)))
			if tc.stored {
				require.Zero(t, c.metric(t, "otelcol_argusexporter_items_dropped"), "nothing is dropped")
			} else {
				// No row of the run could be stored: its spans are counted
				// as dropped for good (its rows are in the quarantine).
				require.Equal(t, float64(len(tc.nodes)+1), c.metric(t, "otelcol_argusexporter_items_dropped", `reason="permanent_error"`))
			}
			r := requireRetriesStopped(t, c)
			require.Zero(t, r.forwards, "the detector never had to retry")
			t.Logf("retries after the runs were stored: %+v", r)

			status, body := c.apiHealth(t)
			require.Equal(t, http.StatusOK, status, "%v", body)
			require.Equal(t, "degraded", body["status"], "%v", body)
			require.Contains(t, body["details"], tc.message)
			require.Contains(t, body["details"], "quarantine")
			require.Equal(t, float64(quarantined), body["writes"].(map[string]any)["refusedRows"])
		})
	}
}

// TestTriggerRefusingEveryRowIsTheDatabasesFault: a trigger refuses every
// trace row. No row stands out, so no row is quarantined (that would hide
// the database's fault and empty the write-ahead log into the quarantine):
// the writes are retried, /health is degraded while they fail, and once
// the trigger is dropped every acknowledged run is stored and the retries
// stop.
func TestTriggerRefusingEveryRowIsTheDatabasesFault(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	c := startCollector(t, setup{dir: t.TempDir(), exporter: postgresExporter(dsn), metrics: true, api: true})
	db := openPostgres(t, dsn)
	const message = "policy refuses every trace"
	refuseBy(t, db, "traces", "true", message)

	ids := runIDs("9c", triggerRuns)
	sendAround(t, c, ids, -1, nil)
	var body map[string]any
	require.Eventually(t, func() bool {
		var code int
		code, body = c.apiHealth(t)
		return code == http.StatusServiceUnavailable && body["status"] == "degraded"
	}, triggerStoreWithin, 200*time.Millisecond, "/health is degraded while every write fails: %v", body)
	require.Contains(t, body["details"], message)
	// Retried at least once (the exporter's first retry is after 5 s
	// +-50%), and still nothing is quarantined.
	require.Eventually(t, func() bool { return c.retries(t).failedPushes >= 2 }, triggerStoreWithin, 200*time.Millisecond)
	require.Zero(t, count(t, db, "SELECT COUNT(*) FROM quarantine"))
	require.Zero(t, count(t, db, "SELECT COUNT(*) FROM traces"))
	require.Zero(t, c.metric(t, "otelcol_argusexporter_rows_quarantined"))

	_, err := db.Exec("DROP TRIGGER argus_test_refuse ON traces")
	require.NoError(t, err)
	waitStored(t, db, ids, triggerStoreWithin)
	require.Zero(t, count(t, db, "SELECT COUNT(*) FROM quarantine"))
	require.Zero(t, c.metric(t, "otelcol_argusexporter_rows_quarantined"))
	require.Zero(t, c.metric(t, "otelcol_argusexporter_items_dropped"), "nothing is dropped")
	c.waitAPIHealthy(t, triggerStoreWithin)
	r := requireRetriesStopped(t, c)
	t.Logf("retries after recovery: %+v", r)
}

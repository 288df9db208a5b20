package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/storetest"
	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/store"
	"github.com/arguslabs/argus-otel/test/sdks"
)

// longRunDetector is config.yaml's completion (root quiet 2 s, in progress
// after 5 s) with max_run_duration short enough for no_root.json, which
// never gets a root, to complete within the test.
const longRunDetector = "root_quiet_period: 2s\n    progress_interval: 5s\n    max_run_duration: 50s"

// slowRun is how long each fixture's run takes, at real time.
const slowRun = 45 * time.Second

// TestFixturesAsFortyFiveSecondRuns: every fixture of every convention,
// and a fault recorded from each real SDK, is replayed against the built
// binary as a 45-second run at real time (its timestamps stretched to
// 45 s, each span sent in its own OTLP/HTTP request when it ends, the
// root last), all at once, into SQLite and PostgreSQL. Before its root comes, each run is stored in progress with
// its steps so far; at the end each equals the same spans sent at once to a
// second collector: the same steps, detections and root cause. The issue's
// case (rag_silent_failure: 0 detections and an extra retrieve step with
// a 30 s decision_wait) is checked by name.
func TestFixturesAsFortyFiveSecondRuns(t *testing.T) {
	fixtures := map[string]ptrace.Traces{}
	for _, name := range testutil.FixtureNames(t) {
		fixtures[name] = testutil.LoadTraces(t, name)
	}
	// And a fault recorded from each real SDK (test/sdks).
	for _, c := range sdks.Cases() {
		for _, r := range sdks.Load(t, c.SDK) {
			if !r.Healthy() {
				fixtures[c.SDK+"/"+r.Name] = r.Traces
				break
			}
		}
	}
	for _, td := range fixtures {
		testutil.Stretch(td, slowRun)
	}

	backends := map[string]func(t *testing.T) (exporter string, cfg store.Config){
		"sqlite": func(t *testing.T) (string, store.Config) {
			path := filepath.Join(t.TempDir(), "traces.db")
			return sqliteExporter(path), store.Config{Driver: store.DriverSQLite, Path: path, ReadOnly: true}
		},
		"postgres": func(t *testing.T) (string, store.Config) {
			dsn := testutil.PostgresDSN(t)
			return postgresExporter(dsn), store.Config{Driver: store.DriverPostgres, DSN: dsn}
		},
	}
	for name, backend := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			expAtOnce, dbAtOnce := backend(t)
			expSlow, dbSlow := backend(t)
			atOnce := startCollector(t, expAtOnce, map[string]string{"detector": longRunDetector})
			slow := startCollector(t, expSlow, map[string]string{"detector": longRunDetector})
			for _, td := range fixtures {
				whole := ptrace.NewTraces()
				td.CopyTo(whole)
				postOTLP(t, atOnce, whole)
			}

			stSlow := openStore(t, dbSlow)
			var wg sync.WaitGroup
			for fixture, td := range fixtures {
				wg.Add(1)
				go func() {
					defer wg.Done()
					reqs := testutil.InEndTimeOrder(td)
					for i, gap := range testutil.Gaps(reqs, slowRun) {
						time.Sleep(gap)
						postOTLP(t, slow, reqs[i].Traces)
					}
					t.Logf("%s: %d spans sent over %s", fixture, len(reqs), slowRun)
				}()
			}
			// Before the roots come (at 45 s), each run is shown in progress
			// with its steps so far (the first step of rag_silent_failure
			// ends at 63% of the run).
			time.Sleep(slowRun*8/10 + 6*time.Second)
			for fixture, td := range fixtures {
				runs, others := storetest.AgentRunIDs(td)
				for _, id := range runs {
					full, err := stSlow.GetTrace(context.Background(), id)
					if assert.NoError(t, err, "%s: stored before its root came", fixture) {
						assert.True(t, full.Trace.InProgress(), "%s: in progress", fixture)
						assert.NotEmpty(t, full.Steps, "%s: its steps so far", fixture)
					}
				}
				for _, id := range others { // no agent run (runs.keep): never stored, not even in progress
					_, err := stSlow.GetTrace(context.Background(), id)
					assert.ErrorIs(t, err, store.ErrNotFound, "%s is no agent run", fixture)
				}
			}
			wg.Wait()

			stAtOnce := openStore(t, dbAtOnce)
			for fixture, td := range fixtures {
				runs, others := storetest.AgentRunIDs(td)
				for _, id := range runs {
					waitFinal(t, stSlow, id)
					waitFinal(t, stAtOnce, id)
					want, got := storetest.Stored(t, stAtOnce, id), storetest.Stored(t, stSlow, id)
					require.NotEmpty(t, want.Steps, fixture)
					storetest.RequireSameRun(t, fixture, want, got)
				}
				for _, id := range others {
					for _, st := range []store.Store{stAtOnce, stSlow} {
						_, err := st.GetTrace(context.Background(), id)
						assert.ErrorIs(t, err, store.ErrNotFound, "%s is no agent run: not stored", fixture)
					}
				}
			}

			// The run: detected and blamed on retrieve, one retrieve step.
			ragRuns, _ := storetest.AgentRunIDs(fixtures["rag_silent_failure.json"])
			full, err := stSlow.GetTrace(context.Background(), ragRuns[0])
			require.NoError(t, err)
			rules := map[string]bool{}
			for _, d := range full.Detections {
				var det struct{ Rule string }
				require.NoError(t, json.Unmarshal(d.Details, &det))
				rules[det.Rule] = true
			}
			for _, r := range []string{"structural.empty_retrieval", "structural.crash_missing_data", "behavioral.error_span"} {
				assert.True(t, rules[r], "rag_silent_failure: %s", r)
			}
			retrieves := 0
			for _, s := range full.Steps {
				if s.NodeName == "retrieve" {
					retrieves++
				}
			}
			assert.Equal(t, 1, retrieves, "one retrieve step, not a second one from its RETRIEVER call")
			require.Len(t, full.Forensics, 1)
			assert.Equal(t, full.Trace.ID+"-"+stepSpan(full, "retrieve"), full.Forensics[0].RootCauseStep)
		})
	}
}

func stepSpan(full *store.Full, node string) string {
	for _, s := range full.Steps {
		if s.NodeName == node {
			return strings.TrimPrefix(s.ID, full.Trace.ID+"-")
		}
	}
	return ""
}

func openStore(t *testing.T, cfg store.Config) store.Store {
	t.Helper()
	var st store.Store
	require.Eventually(t, func() bool {
		var err error
		st, err = store.Open(context.Background(), cfg)
		return err == nil
	}, 30*time.Second, 100*time.Millisecond)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// waitFinal waits until run id is stored and analysed (not in progress).
func waitFinal(t *testing.T, st store.Store, id string) {
	t.Helper()
	require.Eventually(t, func() bool {
		full, err := st.GetTrace(context.Background(), id)
		return err == nil && !full.Trace.InProgress()
	}, 60*time.Second, 200*time.Millisecond, "run %s analysed", id)
}

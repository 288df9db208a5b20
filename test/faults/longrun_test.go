package faults

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/loadgen"
	"github.com/arguslabs/argus-otel/internal/storetest"
	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/store"
)

// longRunDetector: runs go in progress after a second and complete a
// second after their root (or after ten minutes).
const longRunDetector = "root_quiet_period: 1s\n    progress_interval: 1s\n    max_run_duration: 10m\n    tick: 100ms"

// dbTarget is one database a collector writes and the test reads.
type dbTarget struct {
	exporter string
	store    store.Config
	sql      func(t *testing.T) *sql.DB
}

func sqliteTarget(dir string) dbTarget {
	path := filepath.Join(dir, "traces.db")
	return dbTarget{
		exporter: sqliteExporter(path),
		store:    store.Config{Driver: store.DriverSQLite, Path: path, ReadOnly: true},
		sql:      func(t *testing.T) *sql.DB { return openSQLite(t, path) },
	}
}

func postgresTarget(t *testing.T) dbTarget {
	dsn := testutil.PostgresDSN(t)
	return dbTarget{
		exporter: postgresExporter(dsn),
		store:    store.Config{Driver: store.DriverPostgres, DSN: dsn},
		sql:      func(t *testing.T) *sql.DB { return openPostgres(t, dsn) },
	}
}

var longRunTargets = map[string]func(t *testing.T, dir string) dbTarget{
	"sqlite":   func(_ *testing.T, dir string) dbTarget { return sqliteTarget(dir) },
	"postgres": func(t *testing.T, _ string) dbTarget { return postgresTarget(t) },
}

func openStoreOf(t *testing.T, cfg store.Config) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// runState waits until every run of ids is stored and cond holds for it.
func waitRuns(t *testing.T, st store.Store, ids []string, what string, cond func(*store.Full) bool) {
	t.Helper()
	for _, id := range ids {
		require.Eventually(t, func() bool {
			full, err := st.GetTrace(context.Background(), id)
			return err == nil && cond(full)
		}, 60*time.Second, 100*time.Millisecond, "run %s %s", id, what)
	}
}

func fixtureRuns(t *testing.T) map[string]ptrace.Traces {
	t.Helper()
	out := map[string]ptrace.Traces{}
	for _, name := range testutil.FixtureNames(t) {
		if name != "no_root.json" { // completes at max_run_duration only
			out[name] = testutil.LoadTraces(t, name)
		}
	}
	return out
}

// TestKill9MidLongRuns: every fixture's run is half sent, one span per
// request in end-time order, and stored in progress (its spans forwarded,
// its records kept in the write-ahead log); then SIGKILL. After the
// restart the rest of each run arrives, and each is analysed whole and
// stored exactly as the same spans sent at once to another collector. A
// fixture that is no agent run (runs.keep) is never stored, in progress
// or after.
func TestKill9MidLongRuns(t *testing.T) {
	for name, target := range longRunTargets {
		t.Run(name, func(t *testing.T) {
			fixtures := fixtureRuns(t)
			ref := setup{dir: t.TempDir(), detector: longRunDetector}
			refDB := target(t, ref.dir)
			ref.exporter = refDB.exporter
			refC := startCollector(t, ref)
			refClient := dial(t, refC.grpcAddr)

			s := setup{dir: t.TempDir(), detector: longRunDetector, metrics: true}
			db := target(t, s.dir)
			s.exporter = db.exporter
			c := startCollector(t, s)
			client := dial(t, c.grpcAddr)

			var ids, notRuns []string
			rest := map[string][]testutil.SpanRequest{}
			for fixture, td := range fixtures {
				whole := ptrace.NewTraces()
				td.CopyTo(whole)
				require.NoError(t, refClient.send(context.Background(), whole), fixture)
				reqs := testutil.InEndTimeOrder(td)
				half := len(reqs) / 2
				for _, r := range reqs[:half] {
					require.NoError(t, client.send(context.Background(), r.Traces), fixture)
				}
				rest[fixture] = reqs[half:]
				runs, others := storetest.AgentRunIDs(td)
				ids = append(ids, runs...)
				notRuns = append(notRuns, others...)
			}
			st := openStoreOf(t, db.store)
			waitRuns(t, st, ids, "stored in progress", func(f *store.Full) bool { return f.Trace.InProgress() })
			require.Positive(t, c.metric(t, "otelcol_argusdetector_backlog_bytes"), "records kept for the runs in progress")
			c.kill()

			c2 := startCollector(t, s)
			client2 := dial(t, c2.grpcAddr)
			require.Positive(t, c2.metric(t, "otelcol_argusdetector_wal_replayed_records"))
			for fixture, reqs := range rest {
				for _, r := range reqs {
					require.NoError(t, client2.send(context.Background(), r.Traces), fixture)
				}
			}
			refStore := openStoreOf(t, refDB.store)
			waitRuns(t, st, ids, "analysed whole", func(f *store.Full) bool { return f.Trace.Analysis() == store.AnalysisFinal })
			waitRuns(t, refStore, ids, "stored", func(f *store.Full) bool { return !f.Trace.InProgress() })
			for _, id := range ids {
				storetest.RequireSameRun(t, id, storetest.Stored(t, refStore, id), storetest.Stored(t, st, id))
			}
			for _, id := range notRuns { // no agent run (runs.keep): never stored, not even in progress
				_, err := st.GetTrace(context.Background(), id)
				require.ErrorIs(t, err, store.ErrNotFound, "trace %s", id)
			}
			require.Eventually(t, func() bool { return c2.metric(t, "otelcol_argusdetector_wal_records") == 0 },
				10*time.Second, 100*time.Millisecond, "every record released once its run was stored whole")
			require.True(t, c2.stop(30*time.Second))
		})
	}
}

// longRun is one generated run split the way it arrives over a long run:
// its node spans in two requests (halves), its root last.
type longRun struct {
	id    string
	nodes int
	parts [3]ptrace.Traces
}

func splitRun(td ptrace.Traces, spans ptrace.SpanSlice) [3]ptrace.Traces {
	var parts [3]ptrace.Traces
	rs := td.ResourceSpans().At(0)
	ss := rs.ScopeSpans().At(0)
	for i := range parts {
		parts[i] = ptrace.NewTraces()
		prs := parts[i].ResourceSpans().AppendEmpty()
		rs.Resource().CopyTo(prs.Resource())
		pss := prs.ScopeSpans().AppendEmpty()
		ss.Scope().CopyTo(pss.Scope())
	}
	half := spans.Len() / 2
	for k := 0; k < spans.Len(); k++ {
		sp := spans.At(k)
		i := 0
		switch {
		case sp.ParentSpanID().IsEmpty():
			i = 2
		case k >= half:
			i = 1
		}
		sp.CopyTo(parts[i].ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty())
	}
	return parts
}

// tenThousandMemLimit is the memory_limiter's limit_mib of the 10,000-run
// test; RSS must stay within 1.5x it (README: overload stays within 1.5x
// limit + spike), while the runs' spans add up to several times the heap
// the detector may hold (max_bytes = limit/8).
const tenThousandMemLimit = 256

// TestTenThousandConcurrentLongRuns: 10,000 runs are going at once, their
// spans arriving in three rounds seconds apart (first half of the nodes,
// second half, root). Between rounds each run is in progress: stored so
// far, its spans in the write-ahead log, not in the heap. Peak RSS stays
// within the configured bound, and at the end every run is stored whole,
// analysed, with its steps numbered 1..n exactly once.
func TestTenThousandConcurrentLongRuns(t *testing.T) {
	for name, target := range longRunTargets {
		t.Run(name, func(t *testing.T) {
			const runs, workers = 10_000, 8
			s := setup{dir: t.TempDir(), detector: longRunDetector + fmt.Sprintf("\n    max_bytes: %d", tenThousandMemLimit<<20/8),
				metrics: true, memLimitMiB: tenThousandMemLimit}
			db := target(t, s.dir)
			s.exporter = db.exporter
			c := startCollector(t, s)
			client := dial(t, c.grpcAddr)

			gen, err := loadgen.NewGenerator(faultShape, 17, 1)
			require.NoError(t, err)
			all := make([]longRun, runs)
			acked := map[string]int{}
			var spanBytes int
			sizer := ptrace.ProtoMarshaler{}
			for i := range all {
				td, spans := gen.NewRequest()
				cnt := gen.AddRun(spans, time.Now())
				all[i] = longRun{id: spans.At(0).TraceID().String(), nodes: int(cnt.NodeSpans), parts: splitRun(td, spans)}
				acked[all[i].id] = all[i].nodes
				spanBytes += sizer.TracesSize(td)
			}
			t.Logf("%d runs, %d MiB of spans (OTLP), detector max_bytes %d MiB", runs, spanBytes>>20, tenThousandMemLimit/8)
			require.Greater(t, spanBytes, 3*(tenThousandMemLimit<<20)/8, "the runs must not fit in the detector's heap")

			for round := range 3 {
				began := time.Now()
				var wg sync.WaitGroup
				errs := make(chan error, workers)
				for w := range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := w; i < runs; i += workers {
							if err := sendRetrying(client, all[i].parts[round]); err != nil {
								errs <- fmt.Errorf("run %d round %d: %w", i, round, err)
								return
							}
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					require.NoError(t, err)
				}
				t.Logf("round %d sent in %s; runs in progress %.0f, backlog %.0f MiB, VmHWM %d MiB, %s", round,
					time.Since(began).Round(time.Millisecond), c.metric(t, "otelcol_argusdetector_runs_in_progress"),
					c.metric(t, "otelcol_argusdetector_backlog_bytes")/(1<<20), c.vmHWM(t)>>20, c.rss(t))
				if round < 2 {
					time.Sleep(3 * time.Second) // past progress_interval: the runs go in progress
				}
			}
			// Every run went in progress and was then replaced whole: steps
			// that a mapping of part of a run made (a call before its node)
			// are gone, and each step is stored once, numbered 1..n.
			sqlDB := db.sql(t)
			finals := "SELECT COUNT(*) FROM traces WHERE metadata" + jsonText(name) + " LIKE '%\"analysis\":%final%'"
			require.Eventually(t, func() bool { return count(t, sqlDB, finals) == runs }, 5*time.Minute, time.Second,
				"every run analysed whole")
			requireAllStored(t, sqlDB, acked, time.Minute)
			require.Zero(t, count(t, sqlDB, "SELECT COUNT(*) FROM traces WHERE metadata"+jsonText(name)+" LIKE '%in_progress%'"))
			hwm := c.vmHWM(t)
			t.Logf("VmHWM %d MiB (bound %d MiB = 1.5 x limit_mib); now %s", hwm>>20, tenThousandMemLimit*3/2, c.rss(t))
			require.Less(t, hwm, int64(tenThousandMemLimit*3/2)<<20)
			require.Eventually(t, func() bool { return c.metric(t, "otelcol_argusdetector_wal_records") == 0 },
				30*time.Second, 100*time.Millisecond)
			require.True(t, c.stop(30*time.Second))
		})
	}
}

// jsonText is how a query reads the metadata column as text.
func jsonText(driver string) string {
	if driver == "postgres" {
		return "::text"
	}
	return ""
}

// sendRetrying sends td, retrying what the collector refuses for now (the
// memory_limiter or the detector's byte bound), as an SDK exporter does.
func sendRetrying(client *otlpClient, td ptrace.Traces) error {
	var err error
	for range 200 {
		if err = client.send(context.Background(), td); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// rss is the process's resident memory now, split into anonymous (heap,
// stacks) and file-backed (the binary, the write-ahead log's mapped file).
func (c *collector) rss(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	require.NoError(t, err)
	var parts []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "RssAnon:") || strings.HasPrefix(line, "RssFile:") {
			parts = append(parts, strings.Join(strings.Fields(line), " "))
		}
	}
	return strings.Join(parts, ", ")
}

package argusdetector

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/exporter/argusexporter"
	"github.com/arguslabs/argus-otel/internal/storetest"
	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/processor/argusdetector/internal/metadata"
	"github.com/arguslabs/argus-otel/store"
)

// These tests run the detector with its write-ahead log in front of the
// real argus exporter and a real database (SQLite, PostgreSQL), on a fake
// clock: every fixture of every convention is replayed as a slow run, one
// span per OTLP request in end-time order (the root last), spread over
// minutes or hours, and must be stored exactly as the same spans sent at
// once: the same steps, detections and root cause.

// pipeline is the detector and the exporter writing one database.
type pipeline struct {
	h   *harness
	clk *fakeClock
	st  store.Store
}

type dbBackend struct {
	name string
	cfg  func(t *testing.T) store.Config
}

var dbBackends = []dbBackend{
	{store.DriverSQLite, func(t *testing.T) store.Config {
		return store.Config{Driver: store.DriverSQLite, Path: filepath.Join(t.TempDir(), "traces.db")}
	}},
	{store.DriverPostgres, func(t *testing.T) store.Config {
		return store.Config{Driver: store.DriverPostgres, DSN: testutil.PostgresDSN(t)}
	}},
}

// storeConfig: runs complete 2 s after their root, or after 3 h (the
// longest replay is 2 h); in progress after the default 5 s.
func storeConfig() *Config {
	cfg := walConfig()
	cfg.Tick = 5 * time.Millisecond
	cfg.RootQuietPeriod = 2 * time.Second
	cfg.MaxRunDuration = 3 * time.Hour
	return cfg
}

func newPipeline(t *testing.T, dbc store.Config) *pipeline {
	t.Helper()
	ef := argusexporter.NewFactory()
	ecfg := ef.CreateDefaultConfig().(*argusexporter.Config)
	ecfg.Driver, ecfg.Path, ecfg.DSN = dbc.Driver, dbc.Path, configopaque.String(dbc.DSN)
	// Synchronous, as config.yaml's wait_for_result: a forward returns
	// once its rows are committed.
	ecfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	exp, err := ef.CreateTraces(context.Background(), exportertest.NewNopSettings(ef.Type()), ecfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })

	clk := newFakeClock()
	fs := &fileStorage{Dir: t.TempDir()}
	h := start(t, storeConfig(), hostWith{walID: fs}, clk.use, func(p *argusProcessor) { p.next = exp })
	st, err := store.Open(context.Background(), store.Config{Driver: dbc.Driver, Path: dbc.Path, DSN: dbc.DSN})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return &pipeline{h: h, clk: clk, st: st}
}

// send hands one request to the detector as a receiver would: decoded
// from its OTLP protobuf.
func (pl *pipeline) send(t *testing.T, td ptrace.Traces) {
	t.Helper()
	wire, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	got, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(wire)
	require.NoError(t, err)
	pl.h.send(t, got)
}

// finish lets every run complete (quiet period, or max_run_duration for
// one without a root) and waits until all were released and written.
func (pl *pipeline) finish(t *testing.T, runs int) {
	t.Helper()
	pl.clk.advance(3*time.Hour + time.Minute)
	require.Eventually(t, func() bool {
		return pl.h.sum(t, metadata.MetricTracesReleased) >= int64(runs) && pl.h.p.budget.held() == 0
	}, 30*time.Second, 5*time.Millisecond, "runs released and written")
}

// replaySlowly sends td one span per request in end-time order, so that
// the run takes over on the detector's clock: each span when it ends. It
// checks halfway that the run is stored in progress with its steps so far.
func (pl *pipeline) replaySlowly(t *testing.T, td ptrace.Traces, over time.Duration, runIDs []string) {
	t.Helper()
	reqs := testutil.InEndTimeOrder(td)
	for i, gap := range testutil.Gaps(reqs, over) {
		pl.clk.advance(gap)
		pl.send(t, reqs[i].Traces)
		if i == len(reqs)/2 {
			pl.clk.advance(6 * time.Second) // past progress_interval
			for _, id := range runIDs {
				require.Eventually(t, func() bool {
					full, err := pl.st.GetTrace(context.Background(), id)
					return err == nil && full.Trace.InProgress() && len(full.Steps) > 0
				}, 10*time.Second, 5*time.Millisecond, "run %s shown in progress halfway", id)
			}
		}
	}
}

func testSlowFixtures(t *testing.T, over time.Duration) {
	names := testutil.FixtureNames(t)
	for _, be := range dbBackends {
		t.Run(be.name, func(t *testing.T) {
			for _, name := range names {
				t.Run(name, func(t *testing.T) {
					td := testutil.LoadTraces(t, name)
					testutil.Stretch(td, over)
					ids := storetest.RunIDs(td)
					require.NotEmpty(t, ids)

					atOnce := newPipeline(t, be.cfg(t))
					whole := ptrace.NewTraces()
					td.CopyTo(whole)
					atOnce.send(t, whole)
					atOnce.finish(t, len(ids))

					slow := newPipeline(t, be.cfg(t))
					slow.replaySlowly(t, td, over, ids)
					slow.finish(t, len(ids))
					assert.Positive(t, slow.h.sum(t, metadata.MetricSpansInProgress), "the slow run was forwarded in progress")
					assert.Zero(t, atOnce.h.sum(t, metadata.MetricSpansInProgress), "the run sent at once was forwarded once")

					for _, id := range ids {
						want, got := storetest.Stored(t, atOnce.st, id), storetest.Stored(t, slow.st, id)
						require.NotEmpty(t, want.Steps, "%s: the run sent at once has steps", name)
						storetest.RequireSameRun(t, name+" "+id, want, got)
						full, err := slow.st.GetTrace(context.Background(), id)
						require.NoError(t, err)
						assert.False(t, full.Trace.InProgress(), "%s: analysed whole at completion", name)
					}
				})
			}
		})
	}
}

// TestSlowFixturesFiveMinutes: each fixture as a five-minute run.
func TestSlowFixturesFiveMinutes(t *testing.T) { testSlowFixtures(t, 5*time.Minute) }

// TestSlowFixturesTwoHours: each fixture as a two-hour run (a run that
// waits for a human), within max_run_duration 3h.
func TestSlowFixturesTwoHours(t *testing.T) { testSlowFixtures(t, 2*time.Hour) }

// A silent failure whose cause and effect are minutes apart: in an hour's
// run, retrieve returns no documents early on and synthesize crashes on
// the missing field more than ten minutes later. The run is analysed whole and the
// crash is traced back to retrieve, as for the same spans sent at once.
func TestCauseAndEffectMinutesApart(t *testing.T) {
	for _, be := range dbBackends {
		t.Run(be.name, func(t *testing.T) {
			td := testutil.LoadTraces(t, "rag_silent_failure.json")
			testutil.Stretch(td, time.Hour)
			ids := storetest.RunIDs(td)
			require.Len(t, ids, 1)
			pl := newPipeline(t, be.cfg(t))
			pl.replaySlowly(t, td, time.Hour, ids)
			pl.finish(t, 1)
			full, err := pl.st.GetTrace(context.Background(), ids[0])
			require.NoError(t, err)
			assert.Equal(t, "failed", full.Trace.Status)
			rules := map[string]bool{}
			for _, d := range full.Detections {
				var det struct {
					Rule string `json:"rule"`
				}
				require.NoError(t, json.Unmarshal(d.Details, &det))
				rules[det.Rule] = true
			}
			for _, r := range []string{"structural.empty_retrieval", "structural.crash_missing_data", "behavioral.error_span"} {
				assert.True(t, rules[r], "detection %s (have %v)", r, reflect.ValueOf(rules).MapKeys())
			}
			require.Len(t, full.Forensics, 1)
			var root *store.Step
			for i := range full.Steps {
				if full.Steps[i].ID == full.Forensics[0].RootCauseStep {
					root = &full.Steps[i]
				}
			}
			require.NotNil(t, root, "the root cause is a stored step")
			assert.Equal(t, "retrieve", root.NodeName)
			assert.Equal(t, 2, root.StepNumber)
			var crash time.Time
			for _, s := range full.Steps {
				if s.NodeName == "synthesize" {
					crash = s.Timestamp
				}
			}
			assert.Greater(t, crash.Sub(root.Timestamp), 10*time.Minute, "cause and effect are minutes apart")
		})
	}
}

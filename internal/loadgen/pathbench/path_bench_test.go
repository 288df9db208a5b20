package pathbench

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/arguslabs/argus-otel/exporter/argusexporter"
	"github.com/arguslabs/argus-otel/internal/loadgen"
	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/processor/argusdetector"
)

const (
	runsPerRequest    = 8
	requestsPerOp     = 4
	quiet, detectTick = 20 * time.Millisecond, 10 * time.Millisecond
)

// requests pre-generates OTLP request bytes, as a client would send them.
func requests(b *testing.B, n int) ([][]byte, loadgen.Counts) {
	g, err := loadgen.NewGenerator(loadgen.DefaultShape(), 1, 1)
	require.NoError(b, err)
	var m ptrace.ProtoMarshaler
	var total loadgen.Counts
	out := make([][]byte, n)
	for i := range out {
		td, spans := g.NewRequest()
		for k := 0; k < runsPerRequest; k++ {
			c := g.AddRun(spans, time.Now())
			total.Traces += c.Traces
			total.Spans += c.Spans
			total.NodeSpans += c.NodeSpans
		}
		out[i], err = m.MarshalTraces(td)
		require.NoError(b, err)
	}
	return out, total
}

// benchmarkPath pushes 4 requests of 8 runs per op (generated beforehand,
// each with fresh trace ids) through [argusdetector ->] argus exporter
// without a sending queue, and waits until the store holds every run.
// spans/s counts the whole path, database included. The detector's quiet
// period and tick are short so its release latency does not dominate small
// b.N; the work per run is the same.
func benchmarkPath(b *testing.B, driver, target string, detector bool) {
	ctx := context.Background()
	ef := argusexporter.NewFactory()
	ecfg := ef.CreateDefaultConfig().(*argusexporter.Config)
	ecfg.Driver = driver
	if driver == "sqlite" {
		ecfg.Path = target
	} else {
		ecfg.DSN = configopaque.String(target)
	}
	ecfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	exp, err := ef.CreateTraces(ctx, exportertest.NewNopSettings(ef.Type()), ecfg)
	require.NoError(b, err)
	require.NoError(b, exp.Start(ctx, componenttest.NewNopHost()))
	defer func() { require.NoError(b, exp.Shutdown(ctx)) }()

	var next consumer.Traces = exp
	if detector {
		pf := argusdetector.NewFactory()
		pcfg := pf.CreateDefaultConfig().(*argusdetector.Config)
		pcfg.MaxRunDuration = 2 * time.Second
		pcfg.RootQuietPeriod = quiet
		pcfg.Tick = detectTick
		proc, err := pf.CreateTraces(ctx, processortest.NewNopSettings(pf.Type()), pcfg, exp)
		require.NoError(b, err)
		require.NoError(b, proc.Start(ctx, componenttest.NewNopHost()))
		defer func() { require.NoError(b, proc.Shutdown(ctx)) }()
		next = proc
	}

	b.StopTimer()
	wire, total := requests(b, b.N*requestsPerOp)
	db, err := loadgen.OpenStore(driver, target)
	require.NoError(b, err)
	defer db.Close()
	b.ReportAllocs()
	b.StartTimer()
	var u ptrace.ProtoUnmarshaler
	for i := range wire {
		td, err := u.UnmarshalTraces(wire[i])
		if err != nil {
			b.Fatal(err)
		}
		wire[i] = nil
		if err := next.ConsumeTraces(ctx, td); err != nil {
			b.Fatal(err)
		}
	}
	d := loadgen.WaitStable(ctx, db, loadgen.Rows{Traces: total.Traces, Steps: total.NodeSpans}, nil,
		10*time.Millisecond, time.Minute, 5*time.Minute)
	b.StopTimer()
	require.True(b, d.Stable, "store did not drain: %s", d.LastError)
	require.Equal(b, total.Traces, d.Rows.Traces, "every run stored")
	require.Equal(b, total.NodeSpans, d.Rows.Steps, "every node span stored")
	b.ReportMetric(float64(total.Spans)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(total.Traces)/b.Elapsed().Seconds(), "runs/s")
}

// BenchmarkPathSQLite: receiver decode -> argusdetector -> argus -> SQLite.
func BenchmarkPathSQLite(b *testing.B) {
	benchmarkPath(b, "sqlite", filepath.Join(b.TempDir(), "traces.db"), true)
}

// BenchmarkPathSQLiteNoDetector: the same without the processor.
func BenchmarkPathSQLiteNoDetector(b *testing.B) {
	benchmarkPath(b, "sqlite", filepath.Join(b.TempDir(), "traces.db"), false)
}

// BenchmarkPathPostgres: receiver decode -> argusdetector -> argus -> PostgreSQL.
func BenchmarkPathPostgres(b *testing.B) {
	benchmarkPath(b, "postgres", testutil.PostgresDSN(b), true)
}

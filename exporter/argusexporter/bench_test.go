package argusexporter

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// benchRun is a realistic run: ten nodes, each with a nested LLM call (and a
// tool call on every third), states of 2-10 KiB.
func benchRun(i int) []node {
	ns := make([]node, 10)
	for j := range ns {
		size := 2048 + (i*7+j*997)%(8*1024)
		const phrase = "The refund policy allows returns within 30 days of purchase. "
		doc := strings.Repeat(phrase, size/len(phrase)+1)[:size]
		ns[j] = node{
			name:   fmt.Sprintf("node_%d", j),
			input:  map[string]any{"question": "What is the refund policy?", "documents": []any{doc}, "step": j},
			output: map[string]any{"answer": doc[:size/2], "score": 0.87},
			llm:    true,
		}
		if j%3 == 0 {
			ns[j].tool = "kb_search"
		}
	}
	return ns
}

func benchmarkExporter(b *testing.B, cfg *Config) {
	e, err := newExporter(cfg, exportertestSettings())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := e.start(ctx, nil); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = e.shutdown(ctx) }()

	const tracesPerPush = 20
	spans := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		td := ptrace.NewTraces()
		for k := 0; k < tracesPerPush; k++ {
			r := langGraphRun("bench", time.Now().Add(-time.Minute), benchRun(i*tracesPerPush+k))
			r.td.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
		}
		spans += td.SpanCount()
		b.StartTimer()
		if err := e.pushTraces(ctx, td); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(spans)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkExporterSQLite: spans/s through push (mapping, rows, one
// transaction) into a SQLite file.
func BenchmarkExporterSQLite(b *testing.B) {
	cfg := testConfig()
	cfg.Path = filepath.Join(b.TempDir(), ".argus", "traces.db")
	benchmarkExporter(b, cfg)
}

// BenchmarkExporterPostgres: the same into PostgreSQL.
func BenchmarkExporterPostgres(b *testing.B) {
	cfg := testConfig()
	cfg.Driver = "postgres"
	cfg.DSN = configopaque.String(testutil.PostgresDSN(b))
	benchmarkExporter(b, cfg)
}

// BenchmarkMappingAndRows: the CPU part of a push (mapping + rows, no
// database), to tell it apart from the write in the benchmarks above.
func BenchmarkMappingAndRows(b *testing.B) {
	e, err := newExporter(testConfig(), exportertestSettings())
	if err != nil {
		b.Fatal(err)
	}
	td := ptrace.NewTraces()
	for k := 0; k < 20; k++ {
		r := langGraphRun("bench", time.Now().Add(-time.Minute), benchRun(k))
		r.td.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runs := mapTraces(td, e.mapOpt)
		_ = buildRows(td, runs, e.rowOpt, time.Now())
	}
	b.ReportMetric(float64(td.SpanCount()*b.N)/b.Elapsed().Seconds(), "spans/s")
}

package detect

import (
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/loadgen"
)

// loadgenRuns maps n runs of the load client's traffic (scripts/load.sh,
// internal/loadgen: corrective-RAG LangGraph runs of 5-30 nodes with 1-20
// KiB JSON states, 10% failing) the way the processor sees them.
func loadgenRuns(tb testing.TB, n int) []*agentrun.Run {
	g, err := loadgen.NewGenerator(loadgen.DefaultShape(), 1, 1)
	if err != nil {
		tb.Fatal(err)
	}
	td, spans := g.NewRequest()
	for range n {
		g.AddRun(spans, time.Now())
	}
	runs := agentrun.MapTraces(td, agentrun.Options{})
	if len(runs) != n {
		tb.Fatalf("mapped %d runs of %d", len(runs), n)
	}
	return runs
}

// The layers over 32 runs of load traffic, the work detection adds per
// request of the load test.
func benchmarkLoadgen(b *testing.B, layer func(*agentrun.Run, *Config) []Finding) {
	runs := loadgenRuns(b, 32)
	cfg := cfgWith(nil)
	b.ReportAllocs()
	defer reportThreadCPU(b)()
	for b.Loop() {
		for _, run := range runs {
			layer(run, cfg)
		}
	}
}

func BenchmarkBehavioralLoadgen(b *testing.B) { benchmarkLoadgen(b, Behavioral) }
func BenchmarkSemanticLoadgen(b *testing.B)   { benchmarkLoadgen(b, Semantic) }
func BenchmarkStructuralLoadgen(b *testing.B) { benchmarkLoadgen(b, Structural) }

// Analyze (all layers, baselines and forensics) over 32 runs of load
// traffic, with baselines already warm as in a running collector.
func BenchmarkAnalyzeLoadgen(b *testing.B) {
	runs := loadgenRuns(b, 32)
	cfg := cfgWith(nil)
	base := NewBaselines(0, 0)
	for range 8 {
		for _, run := range runs {
			Analyze(run, cfg, base)
		}
	}
	b.ReportAllocs()
	defer reportThreadCPU(b)()
	for b.Loop() {
		for _, run := range runs {
			Analyze(run, cfg, base)
		}
	}
}

func BenchmarkStatisticalLoadgen(b *testing.B) {
	runs := loadgenRuns(b, 32)
	cfg := cfgWith(nil)
	base := NewBaselines(0, 0)
	for range 8 {
		for _, run := range runs {
			base.Observe(run)
		}
	}
	b.ReportAllocs()
	defer reportThreadCPU(b)()
	for b.Loop() {
		for _, run := range runs {
			Statistical(run, cfg, base)
			base.Observe(run)
		}
	}
}

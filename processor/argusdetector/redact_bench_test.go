package argusdetector

import (
	"testing"

	"github.com/arguslabs/argus-otel/internal/redact"
)

// BenchmarkRedactTrace is the cost redaction adds to each request before
// the write-ahead log: one realistic trace (compare BenchmarkAnalyze, the
// detection of the same trace).
func BenchmarkRedactTrace(b *testing.B) {
	k := redact.New(redact.DefaultKeys)
	td := realisticTrace(0)
	b.ReportAllocs()
	for b.Loop() {
		if k.Traces(td) != 0 {
			b.Fatal("the realistic trace holds no secret")
		}
	}
}

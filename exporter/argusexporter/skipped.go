package argusexporter

import (
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/annotation"
)

// withoutSkipped is td without the resources the processor marked skipped
// (traces that are no runs: see the processor's runs setting). td is
// shared with the pipeline's other exporters and is never changed: a batch
// without marks is td itself, a mixed one is copied.
func withoutSkipped(td ptrace.Traces) ptrace.Traces {
	rss := td.ResourceSpans()
	skipped := 0
	for i := 0; i < rss.Len(); i++ {
		if annotation.Skipped(rss.At(i)) {
			skipped++
		}
	}
	if skipped == 0 {
		return td
	}
	out := ptrace.NewTraces()
	out.ResourceSpans().EnsureCapacity(rss.Len() - skipped)
	for i := 0; i < rss.Len(); i++ {
		if rs := rss.At(i); !annotation.Skipped(rs) {
			rs.CopyTo(out.ResourceSpans().AppendEmpty())
		}
	}
	return out
}

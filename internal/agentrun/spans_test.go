package agentrun

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestSpansVisitsEverySpanAndStops(t *testing.T) {
	td := ptrace.NewTraces()
	for r := 0; r < 2; r++ {
		rs := td.ResourceSpans().AppendEmpty()
		for s := 0; s < 2; s++ {
			ss := rs.ScopeSpans().AppendEmpty()
			for k := 0; k < 3; k++ {
				ss.Spans().AppendEmpty().SetName("s")
			}
		}
	}
	td.ResourceSpans().AppendEmpty() // an empty resource is skipped
	n := 0
	for range Spans(td) {
		n++
	}
	if n != 12 {
		t.Fatalf("visited %d spans, want 12", n)
	}
	n = 0
	for range Spans(td) {
		n++
		if n == 5 {
			break
		}
	}
	if n != 5 {
		t.Fatalf("break did not stop the iteration: %d", n)
	}
}

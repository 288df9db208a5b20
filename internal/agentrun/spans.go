package agentrun

import (
	"iter"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Spans yields every span of td in order, across resources and scopes, so
// callers need not repeat the three nested loops of the OTLP layout.
func Spans(td ptrace.Traces) iter.Seq[ptrace.Span] {
	return func(yield func(ptrace.Span) bool) {
		rss := td.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			sss := rss.At(i).ScopeSpans()
			for j := 0; j < sss.Len(); j++ {
				spans := sss.At(j).Spans()
				for k := 0; k < spans.Len(); k++ {
					if !yield(spans.At(k)) {
						return
					}
				}
			}
		}
	}
}

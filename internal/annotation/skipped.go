package annotation

import "go.opentelemetry.io/collector/pdata/ptrace"

// AttrSkipped is a resource attribute: the processor forwarded these spans
// without analysis, for the reason it holds, and the argus exporter does not
// store them. It marks resources, not spans, because the processor forwards
// every trace in resources of its own: the exporter reads one attribute per
// resource instead of one per span, and other exporters still get the spans.
const AttrSkipped = "argus.skipped"

// SkipNotAgentRun: the trace carries no AI convention and matched none of the
// user's rules (processor setting runs).
const SkipNotAgentRun = "not_agent_run"

// MarkSkipped marks every resource of td skipped for reason.
func MarkSkipped(td ptrace.Traces, reason string) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rss.At(i).Resource().Attributes().PutStr(AttrSkipped, reason)
	}
}

// ClearSkipped removes the mark from every resource of td, so that only the
// processor's own decision counts, never a client's attribute of that name.
func ClearSkipped(td ptrace.Traces) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rss.At(i).Resource().Attributes().Remove(AttrSkipped)
	}
}

// Skipped reports whether the processor marked rs skipped.
func Skipped(rs ptrace.ResourceSpans) bool {
	_, ok := rs.Resource().Attributes().Get(AttrSkipped)
	return ok
}

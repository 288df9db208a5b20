package testutil

import (
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// SpanRequest is one span alone in a request, with its resource and scope:
// what an SDK's BatchSpanProcessor sends over a long run, a span at a time.
type SpanRequest struct {
	Traces ptrace.Traces
	End    pcommon.Timestamp
	Root   bool
}

// SpanRequests splits td into one request per span, in td's order.
func SpanRequests(td ptrace.Traces) []SpanRequest {
	var out []SpanRequest
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				one := ptrace.NewTraces()
				rs := one.ResourceSpans().AppendEmpty()
				rss.At(i).Resource().CopyTo(rs.Resource())
				ss := rs.ScopeSpans().AppendEmpty()
				sss.At(j).Scope().CopyTo(ss.Scope())
				sp := spans.At(k)
				sp.CopyTo(ss.Spans().AppendEmpty())
				out = append(out, SpanRequest{Traces: one, End: sp.EndTimestamp(), Root: sp.ParentSpanID().IsEmpty()})
			}
		}
	}
	return out
}

// Joined is a copy of the requests' spans in one Traces, in the order
// given (the requests are left as they are).
func Joined(reqs []SpanRequest) ptrace.Traces {
	td := ptrace.NewTraces()
	for _, r := range reqs {
		for i := 0; i < r.Traces.ResourceSpans().Len(); i++ {
			r.Traces.ResourceSpans().At(i).CopyTo(td.ResourceSpans().AppendEmpty())
		}
	}
	return td
}

// InEndTimeOrder is SpanRequests in the order spans end, as an SDK exports
// them: children before their parents, a root after the spans ending with
// it.
func InEndTimeOrder(td ptrace.Traces) []SpanRequest {
	reqs := SpanRequests(td)
	slices.SortStableFunc(reqs, func(a, b SpanRequest) int {
		switch {
		case a.End != b.End:
			if a.End < b.End {
				return -1
			}
			return 1
		case a.Root == b.Root:
			return 0
		case a.Root:
			return 1
		}
		return -1
	})
	return reqs
}

// Gaps are the pauses before each request of reqs (in end-time order) so
// that sending them takes over, each when its span ends on a clock that
// runs over/(last end - first end) times as fast.
func Gaps(reqs []SpanRequest, over time.Duration) []time.Duration {
	out := make([]time.Duration, len(reqs))
	if len(reqs) < 2 {
		return out
	}
	first, last := reqs[0].End, reqs[len(reqs)-1].End
	for i := 1; i < len(reqs); i++ {
		if last > first {
			out[i] = time.Duration(float64(over) * float64(reqs[i].End-reqs[i-1].End) / float64(last-first))
		} else {
			out[i] = over / time.Duration(len(reqs)-1)
		}
	}
	return out
}

// Stretch rescales td's timestamps so the run lasts over: a long run's
// spans are minutes apart, not the milliseconds of a fixture.
func Stretch(td ptrace.Traces, over time.Duration) {
	var first, last pcommon.Timestamp
	for s := range agentrun.Spans(td) {
		if first == 0 || (s.StartTimestamp() != 0 && s.StartTimestamp() < first) {
			first = s.StartTimestamp()
		}
		last = max(last, s.EndTimestamp())
	}
	if last <= first {
		return
	}
	scale := float64(over) / float64(last-first)
	at := func(ts pcommon.Timestamp) pcommon.Timestamp {
		if ts < first {
			return ts
		}
		return first + pcommon.Timestamp(float64(ts-first)*scale)
	}
	for s := range agentrun.Spans(td) {
		s.SetStartTimestamp(at(s.StartTimestamp()))
		s.SetEndTimestamp(at(s.EndTimestamp()))
		for j := 0; j < s.Events().Len(); j++ {
			s.Events().At(j).SetTimestamp(at(s.Events().At(j).Timestamp()))
		}
	}
}

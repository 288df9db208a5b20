package argusdetector

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/processor/argusdetector/internal/metadata"
)

func traceID(n int) pcommon.TraceID {
	var id pcommon.TraceID
	id[0] = 0xab
	binary.BigEndian.PutUint64(id[8:], uint64(n))
	return id
}

func spanID(trace, n int) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint32(id[:4], uint32(trace))
	binary.BigEndian.PutUint32(id[4:], uint32(n)+1)
	return id
}

// span describes one test span: n is its number within the trace (0 is
// the root), parent the number of its parent (-1: none).
type span struct {
	trace, n, parent int
	name             string
}

// spans builds a batch with one resource and one scope holding sp.
func spans(sp ...span) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "agent")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("test")
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, s := range sp {
		out := ss.Spans().AppendEmpty()
		out.SetTraceID(traceID(s.trace))
		out.SetSpanID(spanID(s.trace, s.n))
		if s.parent >= 0 {
			out.SetParentSpanID(spanID(s.trace, s.parent))
		}
		name := s.name
		if name == "" {
			name = "node"
		}
		out.SetName(name)
		out.SetStartTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(s.n) * time.Millisecond)))
		out.SetEndTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(s.n+1) * time.Millisecond)))
	}
	return td
}

// children returns spans 1..n of a trace, all children of the root (0).
func children(trace, n int) []span {
	out := make([]span, n)
	for i := range out {
		out[i] = span{trace: trace, n: i + 1, parent: 0}
	}
	return out
}

func root(trace int) span { return span{trace: trace, n: 0, parent: -1, name: "LangGraph"} }

// testConfig is a config with short, test-friendly durations.
func testConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxRunDuration = time.Minute
	cfg.RootQuietPeriod = 0
	cfg.Tick = 10 * time.Millisecond
	cfg.NumShards = 2
	// The synthetic spans of these tests carry no AI convention; they test
	// buffering and annotation, so every trace is a run (runs_test.go tests
	// the default).
	cfg.Runs.Keep = KeepAll
	return cfg
}

type harness struct {
	p    *argusProcessor
	sink *consumertest.TracesSink
	tel  *componenttest.Telemetry
}

// start creates the processor through the real factory, with a metric
// reader, and starts it on host (a nop host when nil).
func start(t *testing.T, cfg *Config, host component.Host, before ...func(*argusProcessor)) *harness {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	sink := new(consumertest.TracesSink)
	require.NoError(t, componenttest.CheckConfigStruct(cfg))
	proc, err := NewFactory().CreateTraces(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	if host == nil {
		host = componenttest.NewNopHost()
	}
	for _, fn := range before {
		fn(proc.(*argusProcessor))
	}
	require.NoError(t, proc.Start(context.Background(), host))
	h := &harness{p: proc.(*argusProcessor), sink: sink, tel: tel}
	t.Cleanup(func() { _ = proc.Shutdown(context.Background()) })
	return h
}

func (h *harness) consume(t *testing.T, td ptrace.Traces) {
	t.Helper()
	require.NoError(t, h.p.ConsumeTraces(context.Background(), td))
}

// waitSpans waits until the sink holds n spans.
func (h *harness) waitSpans(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return h.sink.SpanCount() >= n },
		10*time.Second, 5*time.Millisecond, "want %d spans forwarded", n)
	require.Equal(t, n, h.sink.SpanCount())
}

// sum reads an int counter, adding the data points whose attributes
// include attrs.
func (h *harness) sum(t *testing.T, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	m, err := h.tel.GetMetric(name)
	if err != nil {
		return 0 // never recorded
	}
	data, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is %T", name, m.Data)
	var total int64
	for _, dp := range data.DataPoints {
		match := true
		for _, a := range attrs {
			if v, ok := dp.Attributes.Value(a.Key); !ok || v != a.Value {
				match = false
			}
		}
		if match {
			total += dp.Value
		}
	}
	return total
}

func reason(r string) attribute.KeyValue { return attribute.String("reason", r) }

// forwarded maps each trace id to the spans forwarded for it, and to the
// number of ConsumeTraces calls they came in.
type forwardedTrace struct {
	spans []ptrace.Span
	calls int
}

func forwarded(sink *consumertest.TracesSink) map[pcommon.TraceID]*forwardedTrace {
	out := map[pcommon.TraceID]*forwardedTrace{}
	for _, td := range sink.AllTraces() {
		seen := map[pcommon.TraceID]bool{}
		eachSpan(td, func(s ptrace.Span) {
			ft := out[s.TraceID()]
			if ft == nil {
				ft = &forwardedTrace{}
				out[s.TraceID()] = ft
			}
			ft.spans = append(ft.spans, s)
			if !seen[s.TraceID()] {
				seen[s.TraceID()] = true
				ft.calls++
			}
		})
	}
	return out
}

func eachSpan(td ptrace.Traces, fn func(ptrace.Span)) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			sp := sss.At(j).Spans()
			for k := 0; k < sp.Len(); k++ {
				fn(sp.At(k))
			}
		}
	}
}

// stubMapper builds a minimal run per trace: the parentless span is the
// root, its children are the steps. It keeps tests of buffering and
// annotation independent of the real mapping's conventions.
func stubMapper(td ptrace.Traces, _ agentrun.Options) []*agentrun.Run {
	runs := map[string]*agentrun.Run{}
	var order []string
	var rootOf = map[string]string{}
	eachSpan(td, func(s ptrace.Span) {
		tid := s.TraceID().String()
		r := runs[tid]
		if r == nil {
			r = &agentrun.Run{TraceID: tid, PipelineName: "stub"}
			runs[tid] = r
			order = append(order, tid)
		}
		r.SpanCount++
		if s.ParentSpanID().IsEmpty() {
			r.RootSpanID = s.SpanID().String()
			rootOf[tid] = r.RootSpanID
		}
	})
	eachSpan(td, func(s ptrace.Span) {
		r := runs[s.TraceID().String()]
		if !s.ParentSpanID().IsEmpty() && s.ParentSpanID().String() == rootOf[r.TraceID] {
			r.Steps = append(r.Steps, agentrun.Step{
				SpanID: s.SpanID().String(), Node: s.Name(), Number: len(r.Steps) + 1,
				Start: s.StartTimestamp().AsTime(), End: s.EndTimestamp().AsTime(),
			})
		}
	})
	out := make([]*agentrun.Run, 0, len(order))
	for _, id := range order {
		out = append(out, runs[id])
	}
	return out
}

func processortestSettings() processor.Settings { return processortest.NewNopSettings(metadata.Type) }

func attrStatus(s string) attribute.KeyValue { return attribute.String("status", s) }

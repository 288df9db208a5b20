package argusdetector

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/annotation"
	"github.com/arguslabs/argus-otel/processor/argusdetector/internal/metadata"
)

func TestFactory(t *testing.T) {
	f := NewFactory()
	assert.Equal(t, "argusdetector", f.Type().String())
	assert.Equal(t, component.StabilityLevelAlpha, f.TracesStability())
	cfg := f.CreateDefaultConfig()
	require.NoError(t, componenttest.CheckConfigStruct(cfg))
	require.NoError(t, cfg.(*Config).Validate())

	p, err := f.CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(t, err)
	assert.True(t, p.Capabilities().MutatesData)
	// Shutdown before Start is a no-op; ConsumeTraces before Start refuses.
	require.Error(t, p.ConsumeTraces(context.Background(), spans(root(1))))
	require.NoError(t, p.Shutdown(context.Background()))
}

func TestVerifyShutdown(t *testing.T) {
	cfg := testConfig()
	processortest.VerifyShutdown(t, NewFactory(), cfg)
}

// Spans of several interleaved traces arrive over several calls; each
// trace leaves in one piece, once its root has been quiet long enough.
func TestAssemblesWholeTracesAcrossCalls(t *testing.T) {
	cfg := testConfig()
	cfg.RootQuietPeriod = 50 * time.Millisecond
	h := start(t, cfg, nil)

	c1, c2, c3 := children(1, 6), children(2, 6), children(3, 6)
	h.consume(t, spans(c1[0], c2[0], c1[1], c3[0]))
	h.consume(t, spans(c2[1], c2[2], c3[1], c3[2]))
	h.consume(t, spans(c1[2], c1[3], c2[3], c3[3], c3[4]))
	// The children of a trace are all in before its root.
	h.consume(t, spans(c1[4], c1[5], root(1), c2[4]))
	h.consume(t, spans(c3[5], c2[5], root(3), root(2)))

	h.waitSpans(t, 21)
	got := forwarded(h.sink)
	require.Len(t, got, 3)
	for i := 1; i <= 3; i++ {
		ft := got[traceID(i)]
		require.NotNil(t, ft, "trace %d", i)
		assert.Len(t, ft.spans, 7, "trace %d", i)
		assert.Equal(t, 1, ft.calls, "trace %d must be forwarded whole, in one call", i)
	}
	assert.EqualValues(t, 3, h.sum(t, metadata.MetricTracesReleased, reason(reasonRootQuiet)))
	assert.EqualValues(t, 21, h.sum(t, metadata.MetricSpansReceived))
	assert.EqualValues(t, 0, h.sum(t, metadata.MetricTracesInBuffer))
	assert.EqualValues(t, 0, h.sum(t, metadata.MetricBytesInBuffer))
}

func TestReleaseByMaxRunDuration(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRunDuration = 100 * time.Millisecond
	cfg.RootQuietPeriod = time.Hour // the root alone never releases early
	h := start(t, cfg, nil)

	h.consume(t, spans(append(children(1, 3), root(1))...))
	h.consume(t, spans(children(2, 2)...)) // no root at all
	h.waitSpans(t, 6)
	assert.EqualValues(t, 2, h.sum(t, metadata.MetricTracesReleased, reason(reasonMaxDuration)))
	assert.EqualValues(t, 0, h.sum(t, metadata.MetricTracesReleased, reason(reasonRootQuiet)))
}

func TestReleaseByRootQuietPeriod(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRunDuration = time.Hour // only the root quiet period can release
	cfg.RootQuietPeriod = 30 * time.Millisecond
	h := start(t, cfg, nil)

	h.consume(t, spans(children(1, 4)...))
	h.consume(t, spans(root(1)))
	h.waitSpans(t, 5)
	assert.EqualValues(t, 1, h.sum(t, metadata.MetricTracesReleased, reason(reasonRootQuiet)))
}

func TestEvictionByCount(t *testing.T) {
	cfg := testConfig()
	cfg.NumShards = 1
	cfg.MaxTraces = 3
	h := start(t, cfg, nil, func(p *argusProcessor) { p.mapRuns = stubMapper })

	for i := 1; i <= 5; i++ {
		h.consume(t, spans(root(i), span{trace: i, n: 1, parent: 0}))
	}
	// Traces 1 and 2, the oldest, made room for 4 and 5. They had their
	// roots, so they are not partial (TestEvictionPartialOnlyWithoutRoot
	// has a trace evicted without its root).
	h.waitSpans(t, 4)
	got := forwarded(h.sink)
	require.Len(t, got, 2)
	for _, i := range []int{1, 2} {
		ft := got[traceID(i)]
		require.NotNil(t, ft, "trace %d evicted", i)
		assertPartialRoot(t, ft.spans, false)
	}
	assert.EqualValues(t, 2, h.sum(t, metadata.MetricTracesReleased, reason(reasonEvicted)))
	assert.EqualValues(t, 3, h.sum(t, metadata.MetricTracesInBuffer))

	// The rest leave at shutdown.
	require.NoError(t, h.p.Shutdown(context.Background()))
	require.Equal(t, 10, h.sink.SpanCount())
	assert.EqualValues(t, 3, h.sum(t, metadata.MetricTracesReleased, reason(reasonShutdown)))
}

func TestEvictionByBytes(t *testing.T) {
	cfg := testConfig()
	cfg.NumShards = 1
	h := start(t, cfg, nil)
	one := spans(root(1))
	one.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutStr("blob", strings.Repeat("x", 1000))
	size := int64(h.p.sizer.TracesSize(one))
	require.NoError(t, h.p.Shutdown(context.Background()))

	// Room for two such traces, not three.
	cfg.MaxBytes = 2*size + size/2
	h = start(t, cfg, nil)
	for i := 1; i <= 4; i++ {
		td := spans(root(i))
		td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutStr("blob", strings.Repeat("x", 1000))
		h.consume(t, td)
	}
	h.waitSpans(t, 2)
	got := forwarded(h.sink)
	assert.Contains(t, got, traceID(1))
	assert.Contains(t, got, traceID(2))
	assert.EqualValues(t, 2, h.sum(t, metadata.MetricTracesReleased, reason(reasonEvicted)))
	// Trace 4 may still be queued: the bound counts it either way.
	require.Eventually(t, func() bool { return h.sum(t, metadata.MetricBytesInBuffer) == 2*size },
		5*time.Second, time.Millisecond)
	assert.EqualValues(t, 2*size, h.p.budget.held())

	// A single trace bigger than the whole budget empties the buffer and
	// goes straight through itself.
	big := spans(root(9))
	big.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutStr("blob", strings.Repeat("y", 4000))
	h.consume(t, big)
	h.waitSpans(t, 5)
	assert.Contains(t, forwarded(h.sink), traceID(9))
	assert.EqualValues(t, 5, h.sum(t, metadata.MetricTracesReleased, reason(reasonEvicted)))
	assert.EqualValues(t, 0, h.sum(t, metadata.MetricBytesInBuffer))
	assert.EqualValues(t, 0, h.p.budget.held())
}

func TestLateSpansForwardedAndMarked(t *testing.T) {
	cfg := testConfig()
	cfg.RootQuietPeriod = 20 * time.Millisecond
	h := start(t, cfg, nil)

	h.consume(t, spans(span{trace: 1, n: 1, parent: 0}, root(1)))
	h.waitSpans(t, 2)
	for _, s := range forwarded(h.sink)[traceID(1)].spans {
		_, late := s.Attributes().Get(annotation.AttrLate)
		assert.False(t, late)
	}

	// Two stragglers of the released trace, and a new trace in the same batch.
	h.consume(t, spans(span{trace: 1, n: 2, parent: 0}, span{trace: 1, n: 3, parent: 2}, span{trace: 2, n: 1, parent: 0}))
	h.waitSpans(t, 4) // the stragglers leave at once, trace 2 stays buffered
	late := 0
	for _, td := range h.sink.AllTraces()[1:] {
		eachSpan(td, func(s ptrace.Span) {
			require.Equal(t, traceID(1), s.TraceID())
			v, ok := s.Attributes().Get(annotation.AttrLate)
			require.True(t, ok)
			require.True(t, v.Bool())
			_, analyzed := s.Attributes().Get(annotation.AttrAnalyzed)
			require.False(t, analyzed)
			late++
		})
	}
	assert.Equal(t, 2, late)
	assert.EqualValues(t, 2, h.sum(t, metadata.MetricSpansLate))
	assert.EqualValues(t, 1, h.sum(t, metadata.MetricTracesInBuffer))
}

func TestShutdownFlushesEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	cfg := testConfig()
	cfg.NumShards = 4
	h := start(t, cfg, nil)
	for i := 1; i <= 20; i++ {
		h.consume(t, spans(append(children(i, 3), root(i))...))
	}
	assert.Equal(t, 0, h.sink.SpanCount(), "nothing is due before shutdown")
	require.NoError(t, h.p.Shutdown(context.Background()))
	require.Equal(t, 80, h.sink.SpanCount())
	assert.EqualValues(t, 20, h.sum(t, metadata.MetricTracesReleased, reason(reasonShutdown)))
	assert.ErrorIs(t, h.p.ConsumeTraces(context.Background(), spans(root(99))), errShuttingDown)
	require.NoError(t, h.p.Shutdown(context.Background()), "second shutdown is a no-op")

	// Every shard goroutine is gone.
	// (A plain loop: assert.Eventually runs its condition on a goroutine.)
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if runtime.NumGoroutine() > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: before %d, now %d\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
	}
}

// A downstream that never returns must not hold Shutdown past its deadline.
func TestShutdownHonoursDeadline(t *testing.T) {
	cfg := testConfig()
	cfg.NumShards = 1
	block := make(chan struct{})
	defer close(block)
	next := blockingConsumer{block: block}
	set := processortest.NewNopSettings(metadata.Type)
	proc, err := NewFactory().CreateTraces(context.Background(), set, cfg, next)
	require.NoError(t, err)
	require.NoError(t, proc.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, proc.ConsumeTraces(context.Background(), spans(root(1))))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = proc.Shutdown(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

type blockingConsumer struct{ block chan struct{} }

func (blockingConsumer) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }
func (b blockingConsumer) ConsumeTraces(ctx context.Context, _ ptrace.Traces) error {
	<-b.block // ignores ctx on purpose
	return nil
}

// A full shard queue pushes back on the caller instead of growing; the
// caller's context bounds the wait.
func TestBackpressure(t *testing.T) {
	cfg := testConfig()
	cfg.NumShards = 1
	cfg.RootQuietPeriod = time.Millisecond
	block := make(chan struct{})
	set := processortest.NewNopSettings(metadata.Type)
	proc, err := NewFactory().CreateTraces(context.Background(), set, cfg, blockingConsumer{block: block})
	require.NoError(t, err)
	require.NoError(t, proc.Start(context.Background(), componenttest.NewNopHost()))

	// The first release blocks the shard; its queue fills, then the
	// caller waits until its deadline.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var sendErr error
	sent := 0
	for sendErr == nil && sent < 1_000_000 {
		sent++
		sendErr = proc.ConsumeTraces(ctx, spans(root(sent)))
	}
	require.ErrorIs(t, sendErr, context.DeadlineExceeded)
	close(block)
	require.NoError(t, proc.Shutdown(context.Background()))
}

// Many goroutines send spans of many traces at once; every span comes out
// exactly once and every trace in one piece.
func TestConcurrentConsume(t *testing.T) {
	cfg := testConfig()
	cfg.NumShards = 4
	cfg.RootQuietPeriod = 20 * time.Millisecond
	h := start(t, cfg, nil, func(p *argusProcessor) { p.mapRuns = stubMapper })

	const senders, perSender, childrenPer = 8, 40, 5
	var wg sync.WaitGroup
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each sender owns its traces and sends them in slices, mixing
			// several traces per call; a trace's root goes last.
			for i := 0; i < perSender; i += 4 {
				var batch [childrenPer + 1][]span
				for j := i; j < i+4; j++ {
					id := g*1000 + j + 1
					for k, c := range children(id, childrenPer) {
						batch[k] = append(batch[k], c)
					}
					batch[childrenPer] = append(batch[childrenPer], root(id))
				}
				for _, b := range batch {
					if err := h.p.ConsumeTraces(context.Background(), spans(b...)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	const total = senders * perSender * (childrenPer + 1)
	h.waitSpans(t, total)
	got := forwarded(h.sink)
	require.Len(t, got, senders*perSender)
	for id, ft := range got {
		require.Len(t, ft.spans, childrenPer+1, "trace %s", id)
		require.Equal(t, 1, ft.calls, "trace %s", id)
		for _, s := range ft.spans {
			v, ok := s.Attributes().Get(annotation.AttrAnalyzed)
			require.True(t, ok && v.Bool())
		}
	}
	assert.EqualValues(t, 0, h.sum(t, metadata.MetricSpansLate))
}

// A panic in mapping or detection is contained: the trace still leaves,
// untouched, and the panic is counted.
func TestPanicInDetectionIsContained(t *testing.T) {
	cfg := testConfig()
	cfg.RootQuietPeriod = 10 * time.Millisecond
	h := start(t, cfg, nil, func(p *argusProcessor) {
		p.mapRuns = func(td ptrace.Traces, o agentrun.Options) []*agentrun.Run {
			if td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).TraceID() == traceID(1) {
				panic("boom")
			}
			return stubMapper(td, o)
		}
	})
	in := spans(span{trace: 1, n: 1, parent: 0}, root(1))
	want := ptrace.NewTraces()
	in.CopyTo(want)
	h.consume(t, in)
	h.consume(t, spans(root(2)))
	h.waitSpans(t, 3)
	got := forwarded(h.sink)
	for _, s := range got[traceID(1)].spans {
		for k := range s.Attributes().All() {
			assert.False(t, strings.HasPrefix(k, "argus."), "unannotated after a panic, found %s", k)
		}
		assert.Equal(t, 0, s.Events().Len())
	}
	assert.EqualValues(t, 1, h.sum(t, metadata.MetricDetectionPanics))
	// The other trace was analyzed normally.
	_, ok := got[traceID(2)].spans[0].Attributes().Get(annotation.AttrRunStatus)
	assert.True(t, ok)
}

// Malformed traces go through the real mapping and detection and still
// come out whole: no root, parent cycles, duplicate span ids, invalid
// UTF-8 and JSON-looking garbage. A span without a trace id in the same
// request is refused (TestZeroTraceIDRefused), the rest is taken.
func TestMalformedTracesAreForwarded(t *testing.T) {
	cfg := testConfig()
	cfg.RootQuietPeriod = 10 * time.Millisecond
	cfg.MaxRunDuration = 100 * time.Millisecond
	h := start(t, cfg, nil)

	td := spans(
		span{trace: 1, n: 1, parent: 2}, span{trace: 1, n: 2, parent: 1}, // cycle, no root
		span{trace: 2, n: 0, parent: -1}, span{trace: 2, n: 0, parent: -1}, // duplicate root ids
		span{trace: 3, n: 0, parent: -1}, span{trace: 3, n: 1, parent: 0},
	)
	ss := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	ss.At(4).Attributes().PutStr("input.value", "{\"a\": \xff\xfe")
	ss.At(5).Attributes().PutStr("output.value", `{"documents": [`)
	ss.At(5).Attributes().PutStr("metadata", `{"langgraph_node": 7, "langgraph_step": "x"}`)
	noID := ss.AppendEmpty()
	noID.SetName("orphan")
	noID.SetSpanID(spanID(0, 1))
	err := h.p.ConsumeTraces(context.Background(), td)
	require.True(t, consumererror.IsPermanent(err), "%v", err)

	h.waitSpans(t, 6)
	assert.EqualValues(t, 0, h.sum(t, metadata.MetricDetectionPanics))
	got := forwarded(h.sink)
	assert.Len(t, got[traceID(1)].spans, 2)
	assert.Len(t, got[traceID(2)].spans, 2)
	assert.Len(t, got[traceID(3)].spans, 2)
	assert.NotContains(t, got, pcommon.TraceID{})
}

// TestZeroTraceIDRefused: spans with an all-zero trace id (invalid in
// OTLP, part of no run) are refused with a permanent error that says so
// and counts them; the request's other spans are taken and stored. Alone,
// they are refused all the same.
func TestZeroTraceIDRefused(t *testing.T) {
	cfg := testConfig()
	cfg.RootQuietPeriod = 10 * time.Millisecond
	h := start(t, cfg, nil)
	td := spans(span{trace: 4, n: 0, parent: -1}, span{trace: 4, n: 1, parent: 0})
	ss := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := 0; i < 2; i++ {
		z := ss.AppendEmpty()
		z.SetName("zero")
		z.SetSpanID(spanID(0, i+1))
	}
	err := h.p.ConsumeTraces(context.Background(), td)
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err), "the client must not retry: %v", err)
	assert.Equal(t, codes.InvalidArgument, status.Code(err), "the receiver answers 400, not 500")
	assert.Contains(t, err.Error(), "refused 2 of 4 spans: all-zero trace id")
	assert.Contains(t, err.Error(), "the other 2 spans were accepted")
	h.waitSpans(t, 2)
	assert.Len(t, forwarded(h.sink)[traceID(4)].spans, 2)
	assert.EqualValues(t, 2, h.sum(t, metadata.MetricSpansRefused))

	only := ptrace.NewTraces()
	z := only.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	z.SetName("zero")
	err = h.p.ConsumeTraces(context.Background(), only)
	assert.True(t, consumererror.IsPermanent(err), "%v", err)
	assert.EqualValues(t, 3, h.sum(t, metadata.MetricSpansRefused))
	assert.Equal(t, 2, h.sink.SpanCount(), "nothing of it forwarded")
}

func assertPartialRoot(t *testing.T, sp []ptrace.Span, want bool) {
	t.Helper()
	for _, s := range sp {
		if !s.ParentSpanID().IsEmpty() {
			continue
		}
		v, ok := s.Attributes().Get(annotation.AttrPartial)
		assert.Equal(t, want, ok && v.Bool(), "argus.partial on root %s", s.SpanID())
		return
	}
	t.Fatal("no root span")
}

func ExampleNewFactory() {
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	fmt.Println(f.Type(), cfg.RootQuietPeriod, cfg.MaxRunDuration, cfg.ProgressInterval, cfg.MaxTraces)
	// Output: argusdetector 2s 1h0m0s 5s 50000
}

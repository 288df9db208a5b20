package argusdetector

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/processor/argusdetector/internal/metadata"
)

func TestByteBudget(t *testing.T) {
	b := newByteBudget(100)
	ctx := context.Background()
	nop := func() {}
	require.NoError(t, b.acquire(ctx, 60, nil, nop))
	require.NoError(t, b.acquire(ctx, 40, nil, nop))
	assert.False(t, b.needRoom(), "nobody waits")

	// Full: a sender waits, says so, and gives up when its context ends.
	woken := make(chan struct{}, 1)
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error)
	go func() {
		errc <- b.acquire(cctx, 30, nil, func() { woken <- struct{}{} })
	}()
	<-woken
	assert.True(t, b.needRoom())
	b.outgo(20)
	assert.True(t, b.needRoom(), "20 on their way out, 30 needed")
	b.outgo(10)
	assert.False(t, b.needRoom(), "what is on its way out covers the need")
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	assert.EqualValues(t, 100, b.held())

	// Forwarded bytes let a waiting sender in.
	go func() { errc <- b.acquire(ctx, 30, nil, func() {}) }()
	b.forwarded(30, 30)
	require.NoError(t, <-errc)
	assert.EqualValues(t, 100, b.held())
	assert.False(t, b.needRoom())

	// Shutdown ends a wait.
	stop := make(chan struct{})
	go func() { errc <- b.acquire(ctx, 50, stop, func() {}) }()
	close(stop)
	require.ErrorIs(t, <-errc, errShuttingDown)

	// An empty budget takes a batch larger than the whole bound.
	b.release(100)
	require.NoError(t, b.acquire(ctx, 500, nil, nop))
	assert.EqualValues(t, 500, b.held())
}

// blobTrace is a one-span trace with a payload, so its size is known.
func blobTrace(i int) ptrace.Traces {
	td := spans(root(i))
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutStr("blob", strings.Repeat("x", 1000))
	return td
}

// When the exporter refuses, the trace it refused stays held and counted,
// so new spans wait for room instead of piling up: ConsumeTraces returns a
// retryable error when its context ends, and goes through once the
// exporter takes the held trace. Nothing is dropped.
func TestByteBoundBlocksThenResumes(t *testing.T) {
	size := int64(new(ptrace.ProtoMarshaler).TracesSize(blobTrace(1)))
	cfg := testConfig()
	cfg.NumShards = 1
	cfg.MaxRunDuration = time.Hour
	cfg.MaxBytes = 2*size + size/2 // room for two traces, not three
	next := &refusingConsumer{}
	next.refuse.Store(true)
	h := start(t, cfg, nil, func(p *argusProcessor) { next.Traces = p.next; p.next = next })
	h.consume(t, blobTrace(1))
	h.consume(t, blobTrace(2))

	// Trace 3 needs room: the shard evicts trace 1, whose forward is
	// refused and held, so the caller waits until its context ends. The
	// shard evicts only while a caller waits; on a loaded machine it may
	// not run within one caller's 100 ms, so the caller tries again, as a
	// client does after a retryable error, until the eviction was seen.
	var err error
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err = h.p.ConsumeTraces(ctx, blobTrace(3))
		return err == nil || h.sum(t, metadata.MetricForwardRetries) > 0
	}, 10*time.Second, time.Millisecond)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, consumererror.IsPermanent(err), "the client must retry")
	assert.Contains(t, err.Error(), "max_bytes")
	assert.LessOrEqual(t, h.p.budget.held(), cfg.MaxBytes)
	assert.EqualValues(t, 0, h.sum(t, metadata.MetricForwardErrors))
	assert.Equal(t, 0, h.sink.SpanCount())

	// Without a deadline the caller waits as long as the refusal lasts...
	done := make(chan error, 1)
	go func() { done <- h.p.ConsumeTraces(context.Background(), blobTrace(3)) }()
	retries := h.sum(t, metadata.MetricForwardRetries)
	require.Eventually(t, func() bool { return h.sum(t, metadata.MetricForwardRetries) > retries+2 }, 5*time.Second, time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("ConsumeTraces returned (%v) while the held trace was still refused", err)
	default:
	}
	// ...and goes through once the exporter takes the held trace.
	next.refuse.Store(false)
	require.NoError(t, <-done)
	require.NoError(t, h.p.Shutdown(context.Background()))

	got := forwarded(h.sink)
	require.Len(t, got, 3)
	for i := 1; i <= 3; i++ {
		require.Contains(t, got, traceID(i))
		assert.Len(t, got[traceID(i)].spans, 1, "trace %d forwarded once", i)
	}
	assert.EqualValues(t, 0, h.sum(t, metadata.MetricForwardErrors))
	assert.EqualValues(t, 0, h.p.budget.held())
}

// flakyConsumer refuses its first n calls with a transient error.
type flakyConsumer struct {
	consumer.Traces
	refusals atomic.Int64
}

func (f *flakyConsumer) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	if f.refusals.Add(-1) >= 0 {
		return errors.New("sending queue is full")
	}
	return f.Traces.ConsumeTraces(ctx, td)
}

func TestForwardRetriesTransientRefusals(t *testing.T) {
	cfg := testConfig()
	cfg.NumShards = 1
	cfg.MaxRunDuration = 20 * time.Millisecond
	next := &flakyConsumer{}
	next.refusals.Store(3)
	h := start(t, cfg, nil, func(p *argusProcessor) { next.Traces = p.next; p.next = next })
	h.consume(t, spans(root(1), span{trace: 1, n: 1, parent: 0}))
	h.waitSpans(t, 2)
	assert.Len(t, h.sink.AllTraces(), 1, "delivered once")
	assert.EqualValues(t, 3, h.sum(t, metadata.MetricForwardRetries))
	assert.EqualValues(t, 0, h.sum(t, metadata.MetricForwardErrors))
	require.Eventually(t, func() bool { return h.p.budget.held() == 0 }, 5*time.Second, time.Millisecond)
}

// Many senders against a bound of a few traces per shard: senders wait
// for room while the shards evict and forward; every span comes out once,
// nothing deadlocks, and the bound is empty at the end.
func TestByteBoundManySenders(t *testing.T) {
	size := int64(new(ptrace.ProtoMarshaler).TracesSize(blobTrace(1)))
	cfg := testConfig()
	cfg.NumShards = 4
	cfg.RootQuietPeriod = 20 * time.Millisecond
	cfg.MaxBytes = 12 * size // a dozen traces over four shards
	h := start(t, cfg, nil, func(p *argusProcessor) { p.mapRuns = stubMapper })

	const senders, perSender = 8, 50
	var wg sync.WaitGroup
	for g := 0; g < senders; g++ {
		wg.Go(func() {
			for i := 0; i < perSender; i += 2 {
				td := blobTrace(g*1000 + i + 1)
				blobTrace(g*1000 + i + 2).ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
				if err := h.p.ConsumeTraces(context.Background(), td); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	h.waitSpans(t, senders*perSender)
	got := forwarded(h.sink)
	require.Len(t, got, senders*perSender)
	for id, ft := range got {
		require.Len(t, ft.spans, 1, "trace %s", id)
	}
	require.NoError(t, h.p.Shutdown(context.Background()))
	assert.EqualValues(t, 0, h.p.budget.held())
}

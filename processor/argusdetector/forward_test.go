package argusdetector

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/processor/argusdetector/internal/metadata"
)

// poisonConsumer refuses for now (a retryable error, as the exporter gives
// after its retries) every request holding a span of trace poison, or
// every request while all is set.
type poisonConsumer struct {
	consumer.Traces
	poison       int
	refusePoison atomic.Bool
	all          atomic.Bool
	poisonCalls  atomic.Int64
}

func (c *poisonConsumer) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	holds := false
	eachSpan(td, func(s ptrace.Span) { holds = holds || s.TraceID() == traceID(c.poison) })
	if holds {
		c.poisonCalls.Add(1)
	}
	if c.all.Load() || (holds && c.refusePoison.Load()) {
		return errors.New("storage: write batch: the database refused it")
	}
	return c.Traces.ConsumeTraces(ctx, td)
}

// runsAround is 41 complete runs of two spans in one request, run 21 the
// poisoned one in the middle.
func runsAround() ptrace.Traces {
	var sp []span
	for i := 1; i <= 41; i++ {
		sp = append(sp, root(i), span{trace: i, n: 1, parent: 0})
	}
	return spans(sp...)
}

// A run the next consumer keeps refusing while it takes others holds none
// of them: after a few refusals the flush is offered run by run, the 40
// others are taken at once, and past forward_retry_limit the refused run
// is parked in the write-ahead log (out of the heap, counted) and offered
// again later; once taken its record goes.
func TestRefusedRunDoesNotHoldOthers(t *testing.T) {
	fs := &fileStorage{Dir: t.TempDir()}
	cfg := walConfig()
	cfg.NumShards = 1
	cfg.MaxRunDuration = 20 * time.Millisecond
	cfg.ForwardRetryLimit = 300 * time.Millisecond
	next := &poisonConsumer{poison: 21}
	next.refusePoison.Store(true)
	h := start(t, cfg, hostWith{walID: fs}, func(p *argusProcessor) { next.Traces = p.next; p.next = next })
	h.consume(t, runsAround())

	require.Eventually(t, func() bool { return h.sink.SpanCount() == 80 }, 5*time.Second, 5*time.Millisecond,
		"the 40 other runs are taken while the poisoned one is refused")
	require.Eventually(t, func() bool { return h.sum(t, metadata.MetricRunsParked) == 1 }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return h.p.budget.held() == 0 }, 5*time.Second, 5*time.Millisecond,
		"a parked run leaves the heap")
	require.Eventually(t, func() bool { return len(storedRecords(t, fs)) == 1 }, 5*time.Second, 5*time.Millisecond,
		"the parked run is one record in the log, the others' are deleted")
	assert.EqualValues(t, 0, h.sum(t, metadata.MetricForwardErrors), "nothing dropped")

	// Offered again after forward_retry_limit, parked again while refused.
	calls := next.poisonCalls.Load()
	require.Eventually(t, func() bool { return next.poisonCalls.Load() > calls }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return h.sum(t, metadata.MetricRunsParked) >= 2 }, 5*time.Second, 5*time.Millisecond)

	// Taken at last: delivered whole, its record deleted.
	next.refusePoison.Store(false)
	h.waitSpans(t, 82)
	require.Eventually(t, func() bool { return len(storedRecords(t, fs)) == 0 }, 5*time.Second, 5*time.Millisecond)
	assert.EqualValues(t, 0, h.sum(t, metadata.MetricForwardErrors))
}

// While the next consumer takes nothing (the database is down) nothing is
// parked or dropped however long it lasts: the spans stay held, records
// and all, and go once it takes them again.
func TestRefusingEverythingParksNothing(t *testing.T) {
	for _, withWAL := range []bool{true, false} {
		name := map[bool]string{true: "wal", false: "no wal"}[withWAL]
		t.Run(name, func(t *testing.T) {
			fs := &fileStorage{Dir: t.TempDir()}
			cfg := testConfig()
			var host hostWith
			if withWAL {
				cfg, host = walConfig(), hostWith{walID: fs}
			}
			cfg.NumShards = 1
			cfg.MaxRunDuration = 20 * time.Millisecond
			cfg.ForwardRetryLimit = 50 * time.Millisecond
			next := &poisonConsumer{poison: 21}
			next.all.Store(true)
			h := start(t, cfg, host, func(p *argusProcessor) { next.Traces = p.next; p.next = next })
			h.consume(t, runsAround())
			require.Eventually(t, func() bool { return h.sum(t, metadata.MetricForwardRetries) >= 50 }, 10*time.Second, 5*time.Millisecond)
			time.Sleep(4 * cfg.ForwardRetryLimit)
			assert.EqualValues(t, 0, h.sum(t, metadata.MetricRunsParked))
			assert.EqualValues(t, 0, h.sum(t, metadata.MetricForwardErrors))
			assert.Positive(t, h.p.budget.held(), "held, counted in max_bytes")
			if withWAL {
				assert.Len(t, storedRecords(t, fs), 41, "the records of the 41 runs stay")
			}
			next.all.Store(false)
			h.waitSpans(t, 82)
			require.Eventually(t, func() bool { return h.p.budget.held() == 0 }, 5*time.Second, 5*time.Millisecond)
		})
	}
}

// Without a write-ahead log a run refused for forward_retry_limit while
// others are taken is dropped and counted; the others are delivered.
func TestRefusedRunWithoutWALIsDropped(t *testing.T) {
	cfg := testConfig()
	cfg.NumShards = 1
	cfg.MaxRunDuration = 20 * time.Millisecond
	cfg.ForwardRetryLimit = 100 * time.Millisecond
	next := &poisonConsumer{poison: 21}
	next.refusePoison.Store(true)
	h := start(t, cfg, nil, func(p *argusProcessor) { next.Traces = p.next; p.next = next })
	h.consume(t, runsAround())
	h.waitSpans(t, 80)
	require.Eventually(t, func() bool { return h.sum(t, metadata.MetricForwardErrors) == 2 }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return h.p.budget.held() == 0 }, 5*time.Second, 5*time.Millisecond)
	assert.EqualValues(t, 0, h.sum(t, metadata.MetricRunsParked))
	calls := next.poisonCalls.Load()
	time.Sleep(3 * cfg.ForwardRetryLimit)
	assert.Equal(t, calls, next.poisonCalls.Load(), "not retried after it was dropped")
}

package argusdetector

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/arguslabs/argus-otel/internal/annotation"
	"github.com/arguslabs/argus-otel/processor/argusdetector/internal/metadata"
)

// clockShard is a shard driven by hand: no goroutine, no wall clock.
type clockShard struct {
	*shard
	tick uint64
	sink *consumertest.TracesSink
}

func newClockShard(t *testing.T, cfg *Config, maxTraces int, maxBytes int64, late int) *clockShard {
	t.Helper()
	sink := new(consumertest.TracesSink)
	p, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	p.mapRuns = stubMapper
	p.baselines, err = startBaselines(context.Background(), componenttest.NewNopHost(), p)
	require.NoError(t, err)
	p.shards = make([]*shard, 1)
	cs := &clockShard{sink: sink, tick: 1}
	cs.shard = newShard(p, maxTraces, maxBytes, late, 1<<40)
	cs.shard.now = func() uint64 { return cs.tick }
	p.shards[0] = cs.shard
	return cs
}

// feed splits td the way ConsumeTraces does and hands it to the shard.
func (cs *clockShard) feed(t *testing.T, sp ...span) {
	t.Helper()
	parts, _ := cs.p.split(spans(sp...))
	var n int64
	for _, part := range parts[0] {
		n += part.bytes
	}
	require.NoError(t, cs.p.budget.acquire(context.Background(), n, nil, func() {}))
	cs.add(parts[0])
	cs.flush()
}

// advance moves the clock to tick and runs expiry the way the ticker would.
func (cs *clockShard) advance(tick uint64) {
	cs.tick = tick
	cs.expire(tick)
	cs.flush()
}

func ringConfig() *Config {
	cfg := testConfig()
	cfg.Tick = 100 * time.Millisecond
	cfg.MaxRunDuration = time.Second             // 10 ticks
	cfg.RootQuietPeriod = 300 * time.Millisecond // 3 ticks
	return cfg
}

func TestRingDecisionWaitIsMeasuredFromTheFirstSpan(t *testing.T) {
	cs := newClockShard(t, ringConfig(), 100, 1<<30, 100)
	cs.feed(t, span{trace: 1, n: 1, parent: 0})
	cs.advance(5)
	cs.feed(t, span{trace: 1, n: 2, parent: 0}) // more spans do not push it back
	cs.advance(11)
	assert.Equal(t, 0, cs.sink.SpanCount(), "released before decision_wait had passed")
	cs.advance(12) // first span at tick 1: due after 10 full ticks
	assert.Equal(t, 2, cs.sink.SpanCount())
	assert.Empty(t, cs.traces)
}

func TestRingRootQuietPeriodRestartsOnNewSpans(t *testing.T) {
	cs := newClockShard(t, ringConfig(), 100, 1<<30, 100)
	cs.feed(t, root(1))
	cs.advance(3)
	cs.feed(t, span{trace: 1, n: 1, parent: 0}) // quiet period starts over at tick 3
	cs.advance(5)
	cs.feed(t, span{trace: 1, n: 2, parent: 0}) // and again at tick 5
	cs.advance(8)
	assert.Equal(t, 0, cs.sink.SpanCount(), "the root was never quiet for 3 ticks")
	cs.advance(9)
	assert.Equal(t, 3, cs.sink.SpanCount())
	// Only the quiet entry released it; the decision_wait entry later finds nothing.
	cs.advance(30)
	assert.Equal(t, 3, cs.sink.SpanCount())
}

func TestRingSpansBeforeTheRootDoNotStartTheQuietPeriod(t *testing.T) {
	cs := newClockShard(t, ringConfig(), 100, 1<<30, 100)
	cs.feed(t, span{trace: 1, n: 1, parent: 0})
	cs.advance(8)
	assert.Equal(t, 0, cs.sink.SpanCount())
	cs.feed(t, root(1))
	cs.advance(11)
	assert.Equal(t, 0, cs.sink.SpanCount(), "root arrived at tick 8: quiet until tick 12")
	cs.advance(12)
	assert.Equal(t, 2, cs.sink.SpanCount())
}

// A shard that stalls for longer than a turn of the ring still releases
// what is due and keeps what is not.
func TestRingCatchesUpAfterAStall(t *testing.T) {
	cs := newClockShard(t, ringConfig(), 100, 1<<30, 100)
	cs.feed(t, span{trace: 1, n: 1, parent: 0}) // due at 12
	cs.tick = 40                                // the shard was busy; no expiry ran
	cs.feed(t, span{trace: 2, n: 1, parent: 0}) // due at 51
	cs.advance(45)
	got := forwarded(cs.sink)
	assert.Contains(t, got, traceID(1))
	assert.NotContains(t, got, traceID(2))
	cs.advance(51)
	assert.Contains(t, forwarded(cs.sink), traceID(2))
}

// A trace id that comes back after its id left the late cache is buffered
// as a new trace; entries of the old one must not release it early.
func TestRingStaleEntriesIgnored(t *testing.T) {
	cs := newClockShard(t, ringConfig(), 100, 1<<30, 0) // no late cache
	cs.feed(t, root(1))
	cs.advance(5) // released by the quiet period; its wait entry stays in the ring
	require.Equal(t, 1, cs.sink.SpanCount())
	cs.advance(6)
	cs.feed(t, span{trace: 1, n: 5, parent: 0}) // same id again, due at 17
	cs.advance(12)                              // the first incarnation's wait entry fires here
	assert.Equal(t, 1, cs.sink.SpanCount())
	cs.advance(17)
	assert.Equal(t, 2, cs.sink.SpanCount())
}

func TestLateCacheIsBounded(t *testing.T) {
	c := newIDCache(3)
	for i := 1; i <= 5; i++ {
		c.add(traceID(i))
	}
	assert.False(t, c.contains(traceID(1)))
	assert.False(t, c.contains(traceID(2)))
	for i := 3; i <= 5; i++ {
		assert.True(t, c.contains(traceID(i)))
	}
	assert.Len(t, c.set, 3)
	c.add(traceID(5)) // already there: nothing moves
	assert.True(t, c.contains(traceID(3)))

	off := newIDCache(0)
	off.add(traceID(1))
	assert.False(t, off.contains(traceID(1)))
}

func TestShardOfSpreadsSequentialIDs(t *testing.T) {
	counts := make([]int, 8)
	for i := 0; i < 8000; i++ {
		counts[shardOf(traceID(i), 8)]++
	}
	for i, c := range counts {
		assert.InDelta(t, 1000, c, 200, "shard %d", i)
	}
}

// A trace whose root quiet period passed while the shard was busy (the
// ring had not looked yet) leaves for that reason when room is needed.
// Evicted early, a trace is marked partial only when its root had not
// arrived: with the root the run is whole but for rare stragglers.
func TestEvictionPartialOnlyWithoutRoot(t *testing.T) {
	cs := newClockShard(t, ringConfig(), 2, 1<<30, 100)
	cs.feed(t, root(1), span{trace: 1, n: 1, parent: 0})
	cs.tick = 9                                 // quiet period (3 ticks) over; expire has not run
	cs.feed(t, span{trace: 2, n: 1, parent: 0}) // no root yet
	cs.feed(t, root(3))                         // count bound 2: trace 1 must leave
	got := forwarded(cs.sink)
	require.Contains(t, got, traceID(1))
	assertPartialRoot(t, got[traceID(1)].spans, false)

	cs.feed(t, root(4)) // trace 2, without its root, is evicted: partial
	got = forwarded(cs.sink)
	require.Contains(t, got, traceID(2))
	require.Len(t, got[traceID(2)].spans, 1)
	v, ok := got[traceID(2)].spans[0].Attributes().Get(annotation.AttrPartial)
	require.True(t, ok && v.Bool(), "a trace evicted without its root is partial")

	cs.feed(t, root(5)) // trace 3 has its root, within its period: evicted, whole
	got = forwarded(cs.sink)
	require.Contains(t, got, traceID(3))
	assertPartialRoot(t, got[traceID(3)].spans, false)
}

package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/pkg/audit"
)

// The tests of issue #18: what a service calling LogEvent can rely on.

// TestCallerMayReuseMetadata: a service that changes or reuses its
// Metadata map (and what it holds) after LogEvent returns neither races
// the client (run with -race; without it the old client crashed with
// "concurrent map iteration and map write") nor changes what is stored.
func TestCallerMayReuseMetadata(t *testing.T) {
	base := startAPI(t, "")
	c := audit.NewClient(base, fast, audit.WithBatchSize(7), audit.WithFlushInterval(time.Millisecond))
	const n = 300
	md := map[string]any{"tags": []any{"a"}}
	for i := range n {
		md["seq"] = i
		md["tags"].([]any)[0] = fmt.Sprint("t", i)
		e := ev("reuse", fmt.Sprint("u", i))
		e.Metadata = md
		require.True(t, c.LogEvent(context.Background(), e))
		// Right after the call, while the workers encode and send.
		md["seq"] = -1
		md["tags"].([]any)[0] = "changed"
		md[fmt.Sprint("k", i%5)] = i
		delete(md, fmt.Sprint("k", (i+2)%5))
	}
	closeNow(t, c)
	got := query(t, base, "reuse")
	require.Equal(t, n, got.Total)
	for _, l := range got.Logs {
		var m struct {
			Seq  int      `json:"seq"`
			Tags []string `json:"tags"`
		}
		require.NoError(t, json.Unmarshal(l.Metadata, &m))
		want := strings.TrimPrefix(l.ActorID, "u")
		assert.Equal(t, want, fmt.Sprint(m.Seq), "metadata as it was at the call")
		assert.Equal(t, []string{"t" + want}, m.Tags)
	}
	assert.Equal(t, uint64(n), c.Stats().Delivered)
}

// TestUnencodableEventRefusedAlone: an event whose Metadata cannot be
// encoded as JSON (NaN, ±Inf, a func, a channel) is refused at the call,
// with the reason, and counted Invalid; the valid events around it go out
// in one batch and are all stored.
func TestUnencodableEventRefusedAlone(t *testing.T) {
	base := startAPI(t, "")
	p := newProxy(t, base)
	var logs logBuffer
	c := audit.NewClient(p.URL, fast, audit.WithWorkers(1), audit.WithBatchSize(13), audit.WithFlushInterval(time.Hour),
		audit.WithLogger(logs.logger()))
	bad := []struct {
		v    any
		want string
	}{
		{math.NaN(), "unsupported value: NaN"}, {math.Inf(1), "unsupported value: +Inf"},
		{math.Inf(-1), "unsupported value: -Inf"}, {func() {}, "unsupported type: func()"},
		{make(chan int), "unsupported type: chan int"},
	}
	accepted := 0
	for i := range 9 {
		if c.LogEvent(context.Background(), ev("encode", fmt.Sprint("ok-", i))) {
			accepted++
		}
		if i < len(bad) {
			e := ev("encode", fmt.Sprint("bad-", i))
			e.Metadata = map[string]any{"score": bad[i].v}
			err := c.Enqueue(context.Background(), e)
			require.ErrorIs(t, err, audit.ErrInvalidEvent)
			assert.Contains(t, err.Error(), bad[i].want)
			assert.False(t, c.LogEvent(context.Background(), e), "LogEvent refuses it too")
		}
	}
	require.ErrorIs(t, c.Enqueue(context.Background(), nil), audit.ErrInvalidEvent)
	closeNow(t, c)
	assert.Equal(t, 9, accepted)
	assert.Equal(t, []int{9}, p.sizes(), "one request, the valid events only")
	assert.Equal(t, 9, query(t, base, "encode").Total, "the valid events are stored")
	assert.Equal(t, audit.Stats{Delivered: 9, Invalid: uint64(2*len(bad) + 1)}, c.Stats())
	assert.Contains(t, logs.String(), "unsupported value: NaN", "the first reason is logged")
	assert.Equal(t, 1, logs.lines(), "rate-limited")
}

// TestLargeMultiStatusAnswer: 100 events with 50 kB of metadata each, one
// of them invalid: the server stores 99. The client asks for the compact
// answer (failures only) and counts 99 delivered and 1 rejected. A server
// that ignores the ask answers with every stored record, over 4 MiB: the
// client resends the batch in halves, whose answers it reads; what the
// first request stored comes back 409 and counts delivered, never twice.
func TestLargeMultiStatusAnswer(t *testing.T) {
	for _, ignoresPrefer := range []bool{false, true} {
		t.Run(fmt.Sprint("ignoresPrefer=", ignoresPrefer), func(t *testing.T) {
			base := startAPI(t, "")
			p := newProxy(t, base)
			p.dropPrefer = ignoresPrefer
			c := audit.NewClient(p.URL, fast, audit.WithWorkers(1), audit.WithBatchSize(100), audit.WithFlushInterval(time.Hour))
			for i := range 100 {
				e := ev("large", fmt.Sprint("g", i))
				e.Metadata = map[string]any{"pad": strings.Repeat("x", 50_000)}
				if i == 42 {
					e.ActorType = "ROBOT"
				}
				require.True(t, c.LogEvent(context.Background(), e))
			}
			closeNow(t, c)
			assert.Equal(t, 99, query(t, base, "large").Total)
			assert.Equal(t, audit.Stats{Delivered: 99, Rejected: 1}, c.Stats())
			if ignoresPrefer {
				assert.Equal(t, []int{100, 50, 50}, p.sizes(), "halved once")
			} else {
				assert.Equal(t, []int{100}, p.sizes(), "one request")
			}
		})
	}
}

// TestDefaultRetryOutlivesOutage: with the default retry policy, an outage
// of 4 s (the server's connections are cut) loses no accepted event.
func TestDefaultRetryOutlivesOutage(t *testing.T) {
	base := startAPI(t, "")
	p := newProxy(t, base)
	p.downFor(4 * time.Second)
	c := audit.NewClient(p.URL)
	for i := range 1000 {
		require.True(t, c.LogEvent(context.Background(), ev("outage", fmt.Sprint("o", i))))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, c.Close(ctx))
	assert.Equal(t, 1000, query(t, base, "outage").Total)
	assert.Equal(t, audit.Stats{Delivered: 1000}, c.Stats())
	assert.Greater(t, p.refused(), 2, "the outage was seen")
}

// TestOutageKeepsWhatTheQueueHolds: during an outage the client keeps
// what it accepted (the queue, plus a batch per worker being retried) and
// refuses the rest at the call; after the outage every accepted event is
// stored. Fast backoff stands for minutes: hundreds of attempts.
func TestOutageKeepsWhatTheQueueHolds(t *testing.T) {
	base := startAPI(t, "")
	p := newProxy(t, base)
	p.downFor(3 * time.Second)
	c := audit.NewClient(p.URL, audit.WithRetry(0, time.Millisecond, 3*time.Millisecond),
		audit.WithQueueSize(300), audit.WithBatchSize(50), audit.WithWorkers(2), audit.WithFlushInterval(time.Millisecond))
	accepted := 0
	for i := range 1000 {
		if c.LogEvent(context.Background(), ev("kept", fmt.Sprint("k", i))) {
			accepted++
		}
		if i == 100 {
			// Let the workers take their batches: they retry them meanwhile.
			require.Eventually(t, func() bool { return p.refused() >= 2 }, 10*time.Second, time.Millisecond)
		}
	}
	assert.LessOrEqual(t, accepted, 300+2*50, "bounded by the queue")
	assert.GreaterOrEqual(t, accepted, 300)
	closeNow(t, c)
	assert.Greater(t, p.refused(), 50, "many attempts, none given up")
	assert.Equal(t, accepted, query(t, base, "kept").Total)
	assert.Equal(t, audit.Stats{Delivered: uint64(accepted), Dropped: uint64(1000 - accepted)}, c.Stats())
}

// TestRetryWindowEnds: nothing is retried without bound. With no limit on
// attempts, an event is retried as long as its window lasts, and given up
// (Failed, logged) once the window has passed, without waiting for Close.
// The attempts are counted under a window no test outlasts: on a loaded
// machine one attempt can take 300 ms, so how many fit in a short window
// says nothing about a limit.
func TestRetryWindowEnds(t *testing.T) {
	p := newProxy(t, startAPI(t, ""))
	p.downFor(time.Hour)
	retry := audit.WithRetry(0, time.Millisecond, 5*time.Millisecond)

	long := audit.NewClient(p.URL, retry, audit.WithRetryWindow(time.Hour), audit.WithFlushInterval(time.Millisecond))
	long.LogEvent(context.Background(), ev("window", "long"))
	require.Eventually(t, func() bool { return p.refused() > 4 }, 30*time.Second, time.Millisecond)
	assert.Zero(t, long.Stats().Failed, "more attempts than any fixed count would give, none given up")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, long.Close(ctx), context.DeadlineExceeded, "still retrying at Close")

	var logs logBuffer
	c := audit.NewClient(p.URL, retry, audit.WithRetryWindow(300*time.Millisecond),
		audit.WithFlushInterval(time.Millisecond), audit.WithLogger(logs.logger()))
	start, before := time.Now(), p.refused()
	c.LogEvent(context.Background(), ev("window", "a"))
	c.LogEvent(context.Background(), ev("window", "b"))
	require.Eventually(t, func() bool { return c.Stats().Failed == 2 }, 10*time.Second, time.Millisecond)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	assert.Greater(t, p.refused(), before, "tried before given up")
	closeNow(t, c)
	assert.Equal(t, audit.Stats{Failed: 2}, c.Stats())
	assert.Contains(t, logs.String(), "not delivered after retries")
}

// TestCloseDuringOutage: a process that exits during an outage loses what
// the client still holds; Close says how many and counts them Failed.
func TestCloseDuringOutage(t *testing.T) {
	p := newProxy(t, startAPI(t, ""))
	p.downFor(time.Hour)
	c := audit.NewClient(p.URL, audit.WithFlushInterval(time.Millisecond))
	for i := range 50 {
		require.True(t, c.LogEvent(context.Background(), ev("exit", fmt.Sprint("x", i))))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := c.Close(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "50 events abandoned")
	assert.Equal(t, audit.Stats{Failed: 50}, c.Stats())
}

// TestQueueBytesBound: the bytes held are bounded too, not only the
// count; an event larger than the whole bound is invalid.
func TestQueueBytesBound(t *testing.T) {
	base := startAPI(t, "")
	p := newProxy(t, base)
	p.block = make(chan struct{})
	c := audit.NewClient(p.URL, fast, audit.WithMaxQueueBytes(4000), audit.WithBatchSize(1), audit.WithWorkers(1))
	e := ev("bytes", "first")
	e.Metadata = map[string]any{"pad": strings.Repeat("p", 900)} // ~1.1 kB as JSON
	require.True(t, c.LogEvent(context.Background(), e))
	<-p.arrived // held by the worker, still counted
	accepted := 1
	for i := range 10 {
		e.ActorID = fmt.Sprint("b", i)
		if c.LogEvent(context.Background(), e) {
			accepted++
		}
	}
	assert.Equal(t, 3, accepted, "three ~1 kB events fit in 4000 bytes")
	huge := ev("bytes", "huge")
	huge.Metadata = map[string]any{"pad": strings.Repeat("h", 5000)}
	require.ErrorIs(t, c.Enqueue(context.Background(), huge), audit.ErrInvalidEvent)
	close(p.block)
	closeNow(t, c)
	assert.Equal(t, 3, query(t, base, "bytes").Total)
	assert.Equal(t, audit.Stats{Delivered: 3, Dropped: 8, Invalid: 1}, c.Stats())

	// Settled events free their bytes: the same client shape takes more later.
	p2 := newProxy(t, base)
	c = audit.NewClient(p2.URL, fast, audit.WithMaxQueueBytes(4000), audit.WithBatchSize(1), audit.WithWorkers(1))
	for i := range 20 {
		e.ActorID = fmt.Sprint("later", i)
		require.True(t, c.LogEvent(context.Background(), e))
		require.Eventually(t, func() bool { return c.Stats().Delivered == uint64(i+1) }, 10*time.Second, time.Millisecond)
	}
	closeNow(t, c)
}

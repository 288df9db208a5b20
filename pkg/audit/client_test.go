package audit_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/arguslabs/argus-otel/extension/argusapi"
	"github.com/arguslabs/argus-otel/pkg/audit"
)

func TestDeliversAndBatches(t *testing.T) {
	base := startAPI(t, "")
	p := newProxy(t, base)
	c := audit.NewClient(p.URL, audit.WithBatchSize(10), audit.WithFlushInterval(time.Hour), audit.WithWorkers(1))
	require.True(t, c.IsEnabled())
	for i := range 25 {
		require.True(t, c.LogEvent(context.Background(), ev("batching", fmt.Sprint("a", i))))
	}
	// Two full batches go out at once; the partial one waits (an hour)...
	require.Eventually(t, func() bool { return query(t, base, "batching").Total == 20 }, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, []int{10, 10}, p.sizes())
	// ...until Close flushes it.
	closeNow(t, c)
	assert.Equal(t, []int{10, 10, 5}, p.sizes())
	got := query(t, base, "batching")
	require.Equal(t, 25, got.Total)
	assert.Equal(t, audit.Stats{Delivered: 25}, c.Stats())

	l := got.Logs[0]
	assert.Len(t, l.ID, 36, "client-assigned UUID")
	assert.True(t, l.Timestamp.Equal(t0))
	assert.Equal(t, "SERVICE", l.ActorType)
	assert.Equal(t, "RESOURCE", l.TargetType)
	assert.Equal(t, "r-1", l.TargetID)
	assert.JSONEq(t, `{"n":1}`, string(l.Metadata))
	assert.False(t, l.CreatedAt.IsZero())

	// After Close: nothing is queued.
	assert.False(t, c.LogEvent(context.Background(), ev("batching", "late")))
	assert.Equal(t, uint64(1), c.Dropped())
	require.NoError(t, c.Close(context.Background()), "Close twice")
}

func TestFlushInterval(t *testing.T) {
	base := startAPI(t, "")
	c := audit.NewClient(base, audit.WithFlushInterval(20*time.Millisecond))
	defer closeNow(t, c)
	require.True(t, c.LogEvent(context.Background(), ev("interval", "x")))
	// A lone event goes out after the flush interval, without Close.
	require.Eventually(t, func() bool { return query(t, base, "interval").Total == 1 }, 10*time.Second, 5*time.Millisecond)
}

// TestDropWhenFull: while the server's handler blocks, LogEvent keeps
// returning at once (a blocking call would hang this test), queues up to
// the bound and drops the rest.
func TestDropWhenFull(t *testing.T) {
	base := startAPI(t, "")
	p := newProxy(t, base)
	p.block = make(chan struct{})
	c := audit.NewClient(p.URL, audit.WithQueueSize(5), audit.WithBatchSize(1), audit.WithWorkers(1))
	require.True(t, c.LogEvent(context.Background(), ev("full", "first")))
	<-p.arrived // the only worker is now stuck in the blocked handler

	queued := 0
	for i := range 100 {
		if c.LogEvent(context.Background(), ev("full", fmt.Sprint("e", i))) {
			queued++
		}
	}
	assert.Equal(t, 5, queued, "the queue holds 5")
	assert.Equal(t, uint64(95), c.Dropped())

	close(p.block)
	closeNow(t, c)
	assert.Equal(t, 6, query(t, base, "full").Total)
	assert.Equal(t, audit.Stats{Delivered: 6, Dropped: 95}, c.Stats())
}

func TestRetryThenSuccess(t *testing.T) {
	base := startAPI(t, "")
	p := newProxy(t, base)
	p.fail = 2 // two 503s, then through
	c := audit.NewClient(p.URL, fast, audit.WithWorkers(1))
	for i := range 3 {
		c.LogEvent(context.Background(), ev("retry", fmt.Sprint("r", i)))
	}
	closeNow(t, c)
	assert.Equal(t, []int{3, 3, 3}, p.sizes(), "the same batch three times")
	assert.Equal(t, p.ids[0], p.ids[2], "a retry resends the same ids")
	assert.Equal(t, 3, query(t, base, "retry").Total)
	assert.Equal(t, audit.Stats{Delivered: 3}, c.Stats())
}

// TestRetryAfterLostAnswer: the server stored the batch but the answer was
// lost; the retry finds the ids stored (409) and nothing is duplicated.
func TestRetryAfterLostAnswer(t *testing.T) {
	base := startAPI(t, "")
	p := newProxy(t, base)
	p.lose = 1
	c := audit.NewClient(p.URL, fast, audit.WithWorkers(1))
	for i := range 4 {
		c.LogEvent(context.Background(), ev("lost", fmt.Sprint("l", i)))
	}
	closeNow(t, c)
	assert.Equal(t, []int{4, 4}, p.sizes())
	assert.Equal(t, 4, query(t, base, "lost").Total, "stored once")
	assert.Equal(t, audit.Stats{Delivered: 4}, c.Stats())
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	var logs logBuffer
	// Nothing listens there: every attempt is a network error.
	c := audit.NewClient("http://"+freeAddr(t), fast, audit.WithLogger(logs.logger()))
	c.LogEvent(context.Background(), ev("down", "x"))
	c.LogEvent(context.Background(), ev("down", "y"))
	closeNow(t, c)
	assert.Equal(t, audit.Stats{Failed: 2}, c.Stats())
	assert.Contains(t, logs.String(), "not delivered after retries")
	assert.Contains(t, logs.String(), "attempts=4")
}

// TestInvalidIsPermanent: the server's 400s are not retried and are logged
// with the reason; valid events of the same batch are stored.
func TestInvalidIsPermanent(t *testing.T) {
	base := startAPI(t, "")
	p := newProxy(t, base)
	var logs logBuffer
	c := audit.NewClient(p.URL, fast, audit.WithWorkers(1), audit.WithLogger(logs.logger()))
	bad := ev("invalid", "robot")
	bad.ActorType = "ROBOT"
	c.LogEvent(context.Background(), ev("invalid", "ok-1"))
	c.LogEvent(context.Background(), bad)
	c.LogEvent(context.Background(), ev("invalid", "ok-2"))
	closeNow(t, c)
	assert.Equal(t, []int{3}, p.sizes(), "one request: a 207, nothing retried")
	assert.Equal(t, 2, query(t, base, "invalid").Total)
	assert.Equal(t, audit.Stats{Delivered: 2, Rejected: 1}, c.Stats())
	assert.Contains(t, logs.String(), "refused by the server")
	assert.Contains(t, logs.String(), "ROBOT")
	assert.Equal(t, 1, logs.lines())

	// A batch where everything is invalid: a 400, not retried either.
	c = audit.NewClient(p.URL, fast, audit.WithLogger(logs.logger()))
	missing := ev("invalid", "")
	c.LogEvent(context.Background(), missing)
	closeNow(t, c)
	assert.Len(t, p.sizes(), 2)
	assert.Equal(t, audit.Stats{Rejected: 1}, c.Stats())
	assert.Contains(t, logs.String(), "actorId is required")
}

func TestAuthToken(t *testing.T) {
	base := startAPI(t, "s3cret")
	p := newProxy(t, base)
	c := audit.NewClient(p.URL, fast, audit.WithAuthToken("s3cret"))
	c.LogEvent(context.Background(), ev("auth", "x"))
	closeNow(t, c)
	assert.Equal(t, []string{"Bearer s3cret"}, p.auth)
	assert.Equal(t, 1, query(t, base, "auth", "Authorization", "Bearer s3cret").Total)
	assert.Equal(t, audit.Stats{Delivered: 1}, c.Stats())

	// Without the token: 401, permanent, logged once.
	var logs logBuffer
	c = audit.NewClient(base, fast, audit.WithLogger(logs.logger()))
	c.LogEvent(context.Background(), ev("auth", "y"))
	closeNow(t, c)
	assert.Equal(t, audit.Stats{Rejected: 1}, c.Stats())
	assert.Contains(t, logs.String(), "HTTP 401")
	assert.Equal(t, 1, query(t, base, "auth", "Authorization", "Bearer s3cret").Total)
}

func TestCloseRespectsContext(t *testing.T) {
	base := startAPI(t, "")
	p := newProxy(t, base)
	p.block = make(chan struct{})
	defer close(p.block)
	c := audit.NewClient(p.URL, audit.WithWorkers(1), audit.WithBatchSize(1))
	c.LogEvent(context.Background(), ev("stuck", "a"))
	c.LogEvent(context.Background(), ev("stuck", "b"))
	<-p.arrived
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := c.Close(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "2 events abandoned")
	assert.Equal(t, uint64(2), c.Stats().Failed)
}

func TestDisabledClient(t *testing.T) {
	for _, u := range []string{"", "not a url", "ftp://host", "localhost:8889", "http://"} {
		var logs logBuffer
		c := audit.NewClient(u, audit.WithLogger(logs.logger()))
		assert.False(t, c.IsEnabled(), u)
		assert.False(t, c.LogEvent(context.Background(), ev("x", "y")), u)
		assert.Zero(t, c.Dropped(), "a disabled client drops nothing: it is off")
		assert.NoError(t, c.Close(context.Background()))
		if u != "" {
			assert.Contains(t, logs.String(), "disabled", u)
		} else {
			assert.Empty(t, logs.String(), "no URL is a choice, not an error")
		}
	}
	var c *audit.Client = audit.NewClient("http://127.0.0.1:1")
	assert.False(t, c.LogEvent(context.Background(), nil), "nil event")
	require.NoError(t, c.Close(context.Background()))
}

func TestGlobalAuditor(t *testing.T) {
	t.Cleanup(func() { audit.InitializeGlobalAudit(nil) })
	audit.InitializeGlobalAudit(nil)
	assert.Nil(t, audit.GlobalAuditor())
	assert.False(t, audit.LogAuditEvent(context.Background(), ev("global", "x")), "no global auditor")

	base := startAPI(t, "")
	c := audit.NewClient(base, fast)
	audit.InitializeGlobalAudit(c)
	assert.Same(t, c, audit.GlobalAuditor())
	assert.True(t, audit.LogAuditEvent(context.Background(), ev("global", "y")))
	closeNow(t, c)
	assert.Equal(t, 1, query(t, base, "global").Total)
}

func TestFillsDefaults(t *testing.T) {
	base := startAPI(t, "")
	c := audit.NewClient(base, fast)
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	e := ev("", "from-span")
	e.Timestamp = time.Time{}
	before := time.Now().Add(-time.Second)
	require.True(t, c.LogEvent(ctx, e))
	assert.Empty(t, e.ID, "the caller's event is not modified")
	e.ActorID = "changed after LogEvent"
	closeNow(t, c)
	got := query(t, base, tid.String())
	require.Equal(t, 1, got.Total, "the trace id comes from the span in ctx")
	assert.Equal(t, "from-span", got.Logs[0].ActorID, "LogEvent took a copy")
	assert.True(t, got.Logs[0].Timestamp.After(before))
}

// TestConcurrentUse: LogEvent from many goroutines racing Close; every
// call is accounted for (run with -race).
func TestConcurrentUse(t *testing.T) {
	base := startAPI(t, "")
	c := audit.NewClient(base, fast, audit.WithQueueSize(64), audit.WithBatchSize(16), audit.WithWorkers(3))
	var wg sync.WaitGroup
	var accepted atomic.Uint64
	const goroutines, each = 16, 50
	start := make(chan struct{})
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range each {
				if c.LogEvent(context.Background(), ev("race", fmt.Sprintf("g%d-%d", g, i))) {
					accepted.Add(1)
				}
			}
		}()
	}
	close(start)
	time.Sleep(time.Millisecond)
	closeNow(t, c)
	wg.Wait()
	st := c.Stats()
	assert.Equal(t, uint64(goroutines*each), st.Delivered+st.Dropped, "%+v", st)
	assert.Equal(t, accepted.Load(), st.Delivered)
	assert.Equal(t, int(st.Delivered), query(t, base, "race").Total)
}

// TestSplitsTooLargeBatches: a batch over the server's body limit (413) is
// halved until it fits; nothing is lost.
func TestSplitsTooLargeBatches(t *testing.T) {
	base := startAPIWith(t, "", func(cfg *argusapi.Config) { cfg.MaxRequestBodySize = 4096 })
	p := newProxy(t, base)
	c := audit.NewClient(p.URL, fast, audit.WithWorkers(1), audit.WithBatchSize(20), audit.WithFlushInterval(time.Hour))
	for i := range 20 {
		e := ev("split", fmt.Sprint("s", i))
		e.Metadata = map[string]any{"pad": strings.Repeat("p", 300)}
		c.LogEvent(context.Background(), e)
	}
	closeNow(t, c)
	sizes := p.sizes()
	assert.Equal(t, 20, sizes[0])
	assert.Greater(t, len(sizes), 3, "split at least twice: %v", sizes)
	assert.Equal(t, 20, query(t, base, "split").Total)
	assert.Equal(t, audit.Stats{Delivered: 20}, c.Stats())
}

// BenchmarkLogEvent is the cost a request pays to audit an event: the
// encoding and the enqueue (the server holds delivery, so the queue only
// fills; it is large enough that nothing is dropped).
func BenchmarkLogEvent(b *testing.B) {
	p := newProxy(b, startAPI(b, ""))
	p.block = make(chan struct{})
	defer close(p.block)
	c := audit.NewClient(p.URL, audit.WithQueueSize(max(b.N, 1)), audit.WithMaxQueueBytes(math.MaxInt),
		audit.WithWorkers(1), audit.WithBatchSize(1))
	e := ev("bench", "x")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.LogEvent(ctx, e)
	}
	b.StopTimer()
	if st := c.Stats(); st.Dropped+st.Invalid > 0 {
		b.Fatalf("not all queued: %+v", st)
	}
	cctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_ = c.Close(cctx) // abandon: delivery is not measured here
}

package argusdetector

import (
	"container/list"
	"context"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"go.uber.org/zap"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/annotation"
)

// Why a trace left the buffer (the reason attribute of traces_released).
const (
	reasonDecisionWait = "decision_wait"
	reasonRootQuiet    = "root_quiet"
	reasonEvicted      = "evicted"
	reasonShutdown     = "shutdown"
)

var reasonAttrs = map[string]metric.AddOption{}

func init() {
	for _, r := range []string{reasonDecisionWait, reasonRootQuiet, reasonEvicted, reasonShutdown} {
		reasonAttrs[r] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r)))
	}
}

// flushSpans and flushBytes bound what a shard collects before it hands
// released spans to the next consumer in one call. The byte bound keeps one
// request (an item of the exporter's queue, decoded and mapped as a whole)
// small when traces are large; a single larger trace still goes alone.
const (
	flushSpans = 8192
	flushBytes = 2 << 20
)

// A refused forward is retried after retryFirst, doubling up to retryMax.
const (
	retryFirst = 10 * time.Millisecond
	retryMax   = time.Second
)

// shutdownRetry bounds the retries of refused forwards at shutdown when the
// shutdown context has no deadline; what is still refused then stays in the
// write-ahead log for the next start.
const shutdownRetry = 30 * time.Second

// tracePart is the spans of one trace id taken from one ConsumeTraces batch.
type tracePart struct {
	id      pcommon.TraceID
	td      ptrace.Traces
	spans   int
	bytes   int64
	hasRoot bool
	seq     uint64 // its write-ahead log record; 0 when the log is off
}

// trace is one buffered trace.
type trace struct {
	id    pcommon.TraceID
	td    ptrace.Traces
	spans int
	bytes int64
	seqs  []uint64      // write-ahead log records of its spans
	elem  *list.Element // in shard.order
	// waitDue is the tick at which decision_wait has passed since the first span.
	waitDue uint64
	// rootSeen: the root span arrived. quietDue is the tick at which the
	// root quiet period ends (pushed back by every new span); quietEntry is
	// the due tick of the one ring entry watching it, 0 when none.
	rootSeen   bool
	quietDue   uint64
	quietEntry uint64
}

type entryKind uint8

const (
	entryWait entryKind = iota
	entryQuiet
)

// ringEntry asks the shard to look at a trace at tick due.
type ringEntry struct {
	id   pcommon.TraceID
	due  uint64
	kind entryKind
}

// shard owns the traces whose ids hash to it. Only its goroutine touches
// its state, so the hot path takes no lock; ConsumeTraces talks to it
// over the bounded channel in.
type shard struct {
	p  *argusProcessor
	in chan []tracePart
	// room wakes the shard when a sender waits for bytes of the budget.
	room chan struct{}

	stop    chan struct{}
	stopCtx context.Context // written before stop is closed
	done    chan struct{}

	traces    map[pcommon.TraceID]*trace
	order     list.List // *trace, oldest first: eviction order
	bytes     int64
	maxTraces int
	maxBytes  int64

	// The release ring: slot tick%len(ring) holds the entries due at that
	// tick, so a shard needs one ticker, not a timer per trace.
	ring       [][]ringEntry
	now        func() uint64 // current tick; tests drive it by hand
	lastTick   uint64
	waitTicks  uint64
	quietTicks uint64 // 0: root quiet period disabled
	resched    []ringEntry

	released *idCache // recently released ids, to recognise late spans

	ctx      context.Context // background, or the shutdown context
	out      ptrace.Traces   // released and late spans waiting to be forwarded
	outSpans int
	outBytes int64
	outSeqs  []uint64 // write-ahead log records of out
	stopping bool     // in shutdown: a refused forward keeps its records
}

func newShard(p *argusProcessor, maxTraces int, maxBytes int64, lateCache int) *shard {
	cfg := p.cfg
	waitTicks := ceilTicks(cfg.DecisionWait, cfg.Tick)
	quietTicks := uint64(0)
	if cfg.RootQuietPeriod > 0 {
		quietTicks = ceilTicks(cfg.RootQuietPeriod, cfg.Tick)
	}
	// Entries are scheduled at most max(wait, quiet)+1 ticks ahead.
	slots := max(waitTicks, quietTicks) + 2
	return &shard{
		p:          p,
		in:         make(chan []tracePart, shardQueueLen),
		room:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
		traces:     make(map[pcommon.TraceID]*trace),
		maxTraces:  maxTraces,
		maxBytes:   maxBytes,
		ring:       make([][]ringEntry, slots),
		waitTicks:  waitTicks,
		quietTicks: quietTicks,
		released:   newIDCache(lateCache),
		now:        wallTicks(time.Now(), cfg.Tick),
		ctx:        context.Background(),
		out:        ptrace.NewTraces(),
	}
}

// shardQueueLen bounds the batches waiting for a shard; their bytes are
// bounded by the budget.
const shardQueueLen = 64

func ceilTicks(d, tick time.Duration) uint64 {
	return uint64((d + tick - 1) / tick)
}

// wallTicks counts ticks from the wall clock, so a busy shard catches up
// instead of drifting. Ticks start at 1 so that 0 can mean "none".
func wallTicks(epoch time.Time, tick time.Duration) func() uint64 {
	return func() uint64 { return uint64(time.Since(epoch)/tick) + 1 }
}

func (s *shard) run() {
	defer close(s.done)
	ticker := time.NewTicker(s.p.cfg.Tick)
	defer ticker.Stop()
	for {
		select {
		case parts := <-s.in:
			s.add(parts)
		case <-ticker.C:
			s.expire(s.now())
		case <-s.room:
		case <-s.stop:
			s.shutdown()
			return
		}
		s.makeRoom()
		s.flush()
	}
}

// wake tells the shard that a sender waits for bytes (non-blocking: one
// pending wake-up is enough, the shard looks at the budget itself).
func (s *shard) wake() {
	select {
	case s.room <- struct{}{}:
	default:
	}
}

// makeRoom releases the oldest traces while a sender waits for bytes the
// budget lacks (beyond what the shards are already forwarding): new spans
// push old ones out, as the byte bound always did, instead of waiting for
// them to complete. A sender waits as long as detection and forwarding
// take, not for decision_wait.
func (s *shard) makeRoom() {
	if !s.p.budget.needRoom() {
		return
	}
	// Traces whose time came while the shard was busy (forwarding waits
	// for the database) leave first, for their own reason: they are
	// complete, and evicting them would cut their quiet period short.
	s.expire(s.now())
	for s.order.Len() > 0 && s.p.budget.needRoom() {
		s.evictOldest(s.now())
	}
}

// evictOldest releases the oldest buffered trace to make room. One whose
// root quiet period or decision_wait has already passed by the clock is
// released for that reason, not as evicted, even if the ring has
// not looked at it yet.
func (s *shard) evictOldest(now uint64) {
	t := s.order.Front().Value.(*trace)
	switch {
	case t.rootSeen && s.quietTicks > 0 && t.quietDue <= now:
		s.release(t, reasonRootQuiet)
	case t.waitDue <= now:
		s.release(t, reasonDecisionWait)
	default:
		s.release(t, reasonEvicted)
	}
}

// add buffers the parts of one batch; late parts are forwarded right away.
func (s *shard) add(parts []tracePart) {
	now := s.now()
	tel := s.p.tel
	for _, part := range parts {
		if s.released.contains(part.id) {
			markLate(part.td)
			if s.released.skipped(part.id) {
				annotation.MarkSkipped(part.td, annotation.SkipNotAgentRun)
			}
			tel.SpansLate.Add(context.Background(), int64(part.spans))
			s.emit(part.td, part.spans, part.bytes, part.seq)
			continue
		}
		t := s.traces[part.id]
		if t == nil {
			for len(s.traces) >= s.maxTraces {
				s.evictOldest(now)
			}
			t = &trace{id: part.id, td: ptrace.NewTraces(), waitDue: now + s.waitTicks + 1}
			t.elem = s.order.PushBack(t)
			s.traces[part.id] = t
			s.schedule(ringEntry{id: t.id, due: t.waitDue, kind: entryWait})
			tel.TracesInBuffer.Add(context.Background(), 1)
		}
		part.td.ResourceSpans().MoveAndAppendTo(t.td.ResourceSpans())
		if part.seq != 0 {
			t.seqs = append(t.seqs, part.seq)
		}
		t.spans += part.spans
		t.bytes += part.bytes
		s.bytes += part.bytes
		tel.BytesInBuffer.Add(context.Background(), part.bytes)

		t.rootSeen = t.rootSeen || part.hasRoot
		if s.quietTicks > 0 && t.rootSeen {
			t.quietDue = now + s.quietTicks + 1
			if t.quietEntry == 0 {
				t.quietEntry = t.quietDue
				s.schedule(ringEntry{id: t.id, due: t.quietDue, kind: entryQuiet})
			}
		}
		// Over the byte budget: release the oldest, possibly this very trace.
		for s.bytes > s.maxBytes && s.order.Len() > 0 {
			s.evictOldest(now)
		}
	}
}

func (s *shard) schedule(e ringEntry) {
	slot := e.due % uint64(len(s.ring))
	s.ring[slot] = append(s.ring[slot], e)
}

// expire releases the traces whose time has come, looking at every slot
// passed since the last call (at most one full turn of the ring).
func (s *shard) expire(now uint64) {
	if now <= s.lastTick {
		return
	}
	n := uint64(len(s.ring))
	from := s.lastTick + 1
	if now-s.lastTick > n {
		from = now - n + 1
	}
	s.lastTick = now
	for tk := from; tk <= now; tk++ {
		slot := s.ring[tk%n]
		kept := slot[:0]
		for _, e := range slot {
			if e.due > now {
				kept = append(kept, e) // scheduled a full turn ahead while we lagged
				continue
			}
			t := s.traces[e.id]
			if t == nil {
				continue // already released
			}
			switch {
			case e.kind == entryWait && t.waitDue == e.due:
				s.release(t, reasonDecisionWait)
			case e.kind == entryQuiet && t.quietEntry == e.due:
				if t.quietDue <= now {
					s.release(t, reasonRootQuiet)
				} else { // new spans came in: look again when the new period ends
					t.quietEntry = t.quietDue
					s.resched = append(s.resched, ringEntry{id: t.id, due: t.quietDue, kind: entryQuiet})
				}
			}
		}
		clear(slot[len(kept):]) // drop references held by the backing array
		s.ring[tk%n] = kept
	}
	for _, e := range s.resched {
		s.schedule(e)
	}
	s.resched = s.resched[:0]
}

// release takes a trace out of the buffer, runs detection on it and queues
// it for forwarding.
func (s *shard) release(t *trace, reason string) {
	delete(s.traces, t.id)
	s.order.Remove(t.elem)
	s.bytes -= t.bytes
	tel := s.p.tel
	ctx := context.Background()
	tel.TracesInBuffer.Add(ctx, -1)
	tel.BytesInBuffer.Add(ctx, -t.bytes)
	tel.TracesReleased.Add(ctx, 1, reasonAttrs[reason])
	s.released.add(t.id)

	// Past the shutdown deadline there is no time left for detection;
	// the spans are still handed on as they are. Released early (evicted,
	// shutdown), a trace is partial only if its root had not arrived: the
	// root ends last, so with it the run is whole but for rare stragglers,
	// which still arrive as late spans and are merged by the exporter.
	if s.ctx.Err() == nil {
		early := reason == reasonEvicted || reason == reasonShutdown
		if !s.p.analyze(t.td, early && !t.rootSeen) {
			s.released.markSkipped(t.id) // its late spans are skipped too
		}
	}
	s.emit(t.td, t.spans, t.bytes, t.seqs...)
}

// emit queues spans for the next consumer, flushing large collections.
func (s *shard) emit(td ptrace.Traces, spans int, bytes int64, seqs ...uint64) {
	td.ResourceSpans().MoveAndAppendTo(s.out.ResourceSpans())
	s.outSpans += spans
	s.outBytes += bytes
	s.p.budget.outgo(bytes)
	for _, seq := range seqs {
		if seq != 0 {
			s.outSeqs = append(s.outSeqs, seq)
		}
	}
	if s.outSpans >= flushSpans || s.outBytes >= flushBytes {
		s.flush()
	}
}

// flush hands the released spans to the next consumer. Until it takes them
// they stay held and counted in the budget, so a refusing exporter stops
// intake instead of losing acknowledged spans; their write-ahead log
// records are released only once they are forwarded, or dropped for good
// after a permanent refusal. Spans still refused at shutdown keep their
// records for the next Start.
func (s *shard) flush() {
	if s.outSpans == 0 {
		return
	}
	err := s.forward(s.out, s.outSpans)
	if err != nil && !consumererror.IsPermanent(err) && !s.stopping {
		return // shutdown began while retrying: shutdown flushes them again
	}
	if len(s.outSeqs) > 0 && (err == nil || consumererror.IsPermanent(err)) {
		s.p.wal.release(s.outSeqs...)
	}
	s.p.budget.forwarded(s.outBytes, s.outBytes)
	s.out, s.outSpans, s.outBytes = ptrace.NewTraces(), 0, 0
	s.outSeqs = s.outSeqs[:0]
}

// forward offers td to the next consumer until it is taken. A permanent
// refusal drops the spans (counted); any other refusal (the exporter's
// queue is full) is retried with backoff, until shutdown begins or, in
// shutdown, until its context ends (then the spans are counted as refused).
func (s *shard) forward(td ptrace.Traces, spans int) error {
	ctx := s.p.runCtx // cancelled when Shutdown begins, so a blocked call returns
	if s.stopping {
		ctx = s.ctx
	}
	wait := retryFirst
	for {
		err := s.p.next.ConsumeTraces(ctx, td)
		if err == nil {
			return nil
		}
		if consumererror.IsPermanent(err) {
			s.p.tel.ForwardErrors.Add(context.Background(), int64(spans))
			s.p.logRarely("next consumer rejected spans permanently; dropped", zap.Int("spans", spans), zap.Error(err))
			return err
		}
		s.p.tel.ForwardRetries.Add(context.Background(), 1)
		s.p.logRarely("next consumer refused spans; holding and retrying them", zap.Int("spans", spans), zap.Error(err))
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			if s.stopping {
				s.p.tel.ForwardErrors.Add(context.Background(), int64(spans))
			}
			return err
		}
		wait = min(2*wait, retryMax)
	}
}

// shutdown takes the batches still queued, then releases every trace.
func (s *shard) shutdown() {
	s.ctx = s.stopCtx
	if _, ok := s.ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		s.ctx, cancel = context.WithTimeout(s.ctx, shutdownRetry)
		defer cancel()
	}
	s.stopping = true
drain:
	for {
		select {
		case parts := <-s.in:
			s.add(parts)
		default:
			break drain
		}
	}
	for s.order.Len() > 0 {
		s.release(s.order.Front().Value.(*trace), reasonShutdown)
	}
	s.flush()
}

func markLate(td ptrace.Traces) {
	for span := range agentrun.Spans(td) {
		span.Attributes().PutBool(annotation.AttrLate, true)
	}
}

// idCache remembers the last n trace ids added (a ring plus a set), and
// which of them were skipped as no agent run.
type idCache struct {
	ids  []pcommon.TraceID
	next int
	full bool
	set  map[pcommon.TraceID]bool // id -> skipped
}

func newIDCache(n int) *idCache {
	return &idCache{ids: make([]pcommon.TraceID, n), set: make(map[pcommon.TraceID]bool, n)}
}

func (c *idCache) skipped(id pcommon.TraceID) bool { return c.set[id] }

// markSkipped records that a remembered id was skipped.
func (c *idCache) markSkipped(id pcommon.TraceID) {
	if _, ok := c.set[id]; ok {
		c.set[id] = true
	}
}

func (c *idCache) contains(id pcommon.TraceID) bool {
	_, ok := c.set[id]
	return ok
}

func (c *idCache) add(id pcommon.TraceID) {
	if len(c.ids) == 0 || c.contains(id) {
		return
	}
	if c.full {
		delete(c.set, c.ids[c.next])
	}
	c.ids[c.next] = id
	c.set[id] = false
	c.next++
	if c.next == len(c.ids) {
		c.next, c.full = 0, true
	}
}

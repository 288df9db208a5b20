package argusdetector

import (
	"container/list"
	"context"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/arguslabs/argus-otel/internal/annotation"
	"github.com/arguslabs/argus-otel/internal/pipeline"
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

// flushSpans bounds how many released spans a shard collects before it
// hands them to the next consumer in one call.
const flushSpans = 8192

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

	ctx      context.Context // for the next consumer: background, or the shutdown context
	out      ptrace.Traces   // released and late spans waiting to be forwarded
	outSpans int
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

// shardQueueLen bounds the batches waiting for a shard: a full queue makes
// ConsumeTraces wait (backpressure) instead of growing memory.
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
			s.flush()
		case <-ticker.C:
			s.expire(s.now())
			s.flush()
		case <-s.stop:
			s.shutdown()
			return
		}
	}
}

// add buffers the parts of one batch; late parts are forwarded right away.
func (s *shard) add(parts []tracePart) {
	now := s.now()
	tel := s.p.tel
	for _, part := range parts {
		if s.released.contains(part.id) {
			markLate(part.td)
			tel.SpansLate.Add(context.Background(), int64(part.spans))
			s.emit(part.td, part.spans, part.seq)
			continue
		}
		t := s.traces[part.id]
		if t == nil {
			for len(s.traces) >= s.maxTraces {
				s.release(s.order.Front().Value.(*trace), reasonEvicted)
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

		if s.quietTicks > 0 && (part.hasRoot || t.rootSeen) {
			t.rootSeen = true
			t.quietDue = now + s.quietTicks + 1
			if t.quietEntry == 0 {
				t.quietEntry = t.quietDue
				s.schedule(ringEntry{id: t.id, due: t.quietDue, kind: entryQuiet})
			}
		}
		// Over the byte budget: release the oldest, possibly this very trace.
		for s.bytes > s.maxBytes && s.order.Len() > 0 {
			s.release(s.order.Front().Value.(*trace), reasonEvicted)
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
	// the spans are still handed on as they are.
	if s.ctx.Err() == nil {
		s.p.analyze(t.td, reason == reasonEvicted || reason == reasonShutdown)
	}
	s.emit(t.td, t.spans, t.seqs...)
}

// emit queues spans for the next consumer, flushing large collections.
func (s *shard) emit(td ptrace.Traces, spans int, seqs ...uint64) {
	td.ResourceSpans().MoveAndAppendTo(s.out.ResourceSpans())
	s.outSpans += spans
	for _, seq := range seqs {
		if seq != 0 {
			s.outSeqs = append(s.outSeqs, seq)
		}
	}
	if s.outSpans >= flushSpans {
		s.flush()
	}
}

func (s *shard) flush() {
	if s.outSpans == 0 {
		return
	}
	td, n := s.out, s.outSpans
	s.out, s.outSpans = ptrace.NewTraces(), 0
	err := s.p.forward(s.ctx, td, n)
	if len(s.outSeqs) > 0 {
		// Forwarded: the next consumer (the exporter's queue) owns the spans.
		// Refused while running: they are dropped and counted, as without
		// the log, which would otherwise grow past the buffer. Refused in
		// shutdown (deadline): the records stay and the next Start replays
		// them.
		if err == nil || !s.stopping {
			s.p.wal.release(s.outSeqs...)
		}
		s.outSeqs = s.outSeqs[:0]
	}
}

// shutdown takes the batches still queued, then releases every trace.
func (s *shard) shutdown() {
	s.ctx = s.stopCtx
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
	for span := range pipeline.Spans(td) {
		span.Attributes().PutBool(annotation.AttrLate, true)
	}
}

// idCache remembers the last n trace ids added (a ring plus a set).
type idCache struct {
	ids  []pcommon.TraceID
	next int
	full bool
	set  map[pcommon.TraceID]struct{}
}

func newIDCache(n int) *idCache {
	return &idCache{ids: make([]pcommon.TraceID, n), set: make(map[pcommon.TraceID]struct{}, n)}
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
	c.set[id] = struct{}{}
	c.next++
	if c.next == len(c.ids) {
		c.next, c.full = 0, true
	}
}

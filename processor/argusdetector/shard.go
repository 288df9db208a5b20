package argusdetector

import (
	"container/list"
	"context"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"go.uber.org/zap"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/annotation"
)

// Why a run left the buffer (the reason attribute of traces_released).
const (
	reasonRootQuiet   = "root_quiet"
	reasonMaxDuration = "max_run_duration"
	reasonEvicted     = "evicted"
	reasonShutdown    = "shutdown"
)

var reasonAttrs = map[string]metric.AddOption{}

func init() {
	for _, r := range []string{reasonRootQuiet, reasonMaxDuration, reasonEvicted, reasonShutdown} {
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
	// replayed: it comes from the log at Start; began is when its run
	// began (zero when the run was never in progress).
	replayed bool
	began    time.Time
}

// trace is one run the shard follows until it is complete. Its spans are
// in the heap (td) until they are forwarded; with the write-ahead log a
// run still going after progress_interval has them forwarded in progress
// and keeps only their record numbers (kept), so a long run costs the
// heap a few words per record however long it lasts.
type trace struct {
	id    pcommon.TraceID
	td    ptrace.Traces // spans held in the heap
	spans int
	bytes int64
	seqs  []uint64 // write-ahead log records of td
	// kept: records of spans already forwarded in progress, read back
	// and analysed with the rest at completion; keptBytes is their size.
	kept      []uint64
	keptBytes int64
	// shown: without the log, td.ResourceSpans()[:shown] were already
	// forwarded in progress (as copies; td stays the only whole copy).
	shown int
	// progressed: spans of it were forwarded in progress (counted in
	// runs_in_progress). replace: rows of it may be stored already (it was
	// forwarded in progress, or replayed after a restart), so its whole
	// forward is marked final and the exporter replaces them. isRun: the
	// spans seen so far make it a run to keep (runs.keep), so it may be
	// shown in progress.
	progressed, replace, isRun bool
	// outAt is shard.flushes+1 when in-progress spans of it were put in
	// shard.out: they must be forwarded before the whole run.
	outAt uint64
	// began: when its first span arrived (unix nanos), kept in the log
	// when it first goes in progress.
	began int64

	heldElem *list.Element // in shard.held while td holds spans
	runElem  *list.Element // in shard.runs

	// maxDue: the tick at which max_run_duration has passed since the
	// first span. progressDue: the next tick at which new spans go out in
	// progress. checkEntry: the due tick of the ring entry watching both.
	maxDue, progressDue, checkEntry uint64
	// rootSeen: the root span arrived. quietDue is the tick at which the
	// root quiet period ends (pushed back by every new span); quietEntry is
	// the due tick of the one ring entry watching it, 0 when none.
	rootSeen   bool
	quietDue   uint64
	quietEntry uint64
}

type entryKind uint8

const (
	entryCheck entryKind = iota // progress_interval and max_run_duration
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
	runs      list.List // every *trace, oldest first: eviction by count and backlog
	held      list.List // *trace with spans in the heap, oldest first: eviction by bytes
	bytes     int64     // of the spans held
	backlog   int64     // of the records kept for runs in progress
	maxTraces int
	maxBytes  int64
	// maxBacklog bounds backlog (wal.max_backlog_bytes, this shard's share).
	maxBacklog int64

	// The release ring: slot tick%len(ring) holds the entries due at that
	// tick, so a shard needs one ticker, not a timer per trace.
	ring          [][]ringEntry
	now           func() uint64 // current tick; tests drive it by hand
	lastTick      uint64
	maxTicks      uint64 // max_run_duration
	progressTicks uint64 // progress_interval
	quietTicks    uint64 // 0: root quiet period disabled
	resched       []ringEntry

	released *idCache // recently released ids, to recognise late spans

	ctx      context.Context // background, or the shutdown context
	out      ptrace.Traces   // released and late spans waiting to be forwarded
	outSpans int
	outBytes int64
	outSeqs  []uint64          // write-ahead log records of out
	outRuns  []pcommon.TraceID // runs in out whose walRunKey goes with outSeqs
	outParts []outPart         // what each emit put in out, to split it by run (forward.go)
	parked   []parkedRun       // runs refused for forward_retry_limit, offered again later
	flushes  uint64            // times out was handed on and emptied
	stopping bool              // in shutdown: a refused forward keeps its records
}

func newShard(p *argusProcessor, maxTraces int, maxBytes int64, lateCache int, maxBacklog int64) *shard {
	cfg := p.cfg
	quietTicks := uint64(0)
	if cfg.RootQuietPeriod > 0 {
		quietTicks = ceilTicks(cfg.RootQuietPeriod, cfg.Tick)
	}
	progressTicks := ceilTicks(cfg.ProgressInterval, cfg.Tick)
	// Entries are scheduled at most max(progress, quiet)+1 ticks ahead
	// (max_run_duration is checked at the progress entries).
	slots := max(progressTicks, quietTicks) + 2
	return &shard{
		p:             p,
		in:            make(chan []tracePart, shardQueueLen),
		room:          make(chan struct{}, 1),
		stop:          make(chan struct{}),
		done:          make(chan struct{}),
		traces:        make(map[pcommon.TraceID]*trace),
		maxTraces:     maxTraces,
		maxBytes:      maxBytes,
		maxBacklog:    maxBacklog,
		ring:          make([][]ringEntry, slots),
		maxTicks:      ceilTicks(cfg.maxRunDuration(), cfg.Tick),
		progressTicks: progressTicks,
		quietTicks:    quietTicks,
		released:      newIDCache(lateCache),
		now:           func() uint64 { return p.tickAt(p.clock()) },
		ctx:           context.Background(),
		out:           ptrace.NewTraces(),
	}
}

// shardQueueLen bounds the batches waiting for a shard; their bytes are
// bounded by the budget.
const shardQueueLen = 64

func ceilTicks(d, tick time.Duration) uint64 {
	return uint64((d + tick - 1) / tick)
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
			s.retryParked()
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

// makeRoom frees the heap while a sender waits for bytes the budget lacks
// (beyond what the shards are already forwarding): the oldest held spans
// leave (see evictOldest) instead of waiting for their runs to complete.
// A sender waits as long as detection and forwarding take.
func (s *shard) makeRoom() {
	if !s.p.budget.needRoom() {
		return
	}
	// Runs whose time came while the shard was busy (forwarding waits
	// for the database) leave first, for their own reason: they are
	// complete, and evicting them would cut their quiet period short.
	s.expire(s.now())
	for s.held.Len() > 0 && s.p.budget.needRoom() {
		s.evictOldest(s.now())
	}
}

// evictOldest frees the heap of the run holding the oldest spans. One
// that is complete by the clock (its quiet period or max_run_duration
// passed, the ring has not looked yet) leaves for that reason. One whose
// root arrived is complete but for stragglers: it is analysed now. One
// still going is forwarded in progress when the write-ahead log keeps its
// spans for the whole analysis; without the log it is analysed early with
// what it has (partial).
func (s *shard) evictOldest(now uint64) {
	t := s.held.Front().Value.(*trace)
	if !s.completeIfDue(t, now) {
		if t.rootSeen || s.p.wal == nil {
			s.complete(t, reasonEvicted)
		} else {
			s.spill(t)
		}
	}
}

// evictOldestRun releases the oldest run (max_traces, or the backlog
// bound): analysed now with everything it has, the kept records included.
func (s *shard) evictOldestRun(now uint64) {
	t := s.runs.Front().Value.(*trace)
	if !s.completeIfDue(t, now) {
		s.complete(t, reasonEvicted)
	}
}

// completeIfDue completes t if its quiet period or max_run_duration has
// passed by the clock.
func (s *shard) completeIfDue(t *trace, now uint64) bool {
	switch {
	case t.rootSeen && s.quietTicks > 0 && t.quietDue <= now:
		s.complete(t, reasonRootQuiet)
	case t.maxDue <= now:
		s.complete(t, reasonMaxDuration)
	default:
		return false
	}
	return true
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
			s.emit(part.id, part.td, part.spans, part.bytes, part.seq)
			continue
		}
		t := s.traces[part.id]
		if t == nil {
			for s.runs.Len() >= s.maxTraces {
				s.evictOldestRun(now)
			}
			t = &trace{id: part.id, td: ptrace.NewTraces(), began: s.p.clock().UnixNano(),
				maxDue: now + s.maxTicks + 1, progressDue: now + s.progressTicks + 1}
			t.runElem = s.runs.PushBack(t)
			s.traces[part.id] = t
			s.scheduleCheck(t, now)
			tel.TracesInBuffer.Add(context.Background(), 1)
		}
		if part.replayed {
			s.replayed(t, part, now)
		}
		part.td.ResourceSpans().MoveAndAppendTo(t.td.ResourceSpans())
		if part.seq != 0 {
			t.seqs = append(t.seqs, part.seq)
		}
		t.spans += part.spans
		t.bytes += part.bytes
		s.bytes += part.bytes
		if t.heldElem == nil {
			t.heldElem = s.held.PushBack(t)
		}
		tel.BytesInBuffer.Add(context.Background(), part.bytes)

		t.rootSeen = t.rootSeen || part.hasRoot
		if s.quietTicks > 0 && t.rootSeen {
			t.quietDue = now + s.quietTicks + 1
			if t.quietEntry == 0 {
				t.quietEntry = t.quietDue
				s.schedule(ringEntry{id: t.id, due: t.quietDue, kind: entryQuiet})
			}
		}
		// Over the byte budget: free the oldest, possibly this very run.
		for s.bytes > s.maxBytes && s.held.Len() > 0 {
			s.evictOldest(now)
		}
	}
	s.applyResched()
}

// replayed notes that t has a part replayed from the write-ahead log: it
// may have been forwarded in progress before the restart, so its whole
// forward replaces what was stored; and if it was, the log kept when it
// began, so max_run_duration goes on from then. Its next progress is a
// full interval away, giving a run that completes soon after the restart
// the chance to be forwarded once, whole.
func (s *shard) replayed(t *trace, part tracePart, now uint64) {
	t.replace = true
	if part.began.IsZero() {
		return
	}
	t.began = part.began.UnixNano()
	due := s.p.tickAt(part.began.Add(s.p.cfg.maxRunDuration())) + 1
	if due < t.maxDue {
		t.maxDue = due
		s.scheduleCheck(t, now)
	}
}

func (s *shard) schedule(e ringEntry) {
	slot := e.due % uint64(len(s.ring))
	s.ring[slot] = append(s.ring[slot], e)
}

// scheduleCheck (re)schedules the one entry that looks at t's progress and
// max_run_duration; an earlier entry of t becomes stale. Applied by
// applyResched, so it is safe while expire walks the ring.
func (s *shard) scheduleCheck(t *trace, now uint64) {
	due := max(min(t.progressDue, t.maxDue), now+1)
	t.checkEntry = due
	s.resched = append(s.resched, ringEntry{id: t.id, due: due, kind: entryCheck})
}

func (s *shard) applyResched() {
	for _, e := range s.resched {
		s.schedule(e)
	}
	s.resched = s.resched[:0]
}

// expire acts on the entries whose time has come, looking at every slot
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
			case e.kind == entryCheck && t.checkEntry == e.due:
				s.check(t, now)
			case e.kind == entryQuiet && t.quietEntry == e.due:
				if t.quietDue <= now {
					s.complete(t, reasonRootQuiet)
				} else { // new spans came in: look again when the new period ends
					t.quietEntry = t.quietDue
					s.resched = append(s.resched, ringEntry{id: t.id, due: t.quietDue, kind: entryQuiet})
				}
			}
		}
		clear(slot[len(kept):]) // drop references held by the backing array
		s.ring[tk%n] = kept
	}
	s.applyResched()
}

// check completes t when max_run_duration has passed, else forwards what
// it holds in progress once its progress_interval has passed. A run whose
// root arrived is complete but for its quiet period: it waits for that.
func (s *shard) check(t *trace, now uint64) {
	if t.maxDue <= now {
		s.complete(t, reasonMaxDuration)
		return
	}
	if t.progressDue <= now {
		if !t.rootSeen {
			s.progress(t)
		}
		t.progressDue = now + s.progressTicks
	}
	s.scheduleCheck(t, now)
}

// progress forwards the spans of a run still going that users have not
// seen yet, marked in progress (unanalysed). With the write-ahead log they
// leave the heap (spill); without it copies go, the originals stay for the
// analysis at completion. A trace that is no run to keep so far is not
// shown (see shown).
func (s *shard) progress(t *trace) {
	if s.p.wal != nil {
		if t.spans > 0 {
			s.spill(t)
		}
		return
	}
	if !s.shown(t) {
		return
	}
	rss := t.td.ResourceSpans()
	if t.shown == rss.Len() {
		return
	}
	cp := ptrace.NewTraces()
	for i := t.shown; i < rss.Len(); i++ {
		rss.At(i).CopyTo(cp.ResourceSpans().AppendEmpty())
	}
	t.shown = rss.Len()
	bytes := int64(s.p.sizer.TracesSize(cp))
	s.p.budget.force(bytes)
	s.forwardInProgress(t, cp, cp.SpanCount(), bytes)
}

// shown reports whether t's spans may be forwarded in progress: the spans
// held now, or earlier ones, make it a run to keep (runs.keep). The
// evidence only grows, so a run shown in progress is kept at completion;
// a trace that is no run (yet) is not stored as one in the meantime.
func (s *shard) shown(t *trace) bool {
	if !t.isRun && t.spans > 0 {
		t.isRun = s.p.keptSoFar(t.td)
	}
	return t.isRun
}

// spill takes the spans t holds out of the heap and keeps their
// write-ahead log records, the durable copy read back at completion; the
// heap keeps the record numbers only. A run is forwarded in progress on
// the way (shown); a trace that is no run so far is only dropped from the
// heap. Past the backlog bound the oldest runs are analysed early.
func (s *shard) spill(t *trace) {
	show := s.shown(t)
	td, spans, bytes := t.td, t.spans, t.bytes
	if len(t.kept) == 0 {
		s.p.wal.markRun(s.ctx, t.id, time.Unix(0, t.began)) // for a restart's max_run_duration
	}
	t.kept = append(t.kept, t.seqs...)
	t.keptBytes += bytes
	t.td, t.spans, t.bytes, t.seqs = ptrace.NewTraces(), 0, 0, nil
	s.held.Remove(t.heldElem)
	t.heldElem = nil
	s.bytes -= bytes
	s.backlog += bytes
	ctx := context.Background()
	s.p.tel.BytesInBuffer.Add(ctx, -bytes)
	s.p.tel.BacklogBytes.Add(ctx, bytes)
	if show {
		s.forwardInProgress(t, td, spans, bytes)
	} else {
		s.p.budget.release(bytes) // never handed on: its records keep it
	}
	for s.backlog > s.maxBacklog && s.runs.Len() > 0 {
		s.evictOldestRun(s.now())
	}
}

func (s *shard) forwardInProgress(t *trace, td ptrace.Traces, spans int, bytes int64) {
	if !t.progressed {
		t.progressed = true
		s.p.tel.RunsInProgress.Add(context.Background(), 1)
	}
	t.replace = true
	for span := range agentrun.Spans(td) {
		span.Attributes().PutStr(annotation.AttrAnalysis, annotation.AnalysisInProgress)
	}
	s.p.tel.SpansInProgress.Add(context.Background(), int64(spans))
	t.outAt = s.flushes + 1
	s.emit(t.id, td, spans, bytes)
}

// forget takes t out of the shard's bookkeeping and telemetry.
func (s *shard) forget(t *trace) {
	delete(s.traces, t.id)
	s.runs.Remove(t.runElem)
	if t.heldElem != nil {
		s.held.Remove(t.heldElem)
		t.heldElem = nil
	}
	s.bytes -= t.bytes
	s.backlog -= t.keptBytes
	ctx := context.Background()
	tel := s.p.tel
	tel.TracesInBuffer.Add(ctx, -1)
	tel.BytesInBuffer.Add(ctx, -t.bytes)
	if t.keptBytes != 0 {
		tel.BacklogBytes.Add(ctx, -t.keptBytes)
	}
	if t.progressed {
		tel.RunsInProgress.Add(ctx, -1)
	}
}

// complete takes a run out of the buffer, brings it together whole (the
// spans it holds and those forwarded in progress, read back from the
// write-ahead log), runs detection on it and queues it for forwarding.
func (s *shard) complete(t *trace, reason string) {
	s.forget(t)
	s.p.tel.TracesReleased.Add(context.Background(), 1, reasonAttrs[reason])
	s.released.add(t.id)

	td, spans, bytes := t.td, t.spans, t.bytes
	seqs := t.seqs
	analysis := annotation.AnalysisFinal
	if len(t.kept) > 0 {
		whole, size, err := s.p.wal.read(s.ctx, t.kept)
		if err != nil {
			s.p.logRarely("could not read a run in progress back from the write-ahead log; analysed with what was read", zap.Error(err))
		}
		if err != nil || size == 0 {
			analysis = annotation.AnalysisPartial // merged, not replacing what was stored
		}
		s.p.budget.force(size)
		td.ResourceSpans().MoveAndAppendTo(whole.ResourceSpans())
		td, spans, bytes = whole, whole.SpanCount(), bytes+size
		seqs = append(t.kept, t.seqs...)
	}

	// Past the shutdown deadline there is no time left for detection;
	// the spans are still handed on as they are. Released early (evicted,
	// shutdown), a run is partial only if its root had not arrived: the
	// root ends last, so with it the run is whole but for rare stragglers,
	// which still arrive as late spans and are merged by the exporter.
	if s.ctx.Err() == nil {
		early := reason == reasonEvicted || reason == reasonShutdown
		if !s.p.analyze(td, early && !t.rootSeen) {
			s.released.markSkipped(t.id) // its late spans are skipped too
		}
	}
	if t.replace {
		markAnalysis(td, analysis)
	}
	if t.outAt == s.flushes+1 {
		s.flush() // its in-progress spans reach the exporter before the whole run
	}
	if len(t.kept) > 0 {
		s.outRuns = append(s.outRuns, t.id) // its walRunKey goes with its records
	}
	s.emit(t.id, td, spans, bytes, seqs...)
}

// park takes a run that is still going out of the shard at shutdown
// without analysing it: its new spans are forwarded in progress and all
// its records stay in the write-ahead log, so the next Start replays it and
// analyses it whole when it completes.
func (s *shard) park(t *trace) {
	show := s.shown(t)
	s.forget(t)
	switch {
	case t.spans > 0 && show:
		s.forwardInProgress(t, t.td, t.spans, t.bytes)
	case t.spans > 0:
		s.p.budget.release(t.bytes) // not handed on: its records keep it
	}
}

// emit queues spans of trace id for the next consumer, flushing large
// collections.
func (s *shard) emit(id pcommon.TraceID, td ptrace.Traces, spans int, bytes int64, seqs ...uint64) {
	s.p.budget.outgo(bytes)
	s.put(outPart{id: id, spans: spans, bytes: bytes}, td, seqs)
	if s.outSpans >= flushSpans || s.outBytes >= flushBytes {
		s.flush()
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
	for s.runs.Len() > 0 {
		t := s.runs.Front().Value.(*trace)
		if s.p.wal != nil && !t.rootSeen {
			s.park(t)
		} else {
			s.complete(t, reasonShutdown)
		}
	}
	s.flush()
}

func markLate(td ptrace.Traces) {
	for span := range agentrun.Spans(td) {
		span.Attributes().PutBool(annotation.AttrLate, true)
	}
}

// markAnalysis sets AttrAnalysis on one span of the run: the root when it
// is there, else the first span (the exporter looks at every span).
func markAnalysis(td ptrace.Traces, analysis string) {
	var first ptrace.Span
	found := false
	for span := range agentrun.Spans(td) {
		if span.ParentSpanID().IsEmpty() {
			first, found = span, true
			break
		}
		if !found {
			first, found = span, true
		}
	}
	if found {
		first.Attributes().PutStr(annotation.AttrAnalysis, analysis)
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

package argusdetector

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
)

// A refused forward is retried after retryFirst, doubling up to retryMax.
const (
	retryFirst = 10 * time.Millisecond
	retryMax   = time.Second
)

// splitAfter is how many refusals of a whole flush are retried as one
// request; then its runs are offered one by one (flushRuns), so a run the
// next consumer keeps refusing holds none of the others.
const splitAfter = 3

// errSplit: the flush was refused splitAfter times; offer its runs alone.
var errSplit = errors.New("argusdetector: forward refused; offering its runs one by one")

// outPart is what one emit put in shard.out: spans of one trace, the
// resource spans [from, to) of out and the records outSeqs[seqFrom:seqTo].
type outPart struct {
	id             pcommon.TraceID
	from, to       int
	seqFrom, seqTo int
	spans          int
	bytes          int64
	parked         bool // a parked run offered again
}

// piece is the spans of one run taken from out, with their records.
type piece struct {
	id    pcommon.TraceID
	td    ptrace.Traces
	spans int
	bytes int64
	seqs  []uint64
	run   bool // its walRunKey goes with its records
	// parked: it was parked before; parked again without waiting for
	// others to be taken (it holds no budget while parked).
	parked bool
}

// parkedRun is a run refused for forward_retry_limit while the next
// consumer took others: only its write-ahead log record is kept, and it is
// offered again at due.
type parkedRun struct {
	id    pcommon.TraceID
	seq   uint64
	spans int
	due   time.Time
}

// put appends td (spans of part.id) to out; the budget already counts it.
func (s *shard) put(part outPart, td ptrace.Traces, seqs []uint64) {
	rss := s.out.ResourceSpans()
	part.from, part.seqFrom = rss.Len(), len(s.outSeqs)
	td.ResourceSpans().MoveAndAppendTo(rss)
	part.to = rss.Len()
	for _, seq := range seqs {
		if seq != 0 {
			s.outSeqs = append(s.outSeqs, seq)
		}
	}
	part.seqTo = len(s.outSeqs)
	s.outParts = append(s.outParts, part)
	s.outSpans += part.spans
	s.outBytes += part.bytes
}

// flush hands the released spans to the next consumer. Until it takes them
// they stay held and counted in the budget, so a refusing exporter stops
// intake instead of losing acknowledged spans; their write-ahead log
// records are released only once they are forwarded, or dropped for good
// after a permanent refusal. A flush refused splitAfter times is offered
// run by run (flushRuns). Spans still refused at shutdown keep their
// records for the next Start.
func (s *shard) flush() {
	if s.outSpans == 0 {
		return
	}
	err := s.forward(s.out, s.outSpans)
	if errors.Is(err, errSplit) {
		s.flushRuns()
		return
	}
	if err != nil && !consumererror.IsPermanent(err) && !s.stopping {
		return // shutdown began while retrying: shutdown flushes them again
	}
	if len(s.outSeqs) > 0 && (err == nil || consumererror.IsPermanent(err)) {
		s.p.wal.releaseRuns(s.outRuns...)
		s.p.wal.release(s.outSeqs...)
	}
	s.p.budget.forwarded(s.outBytes, s.outBytes)
	s.emptyOut()
}

func (s *shard) emptyOut() {
	s.out, s.outSpans, s.outBytes = ptrace.NewTraces(), 0, 0
	s.outSeqs, s.outRuns = s.outSeqs[:0], s.outRuns[:0]
	clear(s.outParts)
	s.outParts = s.outParts[:0]
	s.flushes++
}

// forward offers td to the next consumer until it is taken. A permanent
// refusal drops the spans (counted); any other refusal (the exporter's
// queue is full, or its retries ran out) is retried with backoff, until
// shutdown begins or, in shutdown, until its context ends (then the spans
// are counted as refused). While running, after splitAfter refusals it
// returns errSplit.
func (s *shard) forward(td ptrace.Traces, spans int) error {
	ctx := s.p.runCtx // cancelled when Shutdown begins, so a blocked call returns
	if s.stopping {
		ctx = s.ctx
	}
	wait := retryFirst
	for refusals := 1; ; refusals++ {
		err := s.p.next.ConsumeTraces(ctx, td)
		if err == nil {
			s.p.taken.Add(1)
			return nil
		}
		if consumererror.IsPermanent(err) {
			s.p.tel.ForwardErrors.Add(context.Background(), int64(spans))
			s.p.logRarely("next consumer rejected spans permanently; dropped", zap.Int("spans", spans), zap.Error(err))
			return err
		}
		s.p.tel.ForwardRetries.Add(context.Background(), 1)
		s.p.logRarely("next consumer refused spans; holding and retrying them", zap.Int("spans", spans), zap.Error(err))
		if refusals >= splitAfter && !s.stopping && ctx.Err() == nil {
			return errSplit
		}
		if !s.sleep(ctx, wait) {
			if s.stopping {
				s.p.tel.ForwardErrors.Add(context.Background(), int64(spans))
			}
			return err
		}
		wait = min(2*wait, retryMax)
	}
}

// sleep waits d; false when ctx ended first.
func (s *shard) sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// flushRuns offers out run by run, each round every run still refused
// once, so the runs the next consumer takes leave (their records
// released) while one it refuses waits alone. A run still refused after
// forward_retry_limit, while the next consumer took other spans in the
// meantime, is parked (parkRun); a run parked before is parked again
// either way. While the next consumer takes nothing (the database is
// down) nothing new is parked: the runs stay held and intake waits, as
// for any refusal. When shutdown begins the rest goes back to out.
func (s *shard) flushRuns() {
	pieces := s.splitOut()
	ctx := s.p.runCtx
	since, taken := s.p.clock(), s.p.taken.Load()
	wait := retryFirst
	for {
		left := pieces[:0]
		for _, pc := range pieces {
			err := s.p.next.ConsumeTraces(ctx, pc.td)
			switch {
			case err == nil:
				s.p.taken.Add(1)
				s.forwarded(pc, true)
			case consumererror.IsPermanent(err):
				s.p.tel.ForwardErrors.Add(context.Background(), int64(pc.spans))
				s.p.logRarely("next consumer rejected a run permanently; dropped", zap.Int("spans", pc.spans),
					zap.Stringer("trace_id", pc.id), zap.Error(err))
				s.forwarded(pc, true)
			default:
				s.p.tel.ForwardRetries.Add(context.Background(), 1)
				left = append(left, pc)
			}
		}
		pieces = left
		if len(pieces) > 0 && ctx.Err() == nil && s.p.clock().Sub(since) >= s.p.cfg.ForwardRetryLimit {
			othersTaken := s.p.taken.Load() != taken
			left = pieces[:0]
			for _, pc := range pieces {
				if othersTaken || pc.parked {
					s.parkRun(pc)
				} else {
					left = append(left, pc)
				}
			}
			pieces = left
		}
		if len(pieces) == 0 {
			s.emptyOut()
			return
		}
		if ctx.Err() != nil || !s.sleep(ctx, wait) {
			s.requeue(pieces)
			return
		}
		wait = min(2*wait, retryMax)
	}
}

// splitOut takes out apart into one piece per trace, in order.
func (s *shard) splitOut() []piece {
	runs := make(map[pcommon.TraceID]bool, len(s.outRuns))
	for _, id := range s.outRuns {
		runs[id] = true
	}
	idx := map[pcommon.TraceID]int{}
	var pieces []piece
	rss := s.out.ResourceSpans()
	for _, part := range s.outParts {
		i, ok := idx[part.id]
		if !ok {
			i = len(pieces)
			idx[part.id] = i
			pieces = append(pieces, piece{id: part.id, td: ptrace.NewTraces(), run: runs[part.id]})
		}
		pc := &pieces[i]
		pc.parked = pc.parked || part.parked
		for j := part.from; j < part.to; j++ {
			rss.At(j).MoveTo(pc.td.ResourceSpans().AppendEmpty())
		}
		pc.spans += part.spans
		pc.bytes += part.bytes
		pc.seqs = append(pc.seqs, s.outSeqs[part.seqFrom:part.seqTo]...)
	}
	return pieces
}

// requeue puts pieces back into an emptied out (shutdown flushes them).
func (s *shard) requeue(pieces []piece) {
	s.out, s.outSpans, s.outBytes = ptrace.NewTraces(), 0, 0
	s.outSeqs, s.outRuns, s.outParts = s.outSeqs[:0], s.outRuns[:0], s.outParts[:0]
	for _, pc := range pieces {
		if pc.run {
			s.outRuns = append(s.outRuns, pc.id)
		}
		s.put(outPart{id: pc.id, spans: pc.spans, bytes: pc.bytes, parked: pc.parked}, pc.td, pc.seqs)
	}
}

// forwarded gives back the budget of a piece the next consumer took (or
// refused for good) and, with release, its records.
func (s *shard) forwarded(pc piece, release bool) {
	if release && len(pc.seqs) > 0 {
		if pc.run {
			s.p.wal.releaseRuns(pc.id)
		}
		s.p.wal.release(pc.seqs...)
	}
	s.p.budget.forwarded(pc.bytes, pc.bytes)
}

// parkRun takes a run the next consumer refused for forward_retry_limit out
// of the heap. With the write-ahead log its spans are written again as one
// new record (so the log's index range moves on) and offered again after
// another forward_retry_limit: nothing is lost, the shard goes on. If that
// write fails its records stay for the next start. Without the log it is
// dropped and counted.
func (s *shard) parkRun(pc piece) {
	ctx := context.Background()
	if s.p.wal == nil {
		s.p.tel.ForwardErrors.Add(ctx, int64(pc.spans))
		s.p.logRarely("next consumer refused a run for forward_retry_limit while it took others; dropped (no write-ahead log)",
			zap.Stringer("trace_id", pc.id), zap.Int("spans", pc.spans), zap.Duration("forward_retry_limit", s.p.cfg.ForwardRetryLimit))
		s.forwarded(pc, false)
		return
	}
	s.p.tel.RunsParked.Add(ctx, 1)
	var m ptrace.ProtoMarshaler
	data, err := m.MarshalTraces(pc.td)
	var seq uint64
	if err == nil {
		seq, err = s.p.wal.append(s.ctx, [][]byte{data})
	}
	if err != nil {
		s.p.logRarely("next consumer refused a run for forward_retry_limit; kept in the write-ahead log for the next start",
			zap.Stringer("trace_id", pc.id), zap.Int("spans", pc.spans), zap.Error(err))
		s.forwarded(pc, false)
		return
	}
	s.p.logRarely("next consumer refused a run for forward_retry_limit while it took others; parked in the write-ahead log, offered again later",
		zap.Stringer("trace_id", pc.id), zap.Int("spans", pc.spans), zap.Duration("forward_retry_limit", s.p.cfg.ForwardRetryLimit))
	s.forwarded(pc, true)
	s.parked = append(s.parked, parkedRun{id: pc.id, seq: seq, spans: pc.spans, due: s.p.clock().Add(s.p.cfg.ForwardRetryLimit)})
}

// retryParked offers the parked runs whose time came again, read back
// from the write-ahead log.
func (s *shard) retryParked() {
	if len(s.parked) == 0 {
		return
	}
	now := s.p.clock()
	kept := s.parked[:0]
	for _, r := range s.parked {
		if now.Before(r.due) {
			kept = append(kept, r)
			continue
		}
		td, size, err := s.p.wal.read(s.ctx, []uint64{r.seq})
		if err != nil || size == 0 {
			s.p.tel.ForwardErrors.Add(context.Background(), int64(r.spans))
			s.p.wal.release(r.seq)
			continue
		}
		s.p.budget.force(size)
		s.p.budget.outgo(size)
		s.put(outPart{id: r.id, spans: td.SpanCount(), bytes: size, parked: true}, td, []uint64{r.seq})
	}
	clear(s.parked[len(kept):])
	s.parked = kept
}

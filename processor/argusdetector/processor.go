package argusdetector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/detect"
	"github.com/arguslabs/argus-otel/internal/redact"
	"github.com/arguslabs/argus-otel/internal/writehealth"
	"github.com/arguslabs/argus-otel/processor/argusdetector/internal/metadata"
)

var (
	errNotStarted   = errors.New("argusdetector: processor is not started")
	errShuttingDown = errors.New("argusdetector: processor is shutting down")
)

type argusProcessor struct {
	set  processor.Settings
	cfg  *Config
	next consumer.Traces
	tel  *metadata.TelemetryBuilder

	// Set in Start, read-only afterwards.
	detectCfg detect.Config
	baselines *baselineStore
	// mapRuns is agentrun.MapTraces; tests swap it to prove panics are contained.
	mapRuns func(ptrace.Traces, agentrun.Options) []*agentrun.Run
	runs    *runSelector // which traces are runs (runs.go)
	skipLog *skipLog

	// clock is time.Now; tests replace it (before Start) to run hours of a
	// run in seconds. Ticks count from epoch, set at Start.
	clock func() time.Time
	epoch time.Time

	shards []*shard
	budget *byteBudget // max_bytes, over all shards
	sizer  ptrace.ProtoMarshaler
	wal    *wal // nil when the write-ahead log is off
	// taken counts forwards the next consumer took, across shards: a run
	// is parked only while others are taken (flushRuns).
	taken atomic.Uint64
	// redact is applied to every request before anything else sees it.
	redact *redact.Keys

	// mu is read-held by every ConsumeTraces while it hands batches to the
	// shards; Shutdown write-locks it once, so no batch can slip into a
	// shard's queue after the shard drained it. closing is closed first so
	// senders blocked on a full queue give up instead of holding the lock.
	mu        sync.RWMutex
	accepting bool
	started   bool
	stopped   bool
	closing   chan struct{}
	// runCtx is the context of forwards while running; Shutdown cancels it
	// so a forward blocked on a full exporter queue gives up its wait.
	runCtx    context.Context
	cancelRun context.CancelFunc

	lastErrLog atomic.Int64 // unix nanos of the last logged forward/detection error
}

func newProcessor(set processor.Settings, cfg *Config, next consumer.Traces) (*argusProcessor, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("argusdetector: telemetry: %w", err)
	}
	runs, err := cfg.Runs.selector()
	if err != nil {
		return nil, fmt.Errorf("argusdetector: %w", err)
	}
	runCtx, cancelRun := context.WithCancel(context.Background())
	return &argusProcessor{
		runs:      runs,
		skipLog:   &skipLog{logger: set.Logger},
		set:       set,
		cfg:       cfg,
		next:      next,
		tel:       tel,
		budget:    newByteBudget(cfg.MaxBytes),
		redact:    redact.New(cfg.RedactKeys),
		mapRuns:   agentrun.MapTraces,
		clock:     time.Now,
		closing:   make(chan struct{}),
		runCtx:    runCtx,
		cancelRun: cancelRun,
	}, nil
}

func (p *argusProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

// Start loads signatures, restores baselines and starts the shards.
func (p *argusProcessor) Start(ctx context.Context, host component.Host) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return nil
	}
	dc := p.cfg.detectConfig()
	if len(p.cfg.SignatureFiles) > 0 {
		sigs, err := detect.LoadSignatures(p.cfg.SignatureFiles...)
		if err != nil {
			return fmt.Errorf("argusdetector: signature_files: %w", err)
		}
		dc.Signatures = append(dc.Signatures, sigs...)
	}
	p.detectCfg = dc
	if p.cfg.DecisionWait != nil {
		p.set.Logger.Warn("argusdetector: decision_wait is deprecated and used as max_run_duration "+
			"(a run is complete this long after its first span); set max_run_duration instead",
			zap.Duration("decision_wait", *p.cfg.DecisionWait))
	}

	var w *wal
	if p.cfg.WAL.Storage != nil {
		var err error
		if w, err = openWAL(ctx, host, p); err != nil {
			return err
		}
	}
	bs, err := startBaselines(ctx, host, p)
	if err != nil {
		if w != nil {
			_ = w.client.Close(ctx)
		}
		return err
	}
	p.baselines = bs

	p.epoch = p.clock()
	n := p.cfg.NumShards
	perTraces := max(p.cfg.MaxTraces/n, 1)
	perBytes := max(p.cfg.MaxBytes/int64(n), 1)
	perLate := (p.cfg.LateSpanCache + n - 1) / n
	perBacklog := max(p.cfg.WAL.MaxBacklogBytes/int64(n), 1)
	p.shards = make([]*shard, n)
	for i := range p.shards {
		p.shards[i] = newShard(p, perTraces, perBytes, perLate, perBacklog)
		go p.shards[i].run()
	}
	p.started = true
	if w != nil {
		p.wal = w
		w.unregister = writehealth.AddBacklog(p.set.ID.String(), w.backlog)
		// Replay before accepting new spans: what the log holds was
		// acknowledged before the last stop and is buffered again.
		starts := map[pcommon.TraceID]time.Time{}
		replay := func(seq uint64, td ptrace.Traces) error { return p.replayRecord(ctx, seq, td, starts) }
		if err := w.replay(ctx, replay); err != nil {
			return err // the collector stops; Shutdown ends the shards
		}
		w.startLoop(p.cfg.Tick)
	}
	p.accepting = true
	return nil
}

// tickAt is the ring tick of a time (1 for any time before Start).
func (p *argusProcessor) tickAt(t time.Time) uint64 {
	d := t.Sub(p.epoch)
	if d < 0 {
		return 1
	}
	return uint64(d/p.cfg.Tick) + 1
}

// replayRecord buffers one write-ahead log record again, within the byte
// bound like new spans. A record holds one trace part; anything else (an
// empty trace id) is forwarded as is, and kept when refused. starts caches
// when each replayed run began (zero: it was never in progress).
func (p *argusProcessor) replayRecord(ctx context.Context, seq uint64, td ptrace.Traces, starts map[pcommon.TraceID]time.Time) error {
	id, ok := singleTrace(td)
	if !ok || id.IsEmpty() {
		if err := p.next.ConsumeTraces(ctx, td); err != nil {
			p.logRarely("next consumer refused replayed spans; kept for the next start", zap.Error(err))
			return nil
		}
		p.wal.release(seq)
		return nil
	}
	first, known := starts[id]
	if !known {
		first, _ = p.wal.runStart(ctx, id)
		starts[id] = first
	}
	part := tracePart{id: id, td: td, spans: td.SpanCount(), hasRoot: hasRoot(td), seq: seq,
		began: first, replayed: true}
	part.bytes = int64(p.sizer.TracesSize(td))
	if err := p.reserve(ctx, part.bytes); err != nil {
		return err
	}
	s := p.shards[shardOf(id, len(p.shards))]
	if err := p.queue(ctx, s, []tracePart{part}); err != nil {
		p.budget.release(part.bytes)
		return err
	}
	return nil
}

// reserve takes n bytes of the budget, waiting (while the shards evict to
// make room) until ctx ends or Shutdown begins.
func (p *argusProcessor) reserve(ctx context.Context, n int64) error {
	err := p.budget.acquire(ctx, n, p.closing, p.wakeShards)
	if err != nil && !errors.Is(err, errShuttingDown) {
		return fmt.Errorf("argusdetector: buffer full (max_bytes %d): %w", p.cfg.MaxBytes, err)
	}
	return err
}

func (p *argusProcessor) wakeShards() {
	for _, s := range p.shards {
		s.wake()
	}
}

// queue hands parts, whose bytes are reserved, to a shard. The wait is
// short: the shard takes batches from its queue whatever the budget.
func (p *argusProcessor) queue(ctx context.Context, s *shard, parts []tracePart) error {
	select {
	case s.in <- parts:
		return nil
	case <-p.closing:
		return errShuttingDown
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown stops accepting spans, releases every buffered trace (detected
// and forwarded) within ctx, saves the baselines and stops the goroutines.
func (p *argusProcessor) Shutdown(ctx context.Context) error {
	select {
	case <-p.closing:
	default:
		close(p.closing)
		p.cancelRun()
	}
	p.mu.Lock()
	p.accepting = false
	if !p.started || p.stopped {
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	p.mu.Unlock()

	for _, s := range p.shards {
		s.stopCtx = ctx
		close(s.stop)
	}
	var errs []error
	for _, s := range p.shards {
		select {
		case <-s.done:
		case <-ctx.Done():
			// A next consumer that ignores its context keeps the shard
			// busy; stop waiting rather than hang the collector.
			errs = append(errs, fmt.Errorf("argusdetector: shutdown: %w", ctx.Err()))
		}
		if len(errs) > 0 {
			break
		}
	}
	errs = append(errs, p.baselines.stop(ctx), p.wal.stop(ctx))
	return errors.Join(errs...)
}

// ConsumeTraces splits the batch by trace id and hands each shard its part.
// It first reserves the batch's bytes in the budget (max_bytes), waiting
// while they do not fit until ctx ends; then it returns a retryable error:
// the receiver refuses the request and the client backs off
// (backpressure). With the write-ahead log on, the parts are then
// persisted and nil is returned only once they are: a failed write is
// returned, never hidden. Reserving first keeps waiting requests out of
// the log, so it holds at most max_bytes plus a tick of forwarded spans.
// An error after some shards took their part leaves those parts buffered;
// a retry of the batch then repeats their spans, which the exporter stores
// once (span ids are keys).
func (p *argusProcessor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if !p.accepting {
		if p.stopped {
			return errShuttingDown
		}
		return errNotStarted
	}
	spans := td.SpanCount()
	if spans == 0 {
		return nil
	}
	p.tel.SpansReceived.Add(ctx, int64(spans))
	// Secrets never reach the write-ahead log, nor detection, nor the
	// consumers after it.
	p.redact.Traces(td)
	// Before the write-ahead log, so replays and late spans carry them too.
	p.cfg.StepAttributes.Apply(td)

	perShard, noID := p.split(td)
	var total int64
	for _, parts := range perShard {
		for _, part := range parts {
			total += part.bytes
		}
	}
	if total > 0 {
		if err := p.reserve(ctx, total); err != nil {
			return err
		}
		if p.wal != nil {
			if err := p.logParts(ctx, perShard); err != nil {
				p.budget.release(total)
				return err
			}
		}
	}
	for i, parts := range perShard {
		if len(parts) == 0 {
			continue
		}
		if err := p.queue(ctx, p.shards[i], parts); err != nil {
			p.releaseParts(perShard[i:])
			return err
		}
	}
	if n := noID.SpanCount(); n > 0 {
		return p.refuseZeroTraceID(ctx, n, spans)
	}
	return nil
}

// refuseZeroTraceID refuses the n spans of a request (of total) whose
// trace id is all zeros: OTLP makes it invalid, they belong to no run and
// cannot be stored. The rest of the request is taken; the permanent error
// reaches the client saying so, since the receiver cannot answer a partial
// success for a consumer. Its gRPC status makes the receiver answer
// InvalidArgument (HTTP 400: the client's data, not retried) rather than
// Internal (HTTP 500).
func (p *argusProcessor) refuseZeroTraceID(ctx context.Context, n, total int) error {
	p.tel.SpansRefused.Add(ctx, int64(n))
	err := status.Errorf(codes.InvalidArgument, "argusdetector: refused %d of %d spans: all-zero trace id (invalid in OTLP; each span needs a random 16-byte trace id); the other %d spans were accepted", n, total, total-n)
	p.logRarely("refused spans with an all-zero trace id", zap.Int("spans", n), zap.Error(err))
	return consumererror.NewPermanent(err)
}

// logParts writes one write-ahead log record per trace part, in one Batch,
// and numbers the parts with their records.
func (p *argusProcessor) logParts(ctx context.Context, perShard [][]tracePart) error {
	var data [][]byte
	for _, parts := range perShard {
		for i := range parts {
			b, err := p.sizer.MarshalTraces(parts[i].td)
			if err != nil {
				return fmt.Errorf("argusdetector: write-ahead log: encode spans: %w", err)
			}
			data = append(data, b)
		}
	}
	if len(data) == 0 {
		return nil
	}
	first, err := p.wal.append(ctx, data)
	if err != nil {
		p.logRarely("write-ahead log write failed; refusing spans", zap.Error(err))
		return fmt.Errorf("argusdetector: write-ahead log: %w", err)
	}
	seq := first
	for _, parts := range perShard {
		for i := range parts {
			parts[i].seq = seq
			seq++
		}
	}
	return nil
}

// releaseParts gives up the bytes and records of parts no shard took: the
// caller gets an error and sends them again.
func (p *argusProcessor) releaseParts(perShard [][]tracePart) {
	for _, parts := range perShard {
		p.budget.release(partsBytes(parts))
		if p.wal != nil {
			for _, part := range parts {
				p.wal.release(part.seq)
			}
		}
	}
}

func partsBytes(parts []tracePart) int64 {
	var n int64
	for _, part := range parts {
		n += part.bytes
	}
	return n
}

// logRarely logs at most one error a minute, so a failing downstream or a
// stream of bad traces never floods the log; the counters carry the volume.
func (p *argusProcessor) logRarely(msg string, fields ...zap.Field) {
	now := time.Now().UnixNano()
	last := p.lastErrLog.Load()
	if now-last < int64(time.Minute) || !p.lastErrLog.CompareAndSwap(last, now) {
		return
	}
	p.set.Logger.Warn(msg, fields...)
}

// split groups the spans of td by trace id, one part per trace, grouped by
// shard. Spans are moved, not copied (the processor owns td); resource and
// scope are copied into each part that needs them.
func (p *argusProcessor) split(td ptrace.Traces) ([][]tracePart, ptrace.Traces) {
	perShard := make([][]tracePart, len(p.shards))
	noID := ptrace.NewTraces()

	if id, ok := singleTrace(td); ok {
		part := tracePart{id: id, td: td, spans: td.SpanCount(), hasRoot: hasRoot(td)}
		if id.IsEmpty() {
			return perShard, td
		}
		part.bytes = int64(p.sizer.TracesSize(td))
		i := shardOf(id, len(p.shards))
		perShard[i] = append(perShard[i], part)
		return perShard, noID
	}

	var (
		order []pcommon.TraceID
		parts = map[pcommon.TraceID]*tracePart{}
		rsFor = map[pcommon.TraceID]ptrace.ResourceSpans{}
		ssFor = map[pcommon.TraceID]ptrace.ScopeSpans{}
	)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		clear(rsFor)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			clear(ssFor)
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				id := span.TraceID()
				part := parts[id]
				if part == nil {
					part = &tracePart{id: id, td: ptrace.NewTraces()}
					parts[id] = part
					order = append(order, id)
				}
				dst, ok := ssFor[id]
				if !ok {
					drs, ok := rsFor[id]
					if !ok {
						drs = part.td.ResourceSpans().AppendEmpty()
						rs.Resource().CopyTo(drs.Resource())
						drs.SetSchemaUrl(rs.SchemaUrl())
						rsFor[id] = drs
					}
					dst = drs.ScopeSpans().AppendEmpty()
					ss.Scope().CopyTo(dst.Scope())
					dst.SetSchemaUrl(ss.SchemaUrl())
					ssFor[id] = dst
				}
				part.spans++
				if closesRun(span) {
					part.hasRoot = true
				}
				span.MoveTo(dst.Spans().AppendEmpty())
			}
		}
	}
	for _, id := range order {
		part := parts[id]
		if id.IsEmpty() {
			noID = part.td
			continue
		}
		part.bytes = int64(p.sizer.TracesSize(part.td))
		i := shardOf(id, len(p.shards))
		perShard[i] = append(perShard[i], *part)
	}
	return perShard, noID
}

// singleTrace reports whether every span of td has the same trace id, the
// common case of an SDK exporting one run at a time.
func singleTrace(td ptrace.Traces) (pcommon.TraceID, bool) {
	var first pcommon.TraceID
	seen := false
	for span := range agentrun.Spans(td) {
		id := span.TraceID()
		if !seen {
			first, seen = id, true
		} else if id != first {
			return pcommon.TraceID{}, false
		}
	}
	return first, seen
}

func hasRoot(td ptrace.Traces) bool {
	for span := range agentrun.Spans(td) {
		if closesRun(span) {
			return true
		}
	}
	return false
}

// closesRun: a root span that ended with its run, whose arrival completes
// the run after root_quiet_period. One that ended early (LangSmith JS's,
// agentrun.RootEndsRun) leaves the run to max_run_duration, shown in
// progress meanwhile, as a run whose root never came.
func closesRun(span ptrace.Span) bool {
	return span.ParentSpanID().IsEmpty() && agentrun.RootEndsRun(span)
}

// shardOf hashes a trace id (FNV-1a) onto a shard.
func shardOf(id pcommon.TraceID, n int) int {
	h := uint64(14695981039346656037)
	for _, b := range id {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return int(h % uint64(n))
}

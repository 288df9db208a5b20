package argusdetector

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/arguslabs/argus-otel/internal/writehealth"
)

// The write-ahead log keeps every span the processor acknowledged in a
// storage extension until the exporter's queue has accepted it, so a
// process killed while traces wait in the buffer loses none of them.
//
// One record holds the spans of one trace taken from one ConsumeTraces call
// (a tracePart), so a record is released exactly when its trace leaves the
// buffer and all records of a trace are deleted together: a restart never
// replays part of a trace that was already forwarded, which would store a
// run detected from a fragment. The records of one call are written in one
// storage Batch, before ConsumeTraces returns.
//
// The storage client cannot list keys, so an index key holds the range
// [low, next) of sequence numbers that may still be live: written in the
// same Batch as each append and each delete, constant size (16 bytes)
// however many records are live. At Start every key of the range is read
// and the records found are replayed into the buffer.
const (
	walClientName = "wal"
	walIndexKey   = "wal_index"
	walKeyPrefix  = "wal_"
	// walRunKeyPrefix + trace id: see walRunKey.
	walRunKeyPrefix = "wal_run_"
	// walReadChunk bounds the Get operations of one storage Batch at replay.
	walReadChunk = 256
)

// WALConfig configures the write-ahead log.
type WALConfig struct {
	// Storage is the id of a storage extension (e.g. file_storage/wal);
	// nil disables the log.
	Storage *component.ID `mapstructure:"storage"`
	// MaxBacklogBytes bounds the records of runs in progress (forwarded
	// unanalysed, kept for the whole analysis at completion). Beyond it
	// the oldest runs are analysed early, with what they have.
	MaxBacklogBytes int64 `mapstructure:"max_backlog_bytes"`
}

func walKey(seq uint64) string {
	return walKeyPrefix + strconv.FormatUint(seq, 16)
}

// walRunKey holds when a run in progress began (8 bytes, unix nanos): written
// when the run is first forwarded in progress, deleted with its records. A
// restart reads it for each replayed run, so max_run_duration goes on from
// the run's first span, not from the restart. Runs that complete within
// progress_interval (most) never write it: the records of short runs are
// the OTLP protobuf alone.
func walRunKey(id pcommon.TraceID) string {
	return walRunKeyPrefix + hex.EncodeToString(id[:])
}

type wal struct {
	p      *argusProcessor
	client storage.Client

	// writeMu serialises storage writes, so the index written last always
	// has the highest next and a low no larger than any live record.
	writeMu sync.Mutex
	next    uint64 // under writeMu

	// mu guards the in-memory state; it is never held during I/O, so shards
	// releasing records do not wait for a write.
	mu    sync.Mutex
	low   uint64
	live  map[uint64]int64 // live record -> its size in bytes
	born  map[uint64]int64 // live record -> when it was written (unix ns), for /health
	done  []uint64         // forwarded records, deleted at the next tick
	bytes int64
	// doneRuns: runs forwarded whole, whose walRunKey goes with done.
	doneRuns []pcommon.TraceID
	// doneBytes is the size of done; past kickBytes the delete loop runs
	// at once (kick), so a fast stream of forwards does not hold a tick's
	// worth of dead records in the file on top of max_bytes.
	doneBytes int64
	kickBytes int64
	kick      chan struct{}

	stopLoop chan struct{}
	loopDone chan struct{}
	stopOnce sync.Once
	// unregister removes the log from writehealth's backlogs.
	unregister func()
}

// openWAL gets the storage client of the configured extension and reads the
// index. It does not replay: the shards must be running first.
func openWAL(ctx context.Context, host component.Host, p *argusProcessor) (*wal, error) {
	id := *p.cfg.WAL.Storage
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, fmt.Errorf("argusdetector: wal.storage: extension %q not found", id)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("argusdetector: wal.storage: extension %q is not a storage extension", id)
	}
	client, err := se.GetClient(ctx, component.KindProcessor, p.set.ID, walClientName)
	if err != nil {
		return nil, fmt.Errorf("argusdetector: wal.storage: get client from %q: %w", id, err)
	}
	w := &wal{p: p, client: client, live: map[uint64]int64{}, born: map[uint64]int64{}, low: 1, next: 1,
		kickBytes: max(p.cfg.MaxBytes/4, 1), kick: make(chan struct{}, 1)}
	idx, err := client.Get(ctx, walIndexKey)
	if err != nil {
		_ = client.Close(ctx)
		return nil, fmt.Errorf("argusdetector: wal: read index from %q: %w", id, err)
	}
	if idx != nil {
		if len(idx) != 16 {
			_ = client.Close(ctx)
			return nil, fmt.Errorf("argusdetector: wal: index in %q is %d bytes, want 16 (not written by this processor?)", id, len(idx))
		}
		w.low, w.next = binary.BigEndian.Uint64(idx[:8]), binary.BigEndian.Uint64(idx[8:])
		if w.low < 1 || w.low > w.next {
			_ = client.Close(ctx)
			return nil, fmt.Errorf("argusdetector: wal: index in %q holds an invalid range [%d, %d)", id, w.low, w.next)
		}
	}
	return w, nil
}

func (w *wal) index(low, next uint64) *storage.Operation {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b[:8], low)
	binary.BigEndian.PutUint64(b[8:], next)
	return storage.SetOperation(walIndexKey, b)
}

// append writes one record per entry of data in one Batch and returns the
// sequence number of the first (the others follow it). Nothing is
// registered when the write fails.
func (w *wal) append(ctx context.Context, data [][]byte) (uint64, error) {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	first := w.next
	w.mu.Lock()
	low := w.low
	w.mu.Unlock()
	ops := make([]*storage.Operation, 0, len(data)+1)
	var size int64
	for i, d := range data {
		ops = append(ops, storage.SetOperation(walKey(first+uint64(i)), d))
		size += int64(len(d))
	}
	next := first + uint64(len(data))
	ops = append(ops, w.index(low, next))
	if err := w.client.Batch(ctx, ops...); err != nil {
		w.p.tel.WALWriteErrors.Add(context.Background(), 1, opAttr(opAppend))
		return 0, err
	}
	w.next = next
	now := time.Now().UnixNano()
	w.mu.Lock()
	for i, d := range data {
		w.live[first+uint64(i)] = int64(len(d))
		w.born[first+uint64(i)] = now
	}
	w.bytes += size
	w.mu.Unlock()
	w.p.tel.WALRecords.Add(context.Background(), int64(len(data)))
	w.p.tel.WALBytes.Add(context.Background(), size)
	return first, nil
}

// release marks records as no longer needed (their spans were forwarded,
// or handed back to the client with an error); they are deleted at the
// next tick. Sequence 0 (no record) is ignored.
func (w *wal) release(seqs ...uint64) {
	w.mu.Lock()
	for _, s := range seqs {
		if s != 0 {
			w.done = append(w.done, s)
			w.doneBytes += w.live[s]
		}
	}
	kick := w.doneBytes >= w.kickBytes
	w.mu.Unlock()
	if kick {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// markRun keeps when a run began, at its first forward in progress (see
// walRunKey). A failed write is counted and logged: the run goes on, and a
// restart before it completes would time it from the restart.
func (w *wal) markRun(ctx context.Context, id pcommon.TraceID, first time.Time) {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(first.UnixNano()))
	if err := w.client.Set(ctx, walRunKey(id), b); err != nil {
		w.p.tel.WALWriteErrors.Add(context.Background(), 1, opAttr("append"))
		w.p.logRarely("could not keep when a run in progress began in the write-ahead log", zap.Error(err))
	}
}

// runStart reads when a replayed run began; false when it was never
// forwarded in progress (or the key is unreadable).
func (w *wal) runStart(ctx context.Context, id pcommon.TraceID) (time.Time, bool) {
	b, err := w.client.Get(ctx, walRunKey(id))
	if err != nil || len(b) != 8 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b))), true
}

// releaseRuns marks the walRunKeys of runs forwarded whole for deletion,
// with the records released at the same time.
func (w *wal) releaseRuns(ids ...pcommon.TraceID) {
	if len(ids) == 0 {
		return
	}
	w.mu.Lock()
	w.doneRuns = append(w.doneRuns, ids...)
	w.mu.Unlock()
}

// deleteDone deletes the released records (and run keys) and moves the
// index past them in one Batch. On failure they stay released and are
// retried next time.
func (w *wal) deleteDone(ctx context.Context) error {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	w.mu.Lock()
	done, doneBytes, doneRuns := w.done, w.doneBytes, w.doneRuns
	w.done, w.doneBytes, w.doneRuns = nil, 0, nil
	gone := make(map[uint64]struct{}, len(done))
	for _, s := range done {
		gone[s] = struct{}{}
	}
	// No append runs (writeMu held), so every sequence below next is live,
	// being deleted now, or already gone: low moves to the first that stays.
	low := w.low
	for low < w.next {
		_, live := w.live[low]
		_, del := gone[low]
		if live && !del {
			break
		}
		low++
	}
	w.mu.Unlock()
	if len(done) == 0 && len(doneRuns) == 0 {
		return nil
	}

	ops := make([]*storage.Operation, 0, len(done)+len(doneRuns)+1)
	for _, s := range done {
		ops = append(ops, storage.DeleteOperation(walKey(s)))
	}
	for _, id := range doneRuns {
		ops = append(ops, storage.DeleteOperation(walRunKey(id)))
	}
	ops = append(ops, w.index(low, w.next))
	if err := w.client.Batch(ctx, ops...); err != nil {
		w.p.tel.WALWriteErrors.Add(context.Background(), 1, opAttr(opDelete))
		w.mu.Lock()
		w.done = append(done, w.done...)
		w.doneBytes += doneBytes
		w.doneRuns = append(doneRuns, w.doneRuns...)
		w.mu.Unlock()
		return err
	}
	w.mu.Lock()
	var size int64
	n := 0
	for _, s := range done {
		if b, ok := w.live[s]; ok {
			size += b
			n++
			delete(w.live, s)
			delete(w.born, s)
		}
	}
	w.low = low
	w.bytes -= size
	w.mu.Unlock()
	w.p.tel.WALRecords.Add(context.Background(), -int64(n))
	w.p.tel.WALBytes.Add(context.Background(), -size)
	return nil
}

// read returns the spans of live records, in the order of seqs, merged
// into one Traces, and their size. A record that is missing or cannot be
// decoded is counted (wal_read_errors) and skipped: the caller analyses
// what could be read.
func (w *wal) read(ctx context.Context, seqs []uint64) (ptrace.Traces, int64, error) {
	var u ptrace.ProtoUnmarshaler
	out := ptrace.NewTraces()
	var size int64
	for start := 0; start < len(seqs); start += walReadChunk {
		chunk := seqs[start:min(start+walReadChunk, len(seqs))]
		ops := make([]*storage.Operation, len(chunk))
		for i, s := range chunk {
			ops[i] = storage.GetOperation(walKey(s))
		}
		if err := w.client.Batch(ctx, ops...); err != nil {
			w.p.tel.WALReadErrors.Add(context.Background(), int64(len(chunk)))
			return out, size, fmt.Errorf("argusdetector: wal: read %d records: %w", len(chunk), err)
		}
		for i, op := range ops {
			td, err := u.UnmarshalTraces(op.Value)
			if op.Value == nil || err != nil {
				w.p.tel.WALReadErrors.Add(context.Background(), 1)
				w.p.logRarely("write-ahead log record of a run in progress is missing or unreadable; the run is analysed without it",
					zap.Uint64("seq", chunk[i]), zap.Error(err))
				continue
			}
			size += int64(len(op.Value))
			td.ResourceSpans().MoveAndAppendTo(out.ResourceSpans())
		}
	}
	return out, size, nil
}

// replay reads every record of the index range, oldest first, and hands
// each to fn with its sequence number, registered as live. A record that
// cannot be decoded is counted, logged and deleted.
func (w *wal) replay(ctx context.Context, fn func(seq uint64, td ptrace.Traces) error) error {
	var u ptrace.ProtoUnmarshaler
	w.writeMu.Lock()
	from, to := w.low, w.next
	w.writeMu.Unlock()
	for start := from; start < to; start += walReadChunk {
		end := min(start+walReadChunk, to)
		ops := make([]*storage.Operation, 0, end-start)
		for s := start; s < end; s++ {
			ops = append(ops, storage.GetOperation(walKey(s)))
		}
		if err := w.client.Batch(ctx, ops...); err != nil {
			return fmt.Errorf("argusdetector: wal: read records %d-%d: %w", start, end-1, err)
		}
		for i, op := range ops {
			if op.Value == nil {
				continue // deleted, or an append that failed
			}
			seq := start + uint64(i)
			size := int64(len(op.Value))
			w.mu.Lock()
			w.live[seq] = size
			w.born[seq] = time.Now().UnixNano() // written before the last stop
			w.bytes += size
			w.mu.Unlock()
			w.p.tel.WALRecords.Add(ctx, 1)
			w.p.tel.WALBytes.Add(ctx, size)
			td, err := u.UnmarshalTraces(op.Value)
			if err != nil {
				w.p.tel.WALReplayErrors.Add(ctx, 1)
				w.p.logRarely("write-ahead log record is unreadable; deleting it", zap.Uint64("seq", seq), zap.Error(err))
				w.release(seq)
				continue
			}
			if err := fn(seq, td); err != nil {
				return err
			}
			w.p.tel.WALReplayedRecords.Add(ctx, 1)
		}
	}
	return nil
}

// startLoop deletes released records once per tick, so a busy collector
// makes one delete Batch per tick rather than one per trace, or sooner
// when a quarter of max_bytes waits to be deleted.
func (w *wal) startLoop(every time.Duration) {
	w.stopLoop = make(chan struct{})
	w.loopDone = make(chan struct{})
	go func() {
		defer close(w.loopDone)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-w.kick:
			case <-w.stopLoop:
				return
			}
			if err := w.deleteDone(context.Background()); err != nil {
				w.p.logRarely("could not delete forwarded records from the write-ahead log", zap.Error(err))
			}
		}
	}()
}

// stop ends the delete loop, deletes what was released and closes the
// client. Records still live (spans not forwarded) stay for the next Start.
func (w *wal) stop(ctx context.Context) error {
	if w == nil {
		return nil
	}
	var err error
	w.stopOnce.Do(func() {
		if w.stopLoop != nil {
			close(w.stopLoop)
			<-w.loopDone
		}
		if w.unregister != nil {
			w.unregister()
		}
		err = errors.Join(w.deleteDone(ctx), w.client.Close(ctx))
	})
	return err
}

// backlog is what the log holds for writehealth: acknowledged spans not
// stored yet, and since when the oldest waits.
func (w *wal) backlog() writehealth.Backlog {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := writehealth.Backlog{Records: len(w.live), Bytes: w.bytes}
	var oldest int64
	for _, t := range w.born {
		if oldest == 0 || t < oldest {
			oldest = t
		}
	}
	if oldest != 0 {
		b.Oldest = time.Unix(0, oldest)
	}
	return b
}

// liveRecords is the number of records held (tests).
func (w *wal) liveRecords() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.live)
}

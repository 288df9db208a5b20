package argusdetector

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"

	"github.com/arguslabs/argus-otel/internal/annotation"
	"github.com/arguslabs/argus-otel/processor/argusdetector/internal/metadata"
)

var walID = component.MustNewIDWithName("file_storage", "wal")

// walConfig is testConfig with the write-ahead log on walID.
func walConfig() *Config {
	cfg := testConfig()
	cfg.WAL.Storage = &walID
	return cfg
}

// walClient opens the processor's log client on fs directly, as the next
// Start would see it.
func walClient(t *testing.T, fs storage.Extension) storage.Client {
	t.Helper()
	c, err := fs.GetClient(context.Background(), component.KindProcessor, component.NewID(metadata.Type), walClientName)
	require.NoError(t, err)
	return c
}

// storedRecords returns the sequence numbers of the records stored, read
// through the index the way replay reads them.
func storedRecords(t *testing.T, fs storage.Extension) []uint64 {
	t.Helper()
	c := walClient(t, fs)
	ctx := context.Background()
	idx, err := c.Get(ctx, walIndexKey)
	require.NoError(t, err)
	if idx == nil {
		return nil
	}
	low, next := binary.BigEndian.Uint64(idx[:8]), binary.BigEndian.Uint64(idx[8:])
	var out []uint64
	for s := low; s < next; s++ {
		v, err := c.Get(ctx, walKey(s))
		require.NoError(t, err)
		if v != nil {
			out = append(out, s)
		}
	}
	return out
}

// crashCopy copies the storage directory as it is now: what a process
// killed at this instant leaves on disk.
func crashCopy(t *testing.T, fs *fileStorage) *fileStorage {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(fs.Dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(fs.Dir, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600))
	}
	return &fileStorage{Dir: dst}
}

func spanIDsOf(td []ptrace.Traces) []string {
	var ids []string
	for _, x := range td {
		eachSpan(x, func(s ptrace.Span) { ids = append(ids, s.SpanID().String()) })
	}
	sort.Strings(ids)
	return ids
}

func TestWALConfig(t *testing.T) {
	cfg := loadConfig(t, "wal")
	require.NotNil(t, cfg.WAL.Storage)
	assert.Equal(t, walID, *cfg.WAL.Storage)
	require.NoError(t, confmap.Validate(cfg))
	assert.Nil(t, createDefaultConfig().(*Config).WAL.Storage, "off by default")
}

// A process killed while traces wait in the buffer: everything ConsumeTraces
// acknowledged is in the log, and the next Start replays it into the buffer,
// detects it and forwards it.
func TestWALReplaysAfterCrash(t *testing.T) {
	fs := &fileStorage{Dir: t.TempDir()}
	cfg := walConfig()
	cfg.MaxRunDuration = time.Hour // nothing leaves the buffer before the "crash"
	cfg.Tick = time.Second
	h := start(t, cfg, hostWith{walID: fs})

	var sent []ptrace.Traces
	for i := 1; i <= 20; i++ {
		td := spans(append(children(i, 3), root(i))...)
		sent = append(sent, cloneTraces(td))
		h.consume(t, td)
	}
	// Two traces in one call: one record each.
	td := spans(root(21), root(22))
	sent = append(sent, cloneTraces(td))
	h.consume(t, td)
	require.Equal(t, 0, h.sink.SpanCount())
	require.Len(t, storedRecords(t, fs), 22)
	assert.EqualValues(t, 22, h.sum(t, metadata.MetricWALRecords))

	disk := crashCopy(t, fs) // kill -9 here

	cfg2 := walConfig()
	cfg2.MaxRunDuration = 50 * time.Millisecond
	h2 := start(t, cfg2, hostWith{walID: disk})
	h2.waitSpans(t, 20*4+2)
	assert.Equal(t, spanIDsOf(sent), spanIDsOf(h2.sink.AllTraces()))
	assert.EqualValues(t, 22, h2.sum(t, metadata.MetricWALReplayed))
	// Replayed traces are detected like any other.
	for id, ft := range forwarded(h2.sink) {
		for _, s := range ft.spans {
			v, ok := s.Attributes().Get(annotation.AttrAnalyzed)
			require.True(t, ok && v.Bool(), "trace %s not analyzed", id)
		}
	}
	// Forwarded: the records are deleted at the next ticks.
	require.Eventually(t, func() bool { return len(storedRecords(t, disk)) == 0 }, 5*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return h2.sum(t, metadata.MetricWALRecords) == 0 }, 5*time.Second, 10*time.Millisecond)
	assert.EqualValues(t, 0, h2.sum(t, metadata.MetricWALBytes))

	// A third start finds nothing to replay.
	require.NoError(t, h2.p.Shutdown(context.Background()))
	h3 := start(t, cfg2, hostWith{walID: disk})
	assert.EqualValues(t, 0, h3.sum(t, metadata.MetricWALReplayed))
}

func cloneTraces(td ptrace.Traces) ptrace.Traces {
	out := ptrace.NewTraces()
	td.CopyTo(out)
	return out
}

// gatedStorage holds every Batch until the test lets it through, and can
// make it fail.
type gatedStorage struct {
	fileStorage
	gate    chan struct{}
	entered chan struct{}
	fail    atomic.Bool
}

func (g *gatedStorage) GetClient(ctx context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	c, err := g.fileStorage.GetClient(ctx, kind, id, name)
	return &gatedClient{Client: c, g: g}, err
}

type gatedClient struct {
	storage.Client
	g *gatedStorage
}

func (c *gatedClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	writes := false
	for _, op := range ops {
		writes = writes || op.Type != storage.Get
	}
	if writes && c.g.gate != nil {
		c.g.entered <- struct{}{}
		<-c.g.gate
	}
	if writes && c.g.fail.Load() {
		return errors.New("disk full")
	}
	return c.Client.Batch(ctx, ops...)
}

func (c *gatedClient) Get(ctx context.Context, key string) ([]byte, error) {
	op := storage.GetOperation(key)
	err := c.Batch(ctx, op)
	return op.Value, err
}

// ConsumeTraces returns only after the record is stored, and returns the
// storage error when it could not be: an acknowledgement never comes
// before the write.
func TestWALAcknowledgesOnlyAfterPersisting(t *testing.T) {
	g := &gatedStorage{fileStorage: fileStorage{Dir: t.TempDir()}}
	cfg := walConfig()
	cfg.Tick = time.Hour // no delete batch interferes with the gate
	cfg.MaxRunDuration = time.Hour
	h := start(t, cfg, hostWith{walID: g})
	g.gate, g.entered = make(chan struct{}), make(chan struct{}, 1)

	returned := make(chan error, 1)
	go func() {
		returned <- h.p.ConsumeTraces(context.Background(), spans(root(1), span{trace: 1, n: 1, parent: 0}))
	}()
	<-g.entered // the write is in progress
	select {
	case err := <-returned:
		t.Fatalf("ConsumeTraces returned (%v) before its record was written", err)
	case <-time.After(100 * time.Millisecond):
	}
	assert.Empty(t, storedRecords(t, &g.fileStorage))
	g.gate <- struct{}{}
	require.NoError(t, <-returned)
	assert.Len(t, storedRecords(t, &g.fileStorage), 1, "stored before the acknowledgement")

	// A failing write is the caller's error; the spans are not buffered.
	g.gate = nil
	g.fail.Store(true)
	err := h.p.ConsumeTraces(context.Background(), spans(root(2)))
	require.ErrorContains(t, err, "write-ahead log")
	require.ErrorContains(t, err, "disk full")
	assert.EqualValues(t, 1, h.sum(t, metadata.MetricWALWriteErrors, attribute.String("operation", "append")))
	assert.Len(t, storedRecords(t, &g.fileStorage), 1)
	require.Eventually(t, func() bool { return h.sum(t, metadata.MetricTracesInBuffer) == 1 }, 5*time.Second, 5*time.Millisecond)
	require.Never(t, func() bool { return h.sum(t, metadata.MetricTracesInBuffer) != 1 }, 50*time.Millisecond, 5*time.Millisecond,
		"only the acknowledged trace is buffered")

	g.fail.Store(false)
	h.consume(t, spans(root(2)))
	assert.Len(t, storedRecords(t, &g.fileStorage), 2)
}

// Evicted traces and late spans are forwarded at once; their records go
// with them. The log never holds more records than the buffer holds parts.
func TestWALReleasesEvictedAndLateSpans(t *testing.T) {
	fs := &fileStorage{Dir: t.TempDir()}
	cfg := walConfig()
	cfg.NumShards = 1
	cfg.MaxTraces = 3
	cfg.MaxRunDuration = time.Hour
	cfg.Tick = 10 * time.Millisecond
	h := start(t, cfg, hostWith{walID: fs})

	for i := 1; i <= 8; i++ {
		h.consume(t, spans(root(i)))
	}
	h.waitSpans(t, 5) // 5 evicted, 3 held
	require.Eventually(t, func() bool { return h.p.wal.liveRecords() == 3 }, 5*time.Second, 5*time.Millisecond)
	require.Len(t, storedRecords(t, fs), 3)

	// Trace 1 was released: its late span is forwarded, its record deleted.
	h.consume(t, spans(span{trace: 1, n: 1, parent: 0}))
	h.waitSpans(t, 6)
	require.EqualValues(t, 1, h.sum(t, metadata.MetricSpansLate))
	require.Eventually(t, func() bool { return len(storedRecords(t, fs)) == 3 }, 5*time.Second, 5*time.Millisecond)

	// Shutdown forwards the rest: the log is empty afterwards.
	require.NoError(t, h.p.Shutdown(context.Background()))
	assert.Empty(t, storedRecords(t, fs))
	assert.Equal(t, 0, h.p.wal.liveRecords())
}

// refusingConsumer refuses every call while refuse is set, with a
// permanent error when permanent is set.
type refusingConsumer struct {
	consumer.Traces
	refuse    atomic.Bool
	permanent atomic.Bool
	calls     atomic.Int64
}

func (r *refusingConsumer) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	r.calls.Add(1)
	if r.refuse.Load() {
		if r.permanent.Load() {
			return consumererror.NewPermanent(errors.New("rejected"))
		}
		return errors.New("queue is full")
	}
	return r.Traces.ConsumeTraces(ctx, td)
}

// A forward refused until the shutdown deadline keeps its records: the
// next Start replays them. One refused for now while running is held,
// records and all, and delivered once the next consumer takes it.
func TestWALRefusedForwards(t *testing.T) {
	fs := &fileStorage{Dir: t.TempDir()}
	cfg := walConfig()
	cfg.MaxRunDuration = time.Hour
	next := &refusingConsumer{}
	h := start(t, cfg, hostWith{walID: fs}, func(p *argusProcessor) { next.Traces = p.next; p.next = next })
	h.consume(t, spans(root(1), span{trace: 1, n: 1, parent: 0}))
	h.consume(t, spans(root(2)))
	next.refuse.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	// The shards retry until the deadline, so Shutdown may report it.
	if err := h.p.Shutdown(ctx); err != nil {
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	assert.Positive(t, next.calls.Load())
	assert.Len(t, storedRecords(t, fs), 2, "kept for the next start")
	require.Eventually(t, func() bool { return h.sum(t, metadata.MetricForwardErrors) == 3 },
		5*time.Second, time.Millisecond, "counted as refused at shutdown")

	cfg.MaxRunDuration = 20 * time.Millisecond
	cfg.NumShards = 1
	next2 := &refusingConsumer{}
	next2.refuse.Store(true)
	h2 := start(t, cfg, hostWith{walID: fs}, func(p *argusProcessor) { next2.Traces = p.next; p.next = next2 })
	assert.EqualValues(t, 2, h2.sum(t, metadata.MetricWALReplayed))
	// Refused again and again: held, not dropped; the records stay.
	require.Eventually(t, func() bool { return h2.sum(t, metadata.MetricForwardRetries) >= 3 }, 5*time.Second, 5*time.Millisecond)
	assert.Len(t, storedRecords(t, fs), 2)
	assert.EqualValues(t, 0, h2.sum(t, metadata.MetricForwardErrors))
	assert.Equal(t, 0, h2.sink.SpanCount())

	next2.refuse.Store(false)
	h2.waitSpans(t, 3)
	require.Eventually(t, func() bool { return len(storedRecords(t, fs)) == 0 }, 5*time.Second, 5*time.Millisecond)
	assert.EqualValues(t, 0, h2.sum(t, metadata.MetricForwardErrors))
	assert.EqualValues(t, 0, h2.p.budget.held())
}

// A permanent refusal drops the spans for good: counted, their records
// and bytes released, so the log and the bound do not fill up with them.
func TestWALPermanentRefusalDrops(t *testing.T) {
	fs := &fileStorage{Dir: t.TempDir()}
	cfg := walConfig()
	cfg.NumShards = 1
	cfg.MaxRunDuration = 20 * time.Millisecond
	next := &refusingConsumer{}
	next.refuse.Store(true)
	next.permanent.Store(true)
	h := start(t, cfg, hostWith{walID: fs}, func(p *argusProcessor) { next.Traces = p.next; p.next = next })
	h.consume(t, spans(root(1), span{trace: 1, n: 1, parent: 0}))
	require.Eventually(t, func() bool { return h.sum(t, metadata.MetricForwardErrors) == 2 }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return len(storedRecords(t, fs)) == 0 }, 5*time.Second, 5*time.Millisecond)
	assert.EqualValues(t, 1, next.calls.Load(), "not retried")
	assert.EqualValues(t, 0, h.sum(t, metadata.MetricForwardRetries))
	assert.EqualValues(t, 0, h.p.budget.held())
}

// A record that no longer decodes is counted and deleted; the others are
// replayed.
func TestWALSkipsUnreadableRecords(t *testing.T) {
	fs := &fileStorage{Dir: t.TempDir()}
	cfg := walConfig()
	cfg.MaxRunDuration = time.Hour
	h := start(t, cfg, hostWith{walID: fs})
	h.consume(t, spans(root(1)))
	h.consume(t, spans(root(2)))
	disk := crashCopy(t, fs)
	recs := storedRecords(t, disk)
	require.Len(t, recs, 2)
	require.NoError(t, walClient(t, disk).Set(context.Background(), walKey(recs[0]), []byte{0xff, 0xff, 0xff}))

	cfg.MaxRunDuration = 20 * time.Millisecond
	h2 := start(t, cfg, hostWith{walID: disk})
	h2.waitSpans(t, 1)
	assert.EqualValues(t, 1, h2.sum(t, metadata.MetricWALReplayErrors))
	assert.EqualValues(t, 1, h2.sum(t, metadata.MetricWALReplayed))
	require.Eventually(t, func() bool { return len(storedRecords(t, disk)) == 0 }, 5*time.Second, 5*time.Millisecond)
}

func TestWALStartErrors(t *testing.T) {
	cfg := walConfig()
	p, err := NewFactory().CreateTraces(context.Background(), processortestSettings(), cfg, nil)
	require.NoError(t, err)
	require.ErrorContains(t, p.Start(context.Background(), hostWith{}), `wal.storage: extension "file_storage/wal" not found`)
	require.ErrorContains(t, p.Start(context.Background(), hostWith{walID: &fileStorageless{}}), "is not a storage extension")

	fs := &fileStorage{Dir: t.TempDir()}
	require.NoError(t, walClient(t, fs).Set(context.Background(), walIndexKey, []byte("garbage")))
	require.ErrorContains(t, p.Start(context.Background(), hostWith{walID: fs}), "index")
	require.NoError(t, p.Shutdown(context.Background()))
}

// Many writers at once, then a clean shutdown: every span forwarded once,
// the log empty (run with -race).
func TestWALConcurrentWriters(t *testing.T) {
	fs := &fileStorage{Dir: t.TempDir()}
	cfg := walConfig()
	cfg.MaxRunDuration = 30 * time.Millisecond
	cfg.NumShards = 3
	h := start(t, cfg, hostWith{walID: fs})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				n := w*100 + i + 1
				h.consume(t, spans(root(n), span{trace: n, n: 1, parent: 0}, span{trace: n + 1000, n: 0, parent: -1}))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, h.p.Shutdown(context.Background()))
	assert.Equal(t, 4*25*3, h.sink.SpanCount())
	assert.Empty(t, storedRecords(t, fs))
	ids := map[pcommon.SpanID]int{}
	for _, td := range h.sink.AllTraces() {
		eachSpan(td, func(s ptrace.Span) { ids[s.SpanID()]++ })
	}
	for id, n := range ids {
		require.Equal(t, 1, n, "span %s forwarded %d times", id, n)
	}
}

// Forwarded records are deleted before the next tick once a quarter of
// max_bytes of them waits, so the log's file stays near max_bytes however
// fast traces pass through.
func TestWALDeletesEarlyUnderLoad(t *testing.T) {
	fs := &fileStorage{Dir: t.TempDir()}
	cfg := walConfig()
	cfg.NumShards = 1
	cfg.MaxTraces = 2
	cfg.MaxRunDuration = time.Hour
	cfg.Tick = time.Hour // the tick never comes
	cfg.MaxBytes = 4 * int64(new(ptrace.ProtoMarshaler).TracesSize(blobTrace(1)))
	h := start(t, cfg, hostWith{walID: fs})
	for i := 1; i <= 4; i++ {
		h.consume(t, blobTrace(i))
	}
	h.waitSpans(t, 2) // traces 1 and 2 evicted by count
	// The loop deletes from storage, then from its live set: wait for both.
	require.Eventually(t, func() bool { return len(storedRecords(t, fs)) == 2 && h.p.wal.liveRecords() == 2 },
		5*time.Second, 5*time.Millisecond)
}

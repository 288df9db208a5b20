package argusdetector

import (
	"context"
	"sync"
)

// byteBudget bounds the bytes the processor holds (max_bytes): parts
// queued for the shards, traces in their buffers and released spans not
// yet accepted by the next consumer. ConsumeTraces takes a batch's bytes
// before it writes the batch to the write-ahead log and queues it, and
// waits while they do not fit; a shard gives them back once the next
// consumer has the spans. Counting the queues too is what keeps memory
// bounded when detection is slower than intake: the queues stay full, and
// without the count they held 64 batches of several MiB per shard on top
// of max_bytes. One budget for all shards, taken in one piece per batch,
// so a sender never holds room in one place while waiting in another.
type byteBudget struct {
	mu    sync.Mutex
	limit int64
	used  int64
	// outgoing is the part of used that shards released (evicted or
	// complete) and are forwarding: room that is already on its way.
	outgoing int64
	// waiters are senders waiting for room; want is the largest amount one
	// of them asked for. The shards evict their oldest traces to make room.
	waiters int
	want    int64
	// freed is closed (and replaced) whenever bytes are given back, waking
	// every waiter to look again.
	freed chan struct{}
}

func newByteBudget(limit int64) *byteBudget {
	return &byteBudget{limit: limit, freed: make(chan struct{})}
}

// acquire takes n bytes, waiting while they do not fit until ctx ends or
// stop is closed. An empty budget takes any amount, so a part larger than
// the whole bound still gets through (alone). wake tells the shard that a
// sender is waiting.
func (b *byteBudget) acquire(ctx context.Context, n int64, stop <-chan struct{}, wake func()) error {
	b.mu.Lock()
	waiting := false
	defer func() {
		if waiting {
			b.waiters--
			if b.waiters == 0 {
				b.want = 0
			}
		}
		b.mu.Unlock()
	}()
	for {
		if b.used == 0 || b.used+n <= b.limit {
			b.used += n
			return nil
		}
		if !waiting {
			waiting = true
			b.waiters++
		}
		b.want = max(b.want, n)
		freed := b.freed
		b.mu.Unlock()
		wake()
		var err error
		select {
		case <-freed:
		case <-stop:
			err = errShuttingDown
		case <-ctx.Done():
			err = ctx.Err()
		}
		b.mu.Lock()
		if err != nil {
			return err
		}
	}
}

// force takes n bytes without waiting: spans the processor brings back
// into the heap itself (a run in progress read back from the write-ahead
// log, copies forwarded in progress). Senders wait until they are
// forwarded.
func (b *byteBudget) force(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used += n
	b.mu.Unlock()
}

// release gives back n bytes that were never handed to the next consumer
// (the sender got an error), and wakes the waiters.
func (b *byteBudget) release(n int64) {
	b.forwarded(n, 0)
}

// outgo marks n held bytes as released by a shard and being forwarded.
func (b *byteBudget) outgo(n int64) {
	b.mu.Lock()
	b.outgoing += n
	b.mu.Unlock()
}

// forwarded gives back n bytes, of which out were outgoing, and wakes the
// waiters.
func (b *byteBudget) forwarded(n, out int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.outgoing -= out
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// needRoom reports whether a waiting sender lacks bytes that are not
// already on their way out: then a shard should evict.
func (b *byteBudget) needRoom() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.waiters > 0 && b.used+b.want-b.limit > b.outgoing
}

// held is the number of bytes taken (tests and telemetry).
func (b *byteBudget) held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

package argusdetector

import (
	"context"
	"sync"
)

// byteBudget bounds the bytes one shard holds: parts queued for it, traces
// in its buffer and released spans not yet accepted by the next consumer.
// ConsumeTraces takes bytes before queuing a part and waits while they do
// not fit; the shard gives them back once the next consumer has the spans.
// Counting the queue too is what keeps memory bounded when detection is
// slower than intake: the queue stays full, and without the count it held
// 64 batches of several MiB per shard on top of max_bytes.
type byteBudget struct {
	mu    sync.Mutex
	limit int64
	used  int64
	// waiters are senders waiting for room; want is the largest amount one
	// of them asked for. The shard evicts its oldest traces to make room.
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

// release gives n bytes back and wakes the waiters.
func (b *byteBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// shortfall is how many bytes a waiting sender lacks (0 when none waits).
func (b *byteBudget) shortfall() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.waiters == 0 {
		return 0
	}
	return max(b.used+b.want-b.limit, 0)
}

// held is the number of bytes taken (tests and telemetry).
func (b *byteBudget) held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

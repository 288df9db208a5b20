package detect

import (
	"math"
	"strconv"
	"sync"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// Baselines: the recent samples of every (pipeline, node), which the
// statistical layer compares each step with, and what is measured of a step.

// Metrics tracked per (pipeline, node).
const (
	metricDuration = iota
	metricTokens
	metricBytes
	numMetrics
)

var metricNames = [numMetrics]string{"duration_ms", "tokens", "output_bytes"}

// Defaults of NewBaselines.
const (
	DefaultBaselineWindow = 200
	DefaultBaselineKeys   = 10000
)

// Baselines holds the recent samples of every (pipeline, node). It is safe
// for concurrent use.
//
// Memory: each key holds at most window samples of each of the three metrics
// as uint32, so 12*window bytes of samples plus about 500 B of bookkeeping
// (key struct, names, map entry, update shape), and about 65 B per field
// its update shape remembers (at most maxShapeFields): 3 KB per key at the
// default window of 200 for a node writing one field, 4 KB for one writing
// 16 or more (measured by TestBaselineMemoryPerKey), so 30-40 MB for 10000
// keys. At most maxKeys keys are held; the least recently observed is
// evicted first.
type Baselines struct {
	mu        sync.Mutex
	window    int
	maxKeys   int
	keys      map[string]*baseKey
	lru       baseKey // sentinel: lru.next is the most recent, lru.prev the least
	evictions uint64
}

type baseKey struct {
	id         string // baseKeyID(pipeline, node)
	pipeline   string
	node       string
	series     [numMetrics]sampleRing
	shape      updateShape // what its updates looked like (baselines_updates.go)
	prev, next *baseKey
}

// sampleRing keeps the last window samples; it grows up to window and then
// overwrites the oldest.
type sampleRing struct {
	buf  []uint32
	next int // oldest sample (next write) once full
}

func (r *sampleRing) push(v uint32, window int) {
	if len(r.buf) < window {
		if len(r.buf) == cap(r.buf) { // grow by hand so capacity never exceeds window
			nb := make([]uint32, len(r.buf), min(max(2*cap(r.buf), 8), window))
			copy(nb, r.buf)
			r.buf = nb
		}
		r.buf = append(r.buf, v)
		return
	}
	r.buf[r.next] = v
	r.next = (r.next + 1) % len(r.buf)
}

// ordered returns the samples oldest first, appended to dst.
func (r *sampleRing) ordered(dst []uint32) []uint32 {
	if len(r.buf) == 0 {
		return dst
	}
	dst = append(dst, r.buf[r.next:]...)
	return append(dst, r.buf[:r.next]...)
}

// NewBaselines returns empty baselines keeping windowSize samples per metric
// and at most maxKeys (pipeline, node) keys. Non-positive values select the
// defaults (200 samples, 10000 keys).
func NewBaselines(windowSize, maxKeys int) *Baselines {
	if windowSize <= 0 {
		windowSize = DefaultBaselineWindow
	}
	if maxKeys <= 0 {
		maxKeys = DefaultBaselineKeys
	}
	b := &Baselines{window: windowSize, maxKeys: maxKeys}
	b.ready()
	return b
}

// ready makes a zero Baselines usable with the defaults. Caller holds b.mu
// (or owns b exclusively).
func (b *Baselines) ready() {
	if b.keys != nil {
		return
	}
	if b.window <= 0 {
		b.window = DefaultBaselineWindow
	}
	if b.maxKeys <= 0 {
		b.maxKeys = DefaultBaselineKeys
	}
	b.keys = map[string]*baseKey{}
	b.lru.next, b.lru.prev = &b.lru, &b.lru
}

// Len is the number of (pipeline, node) keys held.
func (b *Baselines) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.keys)
}

// Evictions counts keys dropped to stay within maxKeys.
func (b *Baselines) Evictions() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.evictions
}

// baseKeyID is unambiguous whatever bytes the names hold: the pipeline name
// is length-prefixed.
func baseKeyID(pipelineName, node string) string {
	return strconv.Itoa(len(pipelineName)) + ":" + pipelineName + node
}

// stepMetrics are one step's values; ok[m] is false when a metric is unknown.
type stepMetrics struct {
	v  [numMetrics]float64
	ok [numMetrics]bool
}

func measure(s *agentrun.Step) stepMetrics {
	var m stepMetrics
	if !s.Start.IsZero() && !s.End.IsZero() && !s.End.Before(s.Start) {
		m.v[metricDuration], m.ok[metricDuration] = float64(s.DurationMs()), true
	}
	// Zero tokens means "not reported" (no LLM call, or usage missing), not
	// "used none": recording it would make every later report look huge.
	in, out, total := s.Tokens()
	if total == 0 {
		total = in + out
	}
	if total > 0 {
		m.v[metricTokens], m.ok[metricTokens] = float64(total), true
	}
	if s.HasOutput {
		m.v[metricBytes], m.ok[metricBytes] = float64(jsonSize(s.Output, 0)), true
	}
	return m
}

// Observe records the metrics of every step that did not fail. Analyze
// calls it after Statistical, so a run is never compared with itself.
func (b *Baselines) Observe(run *agentrun.Run) {
	if b == nil || run == nil || len(run.Steps) == 0 {
		return
	}
	b.observe(run, measureRun(run))
}

// measureRun measures every step of a run, once for Statistical and
// Observe both (the output size is a pass over all of the output's text).
func measureRun(run *agentrun.Run) []stepMetrics {
	ms := make([]stepMetrics, len(run.Steps))
	for i := range run.Steps {
		ms[i] = measure(&run.Steps[i])
	}
	return ms
}

// observe records ms, the metrics of run's steps (measureRun), except those
// of failed steps.
func (b *Baselines) observe(run *agentrun.Run, ms []stepMetrics) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range run.Steps {
		m := &ms[i]
		if run.Steps[i].Failed() || !m.ok[metricDuration] && !m.ok[metricTokens] && !m.ok[metricBytes] {
			continue
		}
		k := b.touch(run.PipelineName, run.Steps[i].Node)
		for j := range numMetrics {
			if m.ok[j] {
				k.series[j].push(toSample(m.v[j]), b.window)
			}
		}
		k.shape.observe(&run.Steps[i], b.window)
	}
}

func toSample(v float64) uint32 {
	switch {
	case !(v > 0): // also NaN
		return 0
	case v >= math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(math.Round(v))
}

// touch returns the key, created if needed, as the most recent; it evicts
// the least recent keys beyond maxKeys. Caller holds b.mu.
func (b *Baselines) touch(pipelineName, node string) *baseKey {
	b.ready()
	id := baseKeyID(pipelineName, node)
	k := b.keys[id]
	if k != nil {
		k.prev.next, k.next.prev = k.next, k.prev
	} else {
		k = &baseKey{id: id, pipeline: pipelineName, node: node}
		b.keys[id] = k
	}
	k.prev, k.next = &b.lru, b.lru.next
	b.lru.next.prev = k
	b.lru.next = k
	for len(b.keys) > b.maxKeys {
		old := b.lru.prev
		old.prev.next, old.next.prev = old.next, old.prev
		delete(b.keys, old.id)
		b.evictions++
	}
	return k
}

// updates copies the update shapes of a pipeline's nodes (nil when a node
// is unknown), for the rules judged against a node's history.
func (b *Baselines) updates(pipelineName string, nodes []string) map[string]*updateShape {
	return copyKeys(b, pipelineName, nodes, func(k *baseKey) *updateShape { return k.shape.clone() })
}

// history copies the samples of a pipeline's nodes (nil when a node is
// unknown).
func (b *Baselines) history(pipelineName string, nodes []string) map[string]*[numMetrics][]uint32 {
	return copyKeys(b, pipelineName, nodes, func(k *baseKey) *[numMetrics][]uint32 {
		var h [numMetrics][]uint32
		for j := range numMetrics {
			h[j] = k.series[j].ordered(nil)
		}
		return &h
	})
}

// copyKeys copies what of each node's key copy returns, nil for an unknown
// node. Copying keeps the lock short: statistics are computed outside it.
func copyKeys[T any](b *Baselines, pipelineName string, nodes []string, copy func(k *baseKey) *T) map[string]*T {
	out := make(map[string]*T, len(nodes))
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ready()
	for _, n := range nodes {
		if _, done := out[n]; done {
			continue
		}
		var v *T
		if k := b.keys[baseKeyID(pipelineName, n)]; k != nil {
			v = copy(k)
		}
		out[n] = v
	}
	return out
}

package detect

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The statistical layer compares each step with the recent history of the
// same (pipeline, node): duration, tokens and output size. Deviations are
// scored with a robust z-score, (x - median) / (1.4826 * MAD), which a few
// past outliers cannot drag around, and a finding also needs a large relative
// and absolute change, so ordinary jitter never raises one.

const (
	ruleLatencySpike = "statistical.latency_spike"
	ruleTooFast      = "statistical.too_fast"
	ruleTokenBlowup  = "statistical.token_blowup"
	ruleOutputSize   = "statistical.output_size_anomaly"
)

func init() {
	const zMeaning = "robust z-score; 0 uses statistical.z_threshold"
	for _, r := range []Rule{
		Rule{ID: ruleLatencySpike, Layer: LayerStatistical, Severity: SeverityWarning, Threshold: 2.5, ThresholdMeaning: zMeaning,
			Description: "A step took far longer than its baseline for this pipeline and node."},
		Rule{ID: ruleTooFast, Layer: LayerStatistical, Severity: SeverityWarning, Threshold: 2.5, ThresholdMeaning: zMeaning,
			Description: "A step finished far faster than its baseline: it may have skipped its work."},
		Rule{ID: ruleTokenBlowup, Layer: LayerStatistical, Severity: SeverityWarning, Threshold: 2.5, ThresholdMeaning: zMeaning,
			Description: "A step used far more tokens than its baseline."},
		Rule{ID: ruleOutputSize, Layer: LayerStatistical, Severity: SeverityInfo, Threshold: 2.5, ThresholdMeaning: zMeaning,
			Description: "A step's output is far larger than its baseline (info), or collapsed to near nothing where it is usually substantial (warning)."},
	} {
		register(r, nil) // the layer still runs its rules itself
	}
}

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

// madScale makes the MAD a consistent estimator of the standard deviation
// for normally distributed data.
const madScale = 1.4826

// Baselines holds the recent samples of every (pipeline, node). It is safe
// for concurrent use.
//
// Memory: each key holds at most window samples of each of the three metrics
// as uint32, so 12*window bytes of samples plus about 500 B of bookkeeping
// (key struct, names, map entry): about 2.9 KB per key at the default window
// of 200 (measured by TestBaselineMemoryPerKey), so 29 MB for 10000 keys.
// At most maxKeys keys are held; the least recently observed is evicted first.
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

// history copies the samples of a key (nil when unknown). Copying keeps the
// lock short: statistics are computed outside it.
func (b *Baselines) history(pipelineName string, nodes []string) map[string]*[numMetrics][]uint32 {
	out := make(map[string]*[numMetrics][]uint32, len(nodes))
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ready()
	for _, n := range nodes {
		if _, done := out[n]; done {
			continue
		}
		k := b.keys[baseKeyID(pipelineName, n)]
		if k == nil {
			out[n] = nil
			continue
		}
		var h [numMetrics][]uint32
		for j := range numMetrics {
			h[j] = k.series[j].ordered(nil)
		}
		out[n] = &h
	}
	return out
}

// robust holds the median and MAD of a sample.
type robust struct {
	median, mad float64
	n           int
}

func robustStats(samples []uint32, scratch []float64) robust {
	n := len(samples)
	if n == 0 {
		return robust{}
	}
	xs := scratch[:0]
	for _, s := range samples {
		xs = append(xs, float64(s))
	}
	med := median(xs)
	for i, x := range xs {
		xs[i] = math.Abs(x - med)
	}
	return robust{median: med, mad: median(xs), n: n}
}

// median reorders xs (quickselect, expected linear time).
func median(xs []float64) float64 {
	n := len(xs)
	if n%2 == 1 {
		return selectKth(xs, n/2)
	}
	hi := selectKth(xs, n/2)
	lo := xs[0] // after selection, xs[:n/2] holds the smaller half
	for _, x := range xs[1 : n/2] {
		lo = max(lo, x)
	}
	return (lo + hi) / 2
}

// selectKth partially sorts xs so xs[k] is the k-th smallest and returns it.
func selectKth(xs []float64, k int) float64 {
	lo, hi := 0, len(xs)-1
	for lo < hi {
		// Median of three as pivot: sorted or constant samples stay linear.
		mid := lo + (hi-lo)/2
		if xs[mid] < xs[lo] {
			xs[mid], xs[lo] = xs[lo], xs[mid]
		}
		if xs[hi] < xs[lo] {
			xs[hi], xs[lo] = xs[lo], xs[hi]
		}
		if xs[hi] < xs[mid] {
			xs[hi], xs[mid] = xs[mid], xs[hi]
		}
		pivot := xs[mid]
		i, j := lo, hi
		for i <= j {
			for xs[i] < pivot {
				i++
			}
			for xs[j] > pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return xs[k]
		}
	}
	return xs[k]
}

// zScore is the robust z of x. The MAD is floored at 5% of the median (and
// one unit) so a constant baseline gives a large but finite z; the relative
// and absolute gates then decide.
func (r robust) zScore(x float64) float64 {
	scale := madScale * max(r.mad, 0.05*math.Abs(r.median), 1)
	return (x - r.median) / scale
}

// Statistical checks every step against the baselines of its (pipeline,
// node). It does not record the run; Analyze calls Observe afterwards.
func Statistical(run *agentrun.Run, cfg *Config, base *Baselines) []Finding {
	if run == nil || base == nil || len(run.Steps) == 0 {
		return nil
	}
	return statistical(run, cfg, base, measureRun(run))
}

// statistical is Statistical over ms, the metrics of run's steps.
func statistical(run *agentrun.Run, cfg *Config, base *Baselines, ms []stepMetrics) []Finding {
	if cfg == nil {
		cfg = &Config{}
	}
	if !cfg.enabled(ruleLatencySpike) && !cfg.enabled(ruleTooFast) && !cfg.enabled(ruleTokenBlowup) && !cfg.enabled(ruleOutputSize) {
		return nil
	}
	st := cfg.WithDefaults().Statistical
	nodes := make([]string, len(run.Steps))
	for i := range run.Steps {
		nodes[i] = run.Steps[i].Node
	}
	hist := base.history(run.PipelineName, nodes)

	// Statistics per node and metric, computed once even when a node ran
	// many times in this run.
	type key struct {
		node   string
		metric int
	}
	stats := map[key]robust{}
	scratch := make([]float64, 0, DefaultBaselineWindow) // grows if the window is larger
	statsFor := func(node string, m int) robust {
		k := key{node, m}
		if r, ok := stats[k]; ok {
			return r
		}
		var r robust
		if h := hist[node]; h != nil {
			r = robustStats(h[m], scratch)
		}
		stats[k] = r
		return r
	}

	var out []Finding
	for i := range run.Steps {
		s := &run.Steps[i]
		m := &ms[i]
		failed := s.Failed()
		for j := range numMetrics {
			// A failed step is already reported; only its latency (e.g. a
			// timeout) adds information.
			if !m.ok[j] || (failed && j != metricDuration) {
				continue
			}
			r := statsFor(s.Node, j)
			if r.n < st.MinSamples || r.n == 0 {
				continue
			}
			if f, ok := checkMetric(run, cfg, &st, i, j, m.v[j], r, failed); ok {
				out = append(out, f)
			}
		}
	}
	return out
}

// checkMetric applies the rules of one metric to one value.
func checkMetric(run *agentrun.Run, cfg *Config, st *StatisticalConfig, step, metric int, x float64, r robust, failed bool) (Finding, bool) {
	node := run.Steps[step].Node
	dev := x - r.median
	z := r.zScore(x)
	up := dev >= st.MinRelativeChange*r.median
	down := -dev >= st.MinRelativeChange*r.median
	var rule, msg string
	escalate := false
	switch metric {
	case metricDuration:
		switch {
		case up && dev >= st.MinAbsoluteMs && z >= zFor(cfg, st, ruleLatencySpike):
			rule = ruleLatencySpike
			msg = fmt.Sprintf("node %q took %s ms, usually %s ms", node, num(x), num(r.median))
		case !failed && down && -dev >= st.MinAbsoluteMs && z <= -zFor(cfg, st, ruleTooFast):
			rule = ruleTooFast
			msg = fmt.Sprintf("node %q finished in %s ms, usually %s ms: it may have skipped its work", node, num(x), num(r.median))
		}
	case metricTokens:
		if up && dev >= st.MinAbsoluteTokens && z >= zFor(cfg, st, ruleTokenBlowup) {
			rule = ruleTokenBlowup
			msg = fmt.Sprintf("node %q used %s tokens, usually %s", node, num(x), num(r.median))
		}
	case metricBytes:
		zt := zFor(cfg, st, ruleOutputSize)
		switch {
		case up && dev >= st.MinAbsoluteBytes && z >= zt:
			rule = ruleOutputSize
			msg = fmt.Sprintf("node %q output is %s bytes, usually %s", node, num(x), num(r.median))
		case down && -dev >= st.MinAbsoluteBytes && z <= -zt && x <= r.median/10:
			rule = ruleOutputSize
			escalate = true
			msg = fmt.Sprintf("node %q output collapsed to %s bytes, usually %s", node, num(x), num(r.median))
		}
	}
	if rule == "" {
		return Finding{}, false
	}
	details := map[string]any{
		"metric":  metricNames[metric],
		"value":   x,
		"median":  round3(r.median),
		"mad":     round3(r.mad),
		"z":       round3(z),
		"samples": r.n,
	}
	f, ok := cfg.finding(run, rule, step, msg, details)
	// A collapse to nothing is worse than growth: warning, unless the user
	// set this rule's severity explicitly.
	if ok && escalate && cfg.Rules[rule].Severity == "" {
		f.Severity = SeverityWarning
	}
	return f, ok
}

// zFor is the z threshold of a rule: its own override, else the layer's.
func zFor(cfg *Config, st *StatisticalConfig, rule string) float64 {
	if t := cfg.Rules[rule].Threshold; t > 0 {
		return t
	}
	return st.ZThreshold
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// jsonSize is the length of v encoded as JSON (without HTML escaping), for
// the values encoding/json decodes into, computed without allocating.
func jsonSize(v any, depth int) int {
	if depth > 64 {
		return len(agentrun.JSON(v))
	}
	switch x := v.(type) {
	case nil:
		return 4
	case bool:
		if x {
			return 4
		}
		return 5
	case string:
		return jsonStringSize(x)
	case float64:
		// encoding/json's float format: plain decimals, exponents only for
		// very small or large magnitudes, written e-7 rather than e-07.
		var buf [32]byte
		format := byte('f')
		if a := math.Abs(x); a != 0 && (a < 1e-6 || a >= 1e21) {
			format = 'e'
		}
		b := strconv.AppendFloat(buf[:0], x, format, -1, 64)
		if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			return n - 1
		}
		return len(b)
	case json.Number:
		return len(x)
	case []any:
		n := 2 + max(len(x)-1, 0)
		for _, e := range x {
			n += jsonSize(e, depth+1)
		}
		return n
	case map[string]any:
		n := 2 + max(len(x)-1, 0)
		for k, e := range x {
			n += jsonStringSize(k) + 1 + jsonSize(e, depth+1)
		}
		return n
	}
	return len(agentrun.JSON(v))
}

func jsonStringSize(s string) int {
	n := 2
	for i := 0; i < len(s); {
		if i+8 <= len(s) && swarPlain(load64(s[i:])) {
			n += 8 // 8 bytes written as themselves
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20:
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += 6 // \ufffd
		case r == '\u2028' || r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

// ---- persistence ---------------------------------------------------------

// snapshotVersion is bumped whenever the snapshot layout changes.
const snapshotVersion = 1

type snapshot struct {
	Version int           `json:"version"`
	Window  int           `json:"window"`
	Keys    []snapshotKey `json:"keys"` // least recently observed first
}

type snapshotKey struct {
	Pipeline string   `json:"pipeline"`
	Node     string   `json:"node"`
	Duration []uint32 `json:"duration_ms"` // oldest first
	Tokens   []uint32 `json:"tokens"`
	Bytes    []uint32 `json:"output_bytes"`
}

// Snapshot encodes the baselines as versioned JSON, for Restore after a
// restart.
func (b *Baselines) Snapshot() ([]byte, error) {
	b.mu.Lock()
	b.ready()
	snap := snapshot{Version: snapshotVersion, Window: b.window, Keys: make([]snapshotKey, 0, len(b.keys))}
	for k := b.lru.prev; k != &b.lru; k = k.prev {
		snap.Keys = append(snap.Keys, snapshotKey{
			Pipeline: k.pipeline, Node: k.node,
			Duration: k.series[metricDuration].ordered(make([]uint32, 0, len(k.series[metricDuration].buf))),
			Tokens:   k.series[metricTokens].ordered(make([]uint32, 0, len(k.series[metricTokens].buf))),
			Bytes:    k.series[metricBytes].ordered(make([]uint32, 0, len(k.series[metricBytes].buf))),
		})
	}
	b.mu.Unlock()
	return json.Marshal(snap)
}

// Restore replaces the baselines with a snapshot. On any error the current
// baselines are left untouched. Series longer than this window keep their
// most recent samples; keys beyond maxKeys keep the most recently observed
// (the dropped ones count as evictions).
func (b *Baselines) Restore(data []byte) error {
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("baselines: decode snapshot: %w", err)
	}
	if snap.Version != snapshotVersion {
		return fmt.Errorf("baselines: snapshot version %d, want %d", snap.Version, snapshotVersion)
	}
	if snap.Keys == nil {
		return errors.New("baselines: snapshot has no keys list")
	}
	seen := make(map[string]bool, len(snap.Keys))
	for i, k := range snap.Keys {
		id := baseKeyID(k.Pipeline, k.Node)
		if seen[id] {
			return fmt.Errorf("baselines: snapshot key %d (%q, %q) is duplicated", i, k.Pipeline, k.Node)
		}
		seen[id] = true
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	b.ready()
	b.keys = make(map[string]*baseKey, min(len(snap.Keys), b.maxKeys))
	b.lru.next, b.lru.prev = &b.lru, &b.lru
	for _, sk := range snap.Keys {
		k := b.touch(sk.Pipeline, sk.Node)
		for j, samples := range [numMetrics][]uint32{sk.Duration, sk.Tokens, sk.Bytes} {
			for _, v := range samples[max(len(samples)-b.window, 0):] {
				k.series[j].push(v, b.window)
			}
		}
	}
	return nil
}

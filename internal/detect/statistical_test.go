package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// stSpec describes one step for the statistical tests: duration, tokens
// (0 = not reported) and output size in bytes of JSON (0 = no output).
type stSpec struct {
	node   string
	ms     int
	tokens int64
	bytes  int
	failed bool
}

func stRun(pipelineName string, specs ...stSpec) *agentrun.Run {
	steps := make([]agentrun.Step, len(specs))
	at := bhEpoch
	for i, sp := range specs {
		s := agentrun.Step{Node: sp.node, Status: agentrun.StatusOK, Start: at, End: at.Add(time.Duration(sp.ms) * time.Millisecond)}
		at = s.End
		if sp.tokens > 0 {
			s.Calls = []agentrun.Call{bhLLM("prompt", "answer", sp.tokens)}
		}
		if sp.bytes > 0 {
			s.Output, s.HasOutput = stOutput(sp.bytes), true
		}
		if sp.failed {
			s.Status = agentrun.StatusError
			s.Exceptions = []agentrun.Exception{{Type: "TimeoutError", Message: "deadline exceeded"}}
		}
		steps[i] = s
	}
	return bhRun(pipelineName, steps...)
}

// stOutput is a JSON object whose encoding is exactly n bytes (n >= 11), or {}.
func stOutput(n int) any {
	if n < 11 {
		return map[string]any{}
	}
	return map[string]any{"text": strings.Repeat("a", n-11)}
}

// stAnalyze does what Analyze does for this layer: check, then record.
func stAnalyze(run *agentrun.Run, cfg *Config, base *Baselines) []Finding {
	fs := Statistical(run, cfg, base)
	base.Observe(run)
	return fs
}

// jitter returns center ± spread, uniformly.
func jitter(r *rand.Rand, center, spread int) int { return center - spread + r.IntN(2*spread+1) }

func cleanRAG(r *rand.Rand) *agentrun.Run {
	return stRun("rag",
		stSpec{node: "retrieve", ms: jitter(r, 100, 3), bytes: jitter(r, 1500, 30)},
		stSpec{node: "generate", ms: jitter(r, 100, 3), tokens: int64(jitter(r, 500, 10)), bytes: jitter(r, 3000, 60)},
	)
}

func TestStatisticalJitterNeverFiresButSpikesDo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := NewBaselines(0, 0)
	cfg := bhCfg(nil)
	for i := range 800 {
		if fs := stAnalyze(cleanRAG(r), cfg, base); len(fs) != 0 {
			t.Fatalf("clean run %d raised findings: %s", i, bhDump(fs))
		}
	}
	spike := stRun("rag",
		stSpec{node: "retrieve", ms: 101, bytes: 1500},
		stSpec{node: "generate", ms: 2000, tokens: 5000, bytes: 3000},
	)
	fs := stAnalyze(spike, cfg, base)
	lat := bhOne(t, fs, ruleLatencySpike)
	if lat.Step != 1 || lat.Severity != SeverityWarning || lat.Layer != LayerStatistical || lat.Node != "generate" {
		t.Fatalf("latency finding = %+v", lat)
	}
	d := lat.Details
	if med, ok := d["median"].(float64); !ok || med < 99 || med > 101 {
		t.Fatalf("median = %v", d["median"])
	}
	if d["metric"] != "duration_ms" || d["value"] != 2000.0 || d["samples"] != DefaultBaselineWindow {
		t.Fatalf("latency details = %v", d)
	}
	if z, ok := d["z"].(float64); !ok || z < 100 {
		t.Fatalf("z = %v", d["z"])
	}
	if mad, ok := d["mad"].(float64); !ok || mad < 1 || mad > 3 {
		t.Fatalf("mad = %v", d["mad"])
	}
	tok := bhOne(t, fs, ruleTokenBlowup)
	if med, _ := tok.Details["median"].(float64); tok.Step != 1 || tok.Details["metric"] != "tokens" || tok.Details["value"] != 5000.0 || med < 495 || med > 505 {
		t.Fatalf("token finding = %+v", tok)
	}
	if len(fs) != 2 {
		t.Fatalf("want exactly the two spikes: %s", bhDump(fs))
	}
}

func TestStatisticalModerateChangesAreQuiet(t *testing.T) {
	// A slow LLM node (2 s) that becomes 30% slower, a fast node that
	// doubles from 100 to 200 ms or takes 4x when the process was paused
	// for 300 ms, an LLM call that uses 1.65x its usual tokens: none is an
	// anomaly. A finding needs the z-score, the factor (3x) and the absolute
	// minimums (a spike adds at least 1 s) all at once.
	r := rand.New(rand.NewPCG(3, 4))
	base := NewBaselines(0, 0)
	cfg := bhCfg(nil)
	for range 50 {
		stAnalyze(stRun("p", stSpec{node: "llm", ms: jitter(r, 2000, 40), tokens: int64(jitter(r, 500, 20))}, stSpec{node: "fast", ms: jitter(r, 100, 2)}), cfg, base)
	}
	for _, quiet := range []*agentrun.Run{
		stRun("p", stSpec{node: "llm", ms: 2600, tokens: 824}, stSpec{node: "fast", ms: 200}),
		stRun("p", stSpec{node: "llm", ms: 3100, tokens: 900}, stSpec{node: "fast", ms: 400}),
		stRun("p", stSpec{node: "llm", ms: 5900, tokens: 1450}, stSpec{node: "fast", ms: 1050}),
	} {
		if fs := Statistical(quiet, cfg, base); len(fs) != 0 {
			t.Fatalf("moderate changes raised: %s", bhDump(fs))
		}
	}
	fs := Statistical(stRun("p", stSpec{node: "llm", ms: 6100, tokens: 1600}, stSpec{node: "fast", ms: 1150}), cfg, base)
	if got := bhOnly(fs, ruleLatencySpike); len(got) != 2 {
		t.Fatalf("want both spikes: %s", bhDump(fs))
	}
	bhOne(t, fs, ruleTokenBlowup)
	// The gates are configurable.
	loose := bhCfg(nil)
	loose.Statistical.MinFactor, loose.Statistical.MinSpikeMs = 1.5, 250
	fs = Statistical(stRun("p", stSpec{node: "llm", ms: 3100, tokens: 900}, stSpec{node: "fast", ms: 400}), loose, base)
	if got := bhOnly(fs, ruleLatencySpike); len(got) != 2 {
		t.Fatalf("min_factor 1.5 and min_spike_ms 250: want both spikes: %s", bhDump(fs))
	}
	bhOne(t, fs, ruleTokenBlowup)
}

// A node with a second mode by design (a cache miss in one run of five, a
// short answer now and then) is judged against it, not against its median.
func TestStatisticalUsualModeIsQuiet(t *testing.T) {
	base := NewBaselines(0, 0)
	cfg := bhCfg(nil)
	for i := range 100 {
		ms, bytes := 40+i%5, 6000+i%7
		if i%5 == 0 {
			ms, bytes = 2500+i%9, 60 // a cache miss; a short-by-design answer
		}
		if fs := stAnalyze(stRun("p", stSpec{node: "lookup", ms: ms, bytes: bytes}), cfg, base); len(fs) != 0 && i >= 10 {
			t.Fatalf("run %d: %s", i, bhDump(fs))
		}
	}
	if fs := Statistical(stRun("p", stSpec{node: "lookup", ms: 2600, bytes: 55}), cfg, base); len(fs) != 0 {
		t.Fatalf("the second mode raised: %s", bhDump(fs))
	}
	// Beyond both modes is still unusual.
	fs := Statistical(stRun("p", stSpec{node: "lookup", ms: 30000, bytes: 6000}), cfg, base)
	bhOne(t, fs, ruleLatencySpike)
}

func TestStatisticalTooFast(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	base := NewBaselines(0, 0)
	cfg := bhCfg(nil)
	for range 30 {
		stAnalyze(stRun("p", stSpec{node: "generate", ms: jitter(r, 2000, 40)}), cfg, base)
	}
	f := bhOne(t, Statistical(stRun("p", stSpec{node: "generate", ms: 15}), cfg, base), ruleTooFast)
	if f.Severity != SeverityWarning || f.Step != 0 || f.Details["metric"] != "duration_ms" || f.Details["value"] != 15.0 {
		t.Fatalf("finding = %+v", f)
	}
	if z := f.Details["z"].(float64); z > -2.5 {
		t.Fatalf("z = %v", z)
	}
	// A step that failed fast is already an error, not a skipped step.
	if fs := Statistical(stRun("p", stSpec{node: "generate", ms: 15, failed: true}), cfg, base); len(fs) != 0 {
		t.Fatalf("failed step: %s", bhDump(fs))
	}
	// A failed step that hung is still a latency spike (a timeout).
	bhOne(t, Statistical(stRun("p", stSpec{node: "generate", ms: 30000, failed: true}), cfg, base), ruleLatencySpike)
	// 100 ms nodes can never be "too fast": the absolute gate is 250 ms.
	for range 30 {
		stAnalyze(stRun("p", stSpec{node: "quick", ms: jitter(r, 100, 2)}), cfg, base)
	}
	bhNone(t, Statistical(stRun("p", stSpec{node: "quick", ms: 0}), cfg, base), ruleTooFast)
}

func TestStatisticalOutputSize(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	base := NewBaselines(0, 0)
	cfg := bhCfg(nil)
	for range 40 {
		stAnalyze(stRun("p", stSpec{node: "retrieve", ms: 100, bytes: jitter(r, 5000, 100)}), cfg, base)
	}
	big := bhOne(t, Statistical(stRun("p", stSpec{node: "retrieve", ms: 100, bytes: 60000}), cfg, base), ruleOutputSize)
	if big.Severity != SeverityInfo || big.Details["metric"] != "output_bytes" || big.Details["value"] != 60000.0 {
		t.Fatalf("growth = %+v", big)
	}
	gone := bhOne(t, Statistical(stRun("p", stSpec{node: "retrieve", ms: 100, bytes: 2}), cfg, base), ruleOutputSize)
	if gone.Severity != SeverityWarning || gone.Details["value"] != 2.0 || !strings.Contains(gone.Message, "collapsed") {
		t.Fatalf("collapse = %+v", gone)
	}
	// Smaller but not near nothing: quiet.
	bhNone(t, Statistical(stRun("p", stSpec{node: "retrieve", ms: 100, bytes: 2000}), cfg, base), ruleOutputSize)
	// An explicit severity wins over the collapse escalation.
	info := bhCfg(map[string]RuleConfig{ruleOutputSize: {Severity: SeverityInfo}})
	if f := bhOne(t, Statistical(stRun("p", stSpec{node: "retrieve", ms: 100, bytes: 2}), info, base), ruleOutputSize); f.Severity != SeverityInfo {
		t.Fatalf("override = %+v", f)
	}
}

func TestStatisticalMinSamples(t *testing.T) {
	base := NewBaselines(0, 0)
	cfg := bhCfg(nil)
	spike := stRun("p", stSpec{node: "n", ms: 5000})
	for i := range 4 {
		stAnalyze(stRun("p", stSpec{node: "n", ms: 100 + i}), cfg, base)
	}
	if fs := Statistical(spike, cfg, base); len(fs) != 0 {
		t.Fatalf("4 samples must not be enough: %s", bhDump(fs))
	}
	stAnalyze(stRun("p", stSpec{node: "n", ms: 100}), cfg, base)
	f := bhOne(t, Statistical(spike, cfg, base), ruleLatencySpike)
	if f.Details["samples"] != 5 || f.Severity != SeverityInfo || f.Details["node_history"] != "too little history" {
		t.Fatalf("finding = %+v", f)
	}
	more := bhCfg(nil)
	more.Statistical.MinSamples = 6
	if fs := Statistical(spike, more, base); len(fs) != 0 {
		t.Fatalf("min_samples 6 ignored: %s", bhDump(fs))
	}
	// A baseline that never showed the spike in 29 samples rules out a
	// one-in-ten mode (rareSignificance): a warning from then on.
	for len(base.history("p", []string{"n"})["n"][metricDuration]) < 28 {
		stAnalyze(stRun("p", stSpec{node: "n", ms: 100}), cfg, base)
	}
	if f := bhOne(t, Statistical(spike, cfg, base), ruleLatencySpike); f.Severity != SeverityInfo {
		t.Fatalf("28 samples: %+v", f)
	}
	stAnalyze(stRun("p", stSpec{node: "n", ms: 100}), cfg, base)
	if f := bhOne(t, Statistical(spike, cfg, base), ruleLatencySpike); f.Severity != SeverityWarning || f.Details["node_history"] != "unusual" {
		t.Fatalf("29 samples: %+v", f)
	}
}

func TestStatisticalConfigOverrides(t *testing.T) {
	base := NewBaselines(0, 0)
	for i := range 30 {
		base.Observe(stRun("p", stSpec{node: "n", ms: 100 + i%3, tokens: 500}))
	}
	spike := stRun("p", stSpec{node: "n", ms: 5000, tokens: 5000})
	fs := Statistical(spike, bhCfg(map[string]RuleConfig{ruleLatencySpike: {Disabled: true}}), base)
	bhNone(t, fs, ruleLatencySpike)
	bhOne(t, fs, ruleTokenBlowup)
	fs = Statistical(spike, bhCfg(map[string]RuleConfig{ruleTokenBlowup: {Severity: SeverityCritical}}), base)
	if f := bhOne(t, fs, ruleTokenBlowup); f.Severity != SeverityCritical {
		t.Fatalf("finding = %+v", f)
	}
	// A rule threshold is that rule's z threshold.
	fs = Statistical(spike, bhCfg(map[string]RuleConfig{ruleLatencySpike: {Threshold: 1e6}}), base)
	bhNone(t, fs, ruleLatencySpike)
	bhOne(t, fs, ruleTokenBlowup)
	// The layer-wide gates apply to every rule.
	cfg := bhCfg(nil)
	cfg.Statistical.MinAbsoluteMs = 10000
	cfg.Statistical.MinAbsoluteTokens = 10000
	if fs := Statistical(spike, cfg, base); len(fs) != 0 {
		t.Fatalf("absolute gates ignored: %s", bhDump(fs))
	}
	cfg = bhCfg(nil)
	cfg.Statistical.MinRelativeChange = 100
	if fs := Statistical(spike, cfg, base); len(fs) != 0 {
		t.Fatalf("relative gate ignored: %s", bhDump(fs))
	}
	// Without defaults applied the layer still uses them.
	if fs := Statistical(spike, &Config{}, base); len(fs) != 2 {
		t.Fatalf("zero config: %s", bhDump(fs))
	}
}

func TestObserveSkipsFailedStepsAndMissingMetrics(t *testing.T) {
	base := NewBaselines(0, 0)
	for range 10 {
		base.Observe(stRun("p",
			stSpec{node: "bad", ms: 100, tokens: 100, bytes: 500, failed: true},
			stSpec{node: "notokens", ms: 100, bytes: 500},
		))
		// Missing timestamps: no duration sample.
		run := bhRun("p", agentrun.Step{Node: "untimed", Output: map[string]any{}, HasOutput: true})
		run.Steps[0].Start, run.Steps[0].End = time.Time{}, time.Time{}
		base.Observe(run)
	}
	h := base.history("p", []string{"bad", "notokens", "untimed"})
	if h["bad"] != nil {
		t.Fatalf("failed steps polluted the baseline: %v", h["bad"])
	}
	if n := h["notokens"]; n == nil || len(n[metricDuration]) != 10 || len(n[metricTokens]) != 0 || len(n[metricBytes]) != 10 {
		t.Fatalf("notokens = %v", n)
	}
	if u := h["untimed"]; u == nil || len(u[metricDuration]) != 0 || len(u[metricBytes]) != 10 {
		t.Fatalf("untimed = %v", u)
	}
	// A node that never reported tokens does not flag its first LLM call.
	if fs := Statistical(stRun("p", stSpec{node: "notokens", ms: 100, tokens: 3000, bytes: 500}), bhCfg(nil), base); len(fs) != 0 {
		t.Fatalf("first tokens flagged: %s", bhDump(fs))
	}
}

func TestBaselinesWindowAndKeysAreBounded(t *testing.T) {
	base := NewBaselines(10, 3)
	obs := func(node string, ms int) { base.Observe(stRun("p", stSpec{node: node, ms: ms})) }
	for i := range 25 {
		obs("a", i)
	}
	if got := base.history("p", []string{"a"})["a"][metricDuration]; !slices.Equal(got, []uint32{15, 16, 17, 18, 19, 20, 21, 22, 23, 24}) {
		t.Fatalf("window = %v", got)
	}
	if c := cap(base.keys[baseKeyID("p", "a")].series[metricDuration].buf); c > 10 {
		t.Fatalf("ring capacity %d exceeds the window", c)
	}
	obs("b", 1)
	obs("c", 1)
	obs("a", 1) // a is now the most recent; b the least
	obs("d", 1)
	if base.Len() != 3 || base.Evictions() != 1 {
		t.Fatalf("len %d evictions %d", base.Len(), base.Evictions())
	}
	h := base.history("p", []string{"a", "b", "c", "d"})
	if h["b"] != nil || h["a"] == nil || h["c"] == nil || h["d"] == nil {
		t.Fatalf("wrong key evicted: a=%v b=%v c=%v d=%v", h["a"] != nil, h["b"] != nil, h["c"] != nil, h["d"] != nil)
	}
	for i := range 100 {
		obs(fmt.Sprintf("n%d", i), 1)
	}
	if base.Len() != 3 || base.Evictions() != 101 {
		t.Fatalf("len %d evictions %d", base.Len(), base.Evictions())
	}
	// The same node name in two pipelines is two baselines.
	base2 := NewBaselines(0, 0)
	base2.Observe(stRun("p1", stSpec{node: "x", ms: 1}))
	base2.Observe(stRun("p2", stSpec{node: "x", ms: 1}))
	if base2.Len() != 2 {
		t.Fatalf("len = %d", base2.Len())
	}
}

func TestBaselinesSnapshotRestore(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	base := NewBaselines(50, 100)
	for range 80 {
		base.Observe(cleanRAG(r))
		base.Observe(stRun("other", stSpec{node: "x\x00y \"quoted\" <b>", ms: jitter(r, 300, 5)}))
	}
	snap, err := base.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := NewBaselines(50, 100)
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	again, err := restored.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snap, again) {
		t.Fatalf("snapshot changed over a restore:\n%s\n%s", snap, again)
	}
	probe := stRun("rag", stSpec{node: "retrieve", ms: 2000, bytes: 1500}, stSpec{node: "generate", ms: 100, tokens: 4000, bytes: 3000})
	a, b := Statistical(probe, bhCfg(nil), base), Statistical(probe, bhCfg(nil), restored)
	if len(a) != 2 || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("restored baselines judge differently:%s\nvs%s", bhDump(a), bhDump(b))
	}

	// A smaller window and fewer keys keep the most recent of each.
	small := NewBaselines(5, 2)
	if err := small.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if small.Len() != 2 || small.Evictions() != 1 {
		t.Fatalf("len %d evictions %d", small.Len(), small.Evictions())
	}
	full := base.history("other", []string{"x\x00y \"quoted\" <b>"})["x\x00y \"quoted\" <b>"][metricDuration]
	got := small.history("other", []string{"x\x00y \"quoted\" <b>"})["x\x00y \"quoted\" <b>"]
	if got == nil || !slices.Equal(got[metricDuration], full[len(full)-5:]) {
		t.Fatalf("truncated series = %v, want %v", got, full[len(full)-5:])
	}
}

func TestBaselinesRestoreRejectsGarbage(t *testing.T) {
	base := NewBaselines(0, 0)
	for i := range 10 {
		base.Observe(stRun("p", stSpec{node: "n", ms: 100 + i}))
	}
	before, _ := base.Snapshot()
	for _, bad := range []string{
		``,
		`not json`,
		`\x00\xff garbage`,
		`[]`,
		`{"version":3,"window":200,"keys":[]}`,
		`{"window":200,"keys":[]}`,
		`{"version":1,"window":200}`,
		`{"version":1,"keys":[{"pipeline":"p","node":"n","duration_ms":[-1]}]}`,
		`{"version":1,"keys":[{"pipeline":"p","node":"n","duration_ms":[1.5]}]}`,
		`{"version":1,"keys":[{"pipeline":"p","node":"n","duration_ms":[99999999999]}]}`,
		`{"version":1,"keys":[{"pipeline":"p","node":"n"},{"pipeline":"p","node":"n"}]}`,
		`{"version":1,"keys":[{"pipeline":"p","node":"n","duration_ms":"abc"}]}`,
		`{"version":1,"keys":[{"pipeline":"p","node":"n","duration_ms":[1,2,`,
	} {
		if err := base.Restore([]byte(bad)); err == nil {
			t.Errorf("Restore(%q) accepted garbage", bad)
		}
	}
	after, _ := base.Snapshot()
	if !bytes.Equal(before, after) {
		t.Fatal("a rejected Restore changed the baselines")
	}
	// Still usable.
	base.Observe(stRun("p", stSpec{node: "n", ms: 100}))
	bhOne(t, Statistical(stRun("p", stSpec{node: "n", ms: 9000}), bhCfg(nil), base), ruleLatencySpike)
	// An empty snapshot is valid and empties the baselines.
	if err := base.Restore([]byte(`{"version":1,"window":200,"keys":[]}`)); err != nil || base.Len() != 0 {
		t.Fatalf("empty snapshot: err %v len %d", err, base.Len())
	}
}

func TestBaselinesConcurrentUse(t *testing.T) {
	base := NewBaselines(50, 20)
	cfg := bhCfg(nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 99))
			for i := range 300 {
				run := stRun(fmt.Sprintf("p%d", i%5),
					stSpec{node: "a", ms: jitter(r, 100, 3), bytes: 100},
					stSpec{node: fmt.Sprintf("b%d", g), ms: jitter(r, 100, 3), tokens: 300})
				if fs := stAnalyze(run, cfg, base); len(fs) != 0 {
					t.Errorf("jitter raised findings: %s", bhDump(fs))
					return
				}
				if i%50 == 0 {
					snap, err := base.Snapshot()
					if err != nil {
						t.Error(err)
						return
					}
					if g == 0 {
						if err := base.Restore(snap); err != nil {
							t.Error(err)
							return
						}
					}
				}
				_ = base.Len()
				_ = base.Evictions()
			}
		}()
	}
	wg.Wait()
	if base.Len() > 20 || base.Evictions() == 0 {
		t.Fatalf("len %d evictions %d", base.Len(), base.Evictions())
	}
}

func TestMedianAndMAD(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for n := 1; n < 300; n += 7 {
		for _, spread := range []int{1, 3, 1000} {
			samples := make([]uint32, n)
			for i := range samples {
				samples[i] = uint32(r.IntN(spread))
			}
			got := robustStats(samples, nil)
			sorted := make([]float64, n)
			for i, s := range samples {
				sorted[i] = float64(s)
			}
			slices.Sort(sorted)
			want := sortedMedian(sorted)
			dev := make([]float64, n)
			for i, x := range sorted {
				dev[i] = math.Abs(x - want)
			}
			slices.Sort(dev)
			if got.median != want || got.mad != sortedMedian(dev) || got.n != n {
				t.Fatalf("n=%d spread=%d: got %+v, want median %v mad %v", n, spread, got, want, sortedMedian(dev))
			}
		}
	}
	// Constant baseline: MAD is zero, z stays finite.
	c := robustStats([]uint32{100, 100, 100, 100, 100}, nil)
	if c.mad != 0 || math.IsInf(c.zScore(1000), 0) || c.zScore(100) != 0 {
		t.Fatalf("constant baseline: %+v z=%v", c, c.zScore(1000))
	}
}

func sortedMedian(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func TestJSONSizeMatchesEncoding(t *testing.T) {
	values := []string{
		`{}`, `[]`, `null`, `true`, `"x"`, `1.5e300`, `-0.000001`, `0.0000001`, `123456789012`, `1e21`, `-2.5e-12`,
		`{"a":[1,2,{"b":"c\"d\\e\n\tf"}],"é":"日本語","<tag>":"a&b"}`,
		`{"ctrl":"\u0001\u001f","sep":"\u2028\u2029","nested":{"x":[[],[{}]]}}`,
	}
	for _, s := range values {
		v := bhJSON(t, s)
		if got, want := jsonSize(v, 0), stEncodedLen(t, v); got != want {
			t.Errorf("jsonSize(%s) = %d, want %d", s, got, want)
		}
	}
	bad := map[string]any{"k\xff": "v\xfe\xfd"}
	if got, want := jsonSize(bad, 0), stEncodedLen(t, bad); got != want {
		t.Errorf("invalid UTF-8: %d, want %d", got, want)
	}
}

func stEncodedLen(t *testing.T, v any) int {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Len() - 1 // Encode adds a newline
}

// TestBaselineMemoryPerKey measures the heap held per full key; the bound
// documented on Baselines must hold.
func TestBaselineMemoryPerKey(t *testing.T) {
	perKey := measureBaselineBytesPerKey(2000, 1)
	t.Logf("heap per full baseline key (window %d): %.0f bytes", DefaultBaselineWindow, perKey)
	if perKey > 3200 {
		t.Fatalf("%.0f bytes per key, documented as about 3 KB", perKey)
	}
	// Nodes writing as many fields as an update shape remembers.
	wide := measureBaselineBytesPerKey(2000, maxShapeFields)
	t.Logf("heap per full baseline key with %d fields: %.0f bytes", maxShapeFields, wide)
	if wide > 4200 {
		t.Fatalf("%.0f bytes per key with %d fields, documented as at most about 4 KB", wide, maxShapeFields)
	}
}

func measureBaselineBytesPerKey(keys, fields int) float64 {
	out := map[string]any{}
	for f := range fields {
		out[fmt.Sprintf("field_%02d", f)] = "value"
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	base := NewBaselines(DefaultBaselineWindow, keys)
	for i := range keys {
		node := fmt.Sprintf("node-%05d", i)
		for j := range DefaultBaselineWindow {
			run := stRun("pipeline", stSpec{node: node, ms: 100 + j%7, tokens: 500, bytes: 1000})
			run.Steps[0].Output = out
			base.Observe(run)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(base)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(keys)
}

func BenchmarkStatistical(b *testing.B) {
	run := benchRun(b)
	base := NewBaselines(0, 0)
	r := rand.New(rand.NewPCG(13, 14))
	for range DefaultBaselineWindow {
		warm := benchRun(b)
		for i := range warm.Steps {
			s := &warm.Steps[i]
			s.End = s.Start.Add(time.Duration(jitter(r, 100, 3)) * time.Millisecond)
		}
		base.Observe(warm)
	}
	cfg := bhCfg(nil)
	b.ReportAllocs()
	for b.Loop() {
		if fs := Statistical(run, cfg, base); len(fs) != 0 {
			b.Fatalf("unexpected findings: %s", bhDump(fs))
		}
	}
}

func BenchmarkBaselinesObserve(b *testing.B) {
	run := benchRun(b)
	base := NewBaselines(0, 0)
	b.ReportAllocs()
	for b.Loop() {
		base.Observe(run)
	}
}

func TestZeroBaselinesAndAnalyzeOrder(t *testing.T) {
	base := &Baselines{} // the zero value works, with the defaults
	cfg := bhCfg(nil)
	spike := stRun("p", stSpec{node: "n", ms: 5000})
	// The first time Analyze sees a run it has no baseline to compare with,
	// and must not compare the run with itself after recording it.
	if fs := statisticalOnly(Analyze(spike, cfg, base).Findings); len(fs) != 0 {
		t.Fatalf("first run: %s", bhDump(fs))
	}
	if base.Len() != 1 {
		t.Fatalf("Analyze did not record the run: len %d", base.Len())
	}
	for i := range 10 {
		Analyze(stRun("p", stSpec{node: "n", ms: 100 + i%3}), cfg, base)
	}
	f := bhOne(t, statisticalOnly(Analyze(spike, cfg, base).Findings), ruleLatencySpike)
	if f.Details["samples"] != 11 {
		t.Fatalf("finding = %+v", f)
	}
	if _, err := base.Snapshot(); err != nil {
		t.Fatal(err)
	}
}

func statisticalOnly(fs []Finding) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Layer == LayerStatistical {
			out = append(out, f)
		}
	}
	return out
}

// refRobust computes the median and MAD by sorting, the definition that
// the quickselect of robustStats must reproduce exactly.
func refRobust(samples []uint32) robust {
	med := func(v []float64) float64 {
		slices.Sort(v)
		if n := len(v); n%2 == 1 {
			return v[n/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	xs := make([]float64, len(samples))
	for i, s := range samples {
		xs[i] = float64(s)
	}
	m := med(xs)
	for i, x := range xs {
		xs[i] = math.Abs(x - m)
	}
	return robust{median: m, mad: med(xs), n: len(samples)}
}

// Every size up to past the window, with random, few-valued, constant,
// sorted and reversed samples (the partitions' equal-to-pivot path and the
// insertion sort of the last few included).
func TestRobustStatsSameAsSorting(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for n := 1; n <= 260; n++ {
		for kind := range 6 {
			s := make([]uint32, n)
			for i := range s {
				switch kind {
				case 0:
					s[i] = rng.Uint32()
				case 1:
					s[i] = uint32(rng.IntN(4))
				case 2:
					s[i] = 7
				case 3:
					s[i] = uint32(i)
				case 4:
					s[i] = uint32(n - i)
				case 5:
					s[i] = 100 + uint32(rng.NormFloat64()*10+0.5)
				}
			}
			want := refRobust(s)
			if got := robustStats(s, nil); got != want {
				t.Fatalf("n=%d kind=%d: robustStats = %+v, want %+v", n, kind, got, want)
			}
		}
	}
}

package detect

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The statistical layer as a whole, and its test helpers; the tests of
// each rule are in the rule's file, statistical_<name>_test.go, those of
// the baselines in baselines*_test.go.

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
	cfg := cfgWith(nil)
	for i := range 800 {
		if fs := stAnalyze(cleanRAG(r), cfg, base); len(fs) != 0 {
			t.Fatalf("clean run %d raised findings: %s", i, dump(fs))
		}
	}
	spike := stRun("rag",
		stSpec{node: "retrieve", ms: 101, bytes: 1500},
		stSpec{node: "generate", ms: 2000, tokens: 5000, bytes: 3000},
	)
	fs := stAnalyze(spike, cfg, base)
	lat := one(t, fs, ruleLatencySpike)
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
	tok := one(t, fs, ruleTokenBlowup)
	if med, _ := tok.Details["median"].(float64); tok.Step != 1 || tok.Details["metric"] != "tokens" || tok.Details["value"] != 5000.0 || med < 495 || med > 505 {
		t.Fatalf("token finding = %+v", tok)
	}
	if len(fs) != 2 {
		t.Fatalf("want exactly the two spikes: %s", dump(fs))
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
	cfg := cfgWith(nil)
	for range 50 {
		stAnalyze(stRun("p", stSpec{node: "llm", ms: jitter(r, 2000, 40), tokens: int64(jitter(r, 500, 20))}, stSpec{node: "fast", ms: jitter(r, 100, 2)}), cfg, base)
	}
	for _, quiet := range []*agentrun.Run{
		stRun("p", stSpec{node: "llm", ms: 2600, tokens: 824}, stSpec{node: "fast", ms: 200}),
		stRun("p", stSpec{node: "llm", ms: 3100, tokens: 900}, stSpec{node: "fast", ms: 400}),
		stRun("p", stSpec{node: "llm", ms: 5900, tokens: 1450}, stSpec{node: "fast", ms: 1050}),
	} {
		if fs := Statistical(quiet, cfg, base); len(fs) != 0 {
			t.Fatalf("moderate changes raised: %s", dump(fs))
		}
	}
	fs := Statistical(stRun("p", stSpec{node: "llm", ms: 6100, tokens: 1600}, stSpec{node: "fast", ms: 1150}), cfg, base)
	if got := byRule(fs, ruleLatencySpike); len(got) != 2 {
		t.Fatalf("want both spikes: %s", dump(fs))
	}
	one(t, fs, ruleTokenBlowup)
	// The gates are configurable.
	loose := cfgWith(nil)
	loose.Statistical.MinFactor, loose.Statistical.MinSpikeMs = 1.5, 250
	fs = Statistical(stRun("p", stSpec{node: "llm", ms: 3100, tokens: 900}, stSpec{node: "fast", ms: 400}), loose, base)
	if got := byRule(fs, ruleLatencySpike); len(got) != 2 {
		t.Fatalf("min_factor 1.5 and min_spike_ms 250: want both spikes: %s", dump(fs))
	}
	one(t, fs, ruleTokenBlowup)
}

func TestStatisticalMinSamples(t *testing.T) {
	base := NewBaselines(0, 0)
	cfg := cfgWith(nil)
	spike := stRun("p", stSpec{node: "n", ms: 5000})
	for i := range 4 {
		stAnalyze(stRun("p", stSpec{node: "n", ms: 100 + i}), cfg, base)
	}
	if fs := Statistical(spike, cfg, base); len(fs) != 0 {
		t.Fatalf("4 samples must not be enough: %s", dump(fs))
	}
	stAnalyze(stRun("p", stSpec{node: "n", ms: 100}), cfg, base)
	f := one(t, Statistical(spike, cfg, base), ruleLatencySpike)
	if f.Details["samples"] != 5 || f.Severity != SeverityInfo || f.Details["node_history"] != "too little history" {
		t.Fatalf("finding = %+v", f)
	}
	more := cfgWith(nil)
	more.Statistical.MinSamples = 6
	if fs := Statistical(spike, more, base); len(fs) != 0 {
		t.Fatalf("min_samples 6 ignored: %s", dump(fs))
	}
	// A baseline that never showed the spike in 29 samples rules out a
	// one-in-ten mode (rareSignificance): a warning from then on.
	for len(base.history("p", []string{"n"})["n"][metricDuration]) < 28 {
		stAnalyze(stRun("p", stSpec{node: "n", ms: 100}), cfg, base)
	}
	if f := one(t, Statistical(spike, cfg, base), ruleLatencySpike); f.Severity != SeverityInfo {
		t.Fatalf("28 samples: %+v", f)
	}
	stAnalyze(stRun("p", stSpec{node: "n", ms: 100}), cfg, base)
	if f := one(t, Statistical(spike, cfg, base), ruleLatencySpike); f.Severity != SeverityWarning || f.Details["node_history"] != "unusual" {
		t.Fatalf("29 samples: %+v", f)
	}
}

func TestStatisticalConfigOverrides(t *testing.T) {
	base := NewBaselines(0, 0)
	for i := range 30 {
		base.Observe(stRun("p", stSpec{node: "n", ms: 100 + i%3, tokens: 500}))
	}
	spike := stRun("p", stSpec{node: "n", ms: 5000, tokens: 5000})
	fs := Statistical(spike, cfgWith(map[string]RuleConfig{ruleLatencySpike: {Disabled: true}}), base)
	none(t, fs, ruleLatencySpike)
	one(t, fs, ruleTokenBlowup)
	fs = Statistical(spike, cfgWith(map[string]RuleConfig{ruleTokenBlowup: {Severity: SeverityCritical}}), base)
	if f := one(t, fs, ruleTokenBlowup); f.Severity != SeverityCritical {
		t.Fatalf("finding = %+v", f)
	}
	// A rule threshold is that rule's z threshold.
	fs = Statistical(spike, cfgWith(map[string]RuleConfig{ruleLatencySpike: {Threshold: 1e6}}), base)
	none(t, fs, ruleLatencySpike)
	one(t, fs, ruleTokenBlowup)
	// The layer-wide gates apply to every rule.
	cfg := cfgWith(nil)
	cfg.Statistical.MinAbsoluteMs = 10000
	cfg.Statistical.MinAbsoluteTokens = 10000
	if fs := Statistical(spike, cfg, base); len(fs) != 0 {
		t.Fatalf("absolute gates ignored: %s", dump(fs))
	}
	cfg = cfgWith(nil)
	cfg.Statistical.MinRelativeChange = 100
	if fs := Statistical(spike, cfg, base); len(fs) != 0 {
		t.Fatalf("relative gate ignored: %s", dump(fs))
	}
	// Without defaults applied the layer still uses them.
	if fs := Statistical(spike, &Config{}, base); len(fs) != 2 {
		t.Fatalf("zero config: %s", dump(fs))
	}
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
	cfg := cfgWith(nil)
	b.ReportAllocs()
	for b.Loop() {
		if fs := Statistical(run, cfg, base); len(fs) != 0 {
			b.Fatalf("unexpected findings: %s", dump(fs))
		}
	}
}

func TestZeroBaselinesAndAnalyzeOrder(t *testing.T) {
	base := &Baselines{} // the zero value works, with the defaults
	cfg := cfgWith(nil)
	spike := stRun("p", stSpec{node: "n", ms: 5000})
	// The first time Analyze sees a run it has no baseline to compare with,
	// and must not compare the run with itself after recording it.
	if fs := statisticalOnly(Analyze(spike, cfg, base).Findings); len(fs) != 0 {
		t.Fatalf("first run: %s", dump(fs))
	}
	if base.Len() != 1 {
		t.Fatalf("Analyze did not record the run: len %d", base.Len())
	}
	for i := range 10 {
		Analyze(stRun("p", stSpec{node: "n", ms: 100 + i%3}), cfg, base)
	}
	f := one(t, statisticalOnly(Analyze(spike, cfg, base).Findings), ruleLatencySpike)
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

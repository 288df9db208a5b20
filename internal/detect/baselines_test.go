package detect

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The baselines (baselines.go) and their snapshots (baselines_snapshot.go);
// what a node's updates looked like (baselines_updates.go) in
// baselines_updates_test.go.

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
	if fs := Statistical(stRun("p", stSpec{node: "notokens", ms: 100, tokens: 3000, bytes: 500}), cfgWith(nil), base); len(fs) != 0 {
		t.Fatalf("first tokens flagged: %s", dump(fs))
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

func TestBaselinesConcurrentUse(t *testing.T) {
	base := NewBaselines(50, 20)
	cfg := cfgWith(nil)
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
					t.Errorf("jitter raised findings: %s", dump(fs))
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

func BenchmarkBaselinesObserve(b *testing.B) {
	run := benchRun(b)
	base := NewBaselines(0, 0)
	b.ReportAllocs()
	for b.Loop() {
		base.Observe(run)
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
	a, b := Statistical(probe, cfgWith(nil), base), Statistical(probe, cfgWith(nil), restored)
	if len(a) != 2 || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("restored baselines judge differently:%s\nvs%s", dump(a), dump(b))
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
	one(t, Statistical(stRun("p", stSpec{node: "n", ms: 9000}), cfgWith(nil), base), ruleLatencySpike)
	// An empty snapshot is valid and empties the baselines.
	if err := base.Restore([]byte(`{"version":1,"window":200,"keys":[]}`)); err != nil || base.Len() != 0 {
		t.Fatalf("empty snapshot: err %v len %d", err, base.Len())
	}
}

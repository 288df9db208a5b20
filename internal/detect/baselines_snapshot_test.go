package detect

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

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

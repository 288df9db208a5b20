package detect

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/loadgen"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

// The finding dump is the regression guard of the whole package: every
// finding and verdict Analyze gives over the repository's OTLP fixtures
// (testdata/otlp, testdata/hostile), the false-positive corpus and a
// fixed-seed batch of load traffic (with its failing runs), written
// canonically and compared byte for byte with testdata/findings.golden.
// A change of behaviour shows as a diff of that file; when the change is
// meant, regenerate it and commit the diff with the change:
//
//	go test ./internal/detect -run TestFindingDump -update
var updateDump = flag.Bool("update", false, "rewrite testdata/findings.golden from the current code")

const dumpGolden = "testdata/findings.golden"

func TestFindingDump(t *testing.T) {
	got := findingDump(t)
	if *updateDump {
		if err := os.WriteFile(dumpGolden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(dumpGolden)
	if err != nil {
		t.Fatalf("%v (generate it with: go test ./internal/detect -run TestFindingDump -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("findings differ from %s at %s\n(if the change is meant: go test ./internal/detect -run TestFindingDump -update)",
			dumpGolden, testutil.FirstDiff(string(want), string(got)))
	}
}

// findingDump analyses every input in a fixed order and writes what
// Analyze returned.
func findingDump(t *testing.T) []byte {
	var b bytes.Buffer
	cfg := Config{}.WithDefaults()
	d := &dumper{t: t, b: &b, cfg: &cfg}

	// The fixtures, with one set of baselines across them.
	base := NewBaselines(0, 0)
	for _, dir := range []string{"otlp", "hostile"} {
		files, err := filepath.Glob(filepath.Join(testutil.ModuleRoot(t), "testdata", dir, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no fixtures in testdata/%s: %v", dir, err)
		}
		for _, f := range files {
			name := dir + "/" + filepath.Base(f)
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var u ptrace.JSONUnmarshaler
			td, err := u.UnmarshalTraces(raw)
			if err != nil {
				fmt.Fprintf(&b, "== %s: not OTLP JSON\n", name)
				continue
			}
			d.runs(name, agentrun.MapTraces(td, agentrun.Options{}), base)
		}
	}

	// The false-positive corpus, generated and analysed as
	// TestFalsePositiveCorpus does, then its degraded run.
	g := &corpusGen{t: t, rnd: rand.New(rand.NewSource(42))}
	base = NewBaselines(0, 0)
	shapes := []func() []corpusNode{g.linearRAG, g.fanOut, g.agentLoop, g.toolUse}
	for i := 0; i < 150; i++ {
		for k, shape := range shapes {
			d.runs(fmt.Sprintf("corpus/%d.%d", i, k), agentrun.MapTraces(g.build(shape()), agentrun.Options{}), base)
		}
	}
	nodes := g.linearRAG()
	nodes[1].took = 1500 * time.Millisecond
	nodes[1].output = map[string]any{"documents": []any{}}
	nodes[1].toolOut = []any{}
	d.runs("corpus/degraded", agentrun.MapTraces(g.build(nodes), agentrun.Options{}), base)

	// Load traffic: 320 runs (10% failing the RAG way) at a fixed time,
	// in requests of 32, with baselines that warm up as they go.
	gen, err := loadgen.NewGenerator(loadgen.DefaultShape(), 7, 1)
	if err != nil {
		t.Fatal(err)
	}
	base = NewBaselines(0, 0)
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for req := range 10 {
		td, spans := gen.NewRequest()
		for range 32 {
			at = at.Add(time.Minute)
			gen.AddRun(spans, at)
		}
		d.runs(fmt.Sprintf("loadgen/%d", req), agentrun.MapTraces(td, agentrun.Options{}), base)
	}

	// Damaged corpus runs, under a configuration with contracts, edges and
	// signatures, then again with rules disabled and tuned; the baselines
	// are warmed with clean runs of the same shapes first.
	g = &corpusGen{t: t, rnd: rand.New(rand.NewSource(7))}
	runs := mutatedRuns(g, 400)
	for _, pass := range []struct {
		name string
		cfg  Config
	}{{"mutated", mutationConfig()}, {"mutated-tuned", tunedConfig()}} {
		d.cfg = &pass.cfg
		base = NewBaselines(0, 0)
		warm := &corpusGen{t: t, rnd: rand.New(rand.NewSource(8))}
		for range 20 {
			for _, shape := range []func() []corpusNode{warm.linearRAG, warm.fanOut, warm.agentLoop, warm.toolUse} {
				for _, run := range agentrun.MapTraces(warm.build(shape()), agentrun.Options{}) {
					base.Observe(run)
				}
			}
		}
		for k := 0; k < len(runs); k += 20 {
			d.runs(fmt.Sprintf("%s/%d", pass.name, k/20), runs[k:k+20], base)
		}
	}
	return b.Bytes()
}

type dumper struct {
	t   *testing.T
	b   *bytes.Buffer
	cfg *Config
}

func (d *dumper) runs(source string, runs []*agentrun.Run, base *Baselines) {
	fmt.Fprintf(d.b, "== %s: %d runs\n", source, len(runs))
	for _, run := range runs {
		res := Analyze(run, d.cfg, base)
		fmt.Fprintf(d.b, "run %s pipeline=%q steps=%d status=%s findings=%d\n", run.TraceID, run.PipelineName, len(run.Steps), res.Status, len(res.Findings))
		for _, f := range res.Findings {
			fmt.Fprintf(d.b, "  finding %s %s %s %s step=%d node=%q %q %s\n", f.ID, f.Rule, f.Layer, f.Severity, f.Step, f.Node, f.Message, d.json(f.Details))
		}
		fo := res.Forensics
		if fo == nil {
			continue
		}
		fmt.Fprintf(d.b, "  forensics %s root=%d origins=%v victims=%v confidence=%v detections=%s\n",
			fo.ID, fo.RootCauseStep, fo.Origins, fo.Victims, fo.Confidence, d.json(fo.DetectionIDs))
		for _, l := range fo.Chain {
			fmt.Fprintf(d.b, "    link %d->%d %s\n", l.FromStep, l.ToStep, d.json(l))
		}
		fmt.Fprintf(d.b, "    explanation %q\n", fo.Explanation)
	}
}

// json is v as canonical JSON (sorted keys).
func (d *dumper) json(v any) string {
	out, err := json.Marshal(v)
	if err != nil {
		d.t.Fatalf("dump: %v", err)
	}
	return string(out)
}

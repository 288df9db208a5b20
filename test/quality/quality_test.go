package quality

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/detect"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

var writeBenchmarks = flag.Bool("write-benchmarks", false, "rewrite the detection quality section of BENCHMARKS.md (make quality)")

const (
	sectionBegin = "<!-- detection-quality:begin (make quality writes this section) -->\n"
	sectionEnd   = "<!-- detection-quality:end -->"
)

// TestDetectionQuality fails on any warning on a healthy run and on any
// injected fault not found, and when BENCHMARKS.md's table is not what
// the current rules measure.
func TestDetectionQuality(t *testing.T) {
	r := Measure(t)
	for _, p := range r.Problems {
		t.Error(p)
	}
	if n := r.HealthyRuns(); n < 1000 {
		t.Errorf("%d healthy runs measured, want at least 1000", n)
	}
	// A rule whose recall is never measured can stop working unnoticed.
	for _, id := range detect.RuleIDs() {
		if r.Rules[id].Expected == 0 {
			t.Errorf("rule %s has no injected fault (internal/loadgen's faults, a fault fixture or a fault recording)", id)
		}
	}
	path := filepath.Join(testutil.ModuleRoot(t), "BENCHMARKS.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	begin := strings.Index(string(doc), sectionBegin)
	end := strings.Index(string(doc), sectionEnd)
	if begin < 0 || end < begin {
		t.Fatalf("BENCHMARKS.md has no detection quality section between %q and %q", sectionBegin, sectionEnd)
	}
	table := r.Table()
	if *writeBenchmarks {
		out := string(doc[:begin+len(sectionBegin)]) + table + string(doc[end:])
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("BENCHMARKS.md: detection quality written\n%s", table)
		return
	}
	if got := string(doc[begin+len(sectionBegin) : end]); got != table {
		t.Errorf("BENCHMARKS.md's detection quality table is not what the rules measure (make quality); first difference at %s", testutil.FirstDiff(got, table))
	}
}

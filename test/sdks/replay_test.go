package sdks_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/detect"
	"github.com/arguslabs/argus-otel/test/sdks"
)

// TestReplay replays every SDK's recordings through the one mapping and
// detection, as the processor would: healthy runs one after the other
// against the baselines they build, every injected fault against the
// baselines of all healthy runs.
func TestReplay(t *testing.T) {
	for _, c := range sdks.Cases() {
		t.Run(c.SDK, func(t *testing.T) { replay(t, &c) })
	}
}

func replay(t *testing.T, c *sdks.Case) {
	cfg := detect.Config{}.WithDefaults()
	var healthy, faults []sdks.Recording
	for _, r := range sdks.Load(t, c.SDK) {
		if r.Healthy() {
			healthy = append(healthy, r)
		} else {
			faults = append(faults, r)
		}
	}
	if len(healthy) < c.MinHealthy {
		t.Fatalf("%d healthy runs, want >= %d", len(healthy), c.MinHealthy)
	}

	// Healthy runs, from the first (no history), hold look-alikes of the
	// faults: not one warning.
	base := detect.NewBaselines(0, 0)
	for _, h := range healthy {
		checkMapping(t, c, h)
		res := detect.Analyze(h.Run, &cfg, base)
		for _, f := range res.Findings {
			if f.Severity != detect.SeverityInfo {
				t.Errorf("%s: healthy run has a %s finding %s on %q: %s", h.Name, f.Severity, f.Rule, f.Node, f.Message)
			}
		}
		if h.Run.Failed || res.Status != "ok" {
			t.Errorf("%s: healthy run is %s (errored span: %v)", h.Name, res.Status, h.Run.Failed)
		}
	}

	seen := map[string]bool{}
	for _, fr := range faults {
		seen[fr.Name] = true
		res := analyzeFault(fr, healthy, &cfg)
		if why, ok := c.Missed[fr.Name]; ok {
			if res.Status != "ok" {
				t.Errorf("%s: listed as missed (%s) but now found: move it to the faults\n%s", fr.Name, why, dump(res.Findings))
			}
			continue
		}
		want, ok := c.Faults[fr.Name]
		if !ok {
			t.Errorf("%s: recorded fault has no expectation in the case", fr.Name)
			continue
		}
		if res.Status == "ok" {
			t.Errorf("%s: run is ok, want the fault found (%v)\n%s", fr.Name, want.Rules, dump(res.Findings))
			continue
		}
		if !slices.ContainsFunc(res.Findings, func(f detect.Finding) bool {
			return f.Severity != detect.SeverityInfo && slices.Contains(want.Rules, f.Rule)
		}) {
			t.Errorf("%s: none of %v fired\n%s", fr.Name, want.Rules, dump(res.Findings))
		}
		if res.Forensics == nil || res.Forensics.RootCauseStep < 0 {
			t.Errorf("%s: no root cause, want %q", fr.Name, want.Root)
		} else if got := fr.Run.Steps[res.Forensics.RootCauseStep].Node; got != want.Root {
			t.Errorf("%s: root cause %q, want %q\n%s", fr.Name, got, want.Root, dump(res.Findings))
		}
	}
	for name := range c.Faults {
		if !seen[name] {
			t.Errorf("fault %s expected but not recorded", name)
		}
	}
}

// analyzeFault judges a fault run against the baselines of all healthy runs.
func analyzeFault(fr sdks.Recording, healthy []sdks.Recording, cfg *detect.Config) detect.Result {
	base := detect.NewBaselines(0, 0)
	for _, h := range healthy {
		base.Observe(h.Run)
	}
	return detect.Analyze(fr.Run, cfg, base)
}

// checkMapping: the app's pipeline name, named steps, real content.
func checkMapping(t *testing.T, c *sdks.Case, h sdks.Recording) {
	t.Helper()
	if h.Run.PipelineName != c.Pipeline {
		t.Errorf("%s: pipeline %q, want %q", h.Name, h.Run.PipelineName, c.Pipeline)
	}
	if len(h.Run.Steps) == 0 {
		t.Errorf("%s: no steps", h.Name)
	}
	for _, s := range h.Run.Steps {
		if !slices.Contains(c.Nodes, s.Node) {
			t.Errorf("%s: step %d is named %q, not one of %v", h.Name, s.Number, s.Node, c.Nodes)
		}
		if !s.HasInput || !s.HasOutput && c.NoOutput[h.Name] != s.Node {
			t.Errorf("%s: step %s has input %v, output %v: the content is lost", h.Name, s.Node, s.HasInput, s.HasOutput)
		}
	}
}

func dump(fs []detect.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s %s step %d %q: %s\n", f.Severity, f.Rule, f.Step, f.Node, f.Message)
	}
	return b.String()
}

// Package detect holds the detection rules of the four layers (structural,
// semantic, behavioral, statistical), one file per rule named after its id
// (structural.key_typo: structural_key_typo.go), and the forensics
// correlator. Everything here is a pure function over an agentrun.Run (plus
// baselines for the statistical layer): no pdata, no storage, no collector.
package detect

import (
	"sort"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/vocab"
)

// Analyze runs the four layers and forensics over one run. base may be nil
// (no statistical layer); when present, Analyze checks the run against the
// baselines and then records the run into them.
func Analyze(run *agentrun.Run, cfg *Config, base *Baselines) Result {
	a := newAnalysis(run, cfg, base)
	if run != nil && len(run.Steps) > 0 {
		a.layer(LayerStructural)
		a.layer(LayerSemantic)
	}
	if run != nil {
		a.layer(LayerBehavioral)
	}
	if base != nil && run != nil && len(run.Steps) > 0 {
		a.layer(LayerStatistical)
		base.observe(run, a.stepMetrics())
	}
	fs := dedupe(a.done())
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Step != fs[j].Step {
			return fs[i].Step < fs[j].Step
		}
		return fs[i].Rule < fs[j].Rule
	})
	res := Result{Status: RunStatus(run, fs), Findings: fs}
	if res.Status != vocab.StatusOK {
		res.Forensics = Correlate(run, fs)
	}
	return res
}

// Structural checks every step's update against the merged state around it.
func Structural(run *agentrun.Run, cfg *Config) []Finding {
	return layerOnly(run, cfg, nil, LayerStructural)
}

// Semantic inspects the text a step produced: every string value of its
// output (recursively, with its JSON path) and the results of its LLM calls.
// A top-level field passed through unchanged from the state before the step
// is skipped: the step that produced it already carries the finding.
func Semantic(run *agentrun.Run, cfg *Config) []Finding {
	return layerOnly(run, cfg, nil, LayerSemantic)
}

// Behavioral looks at what a run did rather than at single values: repeated
// work (stalls, retry storms, runaway loops), errors reported by tools and
// spans, and outputs that contradict themselves.
func Behavioral(run *agentrun.Run, cfg *Config) []Finding {
	if run == nil {
		return nil
	}
	a := newAnalysis(run, cfg, nil)
	a.layer(LayerBehavioral)
	return a.done()
}

// Statistical checks every step against the baselines of its (pipeline,
// node). It does not record the run; Analyze calls Observe afterwards.
func Statistical(run *agentrun.Run, cfg *Config, base *Baselines) []Finding {
	if base == nil {
		return nil
	}
	return layerOnly(run, cfg, base, LayerStatistical)
}

func layerOnly(run *agentrun.Run, cfg *Config, base *Baselines, layer string) []Finding {
	if run == nil || len(run.Steps) == 0 {
		return nil
	}
	a := newAnalysis(run, cfg, base)
	a.layer(layer)
	return a.done()
}

// RunStatus is failed when any span errored or a critical finding exists,
// warning when a warning finding exists, else ok. Info findings never change
// the status.
func RunStatus(run *agentrun.Run, fs []Finding) string {
	status := vocab.StatusOK
	if run.Failed {
		return vocab.StatusFailed
	}
	for _, f := range fs {
		switch f.Severity {
		case SeverityCritical:
			return vocab.StatusFailed
		case SeverityWarning:
			status = vocab.StatusWarning
		}
	}
	return status
}

func dedupe(fs []Finding) []Finding {
	seen := make(map[string]bool, len(fs))
	out := fs[:0]
	for _, f := range fs {
		if seen[f.ID] {
			continue
		}
		seen[f.ID] = true
		out = append(out, f)
	}
	return out
}

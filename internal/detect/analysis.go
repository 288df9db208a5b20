package detect

import "github.com/arguslabs/argus-otel/internal/agentrun"

// analysis is one run being checked: the run, the configuration, the
// findings so far, and the facts that several rules share, each built on
// first use by the file that owns it.
type analysis struct {
	run  *agentrun.Run
	cfg  *Config
	base *Baselines
	out  []Finding

	groups    [][]int                 // the supersteps: step indexes, in order (state_view.go)
	view      *stateView              // the state around each step (state_view.go)
	uses      *fieldUses              // which steps read, write and crash on each field (structural.go)
	textBuf   *textBuffers            // the texts of each step's output and LLM calls (semantic.go)
	textCount textFindings            // the findings of the semantic rule running, on one step (semantic.go)
	signals   [][]sourceSignals       // what each step's tool results and output report (output_signals.go)
	metrics   []stepMetrics           // each step's duration, tokens and output size (baselines.go)
	stats     *nodeStats              // the baselines' statistics of each node (statistical.go)
	shapes    map[string]*updateShape // the baselines' update shapes of each node (node_habits.go)
}

func newAnalysis(run *agentrun.Run, cfg *Config, base *Baselines) *analysis {
	if cfg == nil {
		cfg = &Config{}
	}
	return &analysis{run: run, cfg: cfg, base: base}
}

// done releases what the analysis borrowed; the findings stay.
func (a *analysis) done() []Finding {
	a.releaseTexts()
	return a.out
}

// layer runs the enabled rules of a layer.
func (a *analysis) layer(name string) {
	for _, rc := range layerChecks[name] {
		if a.cfg.enabled(rc.id) {
			rc.check.check(a)
		}
	}
}

// emit appends a finding of rule, with the configured severity, and
// returns its index in a.out; ok is false when the rule is disabled.
func (a *analysis) emit(rule string, step int, msg string, details map[string]any) (index int, ok bool) {
	f, ok := a.cfg.finding(a.run, rule, step, msg, details)
	if !ok {
		return 0, false
	}
	a.out = append(a.out, f)
	return len(a.out) - 1, true
}

// stateView is the state around each step, built once for the structural
// and semantic rules.
func (a *analysis) stateView() *stateView {
	if a.view == nil {
		a.view = newStateView(a.run, a.supersteps())
	}
	return a.view
}

// supersteps are the run's supersteps, found once for the rules that need
// only them (behavioral.runaway_steps) and the state view.
func (a *analysis) supersteps() [][]int {
	if a.groups == nil {
		a.groups = supersteps(a.run)
	}
	return a.groups
}

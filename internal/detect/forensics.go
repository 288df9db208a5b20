package detect

import (
	"sort"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The forensics correlator (Correlate), by concern: what each step's
// findings mean (forensics_steps.go), the forward pass over the steps
// (forensics_trace.go), the causal chains it builds (forensics_chains.go),
// the verdict (forensics_verdict.go) and its explanation
// (forensics_explain.go).

// Link types of a causal chain (Link.Type).
const (
	LinkFieldDrop              = "field_drop"
	LinkEmptyOutput            = "empty_output"
	LinkPlaceholderPropagation = "placeholder_propagation"
	LinkToolFailureCascade     = "tool_failure_cascade"
	LinkAnomalyCascade         = "anomaly_cascade"
)

// How a value was degraded. The kind of the degradation a step hands on
// decides the type of the link to the step that receives it.
const (
	damageEmpty       = "empty"       // "", [], {}, null
	damageDropped     = "dropped"     // the field is gone
	damageInvalid     = "invalid"     // wrong type, corrupted JSON: unusable
	damagePlaceholder = "placeholder" // placeholder, refusal, null-like text
	damageFailure     = "failure"     // produced by a failing tool / span
	damageAnomaly     = "anomaly"     // a statistical outlier
)

// Link confidences. They grade the evidence, not the damage: a crash that
// names the missing field is stronger than a degraded field merely present
// in the input of a step that later misbehaves.
const (
	confNeeded      = 0.9  // the victim's crash / finding names the field
	confProducer    = 0.85 // the structural layer named the producer step
	confPassThrough = 0.85 // the victim repeats the degraded value
	confRead        = 0.7  // the degraded field is in the victim's input
	confTransform   = 0.6  // a carrier turned a degraded input into a degraded output
	latentFactor    = 0.9  // the origin has no finding of its own
	stepDecay       = 0.8  // per step between a whole-step degradation and its victim
)

// Bounds that keep the correlator linear on huge or hostile runs.
const (
	maxContainBytes = 64 << 10 // longest output string searched for a placeholder
	maxLatentPath   = 32       // pass-through carriers remembered for a latent value
	maxNamedFields  = 8        // field names taken from one step's error text
	maxListed       = 3        // steps spelled out in one explanation clause
	maxQuotedRunes  = 120      // error text quoted in an explanation
	maxNameRunes    = 64       // node / field / tool names in an explanation
	maxStepWeight   = 3.0      // cap of one step's weight, so one noisy step cannot dominate
)

// Correlate turns the findings of one run into a causal verdict: which step
// started the trouble (origin), which steps only suffered from it (victims),
// and typed links between them. It is deterministic and uses only the
// findings and the run's recorded states: the same input always gives the
// same Forensics, whatever the order of fs. It returns nil when fs is empty.
//
// One forward pass over the steps tracks degraded values per state field
// (emptied, dropped, placeholder-filled, written by a failing step):
//   - a step with problems is a victim when a degraded value reached it and
//     can explain them (it needs the field, repeats the value, or the field
//     is the freshest degraded one in its input); it is an origin when some
//     problem is its own (a failed tool call, a typo) or nothing explains it;
//   - a step without findings that repeats or derives a degraded value is a
//     carrier: in the chain, never its root;
//   - a degraded value no layer flagged starts a chain only when a later
//     step needs it or repeats it while failing, and then the step that
//     first wrote it is the origin.
//
// The root cause is the origin of the heaviest chain (earliest on ties).
func Correlate(run *agentrun.Run, fs []Finding) *Forensics {
	if len(fs) == 0 {
		return nil
	}
	if run == nil {
		run = &agentrun.Run{}
	}
	c := newCorrelator(run, fs)
	// Info findings never change a run's status, so they start no chain of
	// their own, unless nothing else would.
	if !c.trace(false) {
		c.trace(true)
	}
	return c.verdict()
}

type correlator struct {
	run      *agentrun.Run
	steps    []stepFacts
	runLevel []Finding
	known    map[string]bool // every state key seen in the run

	// per trace
	allowMinor bool
	taints     map[string]*taint
	pending    *pendingDamage
	state      map[string]any // merged state, as Run.StateBefore builds it
	lineages   []*lineage
	byOrigin   map[int]int
	memberOf   map[int][]int
}

func newCorrelator(run *agentrun.Run, fs []Finding) *correlator {
	n := len(run.Steps)
	c := &correlator{run: run, steps: make([]stepFacts, n), known: map[string]bool{}}
	sorted := append([]Finding(nil), fs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.Step != b.Step {
			return a.Step < b.Step
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.Severity < b.Severity
	})
	seen := map[string]bool{}
	for _, f := range sorted {
		if f.ID != "" && seen[f.ID] {
			continue // the same detection twice must not weigh twice
		}
		seen[f.ID] = true
		if f.Step >= 0 && f.Step < n {
			c.steps[f.Step].findings = append(c.steps[f.Step].findings, f)
		} else {
			c.runLevel = append(c.runLevel, f) // run-level, or a step this run does not have
		}
	}
	for i := range run.Steps {
		for k := range asObject(run.Steps[i].Input) {
			c.known[k] = true
		}
		for k := range asObject(run.Steps[i].Output) {
			c.known[k] = true
		}
	}
	for i := range c.steps {
		c.describeStep(i)
	}
	return c
}

package detect

import "math"

// What a node usually does, judged from its baselines (its metric samples,
// and its update shapes: baselines_updates.go). A rule whose real signal is
// "unusual for this node" (an empty update, a field emptied, dropped or
// retyped, an empty retrieval, a statistical outlier) stays quiet when the
// node does the same thing routinely: a router returning {} in every run,
// a node that always nulls an optional field.

// usualShare: a node does something routinely when at least this share of
// its recent history (the baseline window) does it. A router returning {}
// in every run, a validator that writes feedback in a third of them, a
// lookup that misses its cache in one run of five are all routine.
const usualShare = 0.1

// rareSignificance: a behaviour is unusual for a node only when its history
// makes it unlikely, below this probability, that the node does it in
// usualShare of its updates: never in its last 29 updates, once in 46,
// twice in 61, ... A one-in-five habit that happened not to show in a short
// history is not taken for a fault.
const rareSignificance = 0.05

// habit is what a node's history says of one behaviour.
type habit int

const (
	habitUnknown habit = iota // too little history to tell
	habitUsual                // at least usualShare of its recent updates do it
	habitUnusual              // significantly rarer than that
)

var habitNames = [...]string{habitUnknown: "too little history", habitUsual: "usual", habitUnusual: "unusual"}

// judgeShare judges a behaviour seen count times in n observations.
func judgeShare(count, n int) habit {
	switch {
	case n <= 0:
		return habitUnknown
	case float64(count) >= usualShare*float64(n):
		return habitUsual
	case binomialAtMost(count, n, usualShare) < rareSignificance:
		return habitUnusual
	}
	return habitUnknown
}

// binomialAtMost is P(X <= k) for X ~ Binomial(n, p), 0 < p < 1.
func binomialAtMost(k, n int, p float64) float64 {
	term := math.Pow(1-p, float64(n)) // P(X = 0)
	sum := term
	for i := 0; i < k && i < n; i++ {
		term *= float64(n-i) / float64(i+1) * p / (1 - p)
		sum += term
	}
	return sum
}

// nodeUpdates is the update shape of a node of the run, nil without
// baselines or history. The shapes of all the run's nodes are copied on the
// first call, which only a candidate finding makes.
func (a *analysis) nodeUpdates(node string) *updateShape {
	if a.base == nil {
		return nil
	}
	if a.shapes == nil {
		nodes := make([]string, len(a.run.Steps))
		for i := range a.run.Steps {
			nodes[i] = a.run.Steps[i].Node
		}
		a.shapes = a.base.updates(a.run.PipelineName, nodes)
	}
	return a.shapes[node]
}

// habitOf judges count among the updates of u.
func (a *analysis) habitOf(u *updateShape, count uint32) habit {
	if u == nil || int(u.updates) < a.cfg.WithDefaults().Statistical.MinSamples {
		return habitUnknown
	}
	return judgeShare(int(count), int(u.updates))
}

// updatesHabit judges count(u) among the node's updates u.
func (a *analysis) updatesHabit(node string, count func(u *updateShape) uint32) habit {
	u := a.nodeUpdates(node)
	if u == nil {
		return habitUnknown
	}
	return a.habitOf(u, count(u))
}

// fieldHabit judges count(f) of the node's field k; f is nil when the node
// never wrote k. A field beyond the remembered ones has no history.
func (a *analysis) fieldHabit(node, k string, count func(u *updateShape, f *fieldShape) uint32) habit {
	u := a.nodeUpdates(node)
	if u == nil {
		return habitUnknown
	}
	f := u.field(k)
	if f == nil && len(u.fields) == maxShapeFields {
		return habitUnknown
	}
	return a.habitOf(u, count(u, f))
}

// writesUsually: the node writes field k with a value, routinely; with no
// history any field may be its.
func (a *analysis) writesUsually(node, k string) bool {
	return a.fieldHabit(node, k, func(_ *updateShape, f *fieldShape) uint32 {
		if f == nil {
			return 0
		}
		return f.writes - f.empty
	}) != habitUnusual
}

// harmsLater reports whether a step after i crashed on a field (named by
// its error) that is missing or empty where it ran, and that concerns step
// i's finding.
func (a *analysis) harmsLater(i int, concerns func(field string) bool) bool {
	for field, steps := range a.fieldUses().crashes {
		if !concerns(field) {
			continue
		}
		for _, j := range steps {
			if j > i && a.missingAt(j, field) {
				return true
			}
		}
	}
	return false
}

// missingAt: field is absent or empty in the state step j was handed and
// in its own input.
func (a *analysis) missingAt(j int, field string) bool {
	val, has := a.stateView().before[j][field]
	input, _ := a.run.Steps[j].Input.(map[string]any)
	return (!has || isEmptyValue(val)) && isEmptyValue(input[field])
}

// judgement is how a finding is judged against the node's history.
type judgement struct {
	habit habit
	// infoWithoutHistory: with no history, info (unless harm).
	infoWithoutHistory bool
	// harm: a later step crashed on what the finding concerns (nil: never).
	harm func() bool
	// recovered: a later step repaired it within the run (nil: never).
	recovered func() bool
}

// emitJudged emits a finding judged against the node's history: the rule's
// severity when the finding harms a later step; none when the node does
// this routinely; info when the run recovered from it, or when the node
// has too little history and infoWithoutHistory is set; else (unusual for
// the node) the rule's severity. harm and recovered are only asked when
// they can change the outcome. It returns the finding's index, whether it
// was emitted, and whether it was softened to info.
func (a *analysis) emitJudged(rule string, i int, j judgement, msg string, d map[string]any) (k int, ok, info bool) {
	canSoften := j.habit == habitUsual || j.habit == habitUnknown && j.infoWithoutHistory || j.recovered != nil
	harmed := j.harm != nil && canSoften && j.harm()
	if j.habit == habitUsual && !harmed {
		return 0, false, false
	}
	d["node_history"] = habitNames[j.habit]
	switch {
	case harmed:
		d["harms_later"] = true
	case j.recovered != nil && j.recovered():
		d["recovered_later"] = true
		msg += "; a later step made up for it"
		info = true
	case j.habit == habitUnknown && j.infoWithoutHistory:
		msg += " (too little history of this node to call it unusual)"
		info = true
	}
	if k, ok = a.emit(rule, i, msg, d); ok && info {
		a.out[k].Severity = SeverityInfo
	}
	return k, ok, info
}

package detect

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

// isUsual: count of n recent observations is routine for the node.
func isUsual(count, n int) bool {
	return n > 0 && float64(count) >= usualShare*float64(n)
}

// habit is what a node's history says of one behaviour.
type habit int

const (
	habitUnknown habit = iota // fewer than min_samples updates of the node
	habitUsual                // at least usualShare of its recent updates do it
	habitUnusual              // the node rarely or never does it
)

var habitNames = [...]string{habitUnknown: "no history", habitUsual: "usual", habitUnusual: "unusual"}

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
	if isUsual(int(count), int(u.updates)) {
		return habitUsual
	}
	return habitUnusual
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

// emitJudged emits a finding judged against the node's history: none when
// the node does this routinely, the rule's severity when it is unusual for
// the node or harms a later step, and info at most when the node has no
// history yet and infoWithoutHistory is set. harm is only asked when it can
// change the outcome.
func (a *analysis) emitJudged(rule string, i int, h habit, infoWithoutHistory bool, harm func() bool, msg string, d map[string]any) {
	harmed := h != habitUnusual && (h == habitUsual || infoWithoutHistory) && harm()
	if h == habitUsual && !harmed {
		return
	}
	d["node_history"] = habitNames[h]
	if harmed {
		d["harms_later"] = true
	}
	info := h == habitUnknown && infoWithoutHistory && !harmed
	if info {
		msg += " (no history of this node yet)"
	}
	if k, ok := a.emit(rule, i, msg, d); ok && info {
		a.out[k].Severity = SeverityInfo
	}
}

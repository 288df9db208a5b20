package detect

import "sort"

// The forward pass of the correlator: degraded values (taints) tracked
// through the merged state, step by step.

// taint is a degraded value currently in the merged state.
type taint struct {
	lineage  int // index into correlator.lineages, -1 while latent
	kind     string
	value    any
	hasValue bool // false when the field is absent (dropped)
	writer   int  // the step that wrote it into the state
	via      int  // the last step that carried it
	// path is set while latent: the step that wrote the value (no finding
	// of its own), then steps that passed it on unchanged.
	path []int
}

// lineage is one causal chain: an origin and the steps it affected.
type lineage struct {
	origin       int
	evidenceOnly bool // the origin has no finding; downstream evidence blames it
	selfCrash    string
	members      []int
	memberSet    map[int]bool
	links        []Link
	linkSet      map[[2]int]bool
}

// pendingDamage is a whole-step degradation (a crash without output, a failed
// tool, an anomaly) waiting for the next step it may have affected.
type pendingDamage struct {
	lineage int
	from    int
	kind    string
}

// incoming is one reason a step may have been handed degraded input.
type incoming struct {
	taint     *taint
	lineage   int
	from      int
	field     string
	kind      string
	needed    bool
	passed    bool
	stepLevel bool
	conf      float64
}

// trace walks the steps in order, tracking degraded values through the
// merged state. It reports whether any chain was found.
func (c *correlator) trace(allowMinor bool) bool {
	c.allowMinor = allowMinor
	c.taints = map[string]*taint{}
	c.pending = nil
	c.lineages = nil
	c.byOrigin = map[int]int{}
	c.memberOf = map[int][]int{}
	c.state = map[string]any{}
	if len(c.run.Steps) > 0 {
		for k, v := range asObject(c.run.Steps[0].Input) {
			c.state[k] = v
		}
	}
	for i := range c.run.Steps {
		c.visit(i)
	}
	return len(c.lineages) > 0
}

func (c *correlator) problem(i int) bool {
	f := &c.steps[i]
	return f.severe || (c.allowMinor && f.weight > 0)
}

func (c *correlator) visit(i int) {
	s := &c.run.Steps[i]
	f := &c.steps[i]
	problem := c.problem(i)
	in, recorded := s.Input.(map[string]any)
	if !recorded {
		in = c.state // the node's input was not recorded: it saw the merged state
	}
	out := asObject(s.Output)
	degradedOut := hasBlankValue(out) || len(f.fieldKinds) > 0

	// 1. Degraded fields it reads: present in its input, or named by its crash.
	reads := sortedKeys(in)
	for _, k := range sortedKeys(f.needed) {
		if _, ok := in[k]; !ok {
			reads = append(reads, k)
		}
	}
	var cands []incoming
	for _, k := range reads {
		t := c.taints[k]
		if t == nil {
			continue
		}
		if v, has := in[k]; recorded && has && !stillDegraded(v, t) {
			continue // its recorded input shows a healthy value: the damage did not reach it
		}
		inc := incoming{taint: t, lineage: t.lineage, from: t.via, field: k, kind: t.kind,
			needed: f.needed[k], passed: passesOn(out, t)}
		if t.lineage < 0 {
			// A degraded value nobody flagged counts only when this step
			// needed it, or repeats it while failing.
			if !inc.needed && !(inc.passed && problem) {
				continue
			}
			inc.from = t.path[len(t.path)-1]
		}
		if c.stale(i, t, k, out) {
			continue
		}
		cands = append(cands, inc)
	}
	cands = strongest(cands)

	// 2. A crash on missing data that no degraded field explains: trust the
	// producer the structural layer named.
	unexplainedCrash := ""
	for _, m := range f.missing {
		if hasField(cands, m.field) {
			continue
		}
		if m.producer >= 0 {
			cands = append(cands, incoming{lineage: -1, from: m.producer, field: m.field, kind: damageDropped, needed: true})
			continue
		}
		if unexplainedCrash == "" {
			unexplainedCrash = m.field
		}
	}

	// 3. A whole-step degradation upstream (crash, failed tool, anomaly).
	if len(cands) == 0 && c.pending != nil && ((problem && f.explainable) || (!problem && degradedOut)) {
		p := c.pending
		cands = append(cands, incoming{lineage: p.lineage, from: p.from, kind: p.kind, stepLevel: true})
		unexplainedCrash = ""
	}

	// 4. Victim, carrier, origin.
	victim := false
	if problem {
		victim = len(cands) > 0 && f.explainable
	} else if len(cands) > 0 {
		passed := false
		for _, inc := range cands {
			passed = passed || inc.passed
		}
		victim = passed || degradedOut
	}
	origin := problem && (f.intrinsic || unexplainedCrash != "" || !victim)

	primary, primaryConf := -1, -1.0
	if victim {
		best := map[int]incoming{} // per lineage
		var order []int
		for _, inc := range cands {
			inc.conf = c.linkConf(i, inc, problem)
			if inc.lineage < 0 {
				inc.lineage = c.activate(inc)
			}
			if inc.taint != nil {
				inc.taint.via = i
			}
			cur, seen := best[inc.lineage]
			if !seen {
				order = append(order, inc.lineage)
			}
			if !seen || better(inc, cur) {
				best[inc.lineage] = inc
			}
		}
		sort.Ints(order)
		for _, lin := range order {
			inc := best[lin]
			c.addLink(lin, inc.from, i, linkType(inc.kind, inc.needed), inc.field, inc.conf)
			c.addMember(lin, i)
			if inc.conf > primaryConf {
				primary, primaryConf = lin, inc.conf
			}
		}
	}
	if origin {
		primary = c.originLineage(i, false)
		if unexplainedCrash != "" && len(c.lineages[primary].selfCrash) == 0 {
			c.lineages[primary].selfCrash = unexplainedCrash
		}
	}

	// 5. What it hands on.
	active := primary >= 0 && (victim || f.degrades)
	for _, k := range sortedKeys(out) {
		v := out[k]
		kind := f.fieldKinds[k]
		var inherited *taint
		for _, inc := range cands {
			if inc.taint != nil && inc.passed && carriesTaint(v, inc.taint) {
				inherited = inc.taint
				break
			}
		}
		if kind == "" && inherited != nil && victim {
			kind = inherited.kind
		}
		if kind == "" && isBlankValue(v) {
			kind = damageEmpty
		}
		if kind == "" && active && f.failed {
			kind = damageFailure
		}
		if kind == "" {
			delete(c.taints, k) // a healthy write repairs the field
			continue
		}
		if active {
			c.taints[k] = &taint{lineage: primary, kind: kind, value: v, hasValue: true, writer: i, via: i}
			continue
		}
		c.taints[k] = c.latent(i, k, v, kind, in)
	}
	if active {
		for _, k := range sortedKeys(f.fieldKinds) {
			if _, wrote := out[k]; !wrote && f.fieldKinds[k] == damageDropped {
				c.taints[k] = &taint{lineage: primary, kind: damageDropped, writer: i, via: i}
			}
		}
	}
	// An anomaly only explains the step right after it; a failure or an
	// empty step waits for the next step that shows damage.
	if problem || victim || (c.pending != nil && c.pending.kind == damageAnomaly) {
		c.pending = nil
	}
	if primary >= 0 && f.stepKind != "" && (active || f.stepKind == damageAnomaly) {
		c.pending = &pendingDamage{lineage: primary, from: i, kind: f.stepKind}
	}
	for k, v := range out {
		c.state[k] = v
	}
}

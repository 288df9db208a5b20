package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

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
	fxEmpty       = "empty"       // "", [], {}, null
	fxDropped     = "dropped"     // the field is gone
	fxInvalid     = "invalid"     // wrong type, corrupted JSON: unusable
	fxPlaceholder = "placeholder" // placeholder, refusal, null-like text
	fxFailure     = "failure"     // produced by a failing tool / span
	fxAnomaly     = "anomaly"     // a statistical outlier
)

// Link confidences. They grade the evidence, not the damage: a crash that
// names the missing field is stronger than a degraded field merely present
// in the input of a step that later misbehaves.
const (
	fxConfNeeded      = 0.9  // the victim's crash / finding names the field
	fxConfProducer    = 0.85 // the structural layer named the producer step
	fxConfPassThrough = 0.85 // the victim repeats the degraded value
	fxConfRead        = 0.7  // the degraded field is in the victim's input
	fxConfTransform   = 0.6  // a carrier turned a degraded input into a degraded output
	fxLatentFactor    = 0.9  // the origin has no finding of its own
	fxStepDecay       = 0.8  // per step between a whole-step degradation and its victim
)

// Bounds that keep the correlator linear on huge or hostile runs.
const (
	fxMaxContain   = 64 << 10 // longest output string searched for a placeholder
	fxMaxPath      = 32       // pass-through carriers remembered for a latent value
	fxMaxNamed     = 8        // field names taken from one step's error text
	fxMaxListed    = 3        // steps spelled out in one explanation clause
	fxMaxTextRunes = 120      // error text quoted in an explanation
	fxMaxNameRunes = 64       // node / field / tool names in an explanation
	fxMaxWeight    = 3.0      // cap of one step's weight, so one noisy step cannot dominate
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

// ---- facts about each step ----------------------------------------------

// fxTraits is what a rule means for causality.
type fxTraits struct {
	intrinsic bool   // a problem of the step itself, never explained by its input
	kind      string // degradation of the field the finding names ("" = none)
	stepKind  string // degradation of the step as a whole ("" = none)
}

func fxTraitsOf(rule string) fxTraits {
	switch rule {
	case "structural.empty_update":
		return fxTraits{stepKind: fxEmpty}
	case "structural.dropped_field", "structural.contract_violation":
		return fxTraits{kind: fxDropped}
	case "structural.key_typo":
		return fxTraits{intrinsic: true, kind: fxDropped}
	case "structural.type_changed":
		return fxTraits{intrinsic: true, kind: fxInvalid}
	case "structural.empty_retrieval":
		return fxTraits{kind: fxEmpty}
	case "structural.unexpected_transition":
		return fxTraits{intrinsic: true}
	case "structural.crash_missing_data", "behavioral.error_span":
		return fxTraits{stepKind: fxFailure}
	case "semantic.whitespace":
		return fxTraits{kind: fxEmpty}
	case "semantic.corrupted_json":
		return fxTraits{kind: fxInvalid}
	case "behavioral.tool_error", "behavioral.rate_limited", "behavioral.retry_storm":
		return fxTraits{intrinsic: true, stepKind: fxFailure}
	case "behavioral.loop_stall", "behavioral.runaway_steps":
		return fxTraits{intrinsic: true}
	case "behavioral.claimed_success_empty":
		return fxTraits{kind: fxEmpty, stepKind: fxEmpty}
	case "behavioral.input_echo":
		return fxTraits{}
	case "statistical.latency_spike", "statistical.token_blowup":
		return fxTraits{intrinsic: true, stepKind: fxAnomaly}
	case "statistical.too_fast", "statistical.output_size_anomaly":
		return fxTraits{stepKind: fxAnomaly}
	}
	switch {
	case strings.HasPrefix(rule, "semantic."): // placeholder, refusal, null_like, truncated, repeated_filler, signature, ...
		return fxTraits{kind: fxPlaceholder}
	case strings.HasPrefix(rule, "statistical."):
		return fxTraits{stepKind: fxAnomaly}
	}
	return fxTraits{}
}

// fxKindRank orders degradations when one field or step has several.
func fxKindRank(k string) int {
	switch k {
	case fxFailure:
		return 6
	case fxDropped:
		return 5
	case fxInvalid:
		return 4
	case fxPlaceholder:
		return 3
	case fxEmpty:
		return 2
	case fxAnomaly:
		return 1
	}
	return 0
}

func fxSeverityWeight(s string) float64 {
	switch s {
	case SeverityCritical:
		return 1
	case SeverityWarning:
		return 0.5
	}
	return 0.15 // info, and unknown severities
}

type fxMissing struct {
	field    string
	producer int // index of the step the structural layer blames, -1 when none
}

type fxStep struct {
	findings    []Finding // sorted by rule, then id
	weight      float64
	severe      bool // a warning or critical finding, or the span failed
	intrinsic   bool // a problem no input explains (tool failure, typo, ...)
	explainable bool // a problem degraded input can explain (crash, empty output, ...)
	degrades    bool // its problems degrade what it outputs
	failed      bool
	stepKind    string
	fieldKinds  map[string]string // fields its findings name, and how they are degraded
	needed      map[string]bool   // fields its crash says it needed
	missing     []fxMissing       // crash_missing_data evidence
	passThrough bool              // its output repeats fields of its input unchanged
}

// ---- taint tracking -----------------------------------------------------

// fxTaint is a degraded value currently in the merged state.
type fxTaint struct {
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

// fxLineage is one causal chain: an origin and the steps it affected.
type fxLineage struct {
	origin       int
	evidenceOnly bool // the origin has no finding; downstream evidence blames it
	selfCrash    string
	members      []int
	memberSet    map[int]bool
	links        []Link
	linkSet      map[[2]int]bool
}

// fxPending is a whole-step degradation (a crash without output, a failed
// tool, an anomaly) waiting for the next step it may have affected.
type fxPending struct {
	lineage int
	from    int
	kind    string
}

// fxIncoming is one reason a step may have been handed degraded input.
type fxIncoming struct {
	taint     *fxTaint
	lineage   int
	from      int
	field     string
	kind      string
	needed    bool
	passed    bool
	stepLevel bool
	conf      float64
}

type correlator struct {
	run      *agentrun.Run
	steps    []fxStep
	runLevel []Finding
	known    map[string]bool // every state key seen in the run

	// per trace
	allowMinor bool
	taints     map[string]*fxTaint
	pending    *fxPending
	state      map[string]any // merged state, as Run.StateBefore builds it
	lineages   []*fxLineage
	byOrigin   map[int]int
	memberOf   map[int][]int
}

func newCorrelator(run *agentrun.Run, fs []Finding) *correlator {
	n := len(run.Steps)
	c := &correlator{run: run, steps: make([]fxStep, n), known: map[string]bool{}}
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
		for k := range fxMap(run.Steps[i].Input) {
			c.known[k] = true
		}
		for k := range fxMap(run.Steps[i].Output) {
			c.known[k] = true
		}
	}
	for i := range c.steps {
		c.describeStep(i)
	}
	return c
}

func (c *correlator) describeStep(i int) {
	s := &c.run.Steps[i]
	f := &c.steps[i]
	f.fieldKinds = map[string]string{}
	f.needed = map[string]bool{}
	out := fxMap(s.Output)
	nodeFailed := s.Status == agentrun.StatusError || len(s.Exceptions) > 0
	callFailed := false
	for j := range s.Calls {
		if s.Calls[j].Status == agentrun.StatusError {
			callFailed = true
		}
	}
	failureFinding := false
	for _, fd := range f.findings {
		tr := fxTraitsOf(fd.Rule)
		f.weight += fxSeverityWeight(fd.Severity)
		if fd.Severity == SeverityWarning || fd.Severity == SeverityCritical {
			f.severe = true
		}
		// An error span only because a nested call failed is that call's
		// failure, not a crash on bad input.
		intrinsic := tr.intrinsic || (fd.Rule == "behavioral.error_span" && callFailed && !nodeFailed)
		if intrinsic {
			f.intrinsic = true
		} else {
			f.explainable = true
		}
		if fxKindRank(tr.stepKind) > fxKindRank(f.stepKind) {
			f.stepKind = tr.stepKind
		}
		if tr.stepKind == fxFailure {
			failureFinding = true
		}
		if tr.kind != "" || tr.stepKind == fxFailure || tr.stepKind == fxEmpty {
			f.degrades = true
		}
		field := c.stateField(fxDetailString(fd.Details, "field"), out)
		if fd.Rule == "structural.crash_missing_data" {
			if field != "" {
				f.needed[field] = true
				f.missing = append(f.missing, fxMissing{field: field, producer: c.producerOf(fd.Details, i)})
			}
			continue
		}
		if tr.kind != "" && field != "" && fxKindRank(tr.kind) > fxKindRank(f.fieldKinds[field]) {
			f.fieldKinds[field] = tr.kind
		}
	}
	if (nodeFailed || callFailed) && !failureFinding {
		// The span itself is evidence even when no layer reported it.
		f.weight++
		f.severe = true
		f.degrades = true
		f.stepKind = fxFailure
		if callFailed {
			f.intrinsic = true
		} else {
			f.explainable = true
		}
	}
	f.failed = nodeFailed || callFailed || failureFinding
	f.weight = math.Min(f.weight, fxMaxWeight)
	if nodeFailed {
		for _, k := range c.namedInError(s) {
			f.needed[k] = true
		}
	}
	in := fxMap(s.Input)
	if len(out) > 0 && in != nil {
		f.passThrough = true
		for k, v := range out {
			if iv, ok := in[k]; !ok || !reflect.DeepEqual(iv, v) {
				f.passThrough = false
				break
			}
		}
	}
}

// stateField maps a finding's field (which may be a path such as
// "results.error") to a top-level state key, or "".
func (c *correlator) stateField(field string, out map[string]any) string {
	if field == "" {
		return ""
	}
	if _, ok := out[field]; ok || c.known[field] {
		return field
	}
	if j := strings.IndexAny(field, ".["); j > 0 {
		head := field[:j]
		if _, ok := out[head]; ok || c.known[head] {
			return head
		}
	}
	return field
}

// producerOf reads producer_step / producer_node of a crash_missing_data
// finding. producer_step is an index; a 1-based number is recognised when
// producer_node says so.
func (c *correlator) producerOf(d map[string]any, i int) int {
	p, ok := fxDetailInt(d, "producer_step")
	node := fxDetailString(d, "producer_node")
	valid := func(j int) bool { return j >= 0 && j < i }
	if node == "" {
		if ok && valid(p) {
			return p
		}
		return -1
	}
	if ok && valid(p) && c.run.Steps[p].Node == node {
		return p
	}
	if ok && valid(p-1) && c.run.Steps[p-1].Node == node {
		return p - 1
	}
	for j := i - 1; j >= 0; j-- {
		if c.run.Steps[j].Node == node {
			return j
		}
	}
	return -1
}

var fxQuoted = regexp.MustCompile("['\"`]([A-Za-z_][A-Za-z0-9_.-]{0,63})['\"`]")

// namedInError returns the state keys quoted in a crashed step's error text
// (KeyError: 'documents', reading 'context').
func (c *correlator) namedInError(s *agentrun.Step) []string {
	texts := []string{s.StatusMessage}
	for _, e := range s.Exceptions {
		texts = append(texts, e.Message)
	}
	var names []string
	for _, t := range texts {
		if len(t) > fxMaxContain {
			t = t[:fxMaxContain]
		}
		for _, m := range fxQuoted.FindAllStringSubmatch(t, fxMaxNamed) {
			if c.known[m[1]] && len(names) < fxMaxNamed {
				names = append(names, m[1])
			}
		}
	}
	return names
}

// ---- the forward pass ---------------------------------------------------

// trace walks the steps in order, tracking degraded values through the
// merged state. It reports whether any chain was found.
func (c *correlator) trace(allowMinor bool) bool {
	c.allowMinor = allowMinor
	c.taints = map[string]*fxTaint{}
	c.pending = nil
	c.lineages = nil
	c.byOrigin = map[int]int{}
	c.memberOf = map[int][]int{}
	c.state = map[string]any{}
	if len(c.run.Steps) > 0 {
		for k, v := range fxMap(c.run.Steps[0].Input) {
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
	out := fxMap(s.Output)
	degradedOut := fxHasEmpty(out) || len(f.fieldKinds) > 0

	// 1. Degraded fields it reads: present in its input, or named by its crash.
	reads := sortedKeys(in)
	for _, k := range sortedKeys(f.needed) {
		if _, ok := in[k]; !ok {
			reads = append(reads, k)
		}
	}
	var cands []fxIncoming
	for _, k := range reads {
		t := c.taints[k]
		if t == nil {
			continue
		}
		if v, has := in[k]; recorded && has && !fxStillDegraded(v, t) {
			continue // its recorded input shows a healthy value: the damage did not reach it
		}
		inc := fxIncoming{taint: t, lineage: t.lineage, from: t.via, field: k, kind: t.kind,
			needed: f.needed[k], passed: fxPassesOn(out, t)}
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
	cands = fxStrongest(cands)

	// 2. A crash on missing data that no degraded field explains: trust the
	// producer the structural layer named.
	unexplainedCrash := ""
	for _, m := range f.missing {
		if fxHasField(cands, m.field) {
			continue
		}
		if m.producer >= 0 {
			cands = append(cands, fxIncoming{lineage: -1, from: m.producer, field: m.field, kind: fxDropped, needed: true})
			continue
		}
		if unexplainedCrash == "" {
			unexplainedCrash = m.field
		}
	}

	// 3. A whole-step degradation upstream (crash, failed tool, anomaly).
	if len(cands) == 0 && c.pending != nil && ((problem && f.explainable) || (!problem && degradedOut)) {
		p := c.pending
		cands = append(cands, fxIncoming{lineage: p.lineage, from: p.from, kind: p.kind, stepLevel: true})
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
		best := map[int]fxIncoming{}
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
			if !seen || fxBetter(inc, cur) {
				best[inc.lineage] = inc
			}
		}
		sort.Ints(order)
		for _, lin := range order {
			inc := best[lin]
			c.addLink(lin, inc.from, i, fxLinkType(inc.kind, inc.needed), inc.field, inc.conf)
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
		var inherited *fxTaint
		for _, inc := range cands {
			if inc.taint != nil && inc.passed && fxMatch(v, inc.taint) {
				inherited = inc.taint
				break
			}
		}
		if kind == "" && inherited != nil && victim {
			kind = inherited.kind
		}
		if kind == "" && fxIsEmpty(v) {
			kind = fxEmpty
		}
		if kind == "" && active && f.failed {
			kind = fxFailure
		}
		if kind == "" {
			delete(c.taints, k) // a healthy write repairs the field
			continue
		}
		if active {
			c.taints[k] = &fxTaint{lineage: primary, kind: kind, value: v, hasValue: true, writer: i, via: i}
			continue
		}
		c.taints[k] = c.latent(i, k, v, kind, in)
	}
	if active {
		for _, k := range sortedKeys(f.fieldKinds) {
			if _, wrote := out[k]; !wrote && f.fieldKinds[k] == fxDropped {
				c.taints[k] = &fxTaint{lineage: primary, kind: fxDropped, writer: i, via: i}
			}
		}
	}
	// An anomaly only explains the step right after it; a failure or an
	// empty step waits for the next step that shows damage.
	if problem || victim || (c.pending != nil && c.pending.kind == fxAnomaly) {
		c.pending = nil
	}
	if primary >= 0 && f.stepKind != "" && (active || f.stepKind == fxAnomaly) {
		c.pending = &fxPending{lineage: primary, from: i, kind: f.stepKind}
	}
	for k, v := range out {
		c.state[k] = v
	}
}

// stale reports a degraded value that cannot explain step i in a loop:
// the node overwrites what its own earlier run wrote, or the node that
// started the chain failed again the same way (a retry that failed anew is
// a fresh origin, not a victim of the previous attempt).
func (c *correlator) stale(i int, t *fxTaint, field string, out map[string]any) bool {
	node := c.run.Steps[i].Node
	if _, rewrites := out[field]; rewrites && c.run.Steps[t.writer].Node == node {
		return true
	}
	var origin int
	if t.lineage >= 0 {
		origin = c.lineages[t.lineage].origin
	} else {
		origin = t.path[0]
	}
	if c.run.Steps[origin].Node != node {
		return false
	}
	for _, a := range c.steps[origin].findings {
		for _, b := range c.steps[i].findings {
			if a.Rule == b.Rule {
				return true
			}
		}
	}
	return false
}

// latent records a degraded value written by a step with no problem of its
// own. If the step repeats a latent value it read, the path grows, so the
// first writer stays the one blamed.
func (c *correlator) latent(i int, k string, v any, kind string, in map[string]any) *fxTaint {
	keys := sortedKeys(in)
	if _, ok := in[k]; ok { // the same field first: rerank passing on documents
		keys = append([]string{k}, keys...)
	}
	for _, r := range keys {
		t := c.taints[r]
		if t == nil || t.lineage >= 0 || !fxMatch(in[r], t) || !fxMatch(v, t) {
			continue
		}
		path := append([]int(nil), t.path...)
		if len(path) < fxMaxPath {
			path = append(path, i)
		}
		return &fxTaint{lineage: -1, kind: t.kind, value: v, hasValue: true, writer: i, via: i, path: path}
	}
	return &fxTaint{lineage: -1, kind: kind, value: v, hasValue: true, writer: i, via: i, path: []int{i}}
}

// activate turns a latent degradation (or a producer named by a crash) into
// a chain whose origin is the step that first wrote it.
func (c *correlator) activate(inc fxIncoming) int {
	if inc.taint == nil { // producer evidence
		if ls := c.memberOf[inc.from]; len(ls) > 0 {
			return ls[0]
		}
		return c.originLineage(inc.from, len(c.steps[inc.from].findings) == 0)
	}
	t := inc.taint
	lin := c.originLineage(t.path[0], len(c.steps[t.path[0]].findings) == 0)
	for k := 1; k < len(t.path); k++ {
		c.addLink(lin, t.path[k-1], t.path[k], fxLinkType(t.kind, false), inc.field, fxConfPassThrough*fxLatentFactor)
		c.addMember(lin, t.path[k])
	}
	t.lineage = lin
	t.path = nil
	return lin
}

func (c *correlator) linkConf(i int, inc fxIncoming, problem bool) float64 {
	var conf float64
	switch {
	case inc.stepLevel:
		switch inc.kind {
		case fxFailure:
			conf = 0.6
		case fxEmpty:
			conf = 0.55
		case fxAnomaly:
			conf = 0.35
		default:
			conf = 0.4
		}
		conf *= math.Pow(fxStepDecay, float64(max(0, i-inc.from-1)))
	case inc.taint == nil:
		conf = fxConfProducer
	case inc.needed:
		conf = fxConfNeeded
	case inc.passed:
		conf = fxConfPassThrough
	case problem:
		conf = fxConfRead
	default:
		conf = fxConfTransform
	}
	if inc.taint != nil && inc.taint.lineage < 0 {
		conf *= fxLatentFactor
	}
	return math.Max(0.05, conf)
}

func (c *correlator) originLineage(i int, evidenceOnly bool) int {
	if lin, ok := c.byOrigin[i]; ok {
		return lin
	}
	c.lineages = append(c.lineages, &fxLineage{origin: i, evidenceOnly: evidenceOnly,
		memberSet: map[int]bool{}, linkSet: map[[2]int]bool{}})
	c.byOrigin[i] = len(c.lineages) - 1
	return len(c.lineages) - 1
}

func (c *correlator) addMember(lin, i int) {
	l := c.lineages[lin]
	if i == l.origin || l.memberSet[i] {
		return
	}
	l.memberSet[i] = true
	l.members = append(l.members, i)
	c.memberOf[i] = append(c.memberOf[i], lin)
}

func (c *correlator) addLink(lin, from, to int, typ, field string, conf float64) {
	l := c.lineages[lin]
	key := [2]int{from, to}
	if from < 0 || from >= to || l.linkSet[key] {
		return
	}
	l.linkSet[key] = true
	a, b := &c.run.Steps[from], &c.run.Steps[to]
	l.links = append(l.links, Link{FromStep: from, ToStep: to, From: a.Node, To: b.Node,
		FromStepID: a.ID, ToStepID: b.ID, Type: typ, Field: field, Confidence: fxRound(conf)})
}

// fxStrongest keeps the degraded fields that best explain a step. A
// LangGraph node is handed the whole state, so "present in its input" alone
// is weak: a field it needs or repeats wins; otherwise the most recently
// written degraded fields, which is what a node usually consumes.
func fxStrongest(cands []fxIncoming) []fxIncoming {
	var strong []fxIncoming
	latest := -1
	for _, c := range cands {
		if c.needed || c.passed {
			strong = append(strong, c)
		}
		latest = max(latest, c.taint.writer)
	}
	if len(strong) > 0 {
		return strong
	}
	var out []fxIncoming
	for _, c := range cands {
		if c.taint.writer == latest {
			out = append(out, c)
		}
	}
	return out
}

// fxBetter orders two reasons for the same chain: a named field first, then
// stronger evidence, then the closest carrier, then the field name.
func fxBetter(a, b fxIncoming) bool {
	if a.needed != b.needed {
		return a.needed
	}
	if a.conf != b.conf {
		return a.conf > b.conf
	}
	if a.from != b.from {
		return a.from > b.from
	}
	return a.field < b.field
}

func fxLinkType(kind string, needed bool) string {
	switch kind {
	case fxDropped, fxInvalid:
		return LinkFieldDrop
	case fxPlaceholder:
		return LinkPlaceholderPropagation
	case fxFailure:
		return LinkToolFailureCascade
	case fxAnomaly:
		return LinkAnomalyCascade
	}
	if needed {
		return LinkFieldDrop
	}
	return LinkEmptyOutput
}

// ---- the verdict --------------------------------------------------------

func (c *correlator) severity(l *fxLineage) float64 {
	w := c.steps[l.origin].weight
	if l.evidenceOnly && w == 0 {
		w = 0.5
	}
	for _, m := range l.members {
		if mw := c.steps[m].weight; mw > 0 {
			w += mw
		} else {
			w += 0.1
		}
	}
	return w
}

func (c *correlator) verdict() *Forensics {
	out := &Forensics{RootCauseStep: -1, Origins: []int{}, Victims: []int{}, Chain: []Link{}}
	involved := map[int]bool{}
	victims := map[int]bool{}
	for _, l := range c.lineages {
		out.Origins = append(out.Origins, l.origin)
		involved[l.origin] = true
		for _, m := range l.members {
			victims[m] = true
			involved[m] = true
		}
	}
	sort.Ints(out.Origins)
	for v := range victims {
		out.Victims = append(out.Victims, v)
	}
	sort.Ints(out.Victims)

	// Root: a step that only repeats its input is never the root cause while
	// another origin exists; then the most severe chain; then the earliest.
	order := make([]int, len(c.lineages))
	for k := range order {
		order[k] = k
	}
	sort.SliceStable(order, func(a, b int) bool {
		la, lb := c.lineages[order[a]], c.lineages[order[b]]
		pa, pb := c.steps[la.origin].passThrough, c.steps[lb.origin].passThrough
		if pa != pb {
			return !pa
		}
		sa, sb := c.severity(la), c.severity(lb)
		if math.Abs(sa-sb) > 1e-9 {
			return sa > sb
		}
		return la.origin < lb.origin
	})
	var root *fxLineage
	if len(order) > 0 {
		root = c.lineages[order[0]]
		out.RootCauseStep = root.origin
	}
	// The root chain first, then the other chains in the order of their
	// origins; each chain's links in step order.
	chains := append([]int(nil), order...)
	if len(chains) > 1 {
		rest := chains[1:]
		sort.Slice(rest, func(a, b int) bool { return c.lineages[rest[a]].origin < c.lineages[rest[b]].origin })
	}
	for _, idx := range chains {
		links := append([]Link(nil), c.lineages[idx].links...)
		sort.SliceStable(links, func(a, b int) bool {
			if links[a].ToStep != links[b].ToStep {
				return links[a].ToStep < links[b].ToStep
			}
			return links[a].FromStep < links[b].FromStep
		})
		out.Chain = append(out.Chain, links...)
	}
	out.Chain = fxDedupeLinks(out.Chain)

	ids := map[string]bool{}
	for i := range c.steps {
		if !involved[i] {
			continue
		}
		for _, f := range c.steps[i].findings {
			if f.ID != "" {
				ids[f.ID] = true
			}
		}
	}
	for _, f := range c.runLevel {
		if f.ID != "" {
			ids[f.ID] = true
		}
	}
	out.DetectionIDs = make([]string, 0, len(ids))
	for id := range ids {
		out.DetectionIDs = append(out.DetectionIDs, id)
	}
	sort.Strings(out.DetectionIDs)

	out.Confidence = c.confidence(root, order)
	out.Explanation = c.explain(root, order)
	// One verdict per run: the id depends on the trace alone, so when a run
	// is analysed again (a crash replayed from the write-ahead log, with
	// baselines that moved in between) the new verdict replaces the stored
	// one instead of standing beside it.
	h := sha256.Sum256([]byte(c.run.TraceID))
	out.ID = "for_" + hex.EncodeToString(h[:])[:24]
	return out
}

func fxDedupeLinks(ls []Link) []Link {
	type key struct {
		from, to   int
		typ, field string
	}
	seen := map[key]bool{}
	out := ls[:0]
	for _, l := range ls {
		k := key{l.FromStep, l.ToStep, l.Type, l.Field}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, l)
	}
	return out
}

// confidence grades the verdict: how strong the root's own evidence is, and
// how well the chain holds together. A lone finding with nothing upstream
// or downstream to corroborate it stays low.
func (c *correlator) confidence(root *fxLineage, order []int) float64 {
	if root == nil {
		return 0.2
	}
	f := &c.steps[root.origin]
	strength := 0.5
	switch {
	case f.failed || fxHasSeverity(f.findings, SeverityCritical):
		strength = 0.9
	case fxHasSeverity(f.findings, SeverityWarning):
		strength = 0.75
	case root.evidenceOnly:
		strength = 0.6
	}
	var conf float64
	if len(root.links) == 0 {
		conf = 0.6 * strength
		if len(f.findings) <= 1 {
			conf *= 0.85
		}
	} else {
		sum := 0.0
		for _, l := range root.links {
			sum += l.Confidence
		}
		conf = 0.5*strength + 0.5*sum/float64(len(root.links))
		corroborating := 0
		for _, m := range root.members {
			if len(c.steps[m].findings) > 0 {
				corroborating++
			}
		}
		if corroborating >= 2 {
			conf += 0.05
		}
	}
	// Another chain nearly as severe makes the choice of root less certain.
	if len(order) > 1 {
		if c.severity(c.lineages[order[1]]) >= 0.8*c.severity(root) {
			conf *= 0.85
		}
	}
	return fxRound(math.Max(0.05, math.Min(0.95, conf)))
}

// ---- the explanation ----------------------------------------------------

func (c *correlator) explain(root *fxLineage, order []int) string {
	if root == nil {
		rules := map[string]bool{}
		for _, f := range c.runLevel {
			rules[fxClean(f.Rule)] = true
		}
		names := sortedKeys(rules)
		if len(names) > fxMaxListed {
			names = append(names[:fxMaxListed], fmt.Sprintf("%d more", len(rules)-fxMaxListed))
		}
		return fmt.Sprintf("No step could be identified as the origin; the run has %d run-level finding(s): %s.",
			len(c.runLevel), fxJoinAnd(names))
	}
	var b strings.Builder
	first := c.ref(root.origin) + " " + c.predicate(root.origin, root)
	if root.selfCrash != "" {
		first += fmt.Sprintf(", and no earlier step explains the missing %q", fxClean(root.selfCrash))
	}
	b.WriteString(first + ".")

	var carriers, affected []int
	for _, m := range root.members {
		if len(c.steps[m].findings) == 0 && !c.steps[m].failed {
			carriers = append(carriers, m)
		} else {
			affected = append(affected, m)
		}
	}
	var parts []string
	if len(carriers) > 0 {
		parts = append(parts, c.refs(carriers)+" passed "+c.carried(root, carriers[0])+" on")
	}
	if len(affected) > 0 {
		var clauses []string
		for k, m := range affected {
			if k == fxMaxListed {
				clauses = append(clauses, fmt.Sprintf("%d more steps were affected", len(affected)-fxMaxListed))
				break
			}
			clauses = append(clauses, c.ref(m)+" "+c.predicate(m, nil))
		}
		parts = append(parts, fxJoinAnd(clauses))
	}
	if len(parts) > 0 {
		b.WriteString(" " + strings.Join(parts, ", and ") + ".")
	}

	b.WriteString(" Root cause: " + c.ref(root.origin))
	if len(order) > 1 {
		var others []int
		for _, idx := range order[1:] {
			others = append(others, c.lineages[idx].origin)
		}
		sort.Ints(others)
		b.WriteString("; independent problems also start at " + c.refs(others))
	}
	b.WriteString(".")
	return b.String()
}

// ref names a step by node and number: cycles run one node many times.
func (c *correlator) ref(i int) string {
	s := &c.run.Steps[i]
	n := s.Number
	if n <= 0 {
		n = i + 1
	}
	name := fxClean(s.Node)
	if name == "" {
		name = "unnamed node"
	}
	return fmt.Sprintf("%s (step %d)", name, n)
}

func (c *correlator) refs(steps []int) string {
	var names []string
	for k, i := range steps {
		if k == fxMaxListed && len(steps) > fxMaxListed+1 {
			names = append(names, fmt.Sprintf("%d more steps", len(steps)-k))
			break
		}
		names = append(names, c.ref(i))
	}
	return fxJoinAnd(names)
}

// carried says what a carrier passed on, from the link that reached it.
func (c *correlator) carried(root *fxLineage, carrier int) string {
	for _, l := range root.links {
		if l.ToStep != carrier {
			continue
		}
		switch l.Type {
		case LinkPlaceholderPropagation:
			return "the placeholder text"
		case LinkToolFailureCascade:
			return "the failed result"
		case LinkAnomalyCascade:
			return "the anomalous output"
		}
		return "the empty value"
	}
	return "the degraded value"
}

// predicate describes a step's main problem in plain words, from its
// strongest finding. lin is set for an origin, whose field may only be
// known from the chain it started.
func (c *correlator) predicate(i int, lin *fxLineage) string {
	s := &c.run.Steps[i]
	f := &c.steps[i]
	fd, ok := fxPrimary(f.findings)
	if !ok {
		if f.failed {
			return c.failure(s)
		}
		field := ""
		if lin != nil && len(lin.links) > 0 {
			field = lin.links[0].Field
		}
		if field == "" {
			return "returned degraded output"
		}
		out := fxMap(s.Output)
		if v, wrote := out[field]; wrote {
			return "returned " + fxEmptyPhrase(v, field)
		}
		return fmt.Sprintf("did not produce %q", fxClean(field))
	}
	field := c.stateField(fxDetailString(fd.Details, "field"), fxMap(s.Output))
	q := fmt.Sprintf("%q", fxClean(field))
	into := func(what string) string {
		if field == "" {
			return "produced " + what
		}
		return "wrote " + what + " into " + q
	}
	switch fd.Rule {
	case "behavioral.tool_error":
		return c.toolFailure(s, fd, "had a failing tool call")
	case "behavioral.rate_limited":
		return c.toolFailure(s, fd, "was rate limited")
	case "behavioral.retry_storm":
		return c.toolFailure(s, fd, "retried a call repeatedly")
	case "behavioral.error_span", "structural.crash_missing_data":
		if f.failed && (s.Status == agentrun.StatusError || len(s.Exceptions) > 0 || s.StatusMessage != "") {
			return c.failure(s)
		}
		if fd.Rule == "structural.crash_missing_data" && field != "" {
			return "failed because " + q + " was missing"
		}
		return c.toolFailure(s, fd, "had a failing call")
	case "structural.empty_retrieval":
		if field == "" {
			return "returned an empty retrieval result"
		}
		return "returned " + fxEmptyPhrase(fxMap(s.Output)[field], field)
	case "structural.empty_update":
		return "returned an empty update"
	case "structural.dropped_field":
		if field == "" {
			return "dropped a field"
		}
		return "dropped " + q
	case "structural.key_typo":
		if k := fxDetailString(fd.Details, "key"); k != "" && field != "" {
			return fmt.Sprintf("wrote %q where %s was expected", fxClean(k), q)
		}
		return "wrote a misspelled key"
	case "structural.type_changed":
		return "changed the type of " + q
	case "structural.contract_violation":
		return "broke its output contract on " + q
	case "structural.unexpected_transition":
		return "ran after a step the graph does not lead from"
	case "semantic.placeholder":
		return into("placeholder text")
	case "semantic.refusal":
		return into("a refusal")
	case "semantic.null_like":
		return into("a null-like value")
	case "semantic.whitespace":
		return into("whitespace-only text")
	case "semantic.truncated":
		return into("truncated text")
	case "semantic.corrupted_json":
		return into("corrupted JSON")
	case "semantic.repeated_filler":
		return into("repeated filler text")
	case "semantic.signature":
		return into("text matching a known bad signature")
	case "behavioral.loop_stall":
		return "repeated the same output in a loop"
	case "behavioral.runaway_steps":
		return "ran more times than the step limit allows"
	case "behavioral.input_echo":
		return "echoed its input as output"
	case "behavioral.claimed_success_empty":
		if field == "" {
			return "reported success with an empty output"
		}
		return "reported success while " + q + " was empty"
	case "statistical.latency_spike":
		return "was unusually slow"
	case "statistical.too_fast":
		return "finished unusually fast"
	case "statistical.token_blowup":
		return "used unusually many tokens"
	case "statistical.output_size_anomaly":
		return "produced an output of unusual size"
	}
	return "raised " + fxClean(fd.Rule)
}

func (c *correlator) failure(s *agentrun.Step) string {
	for _, e := range s.Exceptions {
		text := strings.TrimSpace(e.Type)
		if m := strings.TrimSpace(e.Message); m != "" {
			if text != "" {
				text += ": "
			}
			text += m
		}
		if text != "" {
			return "failed with " + fxCleanText(text)
		}
	}
	if strings.TrimSpace(s.StatusMessage) != "" {
		return "failed with " + fxCleanText(s.StatusMessage)
	}
	for j := range s.Calls {
		if s.Calls[j].Status == agentrun.StatusError {
			return fmt.Sprintf("failed in its call %q", fxClean(fxFirst(s.Calls[j].Tool, s.Calls[j].Name)))
		}
	}
	return "failed"
}

func (c *correlator) toolFailure(s *agentrun.Step, fd Finding, what string) string {
	tool := fxDetailString(fd.Details, "tool")
	var msg string
	for j := range s.Calls {
		call := &s.Calls[j]
		if call.Status != agentrun.StatusError || (tool != "" && tool != call.Tool && tool != call.Name) {
			continue
		}
		if tool == "" {
			tool = fxFirst(call.Tool, call.Name)
		}
		msg = call.StatusMessage
		if msg == "" && len(call.Exceptions) > 0 {
			msg = call.Exceptions[0].Message
		}
		break
	}
	if tool != "" {
		what += fmt.Sprintf(" to %q", fxClean(tool))
	}
	if msg != "" {
		what += " (" + fxCleanText(msg) + ")"
	}
	return what
}

// fxPrimary picks the finding that best describes a step: failures first,
// then structural damage, then text problems, then the rest.
func fxPrimary(fs []Finding) (Finding, bool) {
	prio := func(rule string) int {
		switch rule {
		case "behavioral.tool_error", "behavioral.rate_limited":
			return 0
		case "behavioral.error_span":
			return 1
		case "structural.crash_missing_data":
			return 2
		case "behavioral.retry_storm":
			return 3
		case "structural.empty_retrieval", "structural.empty_update", "structural.dropped_field",
			"structural.key_typo", "structural.type_changed", "structural.contract_violation":
			return 4
		}
		switch {
		case strings.HasPrefix(rule, "semantic."):
			return 5
		case strings.HasPrefix(rule, "behavioral."):
			return 6
		case strings.HasPrefix(rule, "structural."):
			return 7
		}
		return 8
	}
	best, found := Finding{}, false
	for _, f := range fs {
		if !found || prio(f.Rule) < prio(best.Rule) ||
			(prio(f.Rule) == prio(best.Rule) && fxSeverityWeight(f.Severity) > fxSeverityWeight(best.Severity)) {
			best, found = f, true
		}
	}
	return best, found
}

func fxEmptyPhrase(v any, field string) string {
	q := fmt.Sprintf("%q", fxClean(field))
	switch x := v.(type) {
	case nil:
		return "a null " + q
	case string:
		if x == "" {
			return "an empty " + q + " string"
		}
		return "a blank " + q + " string"
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Slice, reflect.Array:
		return "an empty " + q + " list"
	case reflect.Map:
		return "an empty " + q + " object"
	}
	return "a degraded " + q
}

// ---- small helpers ------------------------------------------------------

func fxMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func fxIsEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Slice, reflect.Map, reflect.Array:
		return rv.Len() == 0
	}
	return false
}

func fxHasEmpty(m map[string]any) bool {
	for _, v := range m {
		if fxIsEmpty(v) {
			return true
		}
	}
	return false
}

// fxMatch reports whether v carries the degraded value of t: the same
// empty value, the same value, or (for text) the placeholder inside it.
func fxMatch(v any, t *fxTaint) bool {
	if !t.hasValue {
		return false
	}
	if fxIsEmpty(t.value) {
		return fxIsEmpty(v) && fxSameShape(v, t.value)
	}
	if ts, ok := t.value.(string); ok {
		s, ok := v.(string)
		if !ok {
			return false
		}
		if s == ts {
			return true
		}
		ts = strings.TrimSpace(ts)
		return utf8.RuneCountInString(ts) >= 4 && len(s) <= fxMaxContain && strings.Contains(s, ts)
	}
	return reflect.DeepEqual(v, t.value)
}

func fxSameShape(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ka, kb := reflect.ValueOf(a).Kind(), reflect.ValueOf(b).Kind()
	if ka == reflect.Array {
		ka = reflect.Slice
	}
	if kb == reflect.Array {
		kb = reflect.Slice
	}
	return ka == kb
}

// fxPassesOn reports whether any output value repeats the degraded value.
func fxPassesOn(out map[string]any, t *fxTaint) bool {
	for _, v := range out { // any order: the answer is the same
		if fxMatch(v, t) {
			return true
		}
	}
	return false
}

// fxStillDegraded: the value a step recorded in its input is still the
// degraded one (or degraded anyway), so the damage reached it.
func fxStillDegraded(v any, t *fxTaint) bool {
	if fxIsEmpty(v) {
		return true
	}
	if t.kind == fxDropped || !t.hasValue {
		return false
	}
	return fxMatch(v, t)
}

func fxHasField(cands []fxIncoming, field string) bool {
	for _, c := range cands {
		if c.field == field {
			return true
		}
	}
	return false
}

func fxHasSeverity(fs []Finding, sev string) bool {
	for _, f := range fs {
		if f.Severity == sev {
			return true
		}
	}
	return false
}

func fxDetailString(d map[string]any, key string) string {
	s, _ := d[key].(string)
	return s
}

// fxDetailInt reads an integer detail whichever way it was decoded.
func fxDetailInt(d map[string]any, key string) (int, bool) {
	switch x := d[key].(type) {
	case int:
		return x, true
	case int64:
		return int(x), x >= math.MinInt32 && x <= math.MaxInt32
	case int32:
		return int(x), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<31 {
			return int(x), true
		}
	case json.Number:
		if n, err := x.Int64(); err == nil && n >= math.MinInt32 && n <= math.MaxInt32 {
			return int(n), true
		}
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(x)); err == nil {
			return n, true
		}
	}
	return 0, false
}

func fxFirst(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func fxRound(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return math.Round(math.Max(0, math.Min(1, x))*1000) / 1000
}

// fxClean makes a name safe for one line of text: valid UTF-8, no control
// characters, bounded length.
func fxClean(s string) string { return fxSanitize(s, fxMaxNameRunes) }

// fxCleanText is fxClean for quoted error text: its first line only.
func fxCleanText(s string) string {
	s = strings.TrimSpace(s)
	if j := strings.IndexAny(s, "\r\n"); j >= 0 {
		s = s[:j]
	}
	return fxSanitize(s, fxMaxTextRunes)
}

func fxSanitize(s string, maxRunes int) string {
	if len(s) > 4*maxRunes+16 {
		s = s[:4*maxRunes+16]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxRunes {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

func fxJoinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

package detect

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// Structural rule ids.
const (
	ruleEmptyUpdate          = "structural.empty_update"
	ruleDroppedField         = "structural.dropped_field"
	ruleTypeChanged          = "structural.type_changed"
	ruleKeyTypo              = "structural.key_typo"
	ruleEmptyRetrieval       = "structural.empty_retrieval"
	ruleContractViolation    = "structural.contract_violation"
	ruleUnexpectedTransition = "structural.unexpected_transition"
	ruleCrashMissingData     = "structural.crash_missing_data"
)

func init() {
	register(
		Rule{ID: ruleEmptyUpdate, Layer: LayerStructural, Severity: SeverityWarning,
			Description: `a node returned an empty update ({}, [], "", null) although its input was not empty`},
		Rule{ID: ruleDroppedField, Layer: LayerStructural, Severity: SeverityWarning,
			Description: "a field that was set before a node is emptied, nulled or (for full-state outputs) left out after it"},
		Rule{ID: ruleTypeChanged, Layer: LayerStructural, Severity: SeverityWarning,
			Description: "a node wrote a field with a different JSON type than the state held"},
		Rule{ID: ruleKeyTypo, Layer: LayerStructural, Severity: SeverityWarning, Threshold: 2,
			ThresholdMeaning: "maximum edit distance between the new key and the missing field",
			Description:      "a node wrote a new key that is a near-typo of a field that stays missing or empty"},
		Rule{ID: ruleEmptyRetrieval, Layer: LayerStructural, Severity: SeverityWarning,
			Description: "a retrieval returned nothing: an empty documents/results/... field or an empty retriever call"},
		Rule{ID: ruleContractViolation, Layer: LayerStructural, Severity: SeverityCritical,
			Description: "a field required by the node's contract is missing or has the wrong type after the node"},
		Rule{ID: ruleUnexpectedTransition, Layer: LayerStructural, Severity: SeverityWarning,
			Description: "a node ran after nodes that have no declared edge to it"},
		Rule{ID: ruleCrashMissingData, Layer: LayerStructural, Severity: SeverityCritical,
			Description: "a node crashed on a field that an earlier step dropped, emptied or never produced"},
	)
}

// retrievalFields are the output keys whose emptiness means "the retrieval
// found nothing".
var retrievalFields = map[string]bool{
	"documents": true, "docs": true, "results": true, "hits": true, "items": true,
	"passages": true, "chunks": true, "context": true, "sources": true, "search_results": true,
}

// clearableFields hold transient signals whose healthy value is empty:
// clearing them is recovery, not data loss.
var clearableFields = map[string]bool{
	"error": true, "errors": true, "error_message": true, "exception": true,
	"warnings": true, "feedback": true, "tool_calls": true, "pending": true,
	"retry_reason": true, "issues": true, "next": true, "interrupt": true,
}

// Structural checks every step's update against the merged state around it.
func Structural(run *agentrun.Run, cfg *Config) []Finding {
	if run == nil || len(run.Steps) == 0 {
		return nil
	}
	return structuralOver(run, cfg, newStateView(run))
}

// structuralOver is Structural over v, the state view of run (shared with the
// semantic layer by Analyze).
func structuralOver(run *agentrun.Run, cfg *Config, v *stateView) []Finding {
	if cfg == nil {
		cfg = &Config{}
	}
	c := &structuralCheck{run: run, cfg: cfg, v: v}
	c.indexNeeds()
	for i := range run.Steps {
		if isBookkeepingNode(run.Steps[i].Node) {
			continue
		}
		c.emptyUpdate(i)
		c.droppedFields(i)
		c.typeChanges(i)
		c.keyTypos(i)
		c.emptyRetrieval(i)
		c.contract(i)
		c.crash(i)
	}
	c.transitions()
	return c.out
}

type structuralCheck struct {
	run *agentrun.Run
	cfg *Config
	v   *stateView
	out []Finding
	// inputs / writes / crashes: for each field, the step indexes whose
	// input holds it, whose output writes it, and whose crash names it
	// (ascending). They tell key_typo which fields later steps need.
	inputs, writes, crashes map[string][]int
}

func (c *structuralCheck) emit(rule string, step int, msg string, d map[string]any) {
	if f, ok := c.cfg.finding(c.run, rule, step, msg, d); ok {
		c.out = append(c.out, f)
	}
}

func (c *structuralCheck) emptyUpdate(i int) {
	s := &c.run.Steps[i]
	if !c.cfg.enabled(ruleEmptyUpdate) || !s.HasOutput || s.Failed() || isRetrieverKind(s.Kind) {
		return
	}
	if !isEmptyValue(s.Output) {
		return
	}
	in := s.Input
	if !s.HasInput {
		in = c.v.before[i]
	}
	if isEmptyValue(in) {
		return
	}
	c.emit(ruleEmptyUpdate, i, fmt.Sprintf("%s returned an empty update (%s) although its input was not empty", s.Node, emptyLiteral(s.Output)),
		map[string]any{"output": emptyLiteral(s.Output)})
}

func (c *structuralCheck) droppedFields(i int) {
	if !c.cfg.enabled(ruleDroppedField) {
		return
	}
	s := &c.run.Steps[i]
	out, ok := outputMap(s)
	if !ok {
		return
	}
	before := c.v.before[i]
	for _, k := range keysSorted(out) {
		if clearableFields[strings.ToLower(k)] || !isEmptyValue(out[k]) {
			continue
		}
		if old, had := before[k]; had && !isEmptyValue(old) {
			c.emit(ruleDroppedField, i, fmt.Sprintf("%s set %q to %s although it held %s", s.Node, k, emptyLiteral(out[k]), describeValue(old)),
				map[string]any{"field": k, "how": "emptied", "previous_type": jsonTypeOf(old)})
		}
	}
	dropped := c.v.dropped[i]
	for n, k := range dropped {
		d := map[string]any{"field": k, "how": "missing", "previous_type": jsonTypeOf(before[k])}
		if n == maxDroppedPerStep-1 && len(dropped) > maxDroppedPerStep {
			d["more_fields"] = len(dropped) - maxDroppedPerStep
		}
		c.emit(ruleDroppedField, i, fmt.Sprintf("%s returned the full state without %q, which held %s", s.Node, k, describeValue(before[k])), d)
		if n == maxDroppedPerStep-1 {
			break
		}
	}
}

func (c *structuralCheck) typeChanges(i int) {
	if !c.cfg.enabled(ruleTypeChanged) {
		return
	}
	s := &c.run.Steps[i]
	out, ok := outputMap(s)
	if !ok {
		return
	}
	before := c.v.before[i]
	for _, k := range keysSorted(out) {
		old, had := before[k]
		if !had || old == nil || out[k] == nil {
			continue
		}
		from, to := jsonTypeOf(old), jsonTypeOf(out[k])
		if from == to || appendsToList(old, out[k]) {
			continue
		}
		c.emit(ruleTypeChanged, i, fmt.Sprintf("%s changed %q from %s to %s", s.Node, k, from, to),
			map[string]any{"field": k, "from": from, "to": to})
	}
}

// appendsToList: LangGraph reducers (add_messages, operator.add) accept a
// single element for a list channel, so list -> element type is no change.
func appendsToList(old, update any) bool {
	list, ok := old.([]any)
	if !ok || len(list) == 0 {
		return false
	}
	return jsonTypeOf(list[0]) == jsonTypeOf(update)
}

func (c *structuralCheck) keyTypos(i int) {
	if !c.cfg.enabled(ruleKeyTypo) {
		return
	}
	s := &c.run.Steps[i]
	out, ok := outputMap(s)
	if !ok {
		return
	}
	if len(out) > maxTypoKeys {
		return // hundreds of keys are data (ids, names), not a state schema
	}
	before := c.v.before[i]
	after := func(k string) (any, bool) { return c.v.after(c.run, i, k) }
	input, _ := s.Input.(map[string]any)
	contract := c.cfg.Contracts[s.Node].Required
	maxDist := int(c.cfg.threshold(ruleKeyTypo))
	for _, k := range keysSorted(out) {
		if utf8.RuneCountInString(k) < 4 || len(k) > 128 {
			continue
		}
		if _, seen := before[k]; seen {
			continue
		}
		if _, seen := input[k]; seen {
			continue
		}
		if _, declared := contract[k]; declared {
			continue
		}
		best, bestDist := "", maxDist+1
		try := func(cand string) {
			if cand == k || utf8.RuneCountInString(cand) < 4 {
				return
			}
			if v, has := after(cand); has && !isEmptyValue(v) {
				return
			}
			if v, has := c.v.groupAfter[i][cand]; has && !isEmptyValue(v) {
				return // a parallel sibling wrote it
			}
			limit := min(maxDist, typoBudget(cand))
			d := editDistance(k, cand, limit)
			if d <= limit && (d < bestDist || (d == bestDist && cand < best)) {
				best, bestDist = cand, d
			}
		}
		for cand, val := range out {
			if isEmptyValue(val) {
				try(cand)
			}
		}
		if !c.v.full[i] {
			for cand, val := range before {
				if _, updated := out[cand]; !updated && isEmptyValue(val) {
					try(cand)
				}
			}
		}
		for cand := range contract {
			try(cand)
		}
		for cand, idx := range c.inputs {
			if c.neededLater(cand, idx, i) {
				try(cand)
			}
		}
		for cand, idx := range c.crashes {
			if c.neededLater(cand, idx, i) {
				try(cand)
			}
		}
		if best == "" {
			continue
		}
		state := "missing"
		if _, has := after(best); has {
			state = "empty"
		}
		c.emit(ruleKeyTypo, i, fmt.Sprintf("%s wrote %q, likely a typo of %q, which stays %s", s.Node, k, best, state),
			map[string]any{"field": best, "key": k, "distance": bestDist})
	}
}

// maxDroppedPerStep bounds the missing-key findings of one full-state
// output; the last one counts the rest.
const maxDroppedPerStep = 20

// maxTypoKeys bounds the keys of one output that key_typo compares.
const maxTypoKeys = 256

// typoBudget shrinks the allowed distance for short names: two edits turn
// most four-letter words into other words.
func typoBudget(name string) int {
	if utf8.RuneCountInString(name) < 6 {
		return 1
	}
	return 1 << 30
}

// neededLater reports whether a step after i uses the field (its input holds
// it, or its crash names it) before any step after i writes it.
func (c *structuralCheck) neededLater(field string, users []int, i int) bool {
	next := sort.SearchInts(users, i+1)
	if next == len(users) {
		return false
	}
	user := users[next]
	w := c.writes[field]
	firstWrite := sort.SearchInts(w, i+1)
	return firstWrite == len(w) || w[firstWrite] >= user
}

func (c *structuralCheck) indexNeeds() {
	c.inputs = map[string][]int{}
	c.writes = map[string][]int{}
	c.crashes = map[string][]int{}
	for i := range c.run.Steps {
		s := &c.run.Steps[i]
		if m, ok := s.Input.(map[string]any); ok && !isTruncationMarker(m) {
			for k := range m {
				c.inputs[k] = append(c.inputs[k], i)
			}
		}
		if m, ok := outputMap(s); ok {
			for k := range m {
				c.writes[k] = append(c.writes[k], i)
			}
		}
		if crashed(s) {
			for _, f := range namedFields(crashText(s), crashStackTail(s)) {
				c.crashes[f] = append(c.crashes[f], i)
			}
		}
	}
}

func (c *structuralCheck) emptyRetrieval(i int) {
	if !c.cfg.enabled(ruleEmptyRetrieval) {
		return
	}
	s := &c.run.Steps[i]
	for j := range s.Calls {
		call := &s.Calls[j]
		if !isRetrieverKind(call.Kind) || call.Status == agentrun.StatusError || !emptyResult(call.Result) {
			continue
		}
		name := call.Tool
		if name == "" {
			name = call.Name
		}
		c.emit(ruleEmptyRetrieval, i, fmt.Sprintf("%s: retriever call %q returned no results", s.Node, name),
			map[string]any{"tool": name, "result": strings.TrimSpace(call.Result)})
	}
	if isRetrieverKind(s.Kind) && s.HasOutput && !s.Failed() && isEmptyValue(s.Output) {
		c.emit(ruleEmptyRetrieval, i, fmt.Sprintf("%s (a retriever) returned %s", s.Node, emptyLiteral(s.Output)),
			map[string]any{"output": emptyLiteral(s.Output)})
		return
	}
	out, ok := outputMap(s)
	if !ok {
		return
	}
	before := c.v.before[i]
	for _, k := range keysSorted(out) {
		if !retrievalFields[strings.ToLower(k)] || !isEmptyRetrieval(out[k]) {
			continue
		}
		if c.inheritedEmptiness(i) {
			continue
		}
		what := "list"
		if _, isStr := out[k].(string); isStr {
			what = "string"
		} else if out[k] == nil {
			what = "value (null)"
		}
		d := map[string]any{"field": k}
		if old, had := before[k]; had && !isEmptyValue(old) {
			d["previous_type"] = jsonTypeOf(old)
		}
		c.emit(ruleEmptyRetrieval, i, fmt.Sprintf("%s returned an empty %q %s", s.Node, k, what), d)
	}
}

// inheritedEmptiness: a node that only passes on (or derives from) an empty
// retrieval produced by another node upstream is a victim, not the origin;
// the origin already carries the finding.
func (c *structuralCheck) inheritedEmptiness(i int) bool {
	before := c.v.before[i]
	node := c.run.Steps[i].Node
	for k, val := range before {
		if !retrievalFields[strings.ToLower(k)] || !isEmptyRetrieval(val) {
			continue
		}
		// The same node running again (a retry loop) is judged afresh, and an
		// initial state that starts with "documents": [] blames nobody.
		if w := lastWriter(c.run, k, i); w >= 0 && c.run.Steps[w].Node != node {
			return true
		}
	}
	return false
}

func isEmptyRetrieval(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []any:
		return len(x) == 0
	}
	return false
}

// emptyResult reports whether a retriever call's recorded result says it
// found nothing. An absent result ("") is unknown, not empty: several
// instrumentations record documents elsewhere.
func emptyResult(raw string) bool {
	t := strings.TrimSpace(raw)
	if t == "" {
		return false
	}
	v, ok := parseJSON(t)
	if !ok {
		return false
	}
	if isEmptyValue(v) {
		return true
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		return false
	}
	found := false
	for k, val := range m {
		if retrievalFields[strings.ToLower(k)] {
			if !isEmptyValue(val) {
				return false
			}
			found = true
		}
	}
	return found
}

func (c *structuralCheck) contract(i int) {
	if !c.cfg.enabled(ruleContractViolation) {
		return
	}
	s := &c.run.Steps[i]
	fc, ok := c.cfg.Contracts[s.Node]
	if !ok || !s.HasOutput || crashed(s) {
		// A crash is already reported; "required field missing" adds nothing.
		return
	}
	if m, isMap := s.Output.(map[string]any); isMap && isTruncationMarker(m) {
		return
	}
	for _, field := range keysSorted(fc.Required) {
		want := fc.Required[field]
		val, has := c.v.after(c.run, i, field)
		switch {
		case !has || val == nil:
			c.emit(ruleContractViolation, i, fmt.Sprintf("%s did not produce required field %q", s.Node, field),
				map[string]any{"field": field, "expected": contractType(want), "actual": "missing"})
		case want != "" && want != "any" && jsonTypeOf(val) != want:
			c.emit(ruleContractViolation, i, fmt.Sprintf("%s produced %q as %s, the contract requires %s", s.Node, field, jsonTypeOf(val), want),
				map[string]any{"field": field, "expected": want, "actual": jsonTypeOf(val)})
		}
	}
}

func contractType(t string) string {
	if t == "" {
		return "any"
	}
	return t
}

// transitions compares the observed order with the declared graph. A step's
// predecessors are the steps of the previous superstep, so fan-out and
// fan-in never alarm. A predecessor with no declared outgoing edge is most
// likely routed by a conditional edge the instrumentation did not export;
// we only judge when every predecessor declares where it may go.
func (c *structuralCheck) transitions() {
	if !c.cfg.enabled(ruleUnexpectedTransition) {
		return
	}
	next := map[string]map[string]bool{}
	add := func(e agentrun.Edge) {
		if next[e.From] == nil {
			next[e.From] = map[string]bool{}
		}
		next[e.From][e.To] = true
	}
	for _, e := range c.run.Edges {
		add(e)
	}
	for _, s := range c.cfg.Edges {
		if e, ok := ParseEdge(s); ok {
			add(e)
		}
	}
	if len(next) == 0 {
		return
	}
	prev := []string{"__start__"}
	var prevSteps []int
	for _, g := range c.v.groups {
		var cur []string
		var curSteps []int
		for _, i := range g {
			if !isBookkeepingNode(c.run.Steps[i].Node) {
				cur = append(cur, c.run.Steps[i].Node)
				curSteps = append(curSteps, i)
			}
		}
		if len(cur) == 0 {
			continue
		}
		judge := true
		for _, p := range prev {
			if len(next[p]) == 0 {
				judge = false
			}
		}
		for k, i := range curSteps {
			if !judge {
				break
			}
			node := cur[k]
			allowed := false
			for _, p := range prev {
				if next[p][node] {
					allowed = true
					break
				}
			}
			if allowed {
				continue
			}
			var from []string
			for src, dsts := range next {
				if dsts[node] {
					from = append(from, src)
				}
			}
			sort.Strings(from)
			preds := sortedUnique(prev)
			msg := fmt.Sprintf("%s ran after %s, but the graph declares no edge to it from there", node, strings.Join(preds, ", "))
			if len(from) == 0 {
				msg = fmt.Sprintf("%s ran after %s, but the declared graph has no edge into %s", node, strings.Join(preds, ", "), node)
			}
			d := map[string]any{"predecessors": preds, "declared_sources": from}
			if len(prevSteps) > 0 {
				d["predecessor_steps"] = prevSteps
			}
			c.emit(ruleUnexpectedTransition, i, msg, d)
		}
		prev, prevSteps = cur, curSteps
	}
}

func sortedUnique(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	n := 0
	for i, s := range out {
		if i == 0 || s != out[n-1] {
			out[n] = s
			n++
		}
	}
	return out[:n]
}

// crash links a crash to the missing data it names.
func (c *structuralCheck) crash(i int) {
	s := &c.run.Steps[i]
	if !c.cfg.enabled(ruleCrashMissingData) || !crashed(s) {
		return
	}
	text := crashText(s)
	before := c.v.before[i]
	candidates := namedFields(text, crashStackTail(s))
	candidates = append(candidates, c.mentionedMissing(text, i)...)
	input, _ := s.Input.(map[string]any)
	seen := map[string]bool{}
	reported := 0
	for _, field := range candidates {
		if seen[field] || reported >= 3 {
			continue
		}
		seen[field] = true
		val, has := before[field]
		if has && !isEmptyValue(val) || !isEmptyValue(input[field]) {
			continue // the data was there; the crash has another cause
		}
		producer, how := c.producer(field, i)
		d := map[string]any{"field": field, "producer_step": producer, "producer_node": "", "state": how}
		var msg string
		if producer >= 0 {
			p := &c.run.Steps[producer]
			d["producer_node"] = p.Node
			switch how {
			case "dropped":
				msg = fmt.Sprintf("%s crashed on %q, which %s (step %d) dropped", s.Node, field, p.Node, p.Number)
			case "typo":
				d["typo_key"] = c.typoKey(field, producer)
				msg = fmt.Sprintf("%s crashed on %q, which %s (step %d) wrote under the misspelled key %q", s.Node, field, p.Node, p.Number, d["typo_key"])
			default:
				msg = fmt.Sprintf("%s crashed on %q, which %s (step %d) left empty", s.Node, field, p.Node, p.Number)
			}
		} else if has {
			msg = fmt.Sprintf("%s crashed on %q, which was empty from the start of the run", s.Node, field)
		} else {
			msg = fmt.Sprintf("%s crashed on %q, which no earlier step produced", s.Node, field)
		}
		if w := lastWriter(c.run, field, i); w >= 0 {
			d["last_writer_step"] = w
		}
		d["error"] = clipRunes(strings.TrimSpace(text), 300)
		c.emit(ruleCrashMissingData, i, msg, d)
		reported++
	}
}

// producer finds the step responsible for field being empty or missing
// before step i: the first step of the latest run of empty writes, the step
// whose full-state output dropped it, or the step that wrote it under a
// misspelled key. -1 when no step is to blame (the initial input).
func (c *structuralCheck) producer(field string, i int) (int, string) {
	emptiedBy, droppedBy := -1, -1
	for j := 0; j < i; j++ {
		s := &c.run.Steps[j]
		if out, ok := outputMap(s); ok {
			if val, wrote := out[field]; wrote {
				if isEmptyValue(val) {
					if emptiedBy < 0 {
						emptiedBy = j
					}
				} else {
					emptiedBy = -1
				}
				droppedBy = -1
				continue
			}
		}
		for _, k := range c.v.dropped[j] {
			if k == field {
				droppedBy, emptiedBy = j, -1
			}
		}
	}
	switch {
	case droppedBy >= 0:
		return droppedBy, "dropped"
	case emptiedBy >= 0:
		return emptiedBy, "emptied"
	}
	if _, has := c.v.before[i][field]; !has {
		for j := i - 1; j >= 0; j-- {
			if c.typoKey(field, j) != "" {
				return j, "typo"
			}
		}
		return -1, "missing"
	}
	return -1, "empty"
}

// typoKey returns the key of step j's output that is a near-typo of field.
func (c *structuralCheck) typoKey(field string, j int) string {
	out, ok := outputMap(&c.run.Steps[j])
	if !ok {
		return ""
	}
	limit := min(int(c.cfg.threshold(ruleKeyTypo)), typoBudget(field))
	for _, k := range keysSorted(out) {
		if k != field && utf8.RuneCountInString(k) >= 4 && editDistance(k, field, limit) <= limit {
			return k
		}
	}
	return ""
}

// mentionedMissing returns state fields (in the state before step i,
// written by an earlier step, or in the node's contract) that the error text
// names next to a word saying they are absent, e.g. "ValueError: no
// documents to summarize" or "notes is empty". A bare mention ("context
// deadline exceeded") is not enough.
func (c *structuralCheck) mentionedMissing(text string, i int) []string {
	known := func(w string) bool {
		if _, ok := c.v.before[i][w]; ok {
			return true
		}
		if ws := c.writes[w]; len(ws) > 0 && ws[0] < i {
			return true
		}
		_, ok := c.cfg.Contracts[c.run.Steps[i].Node].Required[w]
		return ok
	}
	words := identRe.FindAllString(clipBytes(text, 4096), -1)
	var out []string
	for k, w := range words {
		if len(w) < 3 || !known(w) {
			continue
		}
		for _, near := range words[max(0, k-3):min(len(words), k+4)] {
			if absenceWords[strings.ToLower(near)] {
				out = append(out, w)
				break
			}
		}
	}
	return out
}

var absenceWords = map[string]bool{
	"no": true, "empty": true, "missing": true, "none": true, "null": true, "undefined": true,
	"nil": true, "required": true, "without": true, "blank": true, "nothing": true, "absent": true,
	"nonetype": true, "zero": true,
}

var (
	identRe = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
	// Error shapes that name the field they failed on, in Python and JS.
	fieldPatterns = []*regexp.Regexp{
		regexp.MustCompile(`KeyError:?\s*['"]([^'"\n]{1,128})['"]`),
		regexp.MustCompile(`reading ['"]([^'"\n]{1,128})['"]`),
		regexp.MustCompile(`(?i)missing (?:required )?(?:field|key|property|value|input)s?\s*[:=]?\s*['"` + "`" + `]?([A-Za-z_][A-Za-z0-9_.-]{0,127})`),
		regexp.MustCompile(`(?i)(?:field|key|property)\s+['"` + "`" + `]([^'"` + "`" + `\n]{1,128})['"` + "`" + `]\s+(?:is\s+)?(?:missing|required|not found|empty|undefined|null|none)`),
		// code, matched in the stack trace only:
		regexp.MustCompile(`\[\s*['"]([^'"\n]{1,128})['"]\s*\]`),
		regexp.MustCompile(`\.get\(\s*['"]([^'"\n]{1,128})['"]`),
	}
	// A bare quoted message is Python's repr of the missing key.
	bareKeyRe = regexp.MustCompile(`^\s*['"]([^'"\n]{1,128})['"]\s*$`)
)

// namedFields extracts field names from error text, plus subscripts and
// .get() calls in the last lines of the stack trace (the failing frame).
func namedFields(text, stackTail string) []string {
	var out []string
	text = clipBytes(text, 8192)
	for _, re := range fieldPatterns[:4] {
		for _, m := range re.FindAllStringSubmatch(text, 8) {
			out = append(out, strings.TrimSpace(m[1]))
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if m := bareKeyRe.FindStringSubmatch(line); m != nil {
			out = append(out, m[1])
		}
	}
	for _, re := range fieldPatterns[4:] {
		for _, m := range re.FindAllStringSubmatch(stackTail, 4) {
			out = append(out, m[1])
		}
	}
	return out
}

func crashed(s *agentrun.Step) bool {
	return s.Status == agentrun.StatusError || len(s.Exceptions) > 0
}

// crashText joins the node's own error facts: "Type: message" of every
// exception and the status message.
func crashText(s *agentrun.Step) string {
	var b strings.Builder
	statusSeen := false
	lines := map[string]bool{}
	for _, e := range s.Exceptions {
		line := e.Message
		if e.Type != "" {
			line = e.Type + ": " + e.Message
		}
		if lines[line] || len(lines) >= 8 {
			continue // SDKs often record the same exception twice
		}
		lines[line] = true
		b.WriteString(line)
		b.WriteByte('\n')
		statusSeen = statusSeen || e.Message == s.StatusMessage || line == s.StatusMessage
	}
	if s.StatusMessage != "" && !statusSeen {
		b.WriteString(s.StatusMessage)
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}

// crashStackTail is the last lines of the first stack trace: the frame
// that failed, e.g. `docs = state["documents"]`.
func crashStackTail(s *agentrun.Step) string {
	for _, e := range s.Exceptions {
		if e.Stacktrace == "" {
			continue
		}
		lines := strings.Split(strings.TrimSpace(clipTail(e.Stacktrace, 4096)), "\n")
		if len(lines) > 4 {
			lines = lines[len(lines)-4:]
		}
		return strings.Join(lines, "\n")
	}
	return ""
}

// lastWriter is the index of the last step before i whose output wrote field.
func lastWriter(run *agentrun.Run, field string, i int) int {
	for j := i - 1; j >= 0; j-- {
		if out, ok := outputMap(&run.Steps[j]); ok {
			if _, wrote := out[field]; wrote {
				return j
			}
		}
	}
	return -1
}

// stateView is the merged pipeline state around every step, built once per
// run. Steps of one superstep (parallel branches) all see the state at the
// start of their superstep, as LangGraph hands it to them.
type stateView struct {
	groups  [][]int          // supersteps: step indexes, in order
	before  []map[string]any // the state step i was handed (shared within a superstep)
	full    []bool           // step i's output is a full state, not a partial update
	dropped [][]string       // non-empty keys a full-state output left out
	// groupAfter is the state after step i's whole superstep: what a
	// parallel sibling writes is not "missing" for step i.
	groupAfter []map[string]any
}

// after looks k up in the state after step i: the step's own update over
// the state it was handed, or only the update when it is a full state.
func (v *stateView) after(run *agentrun.Run, i int, k string) (any, bool) {
	out, ok := outputMap(&run.Steps[i])
	if ok {
		if val, has := out[k]; has || v.full[i] {
			return val, has
		}
	}
	val, has := v.before[i][k]
	return val, has
}

func newStateView(run *agentrun.Run) *stateView {
	n := len(run.Steps)
	v := &stateView{
		groups:  supersteps(run),
		before:  make([]map[string]any, n),
		full:    make([]bool, n),
		dropped: make([][]string, n),

		groupAfter: make([]map[string]any, n),
	}
	state := map[string]any{}
	if n > 0 {
		if m, ok := run.Steps[0].Input.(map[string]any); ok && !isTruncationMarker(m) {
			for k, val := range m {
				state[k] = val
			}
		}
	}
	for _, g := range v.groups {
		base := state
		next := cloneState(base)
		for _, i := range g {
			s := &run.Steps[i]
			v.before[i] = base
			out, ok := outputMap(s)
			if !ok {
				continue
			}
			if isFullState(s, out, base) {
				v.full[i] = true
				for _, k := range keysSorted(base) {
					if _, kept := out[k]; !kept {
						delete(next, k)
						if !isEmptyValue(base[k]) {
							v.dropped[i] = append(v.dropped[i], k)
						}
					}
				}
			}
			for k, val := range out {
				next[k] = val
			}
		}
		for _, i := range g {
			v.groupAfter[i] = next
		}
		state = next
	}
	return v
}

func cloneState(m map[string]any) map[string]any {
	c := make(map[string]any, len(m)+4)
	for k, v := range m {
		c[k] = v
	}
	return c
}

// isFullState: some conventions (OpenLLMetry task outputs, plain spans)
// record the whole state instead of LangGraph's partial update. An output is
// taken as a full state when it repeats most keys of the state before it and
// passes at least one of them through unchanged; only then does a missing key
// mean "dropped". OpenInference node outputs are documented partial updates.
func isFullState(s *agentrun.Step, out, before map[string]any) bool {
	if s.Convention == "openinference" || len(before) < 3 {
		return false
	}
	shared, unchanged := 0, 0
	for k, old := range before {
		if val, ok := out[k]; ok {
			shared++
			if unchanged == 0 && reflect.DeepEqual(old, val) {
				unchanged++
			}
		}
	}
	return unchanged > 0 && shared*2 > len(before)
}

// supersteps groups steps that ran in the same LangGraph superstep (same
// langgraph_step), or, without that metadata, steps whose spans overlap in
// time (parallel branches).
func supersteps(run *agentrun.Run) [][]int {
	var groups [][]int
	var end = run.Steps[0].End
	for i := range run.Steps {
		s := &run.Steps[i]
		if i > 0 {
			prev := &run.Steps[i-1]
			same := false
			if s.LangGraphStep >= 0 && prev.LangGraphStep >= 0 {
				same = s.LangGraphStep == prev.LangGraphStep
			} else {
				same = !s.Start.IsZero() && s.Start.Before(end)
			}
			if same {
				groups[len(groups)-1] = append(groups[len(groups)-1], i)
				if s.End.After(end) {
					end = s.End
				}
				continue
			}
		}
		groups = append(groups, []int{i})
		end = s.End
	}
	return groups
}

// outputMap returns the step's output as an object update, or false when
// there is none (no output, not an object, or a truncation marker).
func outputMap(s *agentrun.Step) (map[string]any, bool) {
	if !s.HasOutput {
		return nil, false
	}
	m, ok := s.Output.(map[string]any)
	if !ok || isTruncationMarker(m) {
		return nil, false
	}
	return m, true
}

// isTruncationMarker recognises the mapping's stand-in for an oversized
// state; its keys say nothing about the pipeline's fields.
func isTruncationMarker(m map[string]any) bool {
	t, ok := m["_argus_truncated"].(bool)
	return ok && t
}

func isBookkeepingNode(name string) bool {
	return len(name) > 4 && strings.HasPrefix(name, "__") && strings.HasSuffix(name, "__")
}

func isRetrieverKind(kind string) bool {
	switch strings.ToLower(kind) {
	case "retriever", "retrieval":
		return true
	}
	return false
}

// isEmptyValue: null, "", [] or {}.
func isEmptyValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	case bool, float64, int, int64:
		return false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Map, reflect.Array, reflect.String:
		return rv.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// jsonTypeOf names a decoded JSON value's type; every numeric kind is
// "number" so int <-> float is no change.
func jsonTypeOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, interface{ Float64() (float64, error) }:
		return "number"
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.String:
		return "string"
	}
	return "other"
}

func emptyLiteral(v any) string {
	switch jsonTypeOf(v) {
	case "string":
		return `""`
	case "array":
		return "[]"
	case "object":
		return "{}"
	}
	return "null"
}

// describeValue is a short, safe description of a value for messages.
func describeValue(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("a %d-character string", utf8.RuneCountInString(x))
	case []any:
		if len(x) == 1 {
			return "1 item"
		}
		return fmt.Sprintf("%d items", len(x))
	case map[string]any:
		return fmt.Sprintf("an object with %d keys", len(x))
	}
	return "a " + jsonTypeOf(v)
}

func keysSorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// editDistance is the optimal-string-alignment distance (Levenshtein plus
// adjacent transpositions, so "documnets" is one edit from "documents"),
// over runes. It stops early and returns limit+1 once the distance must
// exceed limit.
func editDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d > limit || -d > limit {
		return limit + 1
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// clipBytes keeps at most n bytes of s, cut on a rune boundary.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// clipTail keeps at most the last n bytes of s, cut on a rune boundary.
func clipTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return s[i:]
}

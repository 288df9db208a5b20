package detect

import (
	"encoding/json"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// Facts about each step for the correlator: what its findings mean for
// causality (traitsOf), which fields they name, what its crash needed.

// causalTraits is what a rule means for causality.
type causalTraits struct {
	intrinsic bool   // a problem of the step itself, never explained by its input
	kind      string // degradation of the field the finding names ("" = none)
	stepKind  string // degradation of the step as a whole ("" = none)
}

func traitsOf(rule string) causalTraits {
	switch rule {
	case ruleEmptyUpdate:
		return causalTraits{stepKind: damageEmpty}
	case ruleDroppedField, ruleContractViolation:
		return causalTraits{kind: damageDropped}
	case ruleKeyTypo:
		return causalTraits{intrinsic: true, kind: damageDropped}
	case ruleTypeChanged:
		return causalTraits{intrinsic: true, kind: damageInvalid}
	case ruleEmptyRetrieval:
		return causalTraits{kind: damageEmpty}
	case ruleUnexpectedTransition:
		return causalTraits{intrinsic: true}
	case ruleCrashMissingData, ruleErrorSpan:
		return causalTraits{stepKind: damageFailure}
	case ruleWhitespace:
		return causalTraits{kind: damageEmpty}
	case ruleCorruptedJSON:
		return causalTraits{kind: damageInvalid}
	case ruleToolError, ruleRateLimited, ruleRetryStorm:
		return causalTraits{intrinsic: true, stepKind: damageFailure}
	case ruleLoopStall, ruleRunawaySteps:
		return causalTraits{intrinsic: true}
	case ruleClaimedSuccessEmpty:
		return causalTraits{kind: damageEmpty, stepKind: damageEmpty}
	case ruleInputEcho:
		return causalTraits{}
	case ruleLatencySpike, ruleTokenBlowup:
		return causalTraits{intrinsic: true, stepKind: damageAnomaly}
	case ruleTooFast, ruleOutputSize:
		return causalTraits{stepKind: damageAnomaly}
	}
	switch {
	case strings.HasPrefix(rule, "semantic."): // placeholder, refusal, null_like, truncated, repeated_filler, signature, ...
		return causalTraits{kind: damagePlaceholder}
	case strings.HasPrefix(rule, "statistical."):
		return causalTraits{stepKind: damageAnomaly}
	}
	return causalTraits{}
}

// damageRank orders degradations when one field or step has several.
func damageRank(k string) int {
	switch k {
	case damageFailure:
		return 6
	case damageDropped:
		return 5
	case damageInvalid:
		return 4
	case damagePlaceholder:
		return 3
	case damageEmpty:
		return 2
	case damageAnomaly:
		return 1
	}
	return 0
}

func severityWeight(s string) float64 {
	switch s {
	case SeverityCritical:
		return 1
	case SeverityWarning:
		return 0.5
	}
	return 0.15 // info, and unknown severities
}

type missingField struct {
	field    string
	producer int // index of the step the structural layer blames, -1 when none
}

type stepFacts struct {
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
	missing     []missingField    // crash_missing_data evidence
	passThrough bool              // its output repeats fields of its input unchanged
}

func (c *correlator) describeStep(i int) {
	s := &c.run.Steps[i]
	f := &c.steps[i]
	f.fieldKinds = map[string]string{}
	f.needed = map[string]bool{}
	out := asObject(s.Output)
	nodeFailed := crashed(s)
	callFailed := false
	for j := range s.Calls {
		if s.Calls[j].Status == agentrun.StatusError {
			callFailed = true
		}
	}
	failureFinding := false
	for _, fd := range f.findings {
		tr := traitsOf(fd.Rule)
		f.weight += severityWeight(fd.Severity)
		if fd.Severity == SeverityWarning || fd.Severity == SeverityCritical {
			f.severe = true
		}
		// An error span only because a nested call failed is that call's
		// failure, not a crash on bad input.
		intrinsic := tr.intrinsic || (fd.Rule == ruleErrorSpan && callFailed && !nodeFailed)
		if intrinsic {
			f.intrinsic = true
		} else {
			f.explainable = true
		}
		if damageRank(tr.stepKind) > damageRank(f.stepKind) {
			f.stepKind = tr.stepKind
		}
		if tr.stepKind == damageFailure {
			failureFinding = true
		}
		if tr.kind != "" || tr.stepKind == damageFailure || tr.stepKind == damageEmpty {
			f.degrades = true
		}
		field := c.stateField(detailString(fd.Details, "field"), out)
		if fd.Rule == ruleCrashMissingData {
			if field != "" {
				f.needed[field] = true
				f.missing = append(f.missing, missingField{field: field, producer: c.producerOf(fd.Details, i)})
			}
			continue
		}
		if tr.kind != "" && field != "" && damageRank(tr.kind) > damageRank(f.fieldKinds[field]) {
			f.fieldKinds[field] = tr.kind
		}
	}
	if (nodeFailed || callFailed) && !failureFinding {
		// The span itself is evidence even when no layer reported it.
		f.weight++
		f.severe = true
		f.degrades = true
		f.stepKind = damageFailure
		if callFailed {
			f.intrinsic = true
		} else {
			f.explainable = true
		}
	}
	f.failed = nodeFailed || callFailed || failureFinding
	f.weight = math.Min(f.weight, maxStepWeight)
	if nodeFailed {
		for _, k := range c.namedInError(s) {
			f.needed[k] = true
		}
	}
	in := asObject(s.Input)
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
	p, ok := detailInt(d, "producer_step")
	node := detailString(d, "producer_node")
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

var quotedNameRe = regexp.MustCompile("['\"`]([A-Za-z_][A-Za-z0-9_.-]{0,63})['\"`]")

// namedInError returns the state keys quoted in a crashed step's error text
// (KeyError: 'documents', reading 'context').
func (c *correlator) namedInError(s *agentrun.Step) []string {
	texts := []string{s.StatusMessage}
	for _, e := range s.Exceptions {
		texts = append(texts, e.Message)
	}
	var names []string
	for _, t := range texts {
		if len(t) > maxContainBytes {
			t = t[:maxContainBytes]
		}
		for _, m := range quotedNameRe.FindAllStringSubmatch(t, maxNamedFields) {
			if c.known[m[1]] && len(names) < maxNamedFields {
				names = append(names, m[1])
			}
		}
	}
	return names
}

func detailString(d map[string]any, key string) string {
	s, _ := d[key].(string)
	return s
}

// detailInt reads an integer detail whichever way it was decoded.
func detailInt(d map[string]any, key string) (int, bool) {
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

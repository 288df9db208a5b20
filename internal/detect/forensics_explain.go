package detect

import (
	"cmp"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"unicode"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The explanation of a verdict in plain words.

func (c *correlator) explain(root *lineage, order []int) string {
	if root == nil {
		rules := map[string]bool{}
		for _, f := range c.runLevel {
			rules[cleanName(f.Rule)] = true
		}
		names := sortedKeys(rules)
		if len(names) > maxListed {
			names = append(names[:maxListed], fmt.Sprintf("%d more", len(rules)-maxListed))
		}
		return fmt.Sprintf("No step could be identified as the origin; the run has %d run-level finding(s): %s.",
			len(c.runLevel), joinAnd(names))
	}
	var b strings.Builder
	first := c.ref(root.origin) + " " + c.predicate(root.origin, root)
	if root.selfCrash != "" {
		first += fmt.Sprintf(", and no earlier step explains the missing %q", cleanName(root.selfCrash))
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
			if k == maxListed {
				clauses = append(clauses, fmt.Sprintf("%d more steps were affected", len(affected)-maxListed))
				break
			}
			clauses = append(clauses, c.ref(m)+" "+c.predicate(m, nil))
		}
		parts = append(parts, joinAnd(clauses))
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
	return fmt.Sprintf("%s (step %d)", cmp.Or(cleanName(s.Node), "unnamed node"), n)
}

func (c *correlator) refs(steps []int) string {
	var names []string
	for k, i := range steps {
		if k == maxListed && len(steps) > maxListed+1 {
			names = append(names, fmt.Sprintf("%d more steps", len(steps)-k))
			break
		}
		names = append(names, c.ref(i))
	}
	return joinAnd(names)
}

// carried says what a carrier passed on, from the link that reached it.
func (c *correlator) carried(root *lineage, carrier int) string {
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
func (c *correlator) predicate(i int, lin *lineage) string {
	s := &c.run.Steps[i]
	f := &c.steps[i]
	fd, ok := primaryFinding(f.findings)
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
		out := asObject(s.Output)
		if v, wrote := out[field]; wrote {
			return "returned " + emptyPhrase(v, field)
		}
		return fmt.Sprintf("did not produce %q", cleanName(field))
	}
	field := c.stateField(detailString(fd.Details, "field"), asObject(s.Output))
	q := fmt.Sprintf("%q", cleanName(field))
	into := func(what string) string {
		if field == "" {
			return "produced " + what
		}
		return "wrote " + what + " into " + q
	}
	switch fd.Rule {
	case ruleToolError:
		return c.toolFailure(s, fd, "had a failing tool call")
	case ruleRateLimited:
		return c.toolFailure(s, fd, "was rate limited")
	case ruleRetryStorm:
		return c.toolFailure(s, fd, "retried a call repeatedly")
	case ruleErrorSpan, ruleCrashMissingData:
		if f.failed && (crashed(s) || s.StatusMessage != "") {
			return c.failure(s)
		}
		if fd.Rule == ruleCrashMissingData && field != "" {
			return "failed because " + q + " was missing"
		}
		return c.toolFailure(s, fd, "had a failing call")
	case ruleEmptyRetrieval:
		if field == "" {
			return "returned an empty retrieval result"
		}
		return "returned " + emptyPhrase(asObject(s.Output)[field], field)
	case ruleEmptyUpdate:
		return "returned an empty update"
	case ruleDroppedField:
		if field == "" {
			return "dropped a field"
		}
		return "dropped " + q
	case ruleKeyTypo:
		if k := detailString(fd.Details, "key"); k != "" && field != "" {
			return fmt.Sprintf("wrote %q where %s was expected", cleanName(k), q)
		}
		return "wrote a misspelled key"
	case ruleTypeChanged:
		return "changed the type of " + q
	case ruleContractViolation:
		return "broke its output contract on " + q
	case ruleUnexpectedTransition:
		return "ran after a step the graph does not lead from"
	case rulePlaceholder:
		return into("placeholder text")
	case ruleRefusal:
		return into("a refusal")
	case ruleNullLike:
		return into("a null-like value")
	case ruleWhitespace:
		return into("whitespace-only text")
	case ruleTruncated:
		return into("truncated text")
	case ruleCorruptedJSON:
		return into("corrupted JSON")
	case ruleRepeatedFiller:
		return into("repeated filler text")
	case ruleSignatureMatch:
		return into("text matching a known bad signature")
	case ruleLoopStall:
		return "repeated the same output in a loop"
	case ruleRunawaySteps:
		return "ran more times than the step limit allows"
	case ruleInputEcho:
		return "echoed its input as output"
	case ruleClaimedSuccessEmpty:
		if field == "" {
			return "reported success with an empty output"
		}
		return "reported success while " + q + " was empty"
	case ruleLatencySpike:
		return "was unusually slow"
	case ruleTooFast:
		return "finished unusually fast"
	case ruleTokenBlowup:
		return "used unusually many tokens"
	case ruleOutputSize:
		return "produced an output of unusual size"
	}
	return "raised " + cleanName(fd.Rule)
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
			return "failed with " + cleanText(text)
		}
	}
	if strings.TrimSpace(s.StatusMessage) != "" {
		return "failed with " + cleanText(s.StatusMessage)
	}
	for j := range s.Calls {
		if s.Calls[j].Status == agentrun.StatusError {
			return fmt.Sprintf("failed in its call %q", cleanName(cmp.Or(s.Calls[j].Tool, s.Calls[j].Name)))
		}
	}
	return "failed"
}

func (c *correlator) toolFailure(s *agentrun.Step, fd Finding, what string) string {
	tool := detailString(fd.Details, "tool")
	var msg string
	for j := range s.Calls {
		call := &s.Calls[j]
		if call.Status != agentrun.StatusError || (tool != "" && tool != call.Tool && tool != call.Name) {
			continue
		}
		if tool == "" {
			tool = cmp.Or(call.Tool, call.Name)
		}
		msg = call.StatusMessage
		if msg == "" && len(call.Exceptions) > 0 {
			msg = call.Exceptions[0].Message
		}
		break
	}
	if tool != "" {
		what += fmt.Sprintf(" to %q", cleanName(tool))
	}
	if msg != "" {
		what += " (" + cleanText(msg) + ")"
	}
	return what
}

// primaryFinding picks the finding that best describes a step: failures first,
// then structural damage, then text problems, then the rest.
func primaryFinding(fs []Finding) (Finding, bool) {
	prio := func(rule string) int {
		switch rule {
		case ruleToolError, ruleRateLimited:
			return 0
		case ruleErrorSpan:
			return 1
		case ruleCrashMissingData:
			return 2
		case ruleRetryStorm:
			return 3
		case ruleEmptyRetrieval, ruleEmptyUpdate, ruleDroppedField,
			ruleKeyTypo, ruleTypeChanged, ruleContractViolation:
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
			(prio(f.Rule) == prio(best.Rule) && severityWeight(f.Severity) > severityWeight(best.Severity)) {
			best, found = f, true
		}
	}
	return best, found
}

func emptyPhrase(v any, field string) string {
	q := fmt.Sprintf("%q", cleanName(field))
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

// cleanName makes a name safe for one line of text: valid UTF-8, no control
// characters, bounded length.
func cleanName(s string) string { return sanitize(s, maxNameRunes) }

// cleanText is cleanName for quoted error text: its first line only.
func cleanText(s string) string {
	s = strings.TrimSpace(s)
	if j := strings.IndexAny(s, "\r\n"); j >= 0 {
		s = s[:j]
	}
	return sanitize(s, maxQuotedRunes)
}

func sanitize(s string, maxRunes int) string {
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

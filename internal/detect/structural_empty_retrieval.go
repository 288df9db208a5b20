package detect

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

const ruleEmptyRetrieval = "structural.empty_retrieval"

// emptyRetrieval: a retrieval found nothing, in a retriever call's result,
// a retriever node's output, or a retrieval field (documents, results, ...)
// of an output, and the node does not do that routinely (or a later step
// crashed on it).
type emptyRetrieval struct{}

func init() {
	register(Rule{ID: ruleEmptyRetrieval, Layer: LayerStructural, Severity: SeverityWarning,
		Description: "a retrieval returned nothing: an empty documents/results/... field or an empty retriever call, which the node does not return routinely or a later step crashed on"}, emptyRetrieval{})
}

func (emptyRetrieval) check(a *analysis) {
	for i := range a.run.Steps {
		if !isPseudoNode(a.run.Steps[i].Node) {
			checkEmptyRetrieval(a, i)
		}
	}
}

func checkEmptyRetrieval(a *analysis, i int) {
	s := &a.run.Steps[i]
	for j := range s.Calls {
		call := &s.Calls[j]
		if !isRetrieverKind(call.Kind) || call.Status == agentrun.StatusError || !emptyResult(call.Result) {
			continue
		}
		name := cmp.Or(call.Tool, call.Name)
		emitEmptyRetrieval(a, i, "", fmt.Sprintf("%s: retriever call %q returned no results", s.Node, name),
			map[string]any{"tool": name, "result": strings.TrimSpace(call.Result)})
	}
	if isRetrieverKind(s.Kind) && s.HasOutput && !s.Failed() && isEmptyValue(s.Output) {
		emitEmptyRetrieval(a, i, "", fmt.Sprintf("%s (a retriever) returned %s", s.Node, emptyLiteral(s.Output)),
			map[string]any{"output": emptyLiteral(s.Output)})
		return
	}
	out, ok := outputMap(s)
	if !ok {
		return
	}
	before := a.stateView().before[i]
	for _, k := range sortedKeys(out) {
		if !retrievalFields[strings.ToLower(k)] || !isEmptyRetrieval(out[k]) {
			continue
		}
		if inheritedEmptiness(a, i) {
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
		emitEmptyRetrieval(a, i, k, fmt.Sprintf("%s returned an empty %q %s", s.Node, k, what), d)
	}
}

// emitEmptyRetrieval reports an empty retrieval unless the node returns
// one routinely (a grader that filters out every document in one run of
// five, a search over sparse data) and no later step crashed on a
// retrieval field. Without history it is a warning: nothing retrieved
// leaves an answer without grounding, unless a later step retrieved what
// was missing (field, or any retrieval field when ""): then it is info.
func emitEmptyRetrieval(a *analysis, i int, field, msg string, d map[string]any) {
	refills := func(k string) bool {
		return field == "" && retrievalFields[strings.ToLower(k)] || k == field
	}
	a.emitJudged(ruleEmptyRetrieval, i, judgement{
		habit: a.updatesHabit(a.run.Steps[i].Node, func(u *updateShape) uint32 { return u.emptyRetrieval }),
		harm: func() bool {
			return a.harmsLater(i, func(f string) bool { return retrievalFields[strings.ToLower(f)] })
		},
		recovered: func() bool { return a.refilledLater(i, field == "", refills) },
	}, msg, d)
}

// refilledLater: a step after i (or step i itself, with self) wrote a
// non-empty value to a field that refills says makes up for the empty
// retrieval, as a corrective RAG's web search does after its grader
// filtered out every document.
func (a *analysis) refilledLater(i int, self bool, refills func(string) bool) bool {
	from := i + 1
	if self {
		from = i
	}
	for j := from; j < len(a.run.Steps); j++ {
		out, _ := outputMap(&a.run.Steps[j])
		for k, v := range out {
			if refills(k) && !isEmptyRetrieval(v) {
				return true
			}
		}
	}
	return false
}

// inheritedEmptiness: a node that only passes on (or derives from) an empty
// retrieval produced by another node upstream is a victim, not the origin;
// the origin already carries the finding.
func inheritedEmptiness(a *analysis, i int) bool {
	before := a.stateView().before[i]
	node := a.run.Steps[i].Node
	for k, val := range before {
		if !retrievalFields[strings.ToLower(k)] || !isEmptyRetrieval(val) {
			continue
		}
		// The same node running again (a retry loop) is judged afresh, and an
		// initial state that starts with "documents": [] blames nobody.
		if w := lastWriter(a.run, k, i); w >= 0 && a.run.Steps[w].Node != node {
			return true
		}
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

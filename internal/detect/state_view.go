package detect

import (
	"maps"
	"reflect"
	"strings"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

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

func newStateView(run *agentrun.Run, groups [][]int) *stateView {
	n := len(run.Steps)
	v := &stateView{
		groups:  groups,
		before:  make([]map[string]any, n),
		full:    make([]bool, n),
		dropped: make([][]string, n),

		groupAfter: make([]map[string]any, n),
	}
	state := map[string]any{}
	if n > 0 {
		if m, ok := run.Steps[0].Input.(map[string]any); ok && !isTruncationMarker(m) {
			maps.Copy(state, m)
		}
	}
	for _, g := range v.groups {
		base := state
		next := make(map[string]any, len(base)+4)
		maps.Copy(next, base)
		for _, i := range g {
			s := &run.Steps[i]
			v.before[i] = base
			out, ok := outputMap(s)
			if !ok {
				continue
			}
			if isFullState(s, out, base) {
				v.full[i] = true
				for _, k := range sortedKeys(base) {
					if _, kept := out[k]; !kept {
						delete(next, k)
						if !isEmptyValue(base[k]) {
							v.dropped[i] = append(v.dropped[i], k)
						}
					}
				}
			}
			maps.Copy(next, out)
		}
		for _, i := range g {
			v.groupAfter[i] = next
		}
		state = next
	}
	return v
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

// isPseudoNode recognises LangGraph's "__name__" nodes (__start__,
// __interrupt__, ...) that reach the steps of a run: the structural and
// semantic rules skip them. It is wider than the mapping's
// isBookkeepingNode (__start__ and __end__ exactly), which decides which
// spans become steps at all.
func isPseudoNode(name string) bool {
	return len(name) > 4 && strings.HasPrefix(name, "__") && strings.HasSuffix(name, "__")
}

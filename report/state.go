package report

import (
	"encoding/json"
	"sort"

	"github.com/arguslabs/argus-otel/store"
)

// Kinds of state change.
const (
	ChangeAdded   = "added"
	ChangeChanged = "changed"
	ChangeDropped = "dropped"
)

// mergedState is the merged pipeline state as pipeline.Run.StateBefore
// builds it: the first step's input, then each step's output applied as a
// partial update of top-level fields (LangGraph semantics).
type mergedState map[string]any

// startState is the merged state before the first step: its input when
// that is a JSON object, else empty.
func startState(firstInput json.RawMessage) mergedState {
	if v, ok := decode(firstInput); ok {
		if m, isMap := v.(map[string]any); isMap {
			return m
		}
	}
	return mergedState{}
}

// apply applies one step's output and returns what it changed, by field. A
// field is added when it was not in the state, changed when its value
// differs, dropped when a value was set to null. Outputs that are not JSON
// objects (a string, an error, nothing) change nothing.
func (merged mergedState) apply(output json.RawMessage) []Change {
	out := []Change{}
	v, ok := decode(output)
	if !ok {
		return out
	}
	upd, isMap := v.(map[string]any)
	if !isMap {
		return out
	}
	keys := make([]string, 0, len(upd))
	for k := range upd {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		after := encode(upd[k])
		prev, had := merged[k]
		c := Change{Field: k, After: after}
		switch {
		case !had:
			c.Kind = ChangeAdded
		default:
			c.Before = encode(prev)
			if equalJSON(c.Before, after) {
				continue
			}
			if upd[k] == nil {
				c.Kind = ChangeDropped
			} else {
				c.Kind = ChangeChanged
			}
		}
		out = append(out, c)
		merged[k] = upd[k]
	}
	return out
}

// fold applies one step's output without computing what changed: the
// merged state before a page of a long run is folded from every output
// before it, and only the page's changes are shown.
func (merged mergedState) fold(output json.RawMessage) {
	if v, ok := decode(output); ok {
		if upd, isMap := v.(map[string]any); isMap {
			for k, x := range upd {
				merged[k] = x
			}
		}
	}
}

// stateChanges computes, for each step (sorted by step number), what its
// output did to the merged pipeline state, starting from merged (nil: the
// first step's input).
func stateChanges(merged mergedState, steps []store.Step) [][]Change {
	out := make([][]Change, len(steps))
	if merged == nil && len(steps) > 0 {
		merged = startState(steps[0].InputState)
	}
	for i, s := range steps {
		out[i] = merged.apply(s.OutputState)
	}
	return out
}

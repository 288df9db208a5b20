package report

import (
	"sort"

	"github.com/arguslabs/argus-otel/store"
)

// Kinds of state change.
const (
	ChangeAdded   = "added"
	ChangeChanged = "changed"
	ChangeDropped = "dropped"
)

// stateChanges computes, for each step (sorted by step number), what its
// output did to the merged pipeline state. The merged state follows
// pipeline.Run.StateBefore: the first step's input, then each step's output
// applied as a partial update of top-level fields (LangGraph semantics).
// A field is added when it was not in the state, changed when its value
// differs, dropped when a value was set to null. Outputs that are not JSON
// objects (a string, an error, nothing) change nothing.
func stateChanges(steps []store.Step) [][]Change {
	out := make([][]Change, len(steps))
	merged := map[string]any{}
	if len(steps) > 0 {
		if v, ok := decode(steps[0].InputState); ok {
			if m, isMap := v.(map[string]any); isMap {
				merged = m
			}
		}
	}
	for i, s := range steps {
		out[i] = []Change{}
		v, ok := decode(s.OutputState)
		if !ok {
			continue
		}
		upd, isMap := v.(map[string]any)
		if !isMap {
			continue
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
			out[i] = append(out[i], c)
			merged[k] = upd[k]
		}
	}
	return out
}

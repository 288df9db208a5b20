package agentrun

// StateBefore returns the merged pipeline state that step i was handed:
// the first step's input (the initial state) with the output updates of
// steps 0..i-1 applied in order. LangGraph node outputs are partial updates,
// so structural checks must compare merged states, not raw outputs.
// Non-object inputs/outputs are ignored for merging. The result is a fresh map.
func (r *Run) StateBefore(i int) map[string]any {
	state := map[string]any{}
	if len(r.Steps) == 0 {
		return state
	}
	if m, ok := r.Steps[0].Input.(map[string]any); ok {
		for k, v := range m {
			state[k] = v
		}
	}
	for j := 0; j < i && j < len(r.Steps); j++ {
		if m, ok := r.Steps[j].Output.(map[string]any); ok {
			for k, v := range m {
				state[k] = v
			}
		}
	}
	return state
}

// StateAfter returns the merged state after step i applied its update.
func (r *Run) StateAfter(i int) map[string]any { return r.StateBefore(i + 1) }

package store

// References to steps that are not stored yet: a detection or forensics
// row keeps the step it meant, and reattach links it when the step arrives.

import "encoding/json"

// withStepRef records, in a detection's details, the step it meant to
// point at when that step is not stored.
func withStepRef(details json.RawMessage, stepID string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(details, &m) != nil || m == nil {
		m = map[string]json.RawMessage{}
	}
	m["step_ref"] = mustJSON(stepID)
	return mustJSON(m)
}

// withRootRef keeps the intended root cause step in the causal chain: an
// array gains a {"type":"root_cause_ref","step_ref":id} element, an object a
// "root_cause_step_ref" key. reattach looks for it when the step arrives.
func withRootRef(chain json.RawMessage, stepID string) json.RawMessage {
	if rootRef(chain) == stepID {
		return chain
	}
	chain = withoutRootRef(chain)
	if len(chain) > 0 && chain[0] == '{' {
		var m map[string]json.RawMessage
		if json.Unmarshal(chain, &m) == nil {
			m["root_cause_step_ref"] = mustJSON(stepID)
			return mustJSON(m)
		}
	}
	var links []json.RawMessage
	_ = json.Unmarshal(chain, &links)
	links = append(links, mustJSON(map[string]string{"type": "root_cause_ref", "step_ref": stepID}))
	return mustJSON(links)
}

// rootRef returns the step id kept by withRootRef, "" when there is none.
func rootRef(chain json.RawMessage) string {
	if len(chain) > 0 && chain[0] == '{' {
		var m struct {
			Ref string `json:"root_cause_step_ref"`
		}
		_ = json.Unmarshal(chain, &m)
		return m.Ref
	}
	var links []struct {
		Type string `json:"type"`
		Ref  string `json:"step_ref"`
	}
	_ = json.Unmarshal(chain, &links)
	for _, l := range links {
		if l.Type == "root_cause_ref" {
			return l.Ref
		}
	}
	return ""
}

// withoutRootRef removes what withRootRef added.
func withoutRootRef(chain json.RawMessage) json.RawMessage {
	if len(chain) > 0 && chain[0] == '{' {
		var m map[string]json.RawMessage
		if json.Unmarshal(chain, &m) != nil {
			return chain
		}
		delete(m, "root_cause_step_ref")
		return mustJSON(m)
	}
	var links []json.RawMessage
	if json.Unmarshal(chain, &links) != nil {
		return chain
	}
	out := []json.RawMessage{}
	for _, l := range links {
		var x struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(l, &x) == nil && x.Type == "root_cause_ref" {
			continue
		}
		out = append(out, l)
	}
	return mustJSON(out)
}

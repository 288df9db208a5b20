package store

import (
	"encoding/json"
	"testing"
)

func TestRootRef(t *testing.T) {
	for _, chain := range []string{`[]`, `[{"type":"field_drop","from_step_id":"s9"}]`, `{"links":[]}`} {
		with := withRootRef(json.RawMessage(chain), "s1")
		if rootRef(with) != "s1" {
			t.Errorf("withRootRef(%s) = %s: ref not found", chain, with)
		}
		if again := withRootRef(with, "s1"); string(again) != string(with) {
			t.Errorf("withRootRef not idempotent: %s -> %s", with, again)
		}
		var a, b any
		_ = json.Unmarshal(withoutRootRef(with), &a)
		_ = json.Unmarshal(json.RawMessage(chain), &b)
		if string(mustJSON(a)) != string(mustJSON(b)) {
			t.Errorf("withoutRootRef(%s) = %s, want %s", with, mustJSON(a), chain)
		}
	}
}

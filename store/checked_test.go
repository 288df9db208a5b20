package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestStatesChecked: states a caller marks as checked are stored as given
// (with the byte-level repairs: invalid UTF-8, \u0000); a false claim is
// refused by the database itself and stores nothing of the batch. Both
// drivers.
func TestStatesChecked(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

		b := batchOf(run{id: "checked1", pipeline: "p", start: start, steps: 2, root: true})
		b.Steps[0].InputState = json.RawMessage(` {"q": "a\u0000b", "n": [1, 2.5e3, true, null]} `)
		b.Steps[0].OutputState = json.RawMessage("{\"bad utf8\": \"\xff\"}")
		b.Steps[0].StatesChecked = true
		if err := s.WriteBatch(ctx, b); err != nil {
			t.Fatalf("WriteBatch with checked states: %v", err)
		}
		full, err := s.GetTrace(ctx, "checked1")
		if err != nil {
			t.Fatal(err)
		}
		var in, out map[string]any
		if err := json.Unmarshal(full.Steps[0].InputState, &in); err != nil || in["q"] != "a\ufffdb" {
			t.Fatalf("input state: %v %s", err, full.Steps[0].InputState)
		}
		if err := json.Unmarshal(full.Steps[0].OutputState, &out); err != nil || out["bad utf8"] != "\ufffd" {
			t.Fatalf("output state: %v %s", err, full.Steps[0].OutputState)
		}

		bad := batchOf(run{id: "checked2", pipeline: "p", start: start, steps: 2, root: true})
		bad.Steps[1].OutputState = json.RawMessage(`{"not": json}`)
		bad.Steps[1].StatesChecked = true
		err = s.WriteBatch(ctx, bad)
		if err == nil {
			t.Fatal("the database accepted invalid JSON claimed as checked")
		}
		if !IsPermanent(err) {
			t.Fatalf("invalid JSON must be a permanent error (the exporter then retries trace by trace): %v", err)
		}
		if n := count(t, s, "SELECT COUNT(*) FROM traces WHERE id = 'checked2'"); n != 0 {
			t.Fatalf("a refused batch stored %d trace rows", n)
		}
	})
}

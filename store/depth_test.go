package store

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/internal/jsonscan"
)

func nestedJSON(depth int) json.RawMessage {
	return json.RawMessage(`{"deep":` + strings.Repeat("[", depth) + `1` + strings.Repeat("]", depth) + `}`)
}

// TestDeepJSON: a state nested deeper than SQLite's JSON limit (1000) but
// valid for Go (10000) is stored as text instead of failing its batch;
// a merely deep state stays JSON. Both drivers.
func TestDeepJSON(t *testing.T) {
	if d, _ := jsonscan.ValidBytes([]byte(`{"a":"[[[[","b":[{"c":"\"]}"}]}`)); d != 3 {
		t.Fatalf("the depth measured ignores brackets in strings: got %d, want 3", d)
	}
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		b := batchOf(run{id: "deep1", pipeline: "p", start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), steps: 2, root: true})
		b.Steps[0].InputState = nestedJSON(500)
		b.Steps[0].OutputState = nestedJSON(5000)
		b.Detections[0].Details = nestedJSON(2000)
		if err := s.WriteBatch(ctx, b); err != nil {
			t.Fatalf("WriteBatch with deep JSON: %v", err)
		}
		full, err := s.GetTrace(ctx, "deep1")
		if err != nil {
			t.Fatal(err)
		}
		var in map[string]any
		if err := json.Unmarshal(full.Steps[0].InputState, &in); err != nil || in["deep"] == nil {
			t.Fatalf("500 levels must stay JSON: %v %.60s", err, full.Steps[0].InputState)
		}
		var out string
		if err := json.Unmarshal(full.Steps[0].OutputState, &out); err != nil || !strings.HasPrefix(out, `{"deep":[[[`) {
			t.Fatalf("5000 levels must be kept as a JSON string: %v %.60s", err, full.Steps[0].OutputState)
		}
		var det map[string]any
		for _, d := range full.Detections {
			if d.ID == b.Detections[0].ID {
				if err := json.Unmarshal(d.Details, &det); err != nil || det["_argus_too_deep"] != true {
					t.Fatalf("too-deep details must stay an object with a marker: %v %.80s", err, d.Details)
				}
			}
		}
		if det == nil {
			t.Fatal("detection with deep details not stored")
		}
	})
}

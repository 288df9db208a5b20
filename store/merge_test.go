package store

import (
	"encoding/json"
	"testing"
	"time"
)

func TestMergeTrace(t *testing.T) {
	stored := decodeStored(Trace{ID: "m", CreatedAt: t0, Status: "warning", PipelineName: "root-name",
		Metadata: json.RawMessage(`{"span_count":2,"ratio_count":0.5,"label_count":"x","end_time":"2026-03-14T09:26:55Z","_argus_batches":["k1"]}`)})
	u := TraceUpdate{Trace: Trace{ID: "m", CreatedAt: t0.Add(-time.Second), Status: "ok", PipelineName: "child",
		Metadata: json.RawMessage(`{"span_count":3,"ratio_count":0.25,"label_count":"y","new":1}`)}, BatchKey: "k2"}
	m, err := mergeTrace(stored, u, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !m.row.CreatedAt.Equal(t0.Add(-time.Second)) || m.row.Status != "warning" || m.row.PipelineName != "root-name" {
		t.Errorf("merged row = %+v", m.row)
	}
	// end_time 09:26:55 - created 09:26:52.589 = 2411 ms
	if m.row.DurationMs != 2411 {
		t.Errorf("duration = %d, want 2411", m.row.DurationMs)
	}
	jsonEqual(t, "metadata", m.row.Metadata, json.RawMessage(`{"span_count":5,"ratio_count":0.75,"label_count":"x","new":1,
		"end_time":"2026-03-14T09:26:55Z","_argus_batches":["k1","k2"]}`))
	// The same key again: nothing added.
	again, _ := mergeTrace(&m, u, time.Time{})
	jsonEqual(t, "metadata after retry", again.row.Metadata, m.row.Metadata)

	// Batch keys are bounded.
	cur := &storedTrace{row: Trace{ID: "k", CreatedAt: t0, Status: "ok", Metadata: json.RawMessage(`{}`)}}
	for i := range maxBatchKeys + 10 {
		next, err := mergeTrace(cur, TraceUpdate{Trace: Trace{ID: "k", Metadata: json.RawMessage(`{"span_count":1}`)},
			BatchKey: string(rune('A' + i))}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		cur = &next
	}
	var meta struct {
		Keys  []string `json:"_argus_batches"`
		Count int      `json:"span_count"`
	}
	_ = json.Unmarshal(cur.row.Metadata, &meta)
	if len(meta.Keys) != maxBatchKeys || meta.Count != maxBatchKeys+10 {
		t.Errorf("%d keys kept, span_count %d", len(meta.Keys), meta.Count)
	}
}

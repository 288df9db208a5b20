package store

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

func TestReplaceNULEscapes(t *testing.T) {
	cases := map[string]string{
		`"a\u0000b"`:           `"a\ufffdb"`,
		`"a\\u0000b"`:          `"a\\u0000b"`, // escaped backslash: literal text
		`"a\\\u0000b"`:         `"a\\\ufffdb"`,
		`{"k\u0000":"\u0000"}`: `{"k\ufffd":"\ufffd"}`,
		`"\u00001"`:            `"\ufffd1"`,
	}
	for in, want := range cases {
		if got := string(replaceNULEscapes([]byte(in))); got != want {
			t.Errorf("replaceNULEscapes(%s) = %s, want %s", in, got, want)
		}
		if !json.Valid(replaceNULEscapes([]byte(in))) {
			t.Errorf("result for %s is not valid JSON", in)
		}
	}
}

func TestCleanJSON(t *testing.T) {
	got, err := cleanJSON(json.RawMessage("  {\"a\":\"\xff\"}  "), "{}", 'o', "x")
	if err != nil || string(got) != "{\"a\":\"\uFFFD\"}" {
		t.Errorf("invalid UTF-8: %q, %v", got, err)
	}
	if got, err := cleanJSON(nil, "null", 0, "x"); err != nil || string(got) != "null" {
		t.Errorf("empty: %q, %v", got, err)
	}
	for _, bad := range []string{`{`, `{"a":1}x`, `NaN`, `'x'`} {
		if _, err := cleanJSON(json.RawMessage(bad), "{}", 0, "x"); err == nil {
			t.Errorf("cleanJSON(%s) accepted invalid JSON", bad)
		}
	}
}

func TestRenumber(t *testing.T) {
	ts := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	rows := []stepOrder{
		{id: "c", traceID: "T", number: 1, lgStep: json.RawMessage(`3`), ts: ts(0)},
		{id: "a", traceID: "T", number: 2, lgStep: json.RawMessage(`1`), ts: ts(50)},
		{id: "b2", traceID: "T", number: 3, lgStep: json.RawMessage(`"2"`), ts: ts(20)},
		{id: "b1", traceID: "T", number: 4, lgStep: json.RawMessage(`2`), ts: ts(20)}, // same time: by id
		{id: "x", traceID: "T", number: 5, ts: ts(99)},                                // no langgraph_step: -1
		{id: "u", traceID: "U", number: 1, lgStep: json.RawMessage(`"junk"`), ts: ts(5)},
	}
	got := renumber(rows)
	want := []numberChange{{"x", 1}, {"b1", 3}, {"b2", 4}, {"c", 5}} // "a" keeps 2
	if !slices.Equal(got, want) {
		t.Errorf("renumber = %v, want %v", got, want)
	}
}

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

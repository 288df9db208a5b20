package store

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

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

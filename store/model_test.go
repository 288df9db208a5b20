package store

import (
	"encoding/json"
	"testing"
)

func TestTraceInProgress(t *testing.T) {
	for meta, want := range map[string]bool{
		`{"analysis":"in_progress"}`:                true,
		`{"analysis":"in_progress","span_count":3}`: true,
		`{"analysis":"final"}`:                      false,
		`{}`:                                        false, // rows written before the key existed
		``:                                          false,
		`null`:                                      false,
		`{"analysis":"IN_PROGRESS"}`:                false, // the contract is the exact value
		`{"analysis":1}`:                            false,
		`{"metadata":{"analysis":"in_progress"}}`: false, // only the top-level key counts
		`not json`: false,
	} {
		if got := (Trace{Metadata: json.RawMessage(meta)}).InProgress(); got != want {
			t.Errorf("InProgress(%s) = %v, want %v", meta, got, want)
		}
	}
}

package store

import "testing"

// BenchmarkNormalizeBatch: the Go-side checks of one WriteBatch (the
// benchmark batch: 500 steps with 2 KiB states), no database.
func BenchmarkNormalizeBatch(b *testing.B) {
	batch := benchBatch(0, benchState(1), benchState(2))
	var bytes int64
	for _, s := range batch.Steps {
		bytes += int64(len(s.InputState) + len(s.OutputState))
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := normalizeBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
}

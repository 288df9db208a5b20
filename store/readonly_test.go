package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSQLiteReadOnly: readers (the CLI) open an existing file without
// writing to it, even a file whose mode forbids writes; writes then fail.
func TestSQLiteReadOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "traces.db")
	w := openStore(t, Config{Driver: DriverSQLite, Path: path})
	if err := w.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := w.WriteBatch(ctx, batchOf(run{id: "ro1", pipeline: "p", start: start, steps: 2, root: true})); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	r, err := Open(ctx, Config{Driver: DriverSQLite, Path: path, ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open: %v", err)
	}
	full, err := r.GetTrace(ctx, "ro1")
	if err != nil || len(full.Steps) != 2 {
		t.Fatalf("GetTrace = %v, %v", full, err)
	}
	if err := r.WriteBatch(ctx, batchOf(run{id: "ro2", pipeline: "p", start: start, steps: 1, root: true})); err == nil {
		t.Fatal("a write through a read-only store succeeded")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Fatal("read-only open changed the database file")
	}

	if _, err := Open(ctx, Config{Driver: DriverSQLite, Path: filepath.Join(t.TempDir(), "missing.db"), ReadOnly: true}); err == nil {
		t.Fatal("read-only open of a missing file succeeded")
	}
}

package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

func pragmaInt(t *testing.T, db *sql.DB, name string) int {
	t.Helper()
	var v int
	if err := db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

// TestSQLitePageSizeNewDatabase: a database the store creates gets the
// tuned page size, in WAL mode, and keeps it across reopening.
func TestSQLitePageSizeNewDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "new.db")
	s := openStore(t, Config{Driver: DriverSQLite, Path: path})
	if err := s.WriteBatch(ctx, batchOf(run{id: "p1", pipeline: "p", start: t0, steps: 3, root: true})); err != nil {
		t.Fatal(err)
	}
	w := s.(*sqliteStore).write
	if got := pragmaInt(t, w, "page_size"); got != defaultSQLiteTuning.pageSize {
		t.Fatalf("page_size of a new database = %d, want %d", got, defaultSQLiteTuning.pageSize)
	}
	var mode string
	if err := w.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	if got := pragmaInt(t, w, "synchronous"); got != 1 {
		t.Fatalf("synchronous = %d, want 1 (NORMAL)", got)
	}
	if got := pragmaInt(t, w, "foreign_keys"); got != 1 {
		t.Fatalf("foreign_keys = %d, want 1", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, Config{Driver: DriverSQLite, Path: path})
	if got := pragmaInt(t, s2.(*sqliteStore).read, "page_size"); got != defaultSQLiteTuning.pageSize {
		t.Fatalf("page_size after reopening = %d", got)
	}
	if n := count(t, s2, "SELECT count(*) FROM trace_steps"); n != 3 {
		t.Fatalf("steps after reopening = %d, want 3", n)
	}
}

// TestSQLitePageSizeExistingDatabase: a database created with another page
// size (by an older version) keeps it: the store neither fails nor
// rewrites the file, and reads and writes work as before.
func TestSQLitePageSizeExistingDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	old := defaultSQLiteTuning
	old.pageSize = 4096
	if defaultSQLiteTuning.pageSize == old.pageSize {
		t.Fatal("this test needs a default page size other than 4096")
	}
	s, err := openSQLiteTuned(ctx, Config{Driver: DriverSQLite, Path: path, BusyTimeout: DefaultBusyTimeout}, old)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteBatch(ctx, batchOf(run{id: "o1", pipeline: "p", start: t0, steps: 2, root: true})); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, Config{Driver: DriverSQLite, Path: path})
	if got := pragmaInt(t, s2.(*sqliteStore).write, "page_size"); got != 4096 {
		t.Fatalf("page_size of an existing 4 KiB database = %d, want it kept at 4096", got)
	}
	if err := s2.WriteBatch(ctx, batchOf(run{id: "o2", pipeline: "p", start: t0, steps: 4, root: true})); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s2, "SELECT count(*) FROM trace_steps"); n != 6 {
		t.Fatalf("steps = %d, want 6", n)
	}
	full, err := s2.GetTrace(ctx, "o1")
	if err != nil || len(full.Steps) != 2 {
		t.Fatalf("GetTrace(o1) = %v, %v", full, err)
	}
}

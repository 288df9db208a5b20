package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSQLiteDamagedFileIsNamed: SQLite's "database disk image is malformed"
// and "file is not a database" name no file. Every read and write of a
// damaged file, and the open of one, says which file it is and how to check
// it, and stays a statement error: not permanent (a restored file takes the
// writes, so the detector holds the spans meanwhile).
func TestSQLiteDamagedFileIsNamed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "it's here", "traces.db")
	cfg := Config{Driver: DriverSQLite, Path: path, BusyTimeout: DefaultBusyTimeout}
	s := openStore(t, cfg)
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 50 {
		if err := s.WriteBatch(ctx, batchOf(run{id: fmt.Sprintf("dm%02d", i), pipeline: "p", start: start, steps: 20, root: true})); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}
	// Every page but the first (the header and the schema) overwritten, as
	// a torn copy or a disk error could leave it.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := int(b[16])<<8 | int(b[17])
	if len(b) < 3*page {
		t.Fatalf("the file has %d bytes, want pages beyond the schema", len(b))
	}
	for i := page; i < len(b); i++ {
		b[i] = 0x5a
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}

	check := "sqlite3 '" + strings.ReplaceAll(path, "'", `'\''`) + "' 'PRAGMA integrity_check'"
	named := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s of a damaged file succeeded", what)
		}
		if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, check) {
			t.Errorf("%s: %q does not name the file and `%s`", what, msg, check)
		}
		if Classify(err) != ClassStatement || IsPermanent(err) {
			t.Errorf("%s: %v is of class %s (permanent %v), want statement", what, err, Classify(err), IsPermanent(err))
		}
	}
	w, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("the header is intact, the open should succeed: %v", err)
	}
	named("Migrate", w.Migrate(ctx))
	named("WriteBatch", w.WriteBatch(ctx, batchOf(run{id: "dm-new", pipeline: "p", start: start, steps: 3, root: true})))
	_, _, err = w.ListTraces(ctx, TraceFilter{Limit: 10})
	named("ListTraces", err)
	ro := cfg
	ro.ReadOnly = true
	r, err := Open(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.GetTrace(ctx, "dm07")
	named("GetTrace (read-only)", err)
	t.Logf("what the exporter logs: %v", w.WriteBatch(ctx, batchOf(run{id: "dm-new", pipeline: "p", start: start, steps: 3, root: true})))
	if err := errors.Join(r.Close(), w.Close()); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(path, []byte(strings.Repeat("not sqlite ", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, cfg)
	named("Open of a file that is no database", err)
	_, err = Open(ctx, ro)
	named("read-only Open of a file that is no database", err)
}

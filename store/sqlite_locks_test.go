package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// otherProcessEnv makes TestSQLiteOtherProcessHelper act on a database:
// "lock:PATH" holds and releases an exclusive transaction (testutil.LockSQLite),
// "read:PATH" counts traces and checks integrity, read-only.
const otherProcessEnv = "ARGUS_SQLITE_OTHER_PROCESS"

func TestSQLiteOtherProcessHelper(t *testing.T) {
	act, path, ok := strings.Cut(os.Getenv(otherProcessEnv), ":")
	if !ok {
		t.Skip("helper process for TestSQLiteSecondOpenKeepsLocks")
	}
	if act == "lock" {
		testutil.LockSQLite(t, path)()
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	var check string
	if err := db.QueryRow("SELECT count(*) FROM traces").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("OTHER-PROCESS: traces=%d integrity=%s\n", n, check)
}

// inOtherProcess runs the helper in a copy of this test binary and returns
// what it saw.
func inOtherProcess(t *testing.T, act, path string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSQLiteOtherProcessHelper$", "-test.v")
	cmd.Env = append(os.Environ(), otherProcessEnv+"="+act+":"+path)
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if r, ok := strings.CutPrefix(line, "OTHER-PROCESS: "); ok {
			return r
		}
	}
	t.Fatalf("helper process (%s) gave no result (%v):\n%s", act, err, out)
	return ""
}

// TestSQLiteSecondOpenKeepsLocks: the collector opens the same SQLite file
// twice in one process (the argusapi extension's store, then the argus
// exporter's). SQLite's locks are POSIX advisory locks, which belong to the
// process: closing ANY descriptor of the file drops all of them. Opening
// the second store once opened and closed the database and its -shm to see
// whether they were writable, so the first store's locks were gone, and the
// next other process (a user's sqlite3, the CLI, a backup) to close the
// database believed itself its last user: it checkpointed and deleted the
// -wal and -shm under the collector, which then wrote to a deleted WAL and
// read "database disk image is malformed".
func TestSQLiteSecondOpenKeepsLocks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "traces.db")
	cfg := Config{Driver: DriverSQLite, Path: path, BusyTimeout: DefaultBusyTimeout}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	api := openStore(t, cfg)
	if err := api.WriteBatch(ctx, batchOf(run{id: "lk1", pipeline: "p", start: start, steps: 3, root: true})); err != nil {
		t.Fatal(err)
	}
	exp := openStore(t, cfg)
	if err := exp.WriteBatch(ctx, batchOf(run{id: "lk2", pipeline: "p", start: start, steps: 3, root: true})); err != nil {
		t.Fatal(err)
	}

	side := testutil.SQLiteSidecars(t, path)
	if got := inOtherProcess(t, "lock", path); got != "traces=2 integrity=ok" {
		t.Fatalf("another process holding and releasing a lock saw %q, want 2 traces and ok", got)
	}
	if err := side.Changed(); err != nil {
		t.Fatalf("another process's close replaced a file two stores of this process use "+
			"(it could lock the file exclusively: this process's locks were gone): %v", err)
	}

	if err := exp.WriteBatch(ctx, batchOf(run{id: "lk3", pipeline: "p", start: start, steps: 3, root: true})); err != nil {
		t.Fatal(err)
	}
	if got := count(t, api, "SELECT count(*) FROM traces"); got != 3 {
		t.Fatalf("the first store reads %d traces, want 3", got)
	}
	if got := inOtherProcess(t, "read", path); got != "traces=3 integrity=ok" {
		t.Fatalf("another process reading after a new write saw %q, want 3 traces and ok", got)
	}
}

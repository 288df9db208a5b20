package faults

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

var sqliteShared = flag.Duration("sqlite-shared", 8*time.Second,
	"how long TestSQLiteSharedWithOtherUsers keeps its load and other users going (a search for corruption: -sqlite-shared=2m -count=20)")

// TestSQLiteSharedWithOtherUsers runs the default config (three stores on
// one SQLite file in the collector's process) under OTLP load and CPU load
// while others use the same file: this test's process locks it
// exclusively (testutil.LockSQLite, as the health test does), writes a
// table of its own, runs TRUNCATE checkpoints and integrity checks, each
// on a connection it opens and closes; the sqlite3 shell (another SQLite
// build) does the same when installed; the argus CLI lists runs; and
// argusapi reads on the collector's own connections. None of them may
// replace the -wal or -shm the collector uses (only the last user of a
// file may delete them, and the collector holds its locks throughout),
// every acknowledged run is stored, and the file is intact afterwards.
// Before the fix in store/writable_unix.go the first other user's close
// deleted the collector's -wal.
func TestSQLiteSharedWithOtherUsers(t *testing.T) {
	db := filepath.Join(t.TempDir(), "traces.db")
	c := startDefaultConfig(t, "ARGUS_DB_PATH="+db)
	api := c.apiAddr
	side := testutil.SQLiteSidecars(t, db)

	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	l, waitLoad := load(ctx, t, dial(t, c.grpcAddr), 2, 61)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		problems []string
		runs     = map[string]int{}
	)
	// each runs act every pause until the load ends, and checks after each
	// run that the collector's -wal and -shm are still the ones it opened.
	each := func(name string, pause time.Duration, act func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				err := act()
				if err == nil {
					err = side.Changed()
				}
				mu.Lock()
				runs[name]++
				if err != nil && ctx.Err() == nil && len(problems) < 20 {
					problems = append(problems, fmt.Sprintf("%s: %v", name, err))
				}
				mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(pause):
				}
			}
		}()
	}
	each("LockSQLite", 150*time.Millisecond, func() error {
		unlock := testutil.LockSQLite(t, db)
		time.Sleep(50 * time.Millisecond)
		unlock()
		return nil
	})
	each("write", 100*time.Millisecond, func() error {
		return withConn(db, "", func(conn *sql.DB) error {
			_, err := conn.Exec(`CREATE TABLE IF NOT EXISTS other_user (at TEXT);
				INSERT INTO other_user VALUES (datetime('now'))`)
			return err
		})
	})
	each("checkpoint", 200*time.Millisecond, func() error {
		return withConn(db, "", func(conn *sql.DB) error {
			_, err := conn.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
			return err
		})
	})
	each("quick_check", 300*time.Millisecond, func() error {
		return withConn(db, "mode=ro&", func(conn *sql.DB) error { return checkFile(conn, "quick_check") })
	})
	if sh, err := exec.LookPath("sqlite3"); err == nil {
		each("sqlite3", 200*time.Millisecond, func() error {
			return runQuiet(sh, "-cmd", ".timeout 10000", db, `BEGIN EXCLUSIVE; ROLLBACK;
				CREATE TABLE IF NOT EXISTS other_user (at TEXT); INSERT INTO other_user VALUES (datetime('now'));
				PRAGMA wal_checkpoint(TRUNCATE);`)
		})
	} else {
		t.Log("no sqlite3 shell on PATH: another SQLite build is not among the users")
	}
	cli := filepath.Join(filepath.Dir(testutil.CollectorBinary(t, "fault tests")), "argus")
	if _, err := os.Stat(cli); err == nil {
		each("argus CLI", 200*time.Millisecond, func() error { return runQuiet(cli, "list", "--db", db, "--limit", "5") })
	} else {
		t.Logf("no argus CLI beside the collector (%v): make build puts it there", err)
	}
	each("argusapi", 50*time.Millisecond, func() error {
		resp, err := http.Get("http://" + api + "/api/traces?limit=20")
		if err != nil {
			return err
		}
		resp.Body.Close()
		// 503: the API's bound on concurrent heavy reads, not the file.
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
			return fmt.Errorf("GET /api/traces: %s", resp.Status)
		}
		return nil
	})
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() { // CPU load: the colleague's failure came at load average 16 on 2 cores
			defer wg.Done()
			for ctx.Err() == nil {
				for i := 0; i < 1_000_000; i++ {
				}
			}
		}()
	}

	select {
	case <-time.After(*sqliteShared):
	case <-c.exited:
		t.Fatalf("collector exited: %v", c.waitErr)
	}
	stop()
	waitLoad()
	wg.Wait()
	acked, _, _ := l.snapshot()
	t.Logf("%d runs acknowledged; other users' turns: %v", len(acked), runs)
	// Not fatal: what the damage came to is checked below.
	assert.Empty(t, problems)
	assert.NotContains(t, c.logs.String(), "malformed")
	require.NotEmpty(t, acked)

	// Read by another process while the collector runs, then after it
	// stopped (its close checkpoints the WAL into the file).
	requireAllStored(t, openSQLite(t, db), acked, 60*time.Second)
	require.NoError(t, side.Changed(), "the collector's files")
	require.True(t, c.stop(30*time.Second))
	requireIntact(t, db)
	require.NoError(t, withConn(db, "mode=ro&", func(conn *sql.DB) error {
		steps, err := storedSteps(conn)
		for id, n := range acked {
			if err == nil && steps[id].rows != n {
				err = fmt.Errorf("after the stop, run %s has %d steps, want %d", id, steps[id].rows, n)
			}
		}
		return err
	}))
}

// withConn opens db (query: "mode=ro&" or ""), runs f and closes it, as a
// short-lived user of the file would.
func withConn(db, query string, f func(*sql.DB) error) error {
	conn, err := sql.Open("sqlite", "file:"+db+"?"+query+"_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	return errors.Join(f(conn), conn.Close())
}

// checkFile runs PRAGMA integrity_check or quick_check and returns its
// findings as an error.
func checkFile(conn *sql.DB, pragma string) error {
	rows, err := conn.Query("PRAGMA " + pragma)
	if err != nil {
		return err
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		if s != "ok" {
			found = append(found, s)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(found) > 0 {
		return fmt.Errorf("%s: %s", pragma, strings.Join(found, "; "))
	}
	return nil
}

// requireIntact runs PRAGMA integrity_check on the file at path.
func requireIntact(t *testing.T, path string) {
	t.Helper()
	require.NoError(t, withConn(path, "mode=ro&", func(conn *sql.DB) error { return checkFile(conn, "integrity_check") }))
}

func runQuiet(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, tail(string(out), 500))
	}
	return nil
}

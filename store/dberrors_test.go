package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// TestClassify: one row per class of database error, by what it means.
func TestClassify(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("storage: write batch: %w", &pgconn.PgError{Code: code}) }
	cases := []struct {
		name string
		err  error
		want ErrorClass
	}{
		{"invalid argument", invalidf("bad"), ClassContent},
		{"22 data exception: value out of range", pg("22003"), ClassContent},
		{"22 data exception: invalid JSON", pg("22P02"), ClassContent},
		{"23 integrity: check", pg("23514"), ClassContent},
		{"23 integrity: unique", pg("23505"), ClassContent},
		{"54 program limit: index row too large", pg("54000"), ClassContent},
		{"21 cardinality", pg("21000"), ClassContent},
		{"42 undefined table", pg("42P01"), ClassStatement},
		{"0A feature not supported", pg("0A000"), ClassStatement},
		{"XX001 data corrupted", pg("XX001"), ClassStatement},
		{"55000 object not in prerequisite state", pg("55000"), ClassStatement},
		{"55P03 lock not available", pg("55P03"), ClassTransient},
		{"08 connection failure", pg("08006"), ClassTransient},
		{"28 auth failed", pg("28P01"), ClassTransient},
		{"40 serialization failure", pg("40001"), ClassTransient},
		{"40 deadlock", pg("40P01"), ClassTransient},
		{"53 disk full", pg("53100"), ClassTransient},
		{"57 admin shutdown", pg("57P01"), ClassTransient},
		{"57 query canceled", pg("57014"), ClassTransient},
		{"58 I/O", pg("58030"), ClassTransient},
		{"XX000 internal error", pg("XX000"), ClassUnknown},
		{"P0001 raise_exception (a user's trigger)", pg("P0001"), ClassUnknown},
		{"no SQLSTATE", &pgconn.PgError{}, ClassUnknown},
		{"canceled", context.Canceled, ClassTransient},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, ClassTransient},
		{"connection cut", fmt.Errorf("storage: write batch: %w", io.ErrUnexpectedEOF), ClassTransient},
		{"bad conn", driver.ErrBadConn, ClassTransient},
		{"a Go-side driver error", errors.New("cannot encode value"), ClassUnknown},
	}
	for _, c := range cases {
		if got := Classify(c.err); got != c.want {
			t.Errorf("%s: Classify = %s, want %s", c.name, got, c.want)
		}
		// Only the record's fault is permanent: a statement error is the
		// database's, which someone can fix.
		if IsPermanent(c.err) != (c.want == ClassContent) {
			t.Errorf("%s: IsPermanent %v for class %s", c.name, IsPermanent(c.err), c.want)
		}
	}
}

// TestClassifyRealErrors: errors the real databases raise, one per class
// that can be provoked here.
func TestClassifyRealErrors(t *testing.T) {
	ctx := context.Background()
	want := func(t *testing.T, what string, err error, class ErrorClass) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		if got := Classify(err); got != class {
			t.Errorf("%s: %v (code %q) classified %s, want %s", what, err, ErrorCode(err), got, class)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		// CHECK, no such table and a held lock: TestIsPermanentRealErrors.
		path := filepath.Join(t.TempDir(), "t.db")
		s := openStore(t, Config{Driver: DriverSQLite, Path: path})
		w := s.(*sqliteStore).write
		_, err := w.Exec(`INSERT INTO trace_steps (id, trace_id, step_number, timestamp) VALUES ('s', 'nope', 1, '2026-01-01T00:00:00.000Z')`)
		want(t, "FOREIGN KEY", err, ClassContent)
		_, err = w.Exec(`CREATE TEMP TABLE m (k INTEGER PRIMARY KEY)`)
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.Exec(`INSERT INTO m VALUES ('not a number')`)
		want(t, "MISMATCH", err, ClassContent)
		_, err = w.Exec(`SELECT * FROM no_such_table`)
		want(t, "no such table", err, ClassStatement)
		if os.Geteuid() != 0 { // root writes read-only files
			ro := filepath.Join(t.TempDir(), "ro.db")
			rs := openStore(t, Config{Driver: DriverSQLite, Path: ro})
			_ = rs.Close()
			if err := os.Chmod(ro, 0o444); err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("sqlite", ro)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			_, err = db.Exec(`DELETE FROM traces`)
			want(t, "READONLY", err, ClassTransient)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		// CHECK, invalid JSON and a terminated session: TestIsPermanentRealErrors.
		s := openStore(t, Config{Driver: DriverPostgres, DSN: testutil.PostgresDSN(t)})
		db, _ := raw(s)
		_, err := db.Exec(`INSERT INTO traces (id, created_at, duration_ms) VALUES ('x', now(), 1e30)`)
		want(t, "22 out of range", err, ClassContent)
		// The case: a pipeline name too large for its btree index.
		_, err = db.Exec(`INSERT INTO traces (id, created_at, pipeline_name) VALUES ('x', now(), $1)`, randomText(3000))
		want(t, "54000 index row too large", err, ClassContent)
		if !strings.HasPrefix(ErrorCode(err), "54") {
			t.Errorf("code %q, want 54xxx", ErrorCode(err))
		}
		_, err = db.Exec(`SELECT * FROM no_such_table`)
		want(t, "42 undefined table", err, ClassStatement)
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `SET statement_timeout = 50`); err != nil {
			t.Fatal(err)
		}
		_, err = conn.ExecContext(ctx, `SELECT pg_sleep(2)`)
		want(t, "57014 statement timeout", err, ClassTransient)
	})
}

// randomText is n bytes of random letters: incompressible, so PostgreSQL
// cannot shrink it under its index limit.
func randomText(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rand.N(26))
	}
	return string(b)
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		cfg  Config
		keys []string // every key the error must name
	}{
		{Config{}, []string{"driver:"}},
		{Config{Driver: "mysql", Path: "x"}, []string{`driver: unknown driver "mysql"`}},
		{Config{Driver: DriverSQLite}, []string{"path:"}},
		{Config{Driver: DriverSQLite, Path: "a?b.db"}, []string{"path:"}},
		{Config{Driver: DriverPostgres}, []string{"dsn:"}},
		{Config{Driver: DriverPostgres, DSN: "x", Path: "y"}, []string{"path:"}},
		{Config{Driver: DriverSQLite, Path: "x", BusyTimeout: -1, MaxConns: -2}, []string{"busy_timeout:", "max_conns:"}},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		if err == nil {
			t.Errorf("Validate(%+v) = nil", c.cfg)
			continue
		}
		for _, k := range c.keys {
			if !strings.Contains(err.Error(), k) {
				t.Errorf("Validate(%+v) = %q, want it to name %q", c.cfg, err, k)
			}
		}
		if _, err := Open(context.Background(), c.cfg); err == nil {
			t.Errorf("Open(%+v) succeeded", c.cfg)
		}
	}
	if err := (Config{Driver: DriverSQLite, Path: "x.db"}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

// Open errors on files and directories the process cannot write. The
// checks need a user that file permissions apply to: as root the open runs
// in a copy of this test binary as "nobody".
const probeEnv = "ARGUS_STORAGE_OPEN_PROBE"

func TestOpenProbeHelper(t *testing.T) {
	p := os.Getenv(probeEnv)
	if p == "" {
		t.Skip("helper process for TestOpenSQLiteUnwritable")
	}
	s, err := Open(context.Background(), Config{Driver: DriverSQLite, Path: p})
	if err == nil {
		_ = s.Close()
		fmt.Println("OPEN-RESULT: ok")
		return
	}
	fmt.Println("OPEN-RESULT: " + strings.ReplaceAll(err.Error(), "\n", " "))
}

// openUnprivileged returns Open's error for path ("" when it succeeded).
func openUnprivileged(t *testing.T, bin, path string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		s, err := Open(context.Background(), Config{Driver: DriverSQLite, Path: path})
		if err != nil {
			return err.Error()
		}
		_ = s.Close()
		return ""
	}
	cmd := exec.Command(bin, "-test.run=^TestOpenProbeHelper$", "-test.v")
	cmd.Env = append(os.Environ(), probeEnv+"="+path)
	cmd.Dir = filepath.Dir(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, _ := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if r, ok := strings.CutPrefix(line, "OPEN-RESULT: "); ok {
			if r == "ok" {
				return ""
			}
			return r
		}
	}
	t.Fatalf("helper process gave no result:\n%s", out)
	return ""
}

func TestOpenSQLiteUnwritable(t *testing.T) {
	base, err := os.MkdirTemp("", "argus-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = filepath.Walk(base, func(p string, _ os.FileInfo, _ error) error { return os.Chmod(p, 0o755) })
		_ = os.RemoveAll(base)
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(base, 0o755))
	bin := os.Args[0]
	if os.Geteuid() == 0 {
		// The go test build directory is private to root: run a copy.
		bin = filepath.Join(base, "storage.test")
		data, err := os.ReadFile(os.Args[0])
		must(err)
		must(os.WriteFile(bin, data, 0o755))
	}
	makeDB := func(dir string) string {
		must(os.MkdirAll(dir, 0o777))
		must(os.Chmod(dir, 0o777))
		p := filepath.Join(dir, "traces.db")
		s := openStore(t, Config{Driver: DriverSQLite, Path: p})
		must(s.Close())
		return p
	}

	roFile := makeDB(filepath.Join(base, "rofile"))
	must(os.Chmod(roFile, 0o444))

	roDir := filepath.Join(base, "rodir")
	roDirFile := makeDB(roDir)
	must(os.Chmod(roDirFile, 0o666))
	must(os.Chmod(roDir, 0o555))

	okDir := filepath.Join(base, "fresh")
	must(os.Mkdir(okDir, 0o777))
	must(os.Chmod(okDir, 0o777))

	plainFile := filepath.Join(okDir, "plain")
	must(os.WriteFile(plainFile, []byte(strings.Repeat("not sqlite ", 1000)), 0o666))
	must(os.Chmod(plainFile, 0o666))

	cases := []struct {
		name, path string
		want       []string // substrings of the error; nil = must open
	}{
		{"read-only file", roFile, []string{roFile, "file not writable"}},
		{"directory not writable", roDirFile, []string{roDirFile, "directory", "not writable"}},
		{"cannot create directory", filepath.Join(roDir, "sub", "traces.db"), []string{"cannot create directory", filepath.Join(roDir, "sub")}},
		{"parent is a file", filepath.Join(plainFile, "traces.db"), []string{"cannot create directory", plainFile}},
		{"path is a directory", okDir, []string{okDir, "is a directory"}},
		{"not a database", plainFile, []string{plainFile, "not a database"}},
		{"creates a new file", filepath.Join(okDir, "a", "b", "traces.db"), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := openUnprivileged(t, bin, c.path)
			t.Logf("Open(%s): %s", c.path, msg)
			if c.want == nil {
				if msg != "" {
					t.Fatalf("Open(%s) failed: %s", c.path, msg)
				}
				return
			}
			if msg == "" {
				t.Fatalf("Open(%s) succeeded, want an error", c.path)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
}

// fakeAuthServer speaks just enough of the PostgreSQL protocol to ask for a
// password and reject it, as a server with password auth does. (The test
// cluster runs with trust auth, so it cannot reject a password itself.)
func fakeAuthServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				be := pgproto3.NewBackend(conn, conn)
				if _, err := be.ReceiveStartupMessage(); err != nil {
					return
				}
				be.Send(&pgproto3.AuthenticationCleartextPassword{})
				if err := be.Flush(); err != nil {
					return
				}
				_ = be.SetAuthType(pgproto3.AuthTypeCleartextPassword)
				if _, err := be.Receive(); err != nil {
					return
				}
				be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01",
					Message: `password authentication failed for user "argus"`})
				_ = be.Flush()
				_, _ = io.Copy(io.Discard, conn)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestOpenPostgresErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	addr := fakeAuthServer(t)
	_, err := Open(ctx, Config{Driver: DriverPostgres, DSN: "postgres://argus:wrong-s3cret@" + addr + "/argus?sslmode=disable"})
	if err == nil || !strings.Contains(err.Error(), "password authentication failed") || !strings.Contains(err.Error(), addr) {
		t.Errorf("wrong password: %v", err)
	}
	t.Logf("wrong password: %v", err)
	if err != nil && strings.Contains(err.Error(), "wrong-s3cret") {
		t.Errorf("error leaks the password: %v", err)
	}

	// Unreachable: a port nothing listens on.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	_ = ln.Close()
	_, err = Open(ctx, Config{Driver: DriverPostgres, DSN: "postgres://argus:pw@" + dead + "/argus?sslmode=disable&connect_timeout=5"})
	if err == nil || !strings.Contains(err.Error(), dead) {
		t.Errorf("unreachable host: %v", err)
	}
	t.Logf("unreachable: %v", err)
	if IsPermanent(err) {
		t.Errorf("connection refused classified permanent: %v", err)
	}

	if _, err := Open(ctx, Config{Driver: DriverPostgres, DSN: "postgres://argus:s3cret@host:notaport/db"}); err == nil ||
		strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad dsn: %v", err)
	}

	// A database that does not exist on the real server.
	dsn := testutil.PostgresDSN(t)
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	missing := strings.Replace(dsn, "/"+cfg.Database, "/argus_no_such_db", 1)
	_, err = Open(ctx, Config{Driver: DriverPostgres, DSN: missing})
	t.Logf("missing database: %v", err)
	if err == nil || !strings.Contains(err.Error(), "argus_no_such_db") {
		t.Errorf("missing database: %v", err)
	}
}

func TestIsPermanent(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("storage: write batch: %w", &pgconn.PgError{Code: code}) }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"invalid argument", invalidf("bad"), true},
		{"canceled", context.Canceled, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{"unique violation", pg("23505"), true},
		{"foreign key", pg("23503"), true},
		{"check", pg("23514"), true},
		{"invalid json", pg("22P02"), true},
		{"untranslatable character", pg("22P05"), true},
		{"undefined table: the database's state, fixable", pg("42P01"), false},
		{"serialization failure", pg("40001"), false},
		{"deadlock", pg("40P01"), false},
		{"admin shutdown", pg("57P01"), false},
		{"cannot connect now", pg("57P03"), false},
		{"connection failure", pg("08006"), false},
		{"too many connections", pg("53300"), false},
		{"disk full", pg("53100"), false},
		{"lock not available", pg("55P03"), false},
		{"auth failed", pg("28P01"), false},
		{"io error", pg("58030"), false},
		{"unknown error", errors.New("something"), false},
	}
	for _, c := range cases {
		if got := IsPermanent(c.err); got != c.want {
			t.Errorf("%s: IsPermanent(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// Real errors from real databases, classified.
func TestIsPermanentRealErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "t.db")
		s := openStore(t, Config{Driver: DriverSQLite, Path: path, BusyTimeout: 10 * time.Millisecond})
		db, _ := raw(s)
		w := s.(*sqliteStore).write
		_, err := w.Exec(`INSERT INTO traces (id, created_at, status) VALUES ('x', '2026-01-01T00:00:00.000Z', 'bogus')`)
		if err == nil || !IsPermanent(err) {
			t.Errorf("CHECK violation: %v, permanent %v", err, IsPermanent(err))
		}
		// A missing table is the database's state, which someone can fix.
		_, err = db.Exec(`SELECT * FROM no_such_table`)
		if err == nil || IsPermanent(err) {
			t.Errorf("missing table: %v, permanent %v", err, IsPermanent(err))
		}
		// Another process holds the write lock: SQLITE_BUSY until the deadline.
		other, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		conn, err := other.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
		tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		err = s.WriteBatch(tctx, batchOf(run{id: "busy", start: t0, steps: 1}))
		if err == nil || IsPermanent(err) {
			t.Errorf("locked database: %v, permanent %v", err, IsPermanent(err))
		}
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		// Once the lock is gone the same batch goes through.
		if err := s.WriteBatch(ctx, batchOf(run{id: "busy", start: t0, steps: 1})); err != nil {
			t.Errorf("after the lock was released: %v", err)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := testutil.PostgresDSN(t)
		s := openStore(t, Config{Driver: DriverPostgres, DSN: dsn})
		db, _ := raw(s)
		_, err := db.Exec(`INSERT INTO traces (id, created_at, status) VALUES ('x', now(), 'bogus')`)
		if err == nil || !IsPermanent(err) {
			t.Errorf("CHECK violation: %v, permanent %v", err, IsPermanent(err))
		}
		_, err = db.Exec(`INSERT INTO traces (id, created_at, metadata) VALUES ('x', now(), '{bad')`)
		if err == nil || !IsPermanent(err) {
			t.Errorf("invalid JSON: %v, permanent %v", err, IsPermanent(err))
		}
		// The administrator terminates the session mid-use.
		victim, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer victim.Close(ctx)
		pid := victim.PgConn().PID()
		if _, err := db.Exec(`SELECT pg_terminate_backend($1)`, pid); err != nil {
			t.Fatal(err)
		}
		var one int
		err = victim.QueryRow(ctx, "SELECT 1").Scan(&one)
		if err == nil || IsPermanent(err) {
			t.Errorf("terminated session: %v, permanent %v", err, IsPermanent(err))
		}
	})
}

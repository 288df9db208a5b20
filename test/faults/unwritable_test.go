package faults

import (
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// nobodyEnv prepares a run as user nobody (tests run as root, for whom no
// file is read-only): a world-readable base directory with a copy of the
// binary (the build directory is not world-readable) and a data directory
// nobody owns, for the queue and the config.
type nobodyEnv struct {
	base string
	data string
	bin  string
	cred *syscall.Credential
}

func nobody(t *testing.T) *nobodyEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the collector as user nobody")
	}
	u, err := user.Lookup("nobody")
	require.NoError(t, err)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	base, err := os.MkdirTemp("", "argus-nobody-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))

	e := &nobodyEnv{base: base, data: filepath.Join(base, "data"), bin: filepath.Join(base, "otelcol-argus"),
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	require.NoError(t, os.Mkdir(e.data, 0o755))
	require.NoError(t, os.Chown(e.data, uid, gid))
	src, err := os.Open(testutil.CollectorBinary(t, "fault tests"))
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.OpenFile(e.bin, os.O_CREATE|os.O_WRONLY, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
	require.NoError(t, dst.Close())
	return e
}

func (e *nobodyEnv) setup(dbPath string) setup {
	return setup{dir: e.data, exporter: sqliteExporter(dbPath), cred: e.cred, bin: e.bin}
}

// requireStartFails checks the collector exits non-zero on its own, with a
// message naming the problem, and did not crash.
func requireStartFails(t *testing.T, c *collector, want ...string) {
	t.Helper()
	code := c.exitCode(t, 60*time.Second)
	logs := c.logs.String()
	require.NotZero(t, code, "exit code; logs:\n%s", tail(logs, 3000))
	// Either instance may start first: they share the database.
	require.Regexp(t, `failed to start "argus(/audit)?" exporter`, logs)
	for _, w := range want {
		require.Contains(t, logs, w)
	}
	require.NotContains(t, logs, "panic")
	t.Logf("exit %d: %s", code, errorLine(logs))
}

// errorLine is the collector's final "Error: ..." line.
func errorLine(logs string) string {
	if i := strings.LastIndex(logs, "Error: "); i >= 0 {
		return strings.TrimSpace(logs[i:])
	}
	return ""
}

// TestReadOnlyDatabaseFile: the SQLite file exists but the collector's user
// may not write it.
func TestReadOnlyDatabaseFile(t *testing.T) {
	e := nobody(t)
	dbDir := filepath.Join(e.data, "db") // writable by nobody
	require.NoError(t, os.Mkdir(dbDir, 0o755))
	require.NoError(t, os.Chown(dbDir, int(e.cred.Uid), int(e.cred.Gid)))
	path := filepath.Join(dbDir, "traces.db")
	require.NoError(t, os.WriteFile(path, nil, 0o644)) // root's, read-only for nobody

	c := launch(t, e.setup(path))
	requireStartFails(t, c,
		fmt.Sprintf("cannot open sqlite database %q for writing", path),
		"file not writable", "permission denied")
}

// TestDatabaseDirectoryNotWritable: the directory of the SQLite path exists
// and the collector's user may not create files in it.
func TestDatabaseDirectoryNotWritable(t *testing.T) {
	e := nobody(t)
	dbDir := filepath.Join(e.base, "readonly") // root's, 0755
	require.NoError(t, os.Mkdir(dbDir, 0o755))
	path := filepath.Join(dbDir, "traces.db")

	c := launch(t, e.setup(path))
	requireStartFails(t, c,
		fmt.Sprintf("cannot open sqlite database %q for writing", path),
		fmt.Sprintf("directory %q not writable", dbDir))
	_, err := os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestDatabaseParentNotCreatable: the directory of the SQLite path does not
// exist and cannot be created.
func TestDatabaseParentNotCreatable(t *testing.T) {
	e := nobody(t)
	path := filepath.Join(e.base, "readonly", "deeper", "traces.db")
	require.NoError(t, os.Mkdir(filepath.Join(e.base, "readonly"), 0o755))
	c := launch(t, e.setup(path))
	requireStartFails(t, c, "cannot create directory", filepath.Dir(path), "permission denied")
}

// TestPostgresNotListening: a DSN pointing at a port where nothing listens.
func TestPostgresNotListening(t *testing.T) {
	port := testutil.FreePort(t) // closed again: nothing listens there
	c := launch(t, setup{dir: t.TempDir(), exporter: postgresExporter(
		fmt.Sprintf("postgres://argus:secret-pw@127.0.0.1:%d/argus?sslmode=disable&connect_timeout=5", port))})
	requireStartFails(t, c,
		fmt.Sprintf("cannot connect to postgres at 127.0.0.1:%d", port), "connection refused")
	require.NotContains(t, c.logs.String(), "secret-pw", "the password is never printed")
}

// TestReadOnlyDatabaseRecovers: one start on a database made read-only
// (chmod 444, as a non-root user) fails with a clear error; once the file
// is writable again the next start works. SQLite creates its -wal and -shm
// files with the database's mode, so that start left read-only ones
// behind, and every later start failed with "attempt to write a readonly
// database" until they were deleted by hand.
func TestReadOnlyDatabaseRecovers(t *testing.T) {
	e := nobody(t)
	dbDir := filepath.Join(e.data, "db")
	require.NoError(t, os.Mkdir(dbDir, 0o755))
	require.NoError(t, os.Chown(dbDir, int(e.cred.Uid), int(e.cred.Gid)))
	path := filepath.Join(dbDir, "traces.db")

	c := startCollector(t, e.setup(path)) // creates the database, owned by nobody
	require.True(t, c.stop(30*time.Second))
	require.NoError(t, os.Chmod(path, 0o444))

	c = launch(t, e.setup(path))
	requireStartFails(t, c, fmt.Sprintf("cannot open sqlite database %q for writing", path))
	for _, side := range []string{path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(side); err == nil {
			t.Logf("%s left with mode %v", filepath.Base(side), fi.Mode().Perm())
		}
	}

	require.NoError(t, os.Chmod(path, 0o644))
	c = startCollector(t, e.setup(path))
	require.True(t, c.healthy())
	for _, side := range []string{path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(side); err == nil {
			require.NotZero(t, fi.Mode().Perm()&0o200, "%s is writable again", side)
		}
	}
}

package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// pgCluster is a throwaway PostgreSQL cluster of this test alone (the shared
// test server must not be stopped), started with scripts/testpg.sh.
type pgCluster struct {
	port int
	dir  string
	dsn  string
}

// ownPostgres starts a cluster on a free port. It needs the PostgreSQL
// server packages, like the shared one: without ARGUS_TEST_POSTGRES_DSN
// (no server set up) the test is skipped, or fails under make test.
func ownPostgres(t *testing.T) *pgCluster {
	t.Helper()
	if os.Getenv("ARGUS_TEST_POSTGRES_DSN") == "" {
		if os.Getenv("ARGUS_REQUIRE_POSTGRES") == "1" {
			t.Fatal("ARGUS_TEST_POSTGRES_DSN is not set but ARGUS_REQUIRE_POSTGRES=1")
		}
		t.Skip("PostgreSQL fault tests need the test server (make test sets ARGUS_TEST_POSTGRES_DSN)")
	}
	port := testutil.FreePort(t)
	c := &pgCluster{port: port, dir: fmt.Sprintf("/tmp/argus-pgfault-%d", port)}
	c.dsn = strings.TrimSpace(c.script(t, "start"))
	require.Contains(t, c.dsn, fmt.Sprint(port))
	t.Cleanup(func() {
		c.script(t, "stop")
		_ = os.RemoveAll(c.dir)
	})
	return c
}

func (c *pgCluster) script(t *testing.T, verb string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(testutil.ModuleRoot(t), "scripts", "testpg.sh"), verb)
	cmd.Env = append(os.Environ(), fmt.Sprintf("ARGUS_PGPORT=%d", c.port), "ARGUS_PGDIR="+c.dir)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("testpg.sh %s: %v\n%s%s", verb, err, out, stderr)
	}
	return string(out)
}

// psql runs SQL as the superuser over the cluster's socket directory.
func (c *pgCluster) psql(t *testing.T, sql string) {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/psql")
	require.NotEmpty(t, bins)
	out, err := exec.Command(bins[0], "-h", "127.0.0.1", "-p", fmt.Sprint(c.port), "-U", "postgres", "-d", "argus",
		"-v", "ON_ERROR_STOP=1", "-qc", sql).CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// TestPostgresRestartMidLoad: the database goes away for a few seconds
// while traces keep arriving; the exporter retries inside the detector's
// waiting forwards (the spans stay in the write-ahead log meanwhile) and,
// once PostgreSQL is back, every acknowledged trace is stored once.
func TestPostgresRestartMidLoad(t *testing.T) {
	pg := ownPostgres(t)
	s := setup{
		dir: t.TempDir(),
		exporter: postgresExporter(pg.dsn) + `
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 1s
      max_elapsed_time: 0s`,
		detector: "max_run_duration: 1s\n    root_quiet_period: 200ms\n    tick: 100ms",
	}
	c := startCollector(t, s)
	client := dial(t, c.grpcAddr)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, wait := load(ctx, t, client, 2, 21)
	time.Sleep(1500 * time.Millisecond)
	pg.script(t, "stop")
	stoppedAt := time.Now()
	time.Sleep(3 * time.Second) // traces keep arriving; writes fail and are retried
	pg.script(t, "start")
	t.Logf("PostgreSQL was down for %s", time.Since(stoppedAt).Round(100*time.Millisecond))
	time.Sleep(1500 * time.Millisecond)
	cancel()
	wait()
	acked, failing, _ := l.snapshot()
	require.Greater(t, len(acked), 50)
	t.Logf("acknowledged %d traces", len(acked))

	require.True(t, c.running(), "the collector survived the outage")
	require.Contains(t, c.logs.String(), "Exporting failed. Will retry", "writes failed during the outage")
	db := openPostgres(t, pg.dsn)
	requireAllStored(t, db, acked, 90*time.Second)
	requireDetected(t, db, failing)
	require.True(t, c.stop(30*time.Second))
}

// TestPostgresWrongPassword: a role with password authentication and a DSN
// with the wrong password: the collector says so and exits non-zero.
func TestPostgresWrongPassword(t *testing.T) {
	pg := ownPostgres(t)
	pg.psql(t, "CREATE ROLE argus_pw LOGIN PASSWORD 'right-password'")
	hba := filepath.Join(pg.dir, "pg_hba.conf")
	old, err := os.ReadFile(hba)
	require.NoError(t, err)
	// First matching line wins: this role must give a password.
	require.NoError(t, os.WriteFile(hba, append([]byte("host all argus_pw 127.0.0.1/32 scram-sha-256\n"), old...), 0o600))
	pg.psql(t, "SELECT pg_reload_conf()")

	s := setup{dir: t.TempDir(), exporter: postgresExporter(
		fmt.Sprintf("postgres://argus_pw:wrong-password@127.0.0.1:%d/argus?sslmode=disable", pg.port))}
	c := launch(t, s)
	require.NotZero(t, c.exitCode(t, 60*time.Second))
	logs := c.logs.String()
	require.Regexp(t, `failed to start "argus(/audit)?" exporter`, logs)
	require.Contains(t, logs, `cannot connect to postgres at 127.0.0.1:`)
	require.Contains(t, logs, `password authentication failed for user "argus_pw"`)
	require.NotContains(t, logs, "wrong-password", "the password is never printed")

	// The right password works, so the failure above was the password.
	s.exporter = postgresExporter(fmt.Sprintf("postgres://argus_pw:right-password@127.0.0.1:%d/argus?sslmode=disable", pg.port))
	pg.psql(t, "GRANT ALL ON SCHEMA public TO argus_pw")
	c2 := startCollector(t, s)
	require.True(t, c2.stop(30*time.Second))
}

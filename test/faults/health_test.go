package faults

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// startDefaultConfig runs the repository's config.yaml as make run does
// (with the health_check component-status feature gate) in a directory of
// its own, env choosing the database (ARGUS_DB_PATH, or ARGUS_DRIVER and
// ARGUS_DSN), and waits until it is healthy (argusapi on c.apiAddr). The
// default config opens the database three times in one process (argusapi,
// the argus exporter, argus/audit).
func startDefaultConfig(t *testing.T, env ...string) *collector {
	t.Helper()
	dir := t.TempDir()
	port := func() string { return fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)) }
	c := &collector{grpcAddr: port(), httpAddr: port(), healthAddr: port(), apiAddr: port()}
	c.cmd = exec.Command(testutil.CollectorBinary(t, "fault tests"), "--config", filepath.Join(testutil.ModuleRoot(t), "config.yaml"),
		"--feature-gates=+extension.healthcheck.useComponentStatus",
		// Its own metrics would bind :8888, which other collectors on the
		// machine may hold.
		"--set=service::telemetry::metrics::level=none")
	c.cmd.Dir = dir
	c.cmd.Env = append(os.Environ(), "ARGUS_OTLP_GRPC_ENDPOINT="+c.grpcAddr, "ARGUS_OTLP_HTTP_ENDPOINT="+c.httpAddr,
		"ARGUS_HEALTH_ENDPOINT="+c.healthAddr, "ARGUS_API_ENDPOINT="+c.apiAddr,
		"ARGUS_QUEUE_DIR="+filepath.Join(dir, "queue"), "ARGUS_DETECTOR_DIR="+filepath.Join(dir, "detector"),
		"ARGUS_DECISION_WAIT=1s", "ARGUS_HEALTH_RECOVERY=1s", "ARGUS_MEMORY_LIMIT_MIB=512", "ARGUS_MEMORY_SPIKE_MIB=128")
	c.cmd.Env = append(c.cmd.Env, env...)
	c.run(t)
	c.waitHealthy(t)
	return c
}

// TestDefaultConfigReportsTheWritePath runs the repository's config.yaml
// on its default SQLite file and on PostgreSQL, and has another process
// lock the database (SQLite) or the traces table (PostgreSQL) while a run
// arrives: the health_check extension and argusapi's /health both turn bad
// (the argus exporter's status is RecoverableError; /health names the
// failing writes, the component and the write-ahead log's backlog), and
// both recover once the lock is gone and the run is stored. On SQLite this
// test once read "database disk image is malformed": the collector held no
// lock on its file then, so the lock's close deleted the -wal it was using
// (see store/writable_unix.go); the file is checked afterwards.
func TestDefaultConfigReportsTheWritePath(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "traces.db")
		c := startDefaultConfig(t, "ARGUS_DB_PATH="+db)
		side := testutil.SQLiteSidecars(t, db)
		id := reportsTheWritePath(t, c, func() func() { return testutil.LockSQLite(t, db) })
		require.NoError(t, side.Changed(), "the collector's files")
		require.NotContains(t, c.logs.String(), "malformed")
		// Read by another process while the collector runs, and after it stopped.
		stored := func() error {
			return withConn(db, "mode=ro&", func(conn *sql.DB) error {
				var n int
				if err := conn.QueryRow("SELECT count(*) FROM traces WHERE id = ?", id).Scan(&n); err != nil || n == 1 {
					return err
				}
				return fmt.Errorf("%d traces rows of %s, want 1", n, id)
			})
		}
		require.NoError(t, stored())
		require.True(t, c.stop(30*time.Second))
		requireIntact(t, db)
		require.NoError(t, stored())
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := testutil.PostgresDSN(t)
		c := startDefaultConfig(t, "ARGUS_DRIVER=postgres", "ARGUS_DSN="+dsn)
		reportsTheWritePath(t, c, func() func() { return testutil.LockPostgresTable(t, dsn, "traces") })
	})
}

// reportsTheWritePath holds lock while a run arrives and checks that both
// health reports turn bad and recover once it is released; it returns the
// run's trace id.
func reportsTheWritePath(t *testing.T, c *collector, lock func() (unlock func())) string {
	code, body := c.apiHealth(t)
	require.Equal(t, http.StatusOK, code, "%v", body)
	require.Equal(t, "ok", body["status"])

	unlock := lock()
	id := "a1000000000000000000000000000001"
	require.NoError(t, dial(t, c.grpcAddr).send(t.Context(), langgraphTrace(id, []string{"plan", "answer"}, nil)))
	require.Eventually(t, func() bool { return !c.healthy() }, 60*time.Second, 200*time.Millisecond,
		"health_check turns unhealthy while writes fail")
	code, body = c.apiHealth(t)
	require.Equal(t, http.StatusServiceUnavailable, code, "%v", body)
	require.Equal(t, "degraded", body["status"])
	require.Contains(t, body["components"], "exporter/argus")
	backlog := body["backlog"].(map[string]any)["argusdetector"].(map[string]any)
	require.Positive(t, backlog["records"])
	require.Positive(t, backlog["oldestAgeSeconds"])

	unlock()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + c.apiAddr + "/api/traces?traceId=" + id)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var page struct{ Total int }
		return json.NewDecoder(resp.Body).Decode(&page) == nil && page.Total == 1
	}, 60*time.Second, 200*time.Millisecond, "the run is stored once the lock is gone")
	require.Eventually(t, c.healthy, 30*time.Second, 200*time.Millisecond, "health_check recovers")
	c.waitAPIHealthy(t, 30*time.Second)
	return id
}

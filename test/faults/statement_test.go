package faults

import (
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// TestMissingTableHoldsAcknowledgedRuns runs the repository's config.yaml
// on SQLite and PostgreSQL and renames the trace_steps table away (a
// backup restored over the file, a table dropped by mistake, a migration
// run late) while runs arrive. Every run is acknowledged and none is lost:
// the write path reports degraded with the database's error, nothing is
// quarantined, and once the table is back every run is stored with all
// its steps and health recovers. Before, the "no such table" error was
// permanent: the exporter dropped the runs and the detector released them.
func TestMissingTableHoldsAcknowledgedRuns(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "traces.db")
		c := startDefaultConfig(t, "ARGUS_DB_PATH="+path)
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		require.NoError(t, err)
		defer db.Close()
		holdsRunsWhileStepsMissing(t, c, db, "?")
		require.True(t, c.stop(30*time.Second))
		requireIntact(t, path)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := testutil.PostgresDSN(t)
		c := startDefaultConfig(t, "ARGUS_DRIVER=postgres", "ARGUS_DSN="+dsn)
		holdsRunsWhileStepsMissing(t, c, openPostgres(t, dsn), "$1")
	})
}

// holdsRunsWhileStepsMissing renames trace_steps away through db (ph is
// its placeholder) while runs arrive, and back.
func holdsRunsWhileStepsMissing(t *testing.T, c *collector, db *sql.DB, ph string) {
	client := dial(t, c.grpcAddr)
	nodes := []string{"plan", "search", "answer"}
	steps := func(id string) int {
		return count(t, db, "SELECT count(*) FROM trace_steps WHERE trace_id = "+ph, id)
	}
	first := "c1000000000000000000000000000001"
	require.NoError(t, client.send(t.Context(), langgraphTrace(first, nodes, nil)))
	require.Eventually(t, func() bool { return steps(first) == len(nodes) }, 60*time.Second, 200*time.Millisecond,
		"a run is stored while the table is there")

	_, err := db.Exec("ALTER TABLE trace_steps RENAME TO trace_steps_away")
	require.NoError(t, err)
	renamed := true
	defer func() {
		if renamed {
			_, _ = db.Exec("ALTER TABLE trace_steps_away RENAME TO trace_steps")
		}
	}()
	var held []string
	for i := range 5 {
		id := fmt.Sprintf("c20000000000000000000000000000%02d", i)
		require.NoError(t, client.send(t.Context(), langgraphTrace(id, nodes, nil)), "run %d is acknowledged", i)
		held = append(held, id)
	}
	require.Eventually(t, func() bool { return !c.healthy() }, 60*time.Second, 200*time.Millisecond,
		"health_check turns unhealthy while the table is missing")
	code, body := c.apiHealth(t)
	require.Equal(t, http.StatusServiceUnavailable, code, "%v", body)
	require.Equal(t, "degraded", body["status"])
	require.Contains(t, fmt.Sprint(body), "trace_steps", "/health names the database's error")
	backlog := body["backlog"].(map[string]any)["argusdetector"].(map[string]any)
	require.Positive(t, backlog["records"], "the detector holds the runs")
	require.Zero(t, count(t, db, "SELECT count(*) FROM quarantine"), "a missing table is no row's fault")

	_, err = db.Exec("ALTER TABLE trace_steps_away RENAME TO trace_steps")
	require.NoError(t, err)
	renamed = false
	require.Eventually(t, func() bool {
		for _, id := range held {
			if steps(id) != len(nodes) {
				return false
			}
		}
		return true
	}, 90*time.Second, 200*time.Millisecond, "every acknowledged run is stored once the table is back")
	require.Eventually(t, c.healthy, 30*time.Second, 200*time.Millisecond, "health_check recovers")
	c.waitAPIHealthy(t, 30*time.Second)
	require.Zero(t, count(t, db, "SELECT count(*) FROM quarantine"))
	require.Equal(t, len(nodes), steps(first))
}

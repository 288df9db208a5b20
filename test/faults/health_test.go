package faults

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// TestDefaultConfigReportsTheWritePath runs the repository's config.yaml
// as make run does (with the health_check component-status feature gate),
// on PostgreSQL (ARGUS_DRIVER, ARGUS_DSN), and holds a lock on the traces
// table while a run arrives: the health_check extension and argusapi's
// /health both turn bad (the argus exporter's status is RecoverableError;
// /health names the failing writes, the component and the write-ahead
// log's backlog), and both recover once the lock is gone and the run is
// stored. (PostgreSQL, not SQLite: a SQLite lock held from the test
// process itself once left the collector reading "database disk image is
// malformed" under heavy machine load; see the issue #16 report.)
func TestDefaultConfigReportsTheWritePath(t *testing.T) {
	dir := t.TempDir()
	port := func() string { return fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)) }
	c := &collector{grpcAddr: port(), httpAddr: port(), healthAddr: port()}
	api := port()
	dsn := testutil.PostgresDSN(t)
	c.cmd = exec.Command(testutil.CollectorBinary(t, "fault tests"), "--config", filepath.Join(testutil.ModuleRoot(t), "config.yaml"),
		"--feature-gates=+extension.healthcheck.useComponentStatus",
		// Its own metrics would bind :8888, which other collectors on the
		// machine may hold.
		"--set=service::telemetry::metrics::level=none")
	c.cmd.Dir = dir
	c.cmd.Env = append(os.Environ(), "ARGUS_OTLP_GRPC_ENDPOINT="+c.grpcAddr, "ARGUS_OTLP_HTTP_ENDPOINT="+c.httpAddr,
		"ARGUS_HEALTH_ENDPOINT="+c.healthAddr, "ARGUS_API_ENDPOINT="+api, "ARGUS_DRIVER=postgres", "ARGUS_DSN="+dsn,
		"ARGUS_QUEUE_DIR="+filepath.Join(dir, "queue"), "ARGUS_DETECTOR_DIR="+filepath.Join(dir, "detector"),
		"ARGUS_DECISION_WAIT=1s", "ARGUS_HEALTH_RECOVERY=1s", "ARGUS_MEMORY_LIMIT_MIB=512", "ARGUS_MEMORY_SPIKE_MIB=128")
	c.run(t)
	c.waitHealthy(t)
	apiHealth := func() (int, map[string]any) {
		resp, err := http.Get("http://" + api + "/health")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var body map[string]any
		require.NoError(t, json.Unmarshal(b, &body), "%s", b)
		return resp.StatusCode, body
	}
	code, body := apiHealth()
	require.Equal(t, http.StatusOK, code, "%v", body)
	require.Equal(t, "ok", body["status"])

	unlock := testutil.LockPostgresTable(t, dsn, "traces")
	id := "a1000000000000000000000000000001"
	require.NoError(t, dial(t, c.grpcAddr).send(t.Context(), langgraphTrace(id, []string{"plan", "answer"}, nil)))
	require.Eventually(t, func() bool { return !c.healthy() }, 60*time.Second, 200*time.Millisecond,
		"health_check turns unhealthy while writes fail")
	code, body = apiHealth()
	require.Equal(t, http.StatusServiceUnavailable, code, "%v", body)
	require.Equal(t, "degraded", body["status"])
	require.Contains(t, body["components"], "exporter/argus")
	backlog := body["backlog"].(map[string]any)["argusdetector"].(map[string]any)
	require.Positive(t, backlog["records"])
	require.Positive(t, backlog["oldestAgeSeconds"])

	unlock()
	// Stored: read through the API (a second SQLite connection opened by
	// the test right after the lock's closed showed a stale view).
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + api + "/api/traces?traceId=" + id)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var page struct{ Total int }
		return json.NewDecoder(resp.Body).Decode(&page) == nil && page.Total == 1
	}, 60*time.Second, 200*time.Millisecond, "the run is stored once the lock is gone")
	require.Eventually(t, c.healthy, 30*time.Second, 200*time.Millisecond, "health_check recovers")
	require.Eventually(t, func() bool {
		code, body = apiHealth()
		return code == http.StatusOK && body["status"] == "ok"
	}, 30*time.Second, 200*time.Millisecond, "/health recovers: %v", body)
}

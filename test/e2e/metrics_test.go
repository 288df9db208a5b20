package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// TestMetricsPortIsOverridable: make run's config (the repository's
// config.yaml, the Makefile's flags) with the metrics port held by another
// program, as Jupyter holds 8888: the collector stops with "address already
// in use" on that port, starts with ARGUS_METRICS_PORT moved to a free one
// (and serves its metrics there), and starts with ARGUS_METRICS_LEVEL=none.
func TestMetricsPortIsOverridable(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer held.Close()
	heldPort := strconv.Itoa(held.Addr().(*net.TCPAddr).Port)

	type result struct {
		healthy bool
		logs    string
		metrics string
	}
	// run starts the collector with its metrics on port at level and
	// returns once it is healthy (with its metrics) or has stopped.
	run := func(t *testing.T, port, level string) result {
		dir := t.TempDir()
		health := freeAddr(t)
		cmd := exec.Command(testutil.CollectorBinary(t, "end-to-end tests"),
			"--config", filepath.Join(testutil.ModuleRoot(t), "config.yaml"),
			"--feature-gates=+extension.healthcheck.useComponentStatus")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "ARGUS_OTLP_GRPC_ENDPOINT="+freeAddr(t), "ARGUS_OTLP_HTTP_ENDPOINT="+freeAddr(t),
			"ARGUS_HEALTH_ENDPOINT="+health, "ARGUS_API_ENDPOINT="+freeAddr(t), "ARGUS_DB_PATH="+filepath.Join(dir, "traces.db"),
			"ARGUS_QUEUE_DIR="+filepath.Join(dir, "queue"), "ARGUS_DETECTOR_DIR="+filepath.Join(dir, "detector"),
			"ARGUS_METRICS_HOST=127.0.0.1", "ARGUS_METRICS_PORT="+port, "ARGUS_METRICS_LEVEL="+level)
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		require.NoError(t, cmd.Start())
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		defer func() {
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		}()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-exited:
				return result{logs: logs.String()}
			case <-time.After(100 * time.Millisecond):
			}
			resp, err := http.Get("http://" + health + "/")
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				continue
			}
			r := result{healthy: true}
			if level != "none" {
				resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://127.0.0.1:" + port + "/metrics")
				require.NoError(t, err)
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.NoError(t, err)
				r.metrics = string(b)
			}
			return r
		}
		t.Fatalf("the collector neither became healthy nor stopped; logs:\n%s", logs.String())
		return result{}
	}

	t.Run("held", func(t *testing.T) {
		r := run(t, heldPort, "normal")
		require.False(t, r.healthy, "the collector started though its metrics port %s is held", heldPort)
		require.Contains(t, r.logs, "127.0.0.1:"+heldPort)
		require.Contains(t, r.logs, "address already in use")
	})
	t.Run("moved", func(t *testing.T) {
		r := run(t, strconv.Itoa(testutil.FreePort(t)), "normal")
		require.True(t, r.healthy, "logs:\n%s", r.logs)
		// The collector's metric names, as without the readers section.
		require.Contains(t, r.metrics, `otelcol_exporter_queue_capacity{data_type="traces",exporter="argus"} 16`)
		require.Contains(t, r.metrics, "\notelcol_process_uptime ") // no _seconds_total
	})
	t.Run("off", func(t *testing.T) {
		r := run(t, heldPort, "none")
		require.True(t, r.healthy, "logs:\n%s", r.logs)
	})
}

// Package e2e runs the real ocb-built otelcol-argus binary (ARGUS_BINARY,
// set by `make test`) and talks to it the way users do: the OpenTelemetry Go
// SDK over OTLP gRPC and HTTP, then SQL against the database it wrote.
package e2e

import (
	"bytes"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// collector is one running otelcol-argus process.
type collector struct {
	cmd        *exec.Cmd
	dir        string
	grpcAddr   string
	httpAddr   string
	healthAddr string
	apiAddr    string // "" unless extra["api"] asked for the argusapi extension
	logs       *bytes.Buffer
}

// sqliteExporter is the database part of the argus exporter's YAML for SQLite.
func sqliteExporter(path string) string {
	return fmt.Sprintf("driver: sqlite\n    path: %s", path)
}

func postgresExporter(dsn string) string {
	return fmt.Sprintf("driver: postgres\n    dsn: %q", dsn)
}

// startCollector writes a config and starts the binary; it is stopped with
// SIGTERM when the test ends.
func startCollector(t *testing.T, exporter string, extra map[string]string) *collector {
	t.Helper()
	c := &collector{
		dir:        t.TempDir(),
		grpcAddr:   freeAddr(t),
		httpAddr:   freeAddr(t),
		healthAddr: freeAddr(t),
		logs:       &bytes.Buffer{},
	}
	detector := extra["detector"]
	if detector == "" {
		detector = "max_run_duration: 3s\n    root_quiet_period: 300ms"
	}
	// extra["api"] = "on": the argusapi extension (API and web UI) on the
	// exporter's database, on a free port.
	api, apiExt := "", ""
	if extra["api"] != "" {
		c.apiAddr = freeAddr(t)
		api = fmt.Sprintf("  argusapi:\n    endpoint: %s\n    %s\n", c.apiAddr, exporter)
		apiExt = ", argusapi"
	}
	// The shape config.yaml ships: the detector's write-ahead log is the
	// traces' durable copy (the exporter's queue in memory, waiting for the
	// write); audit logs go through argus/audit's persistent queue, on the
	// same database.
	cfg := fmt.Sprintf(`extensions:
  health_check:
    endpoint: %s
  file_storage/queue:
    directory: %s
    create_directory: true
  file_storage/detector:
    directory: %s
    create_directory: true
%sreceivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 512
    spike_limit_mib: 128
  argusdetector:
    %s
    wal:
      storage: file_storage/detector
    baselines:
      storage: file_storage/detector
exporters:
  argus:
    %s
    sending_queue:
      enabled: true
      wait_for_result: true
      queue_size: 16
      block_on_overflow: true
  argus/audit:
    %s
    sending_queue:
      enabled: true
      storage: file_storage/queue
      queue_size: 16
      block_on_overflow: true
service:
  extensions: [health_check, file_storage/queue, file_storage/detector%s]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, argusdetector]
      exporters: [argus]
    logs:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: [argus/audit]
`, c.healthAddr, filepath.Join(c.dir, "queue"), filepath.Join(c.dir, "detector"), api, c.grpcAddr, c.httpAddr, detector, exporter, exporter, apiExt)
	cfgPath := filepath.Join(c.dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	c.cmd = exec.Command(testutil.CollectorBinary(t, "end-to-end tests"), "--config", cfgPath)
	c.cmd.Dir = c.dir
	c.cmd.Stdout = c.logs
	c.cmd.Stderr = c.logs
	require.NoError(t, c.cmd.Start())
	t.Cleanup(func() { c.stop(t) })
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + c.healthAddr + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		if time.Now().After(deadline) || (c.cmd.ProcessState != nil) {
			t.Fatalf("collector did not become healthy; logs:\n%s", c.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits; the detector flushes pending traces on shutdown.
func (c *collector) stop(t *testing.T) {
	if c.cmd == nil || c.cmd.Process == nil || c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
		t.Errorf("collector did not stop within 30s of SIGTERM; logs:\n%s", c.logs.String())
	}
	if t.Failed() {
		t.Logf("collector logs:\n%s", tail(c.logs.String(), 8000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// waitRows polls a query until it returns want or the deadline passes.
func waitRows(t *testing.T, db *sql.DB, query string, want int, args ...any) {
	t.Helper()
	var got int
	require.Eventually(t, func() bool {
		if err := db.QueryRow(query, args...).Scan(&got); err != nil {
			return false
		}
		return got >= want
	}, 60*time.Second, 200*time.Millisecond, "query %q: got %d rows, want %d", query, got, want)
}

func openSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	require.Eventually(t, func() bool { _, err := os.Stat(path); return err == nil }, 30*time.Second, 100*time.Millisecond)
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func hasLine(s, sub string) bool { return strings.Contains(s, sub) }

// freeAddr is a loopback host:port nothing listened on a moment ago.
func freeAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
}

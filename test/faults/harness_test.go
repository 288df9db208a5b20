// Package faults runs the real otelcol-argus binary (ARGUS_BINARY, set by
// `make test`) through the failures an operator meets: the process killed,
// the database stopped, locked or not writable, a graceful stop with traces
// still buffered, and hostile input. Each test checks the database with SQL
// afterwards.
package faults

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	_ "modernc.org/sqlite"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// setup is one collector configuration, by default the shape config.yaml
// ships: the detector's write-ahead log (file_storage/detector) in front
// of the argus exporter's in-memory queue with wait_for_result, and the
// logs pipeline into argus/audit with its persistent queue
// (file_storage/queue) on the same database. dir holds the queue, the WAL
// and (by default) the SQLite file, so a restart on the same dir finds
// them.
type setup struct {
	dir string
	// exporter is the body of the argus and argus/audit exporter blocks
	// (driver, path/dsn, retry settings), indented by four spaces after the
	// first line.
	exporter string
	// detector is the body of the argusdetector block.
	detector string
	// metrics exposes the collector's own metrics on a Prometheus port.
	metrics bool
	// api adds the argusapi extension on the exporter's database, for its
	// /health (the write path: failures, refused rows, backlog).
	api bool
	// recvMiB raises the OTLP receivers' message limits (gRPC
	// max_recv_msg_size_mib and HTTP max_request_body_size); 0 keeps the defaults.
	recvMiB int
	// memLimitMiB is the memory_limiter's limit (default 512).
	memLimitMiB int
	// cred runs the process as another user; bin is then a copy of the
	// binary that user can execute (see nobody).
	cred *syscall.Credential
	bin  string
}

func (s setup) dbPath() string { return filepath.Join(s.dir, "traces.db") }

func sqliteExporter(path string) string {
	return fmt.Sprintf("driver: sqlite\n    path: %s", path)
}

func postgresExporter(dsn string) string {
	return fmt.Sprintf("driver: postgres\n    dsn: %q", dsn)
}

// collector is one running otelcol-argus process.
type collector struct {
	t           *testing.T
	cmd         *exec.Cmd
	grpcAddr    string
	httpAddr    string
	healthAddr  string
	metricsAddr string
	apiAddr     string
	logs        *lockedBuffer
	exited      chan struct{}
	waitErr     error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// config renders the collector YAML of s for the given ports.
func (s setup) config(grpcPort, httpPort, healthPort, metricsPort, apiPort int) string {
	detector := s.detector
	if detector == "" {
		detector = "max_run_duration: 2s\n    root_quiet_period: 200ms\n    tick: 100ms"
	}
	exporter := s.exporter
	if exporter == "" {
		exporter = sqliteExporter(s.dbPath())
	}
	mem := s.memLimitMiB
	if mem == 0 {
		mem = 512
	}
	grpcExtra, httpExtra := "", ""
	if s.recvMiB > 0 {
		grpcExtra = fmt.Sprintf("\n        max_recv_msg_size_mib: %d", s.recvMiB)
		httpExtra = fmt.Sprintf("\n        max_request_body_size: %d", s.recvMiB<<20)
	}
	telemetry := "metrics:\n      level: none"
	if s.metrics {
		telemetry = fmt.Sprintf(`metrics:
      level: detailed
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %d`, metricsPort)
	}
	api, apiExt := "", ""
	if s.api {
		api = fmt.Sprintf("\n  argusapi:\n    endpoint: 127.0.0.1:%d\n    %s", apiPort, exporter)
		apiExt = ", argusapi"
	}
	return fmt.Sprintf(`extensions:%s
  health_check:
    endpoint: 127.0.0.1:%d
  file_storage/queue:
    directory: %s
    create_directory: true
  file_storage/detector:
    directory: %s
    create_directory: true
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d%s
      http:
        endpoint: 127.0.0.1:%d%s
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: %d
    spike_limit_mib: %d
  argusdetector:
    %s
    wal:
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
    %s
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, argusdetector]
      exporters: [argus]
    logs:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: [argus/audit]
`, api, healthPort, filepath.Join(s.dir, "queue"), filepath.Join(s.dir, "detector"), grpcPort, grpcExtra, httpPort, httpExtra,
		mem, mem/4, detector, exporter, exporter, apiExt, telemetry)
}

// launch writes the config and starts the process without waiting for it.
func launch(t *testing.T, s setup) *collector {
	t.Helper()
	gp, hp, hc, mp, ap := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	c := &collector{
		grpcAddr:    fmt.Sprintf("127.0.0.1:%d", gp),
		httpAddr:    fmt.Sprintf("127.0.0.1:%d", hp),
		healthAddr:  fmt.Sprintf("127.0.0.1:%d", hc),
		metricsAddr: fmt.Sprintf("127.0.0.1:%d", mp),
		apiAddr:     fmt.Sprintf("127.0.0.1:%d", ap),
	}
	// The config lives in dir, so a process run as another user reads it.
	f, err := os.CreateTemp(s.dir, "config-*.yaml")
	require.NoError(t, err)
	_, err = f.WriteString(s.config(gp, hp, hc, mp, ap))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.Chmod(f.Name(), 0o644))
	bin := s.bin
	if bin == "" {
		bin = testutil.CollectorBinary(t, "fault tests")
	}
	c.cmd = exec.Command(bin, "--config", f.Name())
	c.cmd.Dir = s.dir
	if s.cred != nil {
		c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	c.run(t)
	return c
}

// run starts c.cmd, sends its output to c.logs, watches for its exit and
// stops it when the test ends.
func (c *collector) run(t *testing.T) {
	c.t, c.logs, c.exited = t, &lockedBuffer{}, make(chan struct{})
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	require.NoError(t, c.cmd.Start())
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.stop(30 * time.Second)
		if t.Failed() {
			t.Logf("collector logs (tail):\n%s", tail(c.logs.String(), 6000))
			// The whole log, for a failure the tail does not explain.
			if dir := os.Getenv("ARGUS_TEST_OUTPUT"); dir != "" {
				name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + fmt.Sprintf("-%d.log", c.cmd.Process.Pid)
				_ = os.WriteFile(filepath.Join(dir, "faults-"+name), []byte(c.logs.String()), 0o644)
			}
		}
	})
}

// startCollector launches s and waits until the health check answers 200.
func startCollector(t *testing.T, s setup) *collector {
	t.Helper()
	c := launch(t, s)
	c.waitHealthy(t)
	return c
}

// waitHealthy waits until the health check answers 200.
func (c *collector) waitHealthy(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !c.healthy() {
		select {
		case <-c.exited:
			t.Fatalf("collector exited before becoming healthy (%v); logs:\n%s", c.waitErr, tail(c.logs.String(), 6000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector not healthy after 60s; logs:\n%s", tail(c.logs.String(), 6000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *collector) healthy() bool {
	cl := http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get("http://" + c.healthAddr + "/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (c *collector) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *collector) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.exited
}

// stop sends SIGTERM and waits up to grace; it reports whether the process
// exited in time (it is killed otherwise).
func (c *collector) stop(grace time.Duration) bool {
	if !c.running() {
		return true
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return true
	case <-time.After(grace):
		c.kill()
		return false
	}
}

// exitCode waits for the process to exit by itself and returns its code.
func (c *collector) exitCode(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-c.exited:
	case <-time.After(within):
		t.Fatalf("collector still running after %s; logs:\n%s", within, tail(c.logs.String(), 6000))
	}
	return c.cmd.ProcessState.ExitCode()
}

// vmHWM is the peak resident set size of the running process, in bytes.
func (c *collector) vmHWM(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// metric sums the samples of the collector's own Prometheus metrics whose
// name starts with prefix and whose labels contain every label given
// (`reason="panic"`).
func (c *collector) metric(t *testing.T, prefix string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + c.metricsAddr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, prefix) {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(line, l)
		}
		if !match {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		sum += v
	}
	require.NoError(t, sc.Err())
	return sum
}

// apiHealth is argusapi's GET /health (setup.api): its status code and body.
func (c *collector) apiHealth(t *testing.T) (int, map[string]any) {
	t.Helper()
	cl := http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get("http://" + c.apiAddr + "/health")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var body map[string]any
	require.NoError(t, json.Unmarshal(b, &body), "%s", b)
	return resp.StatusCode, body
}

// waitAPIHealthy waits up to within for argusapi's /health to answer 200
// "ok", and names its last answer if it does not.
func (c *collector) waitAPIHealthy(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, body := c.apiHealth(t)
		if code == http.StatusOK && body["status"] == "ok" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health did not recover in %s: %d %v", within, code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// otlpClient is a pdata OTLP/gRPC client: unlike an SDK exporter it tells
// the caller whether each request was acknowledged.
type otlpClient struct {
	conn *grpc.ClientConn
	ptraceotlp.GRPCClient
}

func dial(t *testing.T, addr string) *otlpClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(256<<20)))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return &otlpClient{conn: conn, GRPCClient: ptraceotlp.NewGRPCClient(conn)}
}

func (c *otlpClient) send(ctx context.Context, td ptrace.Traces) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := c.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
	return err
}

func openSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func openPostgres(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(query, args...).Scan(&n), query)
	return n
}

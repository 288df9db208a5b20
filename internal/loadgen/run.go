package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Config of one load run.
type Config struct {
	// Endpoint is the OTLP gRPC host:port. Only loopback addresses are
	// accepted: this is a load generator, not a remote client.
	Endpoint string
	Duration time.Duration
	// Workers send concurrently, each on its own connection (like several
	// instrumented processes).
	Workers int
	// Rate is the target in runs (traces) per second across all workers;
	// 0 sends as fast as the server acknowledges.
	Rate float64
	// TracesPerRequest bounds how many whole runs one export request holds;
	// MaxRequestBytes bounds its encoded size (a run larger than that is
	// sent alone). The collector's default gRPC limit is 4 MiB.
	TracesPerRequest int
	MaxRequestBytes  int
	// Timeout of one export request.
	Timeout time.Duration
	// Seed makes the generated runs reproducible (worker i uses stream i).
	Seed  uint64
	Shape Shape
}

// DefaultConfig is the load script's default run without an endpoint.
func DefaultConfig() Config {
	return Config{
		Duration:         30 * time.Second,
		Workers:          4,
		TracesPerRequest: 8,
		MaxRequestBytes:  3 << 20,
		Timeout:          30 * time.Second,
		Seed:             1,
		Shape:            DefaultShape(),
	}
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if err := checkLoopback(c.Endpoint); err != nil {
		errs = append(errs, err)
	}
	if c.Duration <= 0 || c.Duration > 24*time.Hour {
		errs = append(errs, fmt.Errorf("duration: must be within (0, 24h], got %s", c.Duration))
	}
	if c.Workers < 1 || c.Workers > 1024 {
		errs = append(errs, fmt.Errorf("workers: must be within [1, 1024], got %d", c.Workers))
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		errs = append(errs, fmt.Errorf("rate: must be a finite number >= 0, got %g", c.Rate))
	}
	if c.TracesPerRequest < 1 {
		errs = append(errs, fmt.Errorf("traces per request: must be positive, got %d", c.TracesPerRequest))
	}
	if c.MaxRequestBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("max request bytes: must be at least 1024, got %d", c.MaxRequestBytes))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive, got %s", c.Timeout))
	}
	if err := c.Shape.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// checkLoopback refuses any endpoint that is not a loopback address.
func checkLoopback(endpoint string) error {
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil || port == "" {
		return fmt.Errorf("endpoint: want host:port, got %q", endpoint)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("endpoint: %q is not a loopback address (127.0.0.0/8, ::1, localhost)", host)
	}
	return nil
}

// Summary is the outcome of a run, printed as JSON by argus-load.
type Summary struct {
	Endpoint   string  `json:"endpoint"`
	Workers    int     `json:"workers"`
	TargetRate float64 `json:"target_rate_traces_per_s"`
	Seed       uint64  `json:"seed"`
	Shape      Shape   `json:"shape"`

	StartUnixMs int64   `json:"start_unix_ms"`
	EndUnixMs   int64   `json:"end_unix_ms"`
	ElapsedS    float64 `json:"elapsed_s"`

	Requests        int64 `json:"requests"`
	RequestsOK      int64 `json:"requests_ok"`
	RequestsRefused int64 `json:"requests_refused"`
	RequestsFailed  int64 `json:"requests_failed"`
	BytesSent       int64 `json:"bytes_sent"`

	// Sent = Acked + Refused + Failed. Refused requests (gRPC Unavailable,
	// what the collector answers when memory_limiter refuses data) were
	// not accepted; Failed ones (any other error, timeouts included) have an
	// unknown outcome.
	Sent    Counts `json:"sent"`
	Acked   Counts `json:"acked"`
	Refused Counts `json:"refused"`
	Failed  Counts `json:"failed"`
	// PartialRejectedSpans are spans an OK response said it rejected.
	PartialRejectedSpans int64 `json:"partial_rejected_spans"`

	AckedSpansPerS     float64 `json:"acked_spans_per_s"`
	AckedNodeSpansPerS float64 `json:"acked_node_spans_per_s"`
	AckedTracesPerS    float64 `json:"acked_traces_per_s"`
	AckedMiBPerS       float64 `json:"acked_mib_per_s"`

	ErrorCodes map[string]int64 `json:"error_codes,omitempty"`
	FirstError string           `json:"first_error,omitempty"`
	LatencyMs  Latency          `json:"latency_ms"`
	// ClientCPUS is this process's user+system CPU: the client shares the
	// machine with the collector, so its cost is part of the picture.
	ClientCPUS float64 `json:"client_cpu_s"`
}

// Latency percentiles of OK requests, in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// workerResult is what one worker counted; merged at the end (no shared
// counters on the hot path).
type workerResult struct {
	requests, ok, refused, failed, bytes int64
	sent, acked, refusedC, failedC       Counts
	partialRejected                      int64
	codes                                map[string]int64
	firstErr                             string
	latencies                            []float64 // ms of OK requests, bounded by sampling
}

// maxLatencySamples bounds each worker's latency memory; beyond it every
// other sample is dropped and the sampling step doubles.
const maxLatencySamples = 1 << 14

// Run sends load until cfg.Duration has passed or ctx is cancelled. A
// request in flight at the end is waited for (up to cfg.Timeout), so every
// request sent is counted as acked, refused or failed.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var before syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)

	conns := make([]*grpc.ClientConn, cfg.Workers)
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	for i := range conns {
		c, err := grpc.NewClient(cfg.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, fmt.Errorf("endpoint %s: %w", cfg.Endpoint, err)
		}
		conns[i] = c
	}
	connect(ctx, conns, cfg.Timeout)

	var p *pacer
	if cfg.Rate > 0 {
		p = &pacer{interval: time.Duration(float64(time.Second) / cfg.Rate)}
	}
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	results := make([]workerResult, cfg.Workers)
	var wg sync.WaitGroup
	for i := 0; i < cfg.Workers; i++ {
		gen, err := NewGenerator(cfg.Shape, cfg.Seed, uint64(i)+1)
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = work(ctx, cfg, gen, ptraceotlp.NewGRPCClient(conns[i]), p, deadline)
		}()
	}
	wg.Wait()
	end := time.Now()

	var after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	return summarize(cfg, results, start, end, cpuSeconds(after)-cpuSeconds(before)), nil
}

// connect opens the connections before the run's clock starts: dialing is
// no part of the load, and a run of a second on a busy machine lost most of
// its slots to it (a first export of 1 s). An endpoint that does not answer
// within timeout is left to the exports, which count it failed.
func connect(ctx context.Context, conns []*grpc.ClientConn, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, c := range conns {
		c.Connect()
	}
	for _, c := range conns {
		for s := c.GetState(); s != connectivity.Ready; s = c.GetState() {
			if !c.WaitForStateChange(ctx, s) {
				return
			}
		}
	}
}

func cpuSeconds(r syscall.Rusage) float64 {
	return float64(r.Utime.Sec+r.Stime.Sec) + float64(r.Utime.Usec+r.Stime.Usec)/1e6
}

// pacer hands out send times at a fixed interval across workers. A worker
// that falls behind does not earn a burst later.
type pacer struct {
	mu       sync.Mutex
	next     time.Time
	interval time.Duration
}

// wait blocks until the slot for n runs; false when that slot is past the
// deadline or ctx ends first.
func (p *pacer) wait(ctx context.Context, n int, deadline time.Time) bool {
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	at := p.next
	p.next = p.next.Add(time.Duration(n) * p.interval)
	p.mu.Unlock()
	if !at.Before(deadline) {
		return false
	}
	return sleep(ctx, time.Until(at))
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// pendingRun is a generated run waiting for room in a request.
type pendingRun struct {
	td     ptrace.Traces
	counts Counts
	size   int
}

func work(ctx context.Context, cfg Config, gen *Generator, client ptraceotlp.GRPCClient, p *pacer, deadline time.Time) workerResult {
	r := workerResult{codes: map[string]int64{}}
	var sizer ptrace.ProtoMarshaler
	var pending *pendingRun
	sampleEvery, seen := 1, 0
	backoff := time.Duration(0)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		// Fill a request with whole runs up to the count and byte bounds.
		req, spans := gen.NewRequest()
		var c Counts
		size := 0
		for int(c.Traces) < cfg.TracesPerRequest {
			if pending == nil {
				td, ss := gen.NewRequest()
				rc := gen.AddRun(ss, time.Now())
				pending = &pendingRun{td: td, counts: rc, size: sizer.TracesSize(td)}
			}
			if c.Traces > 0 && size+pending.size > cfg.MaxRequestBytes {
				break
			}
			pending.td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().MoveAndAppendTo(spans)
			c.add(pending.counts)
			size += pending.size
			pending = nil
		}
		if p != nil && !p.wait(ctx, int(c.Traces), deadline) {
			break
		}

		r.requests++
		r.bytes += int64(size)
		r.sent.add(c)
		rctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
		t0 := time.Now()
		resp, err := client.Export(rctx, ptraceotlp.NewExportRequestFromTraces(req))
		took := time.Since(t0)
		cancel()
		if err == nil {
			r.ok++
			r.acked.add(c)
			r.partialRejected += resp.PartialSuccess().RejectedSpans()
			seen++
			if seen%sampleEvery == 0 {
				r.latencies = append(r.latencies, float64(took.Microseconds())/1000)
				if len(r.latencies) >= maxLatencySamples {
					r.latencies = halve(r.latencies)
					sampleEvery *= 2
				}
			}
			backoff = 0
			continue
		}
		code := status.Code(err)
		r.codes[code.String()]++
		if r.firstErr == "" {
			r.firstErr = err.Error()
		}
		if code == codes.Unavailable {
			r.refused++
			r.refusedC.add(c)
		} else {
			r.failed++
			r.failedC.add(c)
		}
		// Back off like an SDK exporter does on a retryable error, then go
		// on with new runs (the refused ones are counted, not resent).
		backoff = min(max(2*backoff, 20*time.Millisecond), time.Second)
		if !sleep(ctx, backoff/2+time.Duration(gen.rng.Int64N(int64(backoff/2)))) {
			break
		}
	}
	return r
}

func halve(s []float64) []float64 {
	out := s[:0]
	for i := 0; i < len(s); i += 2 {
		out = append(out, s[i])
	}
	return out
}

func summarize(cfg Config, results []workerResult, start, end time.Time, clientCPU float64) *Summary {
	s := &Summary{
		Endpoint:    cfg.Endpoint,
		Workers:     cfg.Workers,
		TargetRate:  cfg.Rate,
		Seed:        cfg.Seed,
		Shape:       cfg.Shape,
		StartUnixMs: start.UnixMilli(),
		EndUnixMs:   end.UnixMilli(),
		ElapsedS:    end.Sub(start).Seconds(),
		ErrorCodes:  map[string]int64{},
		ClientCPUS:  clientCPU,
	}
	var lat []float64
	for _, r := range results {
		s.Requests += r.requests
		s.RequestsOK += r.ok
		s.RequestsRefused += r.refused
		s.RequestsFailed += r.failed
		s.BytesSent += r.bytes
		s.Sent.add(r.sent)
		s.Acked.add(r.acked)
		s.Refused.add(r.refusedC)
		s.Failed.add(r.failedC)
		s.PartialRejectedSpans += r.partialRejected
		for k, v := range r.codes {
			s.ErrorCodes[k] += v
		}
		if s.FirstError == "" {
			s.FirstError = r.firstErr
		}
		lat = append(lat, r.latencies...)
	}
	if s.ElapsedS > 0 {
		s.AckedSpansPerS = float64(s.Acked.Spans) / s.ElapsedS
		s.AckedNodeSpansPerS = float64(s.Acked.NodeSpans) / s.ElapsedS
		s.AckedTracesPerS = float64(s.Acked.Traces) / s.ElapsedS
		if s.Sent.Spans > 0 {
			// Bytes of acknowledged requests, pro rata by spans.
			s.AckedMiBPerS = float64(s.BytesSent) * float64(s.Acked.Spans) / float64(s.Sent.Spans) / (1 << 20) / s.ElapsedS
		}
	}
	s.LatencyMs = percentiles(lat)
	return s
}

func percentiles(v []float64) Latency {
	if len(v) == 0 {
		return Latency{}
	}
	sort.Float64s(v)
	at := func(q float64) float64 { return v[min(len(v)-1, int(q*float64(len(v))))] }
	return Latency{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: v[len(v)-1]}
}

package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/store"
)

// The generated runs must map, through the same mapping the collector uses,
// to exactly the steps the client counts: the load script's no-loss check
// compares those counts with stored rows.
func TestGeneratedRunsMapToCountedSteps(t *testing.T) {
	shape := Shape{NodesMin: 1, NodesMax: 30, StateMin: 1 << 10, StateMax: 20 << 10, FailShare: 0.3, Service: "svc"}
	g, err := NewGenerator(shape, 7, 1)
	require.NoError(t, err)
	td, spans := g.NewRequest()
	var total Counts
	perTrace := map[string]Counts{}
	for i := 0; i < 60; i++ {
		c := g.AddRun(spans, time.Now())
		id := spans.At(spans.Len() - 1).TraceID()
		perTrace[fmt.Sprintf("%x", id[:])] = c
		total.add(c)
	}
	require.EqualValues(t, td.SpanCount(), total.Spans)
	require.Greater(t, total.FailingTraces, int64(5), "a 30%% fail share over 60 runs yields failing runs")
	require.Less(t, total.FailingTraces, total.Traces)

	runs := agentrun.MapTraces(td, agentrun.Options{})
	require.Len(t, runs, 60)
	for _, r := range runs {
		c, ok := perTrace[r.TraceID]
		require.True(t, ok, "unknown trace %s", r.TraceID)
		require.Equal(t, "LangGraph", r.PipelineName)
		require.Equal(t, int(c.NodeSpans), len(r.Steps), "trace %s: one step per node span", r.TraceID)
		require.Equal(t, int(c.Spans), r.SpanCount)
		require.Equal(t, c.FailingTraces == 1, r.Failed)
		for i, s := range r.Steps {
			require.Equal(t, i+1, s.LangGraphStep)
			require.Equal(t, "openinference", s.Convention)
			require.False(t, s.InputMalformed || s.OutputMalformed, "states are valid JSON")
			in, _ := json.Marshal(s.Input)
			require.GreaterOrEqual(t, len(in), shape.StateMin/2, "input state of %s", s.Node)
			require.LessOrEqual(t, len(in), shape.StateMax+2048, "input state of %s", s.Node)
			if llmNodes[s.Node] {
				require.NotEmpty(t, s.Calls, "%s has its LLM call nested", s.Node)
			}
		}
		last := r.Steps[len(r.Steps)-1]
		if c.FailingTraces == 1 {
			require.Equal(t, agentrun.StatusError, last.Status)
			require.False(t, last.HasOutput, "the node that threw has no output")
			require.NotEmpty(t, last.Exceptions)
			if len(r.Steps) >= 3 { // retrieve comes back empty, then the last node throws
				require.Equal(t, "retrieve", r.Steps[1].Node)
				require.Equal(t, map[string]any{"documents": []any{}}, r.Steps[1].Output, "the silent failure: no documents")
			}
		} else {
			require.True(t, last.HasOutput)
			for _, s := range r.Steps {
				out, _ := json.Marshal(s.Output)
				require.GreaterOrEqual(t, len(out), shape.StateMin/2, "output of %s", s.Node)
			}
		}
	}
}

func TestGeneratorIsReproducible(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	gen := func(seed, stream uint64) []byte {
		g, err := NewGenerator(DefaultShape(), seed, stream)
		require.NoError(t, err)
		td, spans := g.NewRequest()
		for i := 0; i < 5; i++ {
			g.AddRun(spans, now)
		}
		var m ptrace.ProtoMarshaler
		b, err := m.MarshalTraces(td)
		require.NoError(t, err)
		return b
	}
	require.Equal(t, gen(3, 1), gen(3, 1))
	require.NotEqual(t, gen(3, 1), gen(3, 2), "workers use different streams")
	require.NotEqual(t, gen(3, 1), gen(4, 1))
}

func TestValidate(t *testing.T) {
	cfg := DefaultConfig()
	for _, ep := range []string{"127.0.0.1:4317", "localhost:1", "[::1]:4317", "127.8.9.10:4317"} {
		cfg.Endpoint = ep
		require.NoError(t, cfg.Validate(), ep)
	}
	for _, ep := range []string{"10.0.0.1:4317", "example.com:4317", "192.168.1.2:4317", "127.0.0.1", ""} {
		cfg.Endpoint = ep
		require.ErrorContains(t, cfg.Validate(), "endpoint", ep)
	}
	bad := DefaultConfig()
	bad.Endpoint = "127.0.0.1:1"
	bad.Workers, bad.Duration, bad.Rate = 0, 0, -1
	bad.Shape.NodesMin, bad.Shape.NodesMax = 5, 2
	bad.Shape.FailShare = 2
	err := bad.Validate()
	for _, want := range []string{"workers", "duration", "rate", "nodes", "fail share"} {
		require.ErrorContains(t, err, want)
	}
}

// server is a real OTLP gRPC server on loopback that refuses every third
// request the way the collector's otlp receiver answers a memory_limiter
// refusal (codes.Unavailable), and counts what it accepted.
type server struct {
	ptraceotlp.UnimplementedGRPCServer
	n             atomic.Int64
	mu            sync.Mutex
	spans, traces int64
	ids           map[string]bool
}

func (s *server) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	if s.n.Add(1)%3 == 0 {
		return ptraceotlp.NewExportResponse(), status.Error(codes.Unavailable, "data refused due to high memory usage")
	}
	td := req.Traces()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spans += int64(td.SpanCount())
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			sp := sss.At(j).Spans()
			for k := 0; k < sp.Len(); k++ {
				if sp.At(k).ParentSpanID().IsEmpty() {
					s.traces++
					s.ids[sp.At(k).TraceID().String()] = true
				}
			}
		}
	}
	return ptraceotlp.NewExportResponse(), nil
}

func TestRunCountsAckedAndRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gs := grpc.NewServer()
	srv := &server{ids: map[string]bool{}}
	ptraceotlp.RegisterGRPCServer(gs, srv)
	go func() { _ = gs.Serve(l) }()
	t.Cleanup(gs.Stop)

	cfg := DefaultConfig()
	cfg.Endpoint = l.Addr().String()
	cfg.Duration = 600 * time.Millisecond
	cfg.Workers = 3
	cfg.Shape = Shape{NodesMin: 2, NodesMax: 6, StateMin: 256, StateMax: 2048, FailShare: 0.2, Service: "t"}
	cfg.TracesPerRequest = 3
	s, err := Run(context.Background(), cfg)
	require.NoError(t, err)

	require.Positive(t, s.RequestsOK)
	require.Positive(t, s.RequestsRefused, "every third request is refused")
	require.Zero(t, s.RequestsFailed)
	require.Equal(t, s.Requests, s.RequestsOK+s.RequestsRefused)
	require.Equal(t, srv.n.Load(), s.Requests)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	require.Equal(t, srv.spans, s.Acked.Spans, "acked spans are exactly what the server accepted")
	require.Equal(t, srv.traces, s.Acked.Traces)
	require.Len(t, srv.ids, int(s.Acked.Traces), "trace ids are unique")
	require.Equal(t, s.Sent.Spans, s.Acked.Spans+s.Refused.Spans)
	require.Equal(t, s.Sent.Traces, s.Acked.Traces+s.Refused.Traces)
	require.Equal(t, s.RequestsRefused, s.ErrorCodes["Unavailable"])
	require.Greater(t, s.Acked.NodeSpans, s.Acked.Traces)
	require.Positive(t, s.AckedSpansPerS)
	require.Positive(t, s.LatencyMs.P50)
}

func TestRunRespectsRate(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gs := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(gs, &acceptAll{})
	go func() { _ = gs.Serve(l) }()
	t.Cleanup(gs.Stop)

	cfg := DefaultConfig()
	cfg.Endpoint = l.Addr().String()
	cfg.Duration = time.Second
	cfg.Workers = 4
	cfg.Rate = 20 // runs per second
	cfg.TracesPerRequest = 1
	cfg.Shape = Shape{NodesMin: 1, NodesMax: 2, StateMin: 64, StateMax: 128, Service: "t"}
	s, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	// A pacer hands out 20 slots in one second: the first at once, the last
	// before the deadline. A loose upper bound keeps a loaded machine green.
	require.LessOrEqual(t, s.Sent.Traces, int64(20))
	require.GreaterOrEqual(t, s.Sent.Traces, int64(5))
}

type acceptAll struct {
	ptraceotlp.UnimplementedGRPCServer
}

func (acceptAll) Export(context.Context, ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	return ptraceotlp.NewExportResponse(), nil
}

func TestRunReportsUnreachableAsFailed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now

	cfg := DefaultConfig()
	cfg.Endpoint = addr
	cfg.Duration = 300 * time.Millisecond
	cfg.Workers = 1
	cfg.Timeout = 200 * time.Millisecond
	cfg.Shape = Shape{NodesMin: 1, NodesMax: 1, StateMin: 64, StateMax: 64, Service: "t"}
	s, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Zero(t, s.Acked.Spans)
	require.Positive(t, s.RequestsRefused+s.RequestsFailed)
	require.NotEmpty(t, s.FirstError)
}

// WaitStable against a real SQLite store written by the store package
// while it polls.
func TestWaitStableSeesTheStoreStopGrowing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "traces.db")
	st, err := store.Open(ctx, store.Config{Driver: store.DriverSQLite, Path: path})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.Migrate(ctx))

	db, err := OpenStore("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })

	write := func(i int) {
		id := fmt.Sprintf("%032x", i)
		now := time.Now().UTC()
		require.NoError(t, st.WriteBatch(ctx, store.TraceBatch{
			Traces: []store.TraceUpdate{{Trace: store.Trace{ID: id, CreatedAt: now, PipelineName: "p", Status: "ok", Metadata: json.RawMessage(`{}`)}, End: now, HasRoot: true, BatchKey: id}},
			Steps: []store.Step{
				{ID: id + "-a", TraceID: id, StepNumber: 1, NodeName: "a", InputState: json.RawMessage(`{}`), OutputState: json.RawMessage(`{}`), Timestamp: now, Metadata: json.RawMessage(`{}`)},
				{ID: id + "-b", TraceID: id, StepNumber: 2, NodeName: "b", InputState: json.RawMessage(`{}`), OutputState: json.RawMessage(`{}`), Timestamp: now, Metadata: json.RawMessage(`{}`)},
			},
		}))
	}
	write(0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i < 5; i++ {
			time.Sleep(60 * time.Millisecond)
			write(i)
		}
	}()
	// want is above what will ever be written: only the quiet period ends it.
	d := WaitStable(ctx, db, Rows{Traces: 100, Steps: 200}, nil, 20*time.Millisecond, 400*time.Millisecond, 10*time.Second)
	<-done
	require.True(t, d.Stable, "last error: %s", d.LastError)
	require.Equal(t, Rows{Traces: 5, Steps: 10}, d.Rows)
	require.GreaterOrEqual(t, d.WaitedS, 0.6)
	require.Positive(t, d.LastGrowthUnixMs)

	// Reaching the acknowledged counts ends the wait without the quiet period.
	d = WaitStable(ctx, db, Rows{Traces: 5, Steps: 10}, nil, 20*time.Millisecond, time.Hour, 10*time.Second)
	require.True(t, d.Stable)
	require.Less(t, d.WaitedS, 5.0)

	// A store without the schema never becomes stable; the timeout ends it.
	empty, err := OpenStore("sqlite", filepath.Join(t.TempDir(), "none.db"))
	require.NoError(t, err)
	defer empty.Close()
	d = WaitStable(ctx, empty, Rows{}, nil, 20*time.Millisecond, 50*time.Millisecond, 200*time.Millisecond)
	require.False(t, d.Stable)
	require.NotEmpty(t, d.LastError)

	// Unchanged rows do not count as drained while the writer is busy.
	busyUntil := time.Now().Add(500 * time.Millisecond)
	var fake float64
	cpu := func() (float64, error) {
		if time.Now().Before(busyUntil) {
			fake += 1 // a full second of CPU per poll: busy
		}
		return fake, nil
	}
	d = WaitStable(ctx, db, Rows{Traces: 100, Steps: 200}, cpu, 20*time.Millisecond, 200*time.Millisecond, 10*time.Second)
	require.True(t, d.Stable)
	require.GreaterOrEqual(t, d.WaitedS, 0.65, "quiet counts from the end of the busy spell (busy until 0.5 s, quiet 0.2 s)")

	_, err = OpenStore("mysql", "x")
	require.ErrorContains(t, err, "driver")
}

func TestProcCPUReadsThisProcess(t *testing.T) {
	read := ProcCPU(os.Getpid(), 100)
	before, err := read()
	require.NoError(t, err)
	x := 0
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		x++
	}
	after, err := read()
	require.NoError(t, err)
	require.Greater(t, after, before, "spinning %d times used CPU", x)
	_, err = ProcCPU(1<<30, 100)()
	require.Error(t, err)
}

func writeScenario(t *testing.T, dir string, sc Scenario, client *Summary, drain *Drain, proc Proc) {
	t.Helper()
	d := filepath.Join(dir, sc.Name)
	require.NoError(t, os.MkdirAll(d, 0o755))
	put := func(name string, v any) {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(d, name), b, 0o644))
	}
	put("scenario.json", sc)
	put("proc.json", proc)
	if client != nil {
		put("client.json", client)
	}
	if drain != nil {
		put("drain.json", drain)
	}
}

func TestReportRatiosTargetsAndLoss(t *testing.T) {
	dir := t.TempDir()
	start := int64(1_000_000)
	summary := func(spans, nodes, traces int64) *Summary {
		c := Counts{Traces: traces, Spans: spans, NodeSpans: nodes}
		return &Summary{StartUnixMs: start, ElapsedS: 10, Sent: c, Acked: c, AckedSpansPerS: float64(spans) / 10}
	}
	proc := func(ticks int64) Proc {
		return Proc{CPUTicks: ticks, ClkTck: 100, VmHWMKiB: 200 << 10, AliveAtEnd: true}
	}
	writeScenario(t, dir, Scenario{Name: "ceiling", Kind: "ceiling"}, summary(100000, 40000, 1000), nil, proc(1000))
	// sqlite: everything stored, store stopped growing 20 s after the start.
	writeScenario(t, dir, Scenario{Name: "sqlite", Kind: "persist", Detector: true}, summary(60000, 24000, 600),
		&Drain{Rows: Rows{Traces: 600, Steps: 24000}, Stable: true, LastGrowthUnixMs: start + 20000}, proc(1500))
	writeScenario(t, dir, Scenario{Name: "sqlite-no-detector", Kind: "persist"}, summary(60000, 24000, 600),
		&Drain{Rows: Rows{Traces: 600, Steps: 24000}, Stable: true, LastGrowthUnixMs: start + 15000}, proc(1000))
	// postgres: one trace with 30 steps lost.
	writeScenario(t, dir, Scenario{Name: "postgres", Kind: "persist", Detector: true}, summary(40000, 16000, 400),
		&Drain{Rows: Rows{Traces: 399, Steps: 15970}, Stable: true, LastGrowthUnixMs: start + 10000}, proc(800))
	ov := summary(5000, 2000, 50)
	ov.RequestsRefused = 12
	writeScenario(t, dir, Scenario{Name: "overload", Kind: "overload", Detector: true, LimitMiB: 150, SpikeMiB: 30}, ov,
		&Drain{Rows: Rows{Traces: 50, Steps: 2000}, Stable: true, LastGrowthUnixMs: start + 12000}, proc(300))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "broken"), 0o755))

	rep, err := BuildReport(dir)
	require.NoError(t, err)
	require.Len(t, rep.Results, 5)
	require.Len(t, rep.Problems, 1, "the directory without files is reported, not fatal")
	require.Equal(t, "ceiling", rep.Results[0].Name)

	sq := rep.find("sqlite")
	require.InDelta(t, 3000, sq.PersistedSpansPerS, 1e-9) // 60000 spans / 20 s
	require.InDelta(t, 0.3, rep.Ratios["sqlite_persisted_over_ceiling"], 1e-9)
	require.InDelta(t, 0.25, sq.CPUPer1kSpans, 1e-9) // 15 s / 60k spans
	require.True(t, *sq.NoLoss)
	// 15 s vs 10 s of CPU for the same spans: +50%.
	require.InDelta(t, 0.5, rep.Ratios["detector_cpu_overhead"], 1e-9)

	pg := rep.find("postgres")
	require.False(t, *pg.NoLoss)
	require.EqualValues(t, 1, pg.MissingTrace)
	require.EqualValues(t, 30, pg.MissingSteps)

	met := map[string]bool{}
	for _, tg := range rep.Targets {
		met[tg.Name] = tg.Met
	}
	require.False(t, met["sqlite: persisted / ceiling"])
	require.False(t, met["postgres: no loss (rows = acknowledged)"])
	require.True(t, met["sqlite: no loss (rows = acknowledged)"])
	require.False(t, met["detection CPU per span over the same pipeline without it"])
	require.True(t, met["overload: collector stayed up and exited cleanly"])
	require.True(t, met["overload: peak RSS MiB"])
	require.True(t, met["overload: client saw refusals (back-pressure)"])

	var buf strings.Builder
	require.NoError(t, rep.WriteTable(&buf))
	assert.Contains(t, buf.String(), "[MISS] sqlite: persisted / ceiling")
	assert.Contains(t, buf.String(), "problem: broken")
	out := filepath.Join(dir, "summary.json")
	require.NoError(t, rep.WriteJSON(out))
	var back Report
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, rep.Ratios, back.Ratios)
	require.NotEmpty(t, back.Machine.CPUModel)
}

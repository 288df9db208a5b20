package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/loadgen"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

// shapeRunsPerOp matches internal/loadgen/pathbench (4 requests of 8 runs).
const shapeRunsPerOp = 32

// shapeBatch is what the load client's runs become in storage: per run one
// trace row and one step per node span, whose input and output states are
// the spans' 1-20 KiB JSON values. The runs come from the load client's own
// generator, so sizes and text are the load test's.
type shapeBatch struct {
	batch TraceBatch
	spans int64 // OTLP spans the runs were made of
}

func newShapeBatch(tb testing.TB, runs int) shapeBatch {
	tb.Helper()
	g, err := loadgen.NewGenerator(loadgen.DefaultShape(), 1, 1)
	if err != nil {
		tb.Fatal(err)
	}
	var out shapeBatch
	now := t0
	for r := range runs {
		_, spans := g.NewRequest()
		c := g.AddRun(spans, now)
		out.spans += c.Spans
		addShapeRun(&out.batch, spans, fmt.Sprintf("run-%03d", r))
		now = now.Add(time.Second)
	}
	return out
}

// addShapeRun turns one generated run (root, __start__, node spans and their
// LLM/tool children) into its trace row and step rows.
func addShapeRun(b *TraceBatch, spans ptrace.SpanSlice, id string) {
	root := spans.At(0)
	rootID := root.SpanID()
	start, end := root.StartTimestamp().AsTime().UTC(), root.EndTimestamp().AsTime().UTC()
	b.Traces = append(b.Traces, TraceUpdate{
		Trace: Trace{ID: id, CreatedAt: start, PipelineName: "argus-load", Status: "ok",
			Metadata: json.RawMessage(`{"service.name":"argus-load"}`)},
		End: end, HasRoot: true, BatchKey: id,
	})
	n := 0
	for i := 1; i < spans.Len(); i++ {
		sp := spans.At(i)
		if sp.ParentSpanID() != rootID || sp.Name() == "__start__" {
			continue
		}
		n++
		a := sp.Attributes()
		state := func(key string) json.RawMessage {
			if v, ok := a.Get(key); ok {
				return json.RawMessage(v.Str())
			}
			return json.RawMessage("null")
		}
		meta, _ := a.Get("metadata")
		b.Steps = append(b.Steps, Step{
			ID: fmt.Sprintf("%s-%02d", id, n), TraceID: id, StepNumber: n, NodeName: sp.Name(),
			InputState: state("input.value"), OutputState: state("output.value"),
			DurationMs: sp.EndTimestamp().AsTime().Sub(sp.StartTimestamp().AsTime()).Milliseconds(),
			Timestamp:  sp.StartTimestamp().AsTime().UTC(), Metadata: json.RawMessage(meta.Str()),
		})
	}
}

// withIDs returns a copy of the batch whose ids carry prefix, so each
// benchmark op stores new runs.
func (s shapeBatch) withIDs(prefix string) TraceBatch {
	var b TraceBatch
	b.Traces = make([]TraceUpdate, len(s.batch.Traces))
	for i, u := range s.batch.Traces {
		u.Trace.ID, u.BatchKey = prefix+u.Trace.ID, prefix+u.BatchKey
		b.Traces[i] = u
	}
	b.Steps = make([]Step, len(s.batch.Steps))
	for i, st := range s.batch.Steps {
		st.ID, st.TraceID = prefix+st.ID, prefix+st.TraceID
		b.Steps[i] = st
	}
	return b
}

func (s shapeBatch) stateBytes() int64 {
	var n int64
	for _, st := range s.batch.Steps {
		n += int64(len(st.InputState) + len(st.OutputState))
	}
	return n
}

// BenchmarkPostgresFloor is the least work that stores what the schema
// requires for the load client's traffic: one transaction per op with two
// plain COPYs of pre-built rows (32 runs: 32 trace rows, ~560 step rows with
// 1-20 KiB states) into the migrated tables, no staging, no merge, no
// checks. It bounds what any WriteBatch can reach on this server. The
// variants change only the state columns, to price the storage choices.
func BenchmarkPostgresFloor(b *testing.B) {
	variants := []struct {
		name  string
		alter []string
	}{
		{"schema", nil},
		{"lz4", []string{
			`ALTER TABLE trace_steps ALTER COLUMN input_state SET COMPRESSION lz4, ALTER COLUMN output_state SET COMPRESSION lz4`}},
		{"external", []string{
			`ALTER TABLE trace_steps ALTER COLUMN input_state SET STORAGE EXTERNAL, ALTER COLUMN output_state SET STORAGE EXTERNAL`}},
		{"json", []string{
			`ALTER TABLE trace_steps ALTER COLUMN input_state TYPE json, ALTER COLUMN output_state TYPE json`}},
		{"json-lz4", []string{
			`ALTER TABLE trace_steps ALTER COLUMN input_state TYPE json, ALTER COLUMN output_state TYPE json`,
			`ALTER TABLE trace_steps ALTER COLUMN input_state SET COMPRESSION lz4, ALTER COLUMN output_state SET COMPRESSION lz4`}},
	}
	data := newShapeBatch(b, shapeRunsPerOp)
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			dsn := testutil.PostgresDSN(b)
			openStore(b, Config{Driver: DriverPostgres, DSN: dsn}) // migrates
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close(ctx)
			for _, q := range v.alter {
				if _, err := conn.Exec(ctx, q); err != nil {
					if IsPermanent(err) && strings.Contains(err.Error(), "0A000") {
						b.Skipf("server cannot: %v", err) // lz4 needs PostgreSQL 14+ built with it
					}
					b.Fatal(err)
				}
			}
			benchFloor(b, conn, data)
		})
	}
}

func benchFloor(b *testing.B, conn *pgx.Conn, data shapeBatch) {
	ctx := context.Background()
	var nSteps, nSpans, nBytes int64
	op := 0
	cost := readServerCost(b, ctx, conn)
	for b.Loop() {
		b.StopTimer()
		batch := data.withIDs(fmt.Sprintf("f%06d-", op))
		op++
		traces := make([][]any, len(batch.Traces))
		for i, u := range batch.Traces {
			t := u.Trace
			traces[i] = []any{t.ID, t.CreatedAt, t.PipelineName, t.Status, u.End.Sub(t.CreatedAt).Milliseconds(),
				int32(len(batch.Steps) / len(batch.Traces)), int32(0), []byte(t.Metadata)}
		}
		stepRows := make([][]any, len(batch.Steps))
		for i, s := range batch.Steps {
			stepRows[i] = []any{s.ID, s.TraceID, int32(s.StepNumber), s.NodeName, []byte(s.InputState),
				[]byte(s.OutputState), s.DurationMs, s.Timestamp, []byte(s.Metadata)}
		}
		b.StartTimer()
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"traces"},
				[]string{"id", "created_at", "pipeline_name", "status", "duration_ms", "node_count", "detection_count", "metadata"},
				pgx.CopyFromRows(traces)); err != nil {
				return err
			}
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"trace_steps"},
				[]string{"id", "trace_id", "step_number", "node_name", "input_state", "output_state", "duration_ms", "timestamp", "metadata"},
				pgx.CopyFromRows(stepRows))
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		nSteps, nSpans, nBytes = nSteps+int64(len(batch.Steps)), nSpans+data.spans, nBytes+data.stateBytes()
	}
	reportShape(b, nSteps, nSpans, nBytes)
	reportServer(b, ctx, conn, cost, nSteps)
	var size int64
	if err := conn.QueryRow(ctx, `SELECT pg_total_relation_size('trace_steps')`).Scan(&size); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(size)/float64(nSteps), "disk-B/step")
}

// reportShape reports the rates the load test is judged by.
func reportShape(b *testing.B, steps, spans, stateBytes int64) {
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(steps)/sec, "steps/s")
	b.ReportMetric(float64(spans)/sec, "spans/s")
	b.ReportMetric(float64(stateBytes)/1e6/sec, "MB/s")
}

// serverCost reads what the server has spent so far on the benchmark's
// database: CPU time of its backends (from /proc: the test server runs on
// this machine) and WAL bytes. On a shared machine wall time swings with
// other load; server CPU per op does much less.
type serverCost struct {
	cpu time.Duration
	wal int64
	ok  bool // false when the backends' /proc entries are not readable
}

func readServerCost(tb testing.TB, ctx context.Context, conn *pgx.Conn) serverCost {
	tb.Helper()
	var c serverCost
	if err := conn.QueryRow(ctx, `SELECT pg_current_wal_lsn() - '0/0'::pg_lsn`).Scan(&c.wal); err != nil {
		tb.Fatal(err)
	}
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		tb.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		tb.Fatal(err)
	}
	c.ok = true
	for _, pid := range pids {
		t, err := procCPU(int(pid))
		if err != nil {
			c.ok = false
			break
		}
		c.cpu += t
	}
	return c
}

// procCPU is a process's user+system CPU time (Linux, 100 ticks/s).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) start after ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// reportServer reports the server's CPU and WAL per op and per step since
// before. Backends that ended in between are not counted: pools keep theirs.
func reportServer(b *testing.B, ctx context.Context, conn *pgx.Conn, before serverCost, steps int64) {
	after := readServerCost(b, ctx, conn)
	if before.ok && after.ok {
		b.ReportMetric(float64((after.cpu-before.cpu).Milliseconds())/float64(b.N), "server-ms/op")
	}
	if steps > 0 {
		b.ReportMetric(float64(after.wal-before.wal)/float64(steps), "WAL-B/step")
	}
}

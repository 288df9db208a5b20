package store

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// benchState is a ~2 KiB agent state: a question, retrieved documents, an answer.
func benchState(i int) json.RawMessage {
	docs := make([]map[string]any, 4)
	for d := range docs {
		docs[d] = map[string]any{
			"id":      fmt.Sprintf("doc-%d-%d", i, d),
			"score":   0.5 + float64(d)/10,
			"content": strings.Repeat("retrieved passage text ", 18),
		}
	}
	b, _ := json.Marshal(map[string]any{
		"question": "What does the quarterly report say about churn?",
		"docs":     docs,
		"answer":   "",
		"step":     i,
	})
	return b
}

// benchBatch is one exporter call: 50 traces x 10 steps with 2 KiB input
// and output states, 2 detections and a forensics row per trace.
func benchBatch(n int, in, out json.RawMessage) TraceBatch {
	const traces, steps = 50, 10
	start := t0.Add(time.Duration(n) * time.Minute)
	var b TraceBatch
	for tr := range traces {
		id := fmt.Sprintf("bench-%06d-%02d", n, tr)
		b.Traces = append(b.Traces, TraceUpdate{
			Trace: Trace{ID: id, CreatedAt: start, PipelineName: "rag", Status: "warning",
				Metadata: json.RawMessage(`{"service.name":"rag-agent","span_count":31}`)},
			End: start.Add(2 * time.Second), HasRoot: true, BatchKey: id,
		})
		for s := range steps {
			b.Steps = append(b.Steps, Step{
				ID: fmt.Sprintf("%s-%02d", id, s), TraceID: id, StepNumber: s + 1, NodeName: fmt.Sprintf("node%d", s),
				InputState: in, OutputState: out, DurationMs: 180,
				Timestamp: start.Add(time.Duration(s) * 200 * time.Millisecond),
				Metadata:  json.RawMessage(fmt.Sprintf(`{"langgraph_step":%d,"langgraph_node":"node%d"}`, s+1, s)),
			})
		}
		for d := range 2 {
			b.Detections = append(b.Detections, Detection{
				ID: fmt.Sprintf("%s-d%d", id, d), TraceID: id, StepID: fmt.Sprintf("%s-%02d", id, 3+d),
				Layer: "structural", Severity: "warning", Message: "field docs dropped",
				Details:   json.RawMessage(`{"rule":"structural.field_drop","node":"node3","field":"docs"}`),
				CreatedAt: start.Add(2 * time.Second),
			})
		}
		b.Forensics = append(b.Forensics, Forensics{
			ID: id + "-f", TraceID: id, RootCauseStep: id + "-03", DetectionIDs: json.RawMessage(`["` + id + `-d0"]`),
			Explanation: "node3 dropped docs", CausalChain: json.RawMessage(`[]`), CreatedAt: start.Add(2 * time.Second),
		})
	}
	return b
}

func benchWriteBatch(b *testing.B, cfg Config) {
	s := openStore(b, cfg)
	ctx := context.Background()
	in, out := benchState(1), benchState(2)
	var steps, rows int
	var cpu time.Duration
	n := 0
	for b.Loop() {
		b.StopTimer()
		batch := benchBatch(n, in, out)
		n++
		c0 := cpuTime()
		b.StartTimer()
		if err := s.WriteBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuTime() - c0
		b.StartTimer()
		steps += len(batch.Steps)
		rows += len(batch.Traces) + len(batch.Steps) + len(batch.Detections) + len(batch.Forensics)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(steps)/sec, "steps/s")
	b.ReportMetric(float64(rows)/sec, "rows/s")
	if steps > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(steps), "cpu-µs/step")
	}
}

// BenchmarkWriteBatchSQLiteLoadShape writes the floor benchmark's rows
// (the load client's traffic: 8 runs of 5-30 steps with 1-20 KiB states
// per batch) through WriteBatch, so the gap to BenchmarkSQLiteFloor is
// what merging, upserts and recounting cost. Sub-benchmarks compare the
// writer settings.
func BenchmarkWriteBatchSQLiteLoadShape(b *testing.B) {
	for _, c := range tuningCases() {
		b.Run(c.name, func(b *testing.B) { benchLoadShape(b, c.tune) })
	}
}

func benchLoadShape(b *testing.B, tune sqliteTuning) {
	ctx := context.Background()
	s, err := openSQLiteTuned(ctx, Config{Driver: DriverSQLite, Path: filepath.Join(b.TempDir(), "shape.db"),
		BusyTimeout: DefaultBusyTimeout}, tune)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	data := newFloorData()
	var steps, stateBytes int
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		var batch TraceBatch
		for range floorRunsPerTx {
			r := data.run()
			id := r.traceID
			batch.Traces = append(batch.Traces, TraceUpdate{
				Trace: Trace{ID: id, CreatedAt: t0, PipelineName: "rag", Status: "ok",
					Metadata: json.RawMessage(`{"service.name":"argus-load","span_count":35}`)},
				End: t0.Add(5 * time.Second), HasRoot: true, BatchKey: id,
			})
			for i, st := range r.steps {
				batch.Steps = append(batch.Steps, Step{ID: st.id, TraceID: id, StepNumber: i + 1, NodeName: st.node,
					InputState: json.RawMessage(st.in), OutputState: json.RawMessage(st.out), DurationMs: 180,
					Timestamp: t0.Add(time.Duration(i) * 200 * time.Millisecond), Metadata: json.RawMessage(st.meta)})
				stateBytes += len(st.in) + len(st.out)
			}
		}
		c0 := cpuTime()
		b.StartTimer()
		if err := s.WriteBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuTime() - c0
		b.StartTimer()
		steps += len(batch.Steps)
	}
	reportSQLiteSteps(b, steps, stateBytes, cpu)
}

func BenchmarkWriteBatchSQLite(b *testing.B) {
	benchWriteBatch(b, Config{Driver: DriverSQLite, Path: filepath.Join(b.TempDir(), "bench.db")})
}

func BenchmarkWriteBatchPostgres(b *testing.B) {
	benchWriteBatch(b, Config{Driver: DriverPostgres, DSN: testutil.PostgresDSN(b)})
}

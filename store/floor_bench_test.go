package store

import (
	"context"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The load client's traffic (internal/loadgen DefaultShape): runs of 5..30
// node steps (uniform, ~18 on average), each step with an input and an
// output state of 1..20 KiB JSON (uniform), and ~35 spans per 18 steps
// (root, __start__, the nodes, their LLM and tool calls).
const (
	floorNodesMin, floorNodesMax = 5, 30
	floorStateMin, floorStateMax = 1 << 10, 20 << 10
	floorSpansPerStep            = 35.0 / 18
	// floorRunsPerTx: ~150 steps per transaction, what the exporter writes
	// per batch under load.
	floorRunsPerTx = 8
)

type floorRun struct {
	traceID string
	steps   []floorStep
}

type floorStep struct {
	id, node, meta string
	in, out        string
}

// floorData pre-builds the rows of runs: states are drawn from a pool of
// JSON documents of uniform sizes, ids are fresh per run (trace id, then
// trace id + span id, as the exporter makes them).
type floorData struct {
	rng    *rand.Rand
	states []string
}

func newFloorData() *floorData {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the refund policy allows returns within thirty days of purchase annual plans can be refunded pro rata")
	states := make([]string, 256)
	for i := range states {
		size := floorStateMin + rng.IntN(floorStateMax-floorStateMin+1)
		var b strings.Builder
		b.WriteString(`{"question":"how do refunds work?","messages":[`)
		for b.Len() < size-40 {
			b.WriteString(`{"role":"user","content":"`)
			for n := 0; n < 60 && b.Len() < size-8; n++ {
				b.WriteString(words[rng.IntN(len(words))])
				b.WriteByte(' ')
			}
			b.WriteString(`"},`)
		}
		b.WriteString(`{"role":"assistant","content":""}]}`)
		states[i] = b.String()
	}
	return &floorData{rng: rng, states: states}
}

func (d *floorData) hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(d.rng.Uint32())
	}
	return hex.EncodeToString(b)
}

func (d *floorData) run() floorRun {
	r := floorRun{traceID: d.hex(16)}
	n := floorNodesMin + d.rng.IntN(floorNodesMax-floorNodesMin+1)
	for i := range n {
		node := "node" + strconv.Itoa(i%8)
		r.steps = append(r.steps, floorStep{
			id:   r.traceID + "-" + d.hex(8),
			node: node,
			meta: `{"langgraph_step":` + strconv.Itoa(i+1) + `,"langgraph_node":"` + node + `","langgraph_triggers":["branch:to:` + node + `"]}`,
			in:   d.states[d.rng.IntN(len(d.states))],
			out:  d.states[d.rng.IntN(len(d.states))],
		})
	}
	return r
}

// cpuTime is the CPU time (user + system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSQLiteFloor is the least work that stores the rows the schema
// requires for the load client's traffic: one traces row and its step rows
// per run, plain prepared INSERTs of pre-built rows, one transaction per
// ~150 steps, on a store opened with the production pragmas. No merging,
// no upserts, no recount: what the hardware and SQLite allow at best.
func BenchmarkSQLiteFloor(b *testing.B) {
	benchSQLiteFloor(b, defaultSQLiteTuning)
}

func benchSQLiteFloor(b *testing.B, tune sqliteTuning) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "floor.db")
	st, err := openSQLiteTuned(ctx, Config{Driver: DriverSQLite, Path: path,
		BusyTimeout: DefaultBusyTimeout}, tune)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	w := st.(*sqliteStore).write
	insTrace, err := w.PrepareContext(ctx, `INSERT INTO traces
		(id, created_at, pipeline_name, status, duration_ms, node_count, detection_count, metadata)
		VALUES (?, ?, 'rag', 'ok', ?, ?, 0, '{"service.name":"argus-load"}')`)
	if err != nil {
		b.Fatal(err)
	}
	defer insTrace.Close()
	insStep, err := w.PrepareContext(ctx, `INSERT INTO trace_steps
		(id, trace_id, step_number, node_name, input_state, output_state, duration_ms, timestamp, metadata)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	defer insStep.Close()

	data := newFloorData()
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Format(sqliteTimeLayout)
	var steps, stateBytes int
	runs := make([]floorRun, floorRunsPerTx)
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		for i := range runs {
			runs[i] = data.run()
		}
		c0 := cpuTime()
		b.StartTimer()
		err := func() error {
			tx, err := w.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback() }()
			tr, sp := tx.StmtContext(ctx, insTrace), tx.StmtContext(ctx, insStep)
			for _, r := range runs {
				if _, err := tr.ExecContext(ctx, r.traceID, ts, 1234, len(r.steps)); err != nil {
					return err
				}
				for i, s := range r.steps {
					if _, err := sp.ExecContext(ctx, s.id, r.traceID, i+1, s.node, s.in, s.out, 180, ts, s.meta); err != nil {
						return err
					}
				}
			}
			return tx.Commit()
		}()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuTime() - c0
		b.StartTimer()
		for _, r := range runs {
			steps += len(r.steps)
			for _, s := range r.steps {
				stateBytes += len(s.in) + len(s.out)
			}
		}
	}
	reportSQLiteSteps(b, steps, stateBytes, cpu)
	if fi, err := os.Stat(path); err == nil && steps > 0 {
		b.ReportMetric(float64(fi.Size())/float64(steps), "fileB/step")
	}
}

// reportSQLiteSteps reports throughput per stored step, the state volume, the
// equivalent load-client spans/s and the CPU time (all threads) per step,
// which stays meaningful when other processes share the machine.
func reportSQLiteSteps(b *testing.B, steps, stateBytes int, cpu time.Duration) {
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(steps)/sec, "steps/s")
	b.ReportMetric(float64(stateBytes)/1e6/sec, "stateMB/s")
	b.ReportMetric(float64(steps)*floorSpansPerStep/sec, "spans/s")
	if steps > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(steps), "cpu-µs/step")
	}
}

// BenchmarkSQLiteFloorTuning compares writer settings on the floor workload
// (the production values are one of the cases).
func BenchmarkSQLiteFloorTuning(b *testing.B) {
	for _, c := range tuningCases() {
		b.Run(c.name, func(b *testing.B) { benchSQLiteFloor(b, c.tune) })
	}
}

type tuningCase struct {
	name string
	tune sqliteTuning
}

func tuningCases() []tuningCase {
	d := defaultSQLiteTuning
	with := func(f func(*sqliteTuning)) sqliteTuning { t := d; f(&t); return t }
	// The writer checkpointing in its commits, as before the checkpointer.
	inCommit := func(t *sqliteTuning) { t.autoCheckpoint = 1000; t.checkpointEvery = 0 }
	return []tuningCase{
		{"default", d},
		{"old", sqliteTuning{pageSize: 4096, cacheKiB: 2000, autoCheckpoint: 1000}},
		{"page=4k", with(func(t *sqliteTuning) { inCommit(t); t.pageSize = 4096 })},
		{"page=16k", with(func(t *sqliteTuning) { inCommit(t); t.pageSize = 16384 })},
		{"page=32k", with(func(t *sqliteTuning) { inCommit(t); t.pageSize = 32768 })},
		{"page=64k", with(func(t *sqliteTuning) { inCommit(t); t.pageSize = 65536 })},
		{"page=16k,cache=16MiB", with(func(t *sqliteTuning) { inCommit(t); t.cacheKiB = 16384 })},
		{"page=16k,wal=64MiB", with(func(t *sqliteTuning) { inCommit(t); t.autoCheckpoint = 4096 })},
		{"page=16k,background", with(func(t *sqliteTuning) { t.autoCheckpoint = 4096; t.checkpointEvery = 100 * time.Millisecond })},
	}
}

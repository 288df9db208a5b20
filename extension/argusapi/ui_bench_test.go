package argusapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/arguslabs/argus-otel/extension/argusapi/internal/metadata"
	"github.com/arguslabs/argus-otel/store"
)

// The volume the UI must serve each page of in under 200 ms of server
// time (issue #14): 100,000 runs of 20 steps in SQLite.
const (
	benchRuns     = 100_000
	benchSteps    = 20
	benchDays     = 30
	benchRareNode = "rare_audit" // in 0.1% of runs: the node filter's worst case
)

var benchPipelines = []string{"rag-answer", "triage", "support-agent", "code-review", "research"}

// benchQuiet is a pipeline that went quiet: the oldest benchQuietRuns runs,
// 60 days before the others, outside every window ending now.
const (
	benchQuiet     = "legacy-rag"
	benchQuietRuns = 1000
)

var benchRules = []string{"structural.dropped_field", "semantic.placeholder", "behavioral.tool_error",
	"semantic.refusal", "structural.empty_retrieval", "behavioral.retry_storm", "statistical.latency_spike",
	"semantic.truncated", "behavioral.error_span", "structural.contract_violation"}

// seedVolume writes the runs through the store's writer, 500 runs a
// transaction, spread over the last benchDays days (but benchQuiet's):
// 85% ok, 10% warning, 5% failed with forensics naming a root-cause step.
func seedVolume(b *testing.B, st store.Store, now time.Time) {
	rng := rand.New(rand.NewPCG(14, 16))
	ctx := context.Background()
	span := time.Duration(benchDays) * 24 * time.Hour
	const per = 500
	for from := 0; from < benchRuns; from += per {
		var batch store.TraceBatch
		for i := from; i < from+per; i++ {
			id := fmt.Sprintf("%032x", i+1)
			pipe := benchPipelines[i%len(benchPipelines)]
			at := now.Add(-span + time.Duration(i)*(span/benchRuns))
			if i < benchQuietRuns {
				pipe, at = benchQuiet, at.Add(-60*24*time.Hour)
			}
			status := "ok"
			switch r := rng.IntN(100); {
			case r < 5:
				status = "failed"
			case r < 15:
				status = "warning"
			}
			batch.Traces = append(batch.Traces, store.TraceUpdate{
				Trace: store.Trace{ID: id, CreatedAt: at, PipelineName: pipe, Status: status, Metadata: json.RawMessage(`{}`)},
				End:   at.Add(benchSteps * 50 * time.Millisecond), HasRoot: true, BatchKey: id,
			})
			for j := range benchSteps {
				node := fmt.Sprintf("%s_node%d", pipe, j%8)
				if j == 7 && i%1000 == 0 {
					node = benchRareNode
				}
				batch.Steps = append(batch.Steps, store.Step{
					ID: fmt.Sprintf("%s-%02d", id, j), TraceID: id, StepNumber: j + 1, NodeName: node,
					InputState: json.RawMessage(`{"q":"x"}`), OutputState: json.RawMessage(fmt.Sprintf(`{"k%d":%d}`, j%5, j)),
					DurationMs: int64(20 + rng.IntN(80)), Timestamp: at.Add(time.Duration(j*50) * time.Millisecond),
					Metadata: json.RawMessage(`{}`), StatesChecked: true,
				})
			}
			if status == "ok" {
				continue
			}
			sev := map[string]string{"warning": "warning", "failed": "critical"}[status]
			for k := range 1 + rng.IntN(3) {
				step := rng.IntN(benchSteps)
				batch.Detections = append(batch.Detections, store.Detection{
					ID: fmt.Sprintf("%s-d%d", id, k), TraceID: id, StepID: fmt.Sprintf("%s-%02d", id, step),
					Layer: "semantic", Severity: sev, Message: "m", CreatedAt: at,
					Details: json.RawMessage(fmt.Sprintf(`{"rule":%q,"node":"n"}`, benchRules[rng.IntN(len(benchRules))])),
				})
			}
			if status == "failed" {
				batch.Forensics = append(batch.Forensics, store.Forensics{ID: id + "-f", TraceID: id,
					RootCauseStep: fmt.Sprintf("%s-%02d", id, rng.IntN(benchSteps)), Explanation: "why", CreatedAt: at})
			}
		}
		if err := st.WriteBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUIPages: the server time of each page, through the real
// server, with benchRuns runs and benchRuns*benchSteps steps in SQLite.
// ns/op is one page, request to last byte, on loopback.
func BenchmarkUIPages(b *testing.B) {
	cfg := testConfig()
	cfg.Path = filepath.Join(b.TempDir(), "volume.db")
	if p := os.Getenv("ARGUS_BENCH_KEEP_DB"); p != "" { // to look at the plans with sqlite3
		cfg.Path = p
	}
	s := startWith(b, cfg, newHost(nil), extensiontest.NewNopSettings(metadata.Type))
	now := time.Now().UTC()
	if _, n, err := s.store.ListTraces(context.Background(), store.TraceFilter{Limit: 1}); err != nil || n == 0 {
		start := time.Now()
		seedVolume(b, s.store, now)
		b.Logf("seeded %d runs, %d steps in %s", benchRuns, benchRuns*benchSteps, time.Since(start).Round(time.Second))
	} else { // a kept database: its runs end when it was seeded
		p, err := s.store.ListRuns(context.Background(), store.RunFilter{TraceFilter: store.TraceFilter{Limit: 1}})
		if err != nil {
			b.Fatal(err)
		}
		now = p.Runs[0].CreatedAt
	}

	first := fmt.Sprintf("%032x", benchRuns) // the newest run
	older := store.Cursor{CreatedAt: now.Add(-15 * 24 * time.Hour), ID: fmt.Sprintf("%032x", benchRuns/2)}
	pages := []struct{ name, path string }{
		{"pipelines-24h", "/ui/"},
		{"pipelines-7d", "/ui/?window=7d"},
		{"pipelines-30d", "/ui/?window=30d"},
		{"pipelines-30d-one", "/ui/?window=30d&pipeline=triage"},
		{"pipelines-moved", "/ui/?pipeline=" + benchQuiet}, // no run in 24 h: the 24 h up to its last run
		{"runs", "/ui/runs"},
		{"runs-deep-page", "/ui/runs?before=" + older.String()},
		{"runs-pipeline-status", "/ui/runs?pipeline=triage&status=failed"},
		{"runs-severity", "/ui/runs?severity=critical"},
		{"runs-node", "/ui/runs?node=triage_node3"},
		{"runs-rare-node", "/ui/runs?node=" + benchRareNode},
		{"runs-rule", "/ui/runs?rule=semantic.refusal"},
		{"runs-rule-node", "/ui/runs?rule=semantic.refusal&node=triage_node3"},
		{"runs-root-cause", "/ui/runs?rootCause=triage_node3"},
		{"runs-window-filter", "/ui/runs?pipeline=research&status=warning&since=7d&until=1d"},
		{"run", "/ui/runs/" + first},
		{"detections-24h", "/ui/detections"},
		{"detections-30d", "/ui/detections?window=30d"},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			for range b.N {
				res, err := http.Get(s.base + p.path)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Fatalf("GET %s: %d", p.path, res.StatusCode)
				}
			}
		})
	}
}

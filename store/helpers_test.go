package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// backend opens a fresh, migrated store of one driver.
type backend struct {
	name string
	cfg  func(t testing.TB) Config
}

var backends = []backend{
	{DriverSQLite, func(t testing.TB) Config {
		return Config{Driver: DriverSQLite, Path: filepath.Join(t.TempDir(), "argus", "traces.db")}
	}},
	{DriverPostgres, func(t testing.TB) Config {
		return Config{Driver: DriverPostgres, DSN: testutil.PostgresDSN(t)}
	}},
}

// eachStore runs fn as a subtest against a fresh migrated store of each driver.
func eachStore(t *testing.T, fn func(t *testing.T, s Store, cfg Config)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.cfg(t)
			s := openStore(t, cfg)
			fn(t, s, cfg)
		})
	}
}

func openStore(t testing.TB, cfg Config) Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// raw gives tests direct SQL access to the store's database.
func raw(s Store) (*sql.DB, dialect) {
	switch v := s.(type) {
	case *sqliteStore:
		return v.read, v.d
	case *pgStore:
		return v.read, v.d
	}
	panic("unknown store")
}

func count(t testing.TB, s Store, query string, args ...any) int {
	t.Helper()
	db, d := raw(s)
	for i := range args {
		query = replaceFirst(query, "?", d.ph(i+1))
	}
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func replaceFirst(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	return s
}

func jsonEqual(t testing.TB, what string, got, want json.RawMessage) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: stored JSON %q does not parse: %v", what, got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: want JSON %q does not parse: %v", what, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

func metaOf(t testing.TB, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("metadata %q: %v", raw, err)
	}
	return m
}

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

// run describes one hand-made trace for fixtures.
type run struct {
	id       string
	pipeline string
	status   string
	start    time.Time
	steps    int
	key      string
	root     bool
	spans    int
}

// batchOf builds a batch for r: its update and r.steps steps numbered from
// 1, langgraph_step = index+1, 10 ms apart, one warning detection on step 1
// and a run-level info detection.
func batchOf(r run) TraceBatch {
	if r.status == "" {
		r.status = "ok"
	}
	if r.key == "" {
		r.key = "k-" + r.id
	}
	end := r.start.Add(time.Duration(r.steps*10+5) * time.Millisecond)
	b := TraceBatch{Traces: []TraceUpdate{{
		Trace: Trace{ID: r.id, CreatedAt: r.start, PipelineName: r.pipeline, Status: r.status,
			Metadata: json.RawMessage(fmt.Sprintf(`{"service.name":"svc","span_count":%d}`, r.spans))},
		End: end, HasRoot: r.root, BatchKey: r.key,
	}}}
	for i := 0; i < r.steps; i++ {
		b.Steps = append(b.Steps, Step{
			ID: fmt.Sprintf("%s-s%02d", r.id, i), TraceID: r.id, StepNumber: i + 1,
			NodeName:    fmt.Sprintf("node%d", i),
			InputState:  json.RawMessage(fmt.Sprintf(`{"i":%d,"docs":["a","b"]}`, i)),
			OutputState: json.RawMessage(fmt.Sprintf(`{"o":%d}`, i)),
			DurationMs:  9, Timestamp: r.start.Add(time.Duration(i*10) * time.Millisecond),
			Metadata: json.RawMessage(fmt.Sprintf(`{"langgraph_step":%d}`, i+1)),
		})
	}
	if r.steps > 0 {
		b.Detections = append(b.Detections, Detection{
			ID: r.id + "-d1", TraceID: r.id, StepID: r.id + "-s00", Layer: "semantic", Severity: "warning",
			Message: "empty output", Details: json.RawMessage(`{"rule":"semantic.empty","node":"node0"}`),
			CreatedAt: end,
		})
	}
	b.Detections = append(b.Detections, Detection{
		ID: r.id + "-d2", TraceID: r.id, Layer: "statistical", Severity: "info",
		Message: "slow run", Details: json.RawMessage(`{"rule":"statistical.latency_spike","node":"run"}`),
		CreatedAt: end.Add(time.Millisecond),
	})
	return b
}

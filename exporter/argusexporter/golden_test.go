package argusexporter

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/loadgen"
	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/processor/argusdetector"
	"github.com/arguslabs/argus-otel/store"
)

// Regenerate after a deliberate change of mapping, rows or storage:
//
//	go test ./exporter/argusexporter -run TestGolden -update
//
// and read the diff of testdata/golden before committing it.
var updateGolden = flag.Bool("update", false, "rewrite testdata/golden from the current code")

// goldenNow stands in for time.Now where the rows need a clock (spans
// without an end time), so the dump is the same on every run.
var goldenNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// goldenDataset is one input of the golden dump: the traces of one request.
type goldenDataset struct {
	name string
	tds  []ptrace.Traces
	// hashed: the dump is kept as one SHA-256 per trace (load traffic, whose
	// states are too large to check in as text).
	hashed bool
}

// TestGolden holds what the code makes of a fixed input against a checked-in
// dump, byte for byte: every OTLP fixture (testdata/otlp, testdata/hostile),
// text with invalid UTF-8, and fixed-seed load traffic go through
//
//   - agentrun.MapTraces as the processor calls it (the runs),
//   - the real argusdetector (one shard, released at shutdown, so the order
//     and the baselines are the same every time),
//   - agentrun.MapTraces and buildRows as the exporter calls them (the rows),
//   - store.WriteBatch into a real SQLite file (the stored rows, read back
//     with plain SQL).
//
// A restructuring must leave it unchanged; a change of behaviour shows in
// the diff of testdata/golden.
func TestGolden(t *testing.T) {
	if testing.Short() {
		t.Skip("golden dump: not in -short")
	}
	for _, ds := range goldenDatasets(t) {
		t.Run(ds.name, func(t *testing.T) {
			got := goldenDump(t, ds)
			path := filepath.Join("testdata", "golden", strings.ReplaceAll(ds.name, "/", "_")+".golden")
			if *updateGolden {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "no golden dump: run with -update")
			if got != string(want) {
				// Kept after the test, to diff against the golden file.
				dir := os.Getenv("ARGUS_TEST_OUTPUT")
				if dir == "" {
					dir, _ = os.MkdirTemp("", "argus-golden-")
				}
				out := filepath.Join(dir, filepath.Base(path))
				_ = os.WriteFile(out, []byte(got), 0o644)
				t.Fatalf("%s differs from the golden dump (first difference at line %d); got written to %s",
					ds.name, firstDiffLine(got, string(want)), out)
			}
		})
	}
}

func firstDiffLine(a, b string) int {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}

func goldenDatasets(t *testing.T) []goldenDataset {
	root := testutil.ModuleRoot(t)
	var out []goldenDataset
	for _, dir := range []string{"otlp", "hostile"} {
		paths, err := filepath.Glob(filepath.Join(root, "testdata", dir, "*.json"))
		require.NoError(t, err)
		require.NotEmpty(t, paths)
		for _, p := range paths {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			var u ptrace.JSONUnmarshaler
			td, err := u.UnmarshalTraces(b)
			if err != nil {
				continue // not OTLP on purpose (broken_body.json): refused by the receiver
			}
			out = append(out, goldenDataset{name: dir + "/" + strings.TrimSuffix(filepath.Base(p), ".json"), tds: []ptrace.Traces{td}})
		}
	}
	out = append(out, goldenDataset{name: "generated/invalid_utf8", tds: []ptrace.Traces{invalidUTF8Trace(t)}})

	// Load traffic: 4 requests of 30 runs, 10% failing, 1-20 KiB states.
	g, err := loadgen.NewGenerator(loadgen.DefaultShape(), 15, 1)
	require.NoError(t, err)
	load := goldenDataset{name: "generated/loadgen", hashed: true}
	for r := range 4 {
		td, spans := g.NewRequest()
		for i := range 30 {
			g.AddRun(spans, goldenNow.Add(time.Duration(r*30+i)*time.Second))
		}
		load.tds = append(load.tds, td)
	}
	return append(out, load)
}

// invalidUTF8Trace: states, names and messages with invalid UTF-8 (OTLP
// JSON cannot carry it; the gRPC path can), in and out of JSON strings.
func invalidUTF8Trace(t *testing.T) ptrace.Traces {
	start := goldenNow.Add(-time.Minute)
	meta := func(node string, step int) string {
		return fmt.Sprintf(`{"langgraph_node":%q,"langgraph_step":%d}`, node, step)
	}
	span := func(id, name, node string, step int, in, out string) testutil.Span {
		return testutil.Span{TraceID: "17000000000000000000000000000001", SpanID: id, ParentID: "aa00000000000001",
			Name: name, Start: start.Add(time.Duration(step) * time.Second), End: start.Add(time.Duration(step)*time.Second + 500*time.Millisecond),
			Attrs: map[string]any{"openinference.span.kind": "CHAIN", "metadata": meta(node, step), "input.value": in, "output.value": out}}
	}
	return testutil.BuildTraces(t,
		testutil.Span{TraceID: "17000000000000000000000000000001", SpanID: "aa00000000000001", Name: "LangGraph", Start: start, End: start.Add(time.Minute),
			Attrs: map[string]any{"openinference.span.kind": "CHAIN", "input.value": `{"q":"caf\xe9"}`, "output.value": "{}"}},
		span("aa00000000000002", "plan\xff", "plan\xff", 1, `{"q":"a\xffb","k\xfe":1}`, `{"plan":"ok \xc3"}`),
		span("aa00000000000003", "retrieve", "retrieve", 2, `{"q":"x"}`, "{\"documents\":[\"\xed\xa0\x80\",\"fine é\"]}"),
		span("aa00000000000004", "answer", "answer", 3, `not json \xff`, `["\xe6\x97", 1, {"a":"\xf0\x9f\x98"}]`),
	)
}

// goldenDump renders one dataset: each section's lines, or for a hashed
// dataset one SHA-256 per trace and section.
func goldenDump(t *testing.T, ds goldenDataset) string {
	sections := map[string][]goldenLine{}
	add := func(section, trace string, v any) {
		sections[section] = append(sections[section], goldenLine{trace, canonLine(t, v)})
	}

	// The runs as the processor maps them.
	for _, td := range ds.tds {
		for _, run := range agentrun.MapTraces(cloneTraces(td), agentrun.Options{}) {
			add("runs", run.TraceID, run)
		}
	}

	// The rows as the exporter builds them from the processor's output.
	cfg := createDefaultConfig().(*Config)
	cfg.Audit.ToolCalls = true
	exp, err := newExporter(cfg, exportertestSettings())
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "golden.db")
	st, err := store.Open(context.Background(), store.Config{Driver: store.DriverSQLite, Path: path})
	require.NoError(t, err)
	require.NoError(t, st.Migrate(context.Background()))
	forwarded, refused := detectAll(t, ds.tds)
	for _, msg := range refused {
		add("detector_refused", "", msg)
	}
	for _, td := range forwarded {
		// As pushTraces: what the detector marked skipped is not stored.
		if td = withoutSkipped(td); td.ResourceSpans().Len() == 0 {
			add("skipped", "", "request")
			continue
		}
		runs := agentrun.MapTraces(td, exp.mapOpt)
		rows := buildRows(td, runs, exp.rowOpt, goldenNow)
		add("unmapped", "", rows.unmapped)
		for _, u := range rows.batch.Traces {
			add("rows.traces", u.Trace.ID, u)
		}
		for _, s := range rows.batch.Steps {
			add("rows.trace_steps", s.TraceID, s)
		}
		for _, d := range rows.batch.Detections {
			add("rows.detections", d.TraceID, d)
		}
		for _, f := range rows.batch.Forensics {
			add("rows.forensics", f.TraceID, f)
		}
		for _, a := range rows.audit {
			add("rows.audit_logs", a.TraceID, a)
		}
		// As pushTraces writes: rows the database refuses for their
		// content go to the quarantine, the rest is stored.
		sv, err := store.WriteSalvaging(context.Background(), st, rows.batch)
		if err != nil {
			add("write_errors", "", err.Error())
		}
		for _, r := range sv.Refused {
			add("refused", r.TraceID, fmt.Sprintf("%s %s: %v", r.Table, r.RecordID, r.Err))
		}
		if len(rows.audit) > 0 {
			if err := st.InsertAuditLogs(context.Background(), rows.audit); err != nil {
				add("write_errors", "", err.Error())
			}
		}
	}
	require.NoError(t, st.Close())

	// The stored rows, read back with plain SQL.
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	for _, table := range []struct{ name, traceCol string }{
		{"traces", "id"}, {"trace_steps", "trace_id"}, {"detections", "trace_id"}, {"forensics", "trace_id"}, {"audit_logs", "trace_id"},
	} {
		for _, r := range selectAll(t, db, table.name, table.traceCol) {
			sections["stored."+table.name] = append(sections["stored."+table.name], r)
		}
	}

	var b strings.Builder
	names := make([]string, 0, len(sections))
	for k := range sections {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		lines := sections[name]
		fmt.Fprintf(&b, "## %s (%d)\n", name, len(lines))
		if !ds.hashed {
			for _, l := range lines {
				b.WriteString(shortLine(l.text))
				b.WriteByte('\n')
			}
			continue
		}
		// One hash per trace, over its lines in order.
		var traces []string
		byTrace := map[string]*strings.Builder{}
		for _, l := range lines {
			sb := byTrace[l.trace]
			if sb == nil {
				sb = &strings.Builder{}
				byTrace[l.trace] = sb
				traces = append(traces, l.trace)
			}
			sb.WriteString(l.text)
			sb.WriteByte('\n')
		}
		slices.Sort(traces)
		for _, id := range traces {
			sum := sha256.Sum256([]byte(byTrace[id].String()))
			fmt.Fprintf(&b, "%s %s\n", id, hex.EncodeToString(sum[:]))
		}
	}
	return b.String()
}

type goldenLine struct{ trace, text string }

// goldenMaxLine bounds a line of the dump as checked in: a longer line (a
// state of many KiB, 20,000 nested brackets) keeps its start and a hash of
// the whole, so the files stay small and their diffs readable.
const goldenMaxLine = 2048

func shortLine(s string) string {
	if len(s) <= goldenMaxLine {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return fmt.Sprintf("%s ... (%d bytes, sha256 %s)", strings.ToValidUTF8(s[:goldenMaxLine/2], ""), len(s), hex.EncodeToString(sum[:]))
}

// detectAll passes the requests through the real argusdetector, one shard,
// nothing released or forwarded in progress before shutdown, and returns
// what it forwarded and what it refused to the client.
func detectAll(t *testing.T, tds []ptrace.Traces) (out []ptrace.Traces, refused []string) {
	f := argusdetector.NewFactory()
	cfg := f.CreateDefaultConfig().(*argusdetector.Config)
	cfg.NumShards = 1
	cfg.RootQuietPeriod = 0
	cfg.MaxRunDuration = time.Hour
	cfg.ProgressInterval = time.Hour // no run is forwarded in progress
	require.NoError(t, cfg.Validate())
	sink := new(consumertest.TracesSink)
	p, err := f.CreateTraces(context.Background(), processortest.NewNopSettings(f.Type()), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	for _, td := range tds {
		// What the detector refuses to the client (spans it cannot take,
		// the rest accepted) is part of the dump.
		if err := p.ConsumeTraces(context.Background(), cloneTraces(td)); err != nil {
			refused = append(refused, err.Error())
		}
	}
	require.NoError(t, p.Shutdown(context.Background()))
	return sink.AllTraces(), refused
}

func cloneTraces(td ptrace.Traces) ptrace.Traces {
	out := ptrace.NewTraces()
	td.CopyTo(out)
	return out
}

// selectAll reads a table in primary key order, every column as its exact
// stored value.
func selectAll(t *testing.T, db *sql.DB, table, traceCol string) []goldenLine {
	rows, err := db.Query("SELECT " + traceCol + ", * FROM " + table + " ORDER BY id")
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out []goldenLine
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		var b strings.Builder
		for i, v := range vals[1:] {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(cols[i+1])
			b.WriteByte('=')
			switch x := v.(type) {
			case nil:
				b.WriteString("NULL")
			case string:
				b.WriteString(strconv.Quote(x))
			case []byte:
				b.WriteString("x" + strconv.Quote(string(x)))
			default:
				fmt.Fprintf(&b, "%v", x)
			}
		}
		trace, _ := vals[0].(string)
		out = append(out, goldenLine{trace, b.String()})
	}
	require.NoError(t, rows.Err())
	return out
}

// canonLine is v as one line of JSON in which every byte of the code's
// output shows: json.RawMessage fields as the exact string they hold (a
// plain json.Marshal would compact them), times in RFC 3339 with
// nanoseconds and zone, maps with sorted keys.
func canonLine(t *testing.T, v any) string {
	b, err := json.Marshal(canon(reflect.ValueOf(v)))
	require.NoError(t, err)
	return string(b)
}

var (
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	timeType       = reflect.TypeFor[time.Time]()
)

func canon(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	switch v.Type() {
	case rawMessageType:
		if v.IsNil() {
			return nil
		}
		return "raw:" + string(v.Bytes())
	case timeType:
		return v.Interface().(time.Time).Format(time.RFC3339Nano) + " " + v.Interface().(time.Time).Location().String()
	}
	switch v.Kind() {
	case reflect.String:
		if s := v.String(); !utf8.ValidString(s) {
			return "invalid-utf8:" + strconv.Quote(s) // json.Marshal would hide the bytes
		}
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return canon(v.Elem())
	case reflect.Struct:
		m := map[string]any{}
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				m[f.Name] = canon(v.Field(i))
			}
		}
		return m
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		m := map[string]any{}
		for it := v.MapRange(); it.Next(); {
			m[fmt.Sprint(it.Key().Interface())] = canon(it.Value())
		}
		return m
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = canon(v.Index(i))
		}
		return out
	case reflect.Float32, reflect.Float64:
		// Also NaN and infinities, which JSON cannot hold.
		return "f:" + strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	return v.Interface()
}

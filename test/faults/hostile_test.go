package faults

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// Strings of testdata/hostile/sql_and_html_everywhere.json.
const (
	hostileSQL  = "x'); DROP TABLE traces; --"
	hostileHTML = `<script>alert("argus")</script><img src=x onerror=alert(1)>`
)

// Trace ids of the corpus files and of the generated cases.
const (
	idMalformed = "11000000000000000000000000000001"
	idNested    = "12000000000000000000000000000001"
	idCycles    = "13000000000000000000000000000001"
	idDup       = "14000000000000000000000000000001"
	idTimes     = "15000000000000000000000000000001"
	idSQL       = "16000000000000000000000000000001"
	idHuge      = "17000000000000000000000000000001"
	idUTF8      = "18000000000000000000000000000001"
	idWide      = "19000000000000000000000000000001"
)

// hostileMemLimit bounds the collector's peak RSS over the whole corpus.
// The largest inputs are a 100k-span trace (~14 MB of protobuf, held as
// pdata, mapped to 100k steps and written in one transaction) and a request
// carrying three 10 MiB strings (~31 MiB JSON body, decoded to pdata, then
// truncated to max_field_bytes before storage). The memory_limiter is set to
// 512 MiB; Go's heap may overshoot its soft target by the transient copies
// of one request, and RSS adds the runtime and binary (~60 MiB). 768 MiB is
// the limit plus that headroom: a leak or an unbounded copy per span
// exceeds it.
const hostileMemLimit = 768 << 20

func TestHostileInput(t *testing.T) {
	s := setup{
		dir:         t.TempDir(),
		metrics:     true,
		recvMiB:     64, // the 10 MiB attributes and the 100k-span trace exceed the 4 MiB gRPC default
		memLimitMiB: 512,
		detector:    "max_run_duration: 3s\n    root_quiet_period: 300ms\n    tick: 100ms",
	}
	c := startCollector(t, s)
	client := dial(t, c.grpcAddr)

	files, err := filepath.Glob(filepath.Join(testutil.ModuleRoot(t), "testdata", "hostile", "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 7)
	var nested []byte
	for _, f := range files {
		body, err := os.ReadFile(f)
		if filepath.Base(f) == "deeply_nested_json.json" {
			nested = body // sent last, on its own: see its subtest
			continue
		}
		require.NoError(t, err)
		code := postJSON(t, c, body)
		switch filepath.Base(f) {
		case "broken_body.json":
			require.Equal(t, http.StatusBadRequest, code, "a body that is not OTLP JSON is refused")
		case "duplicate_and_zero_ids.json":
			// The spans with an all-zero trace id are refused (permanent:
			// 400, not retried); the others of the request are stored.
			require.Equal(t, http.StatusBadRequest, code, "spans with an all-zero trace id are refused")
		default:
			require.Equal(t, http.StatusOK, code, filepath.Base(f))
		}
		require.True(t, c.healthy(), "unhealthy after %s", filepath.Base(f))
	}

	// Three 10 MiB strings (a JSON state, a plain attribute, a span name)
	// over OTLP/HTTP JSON: a ~31 MiB body, hence recvMiB.
	code := postJSON(t, c, mustJSON(t, hugeAttributes()))
	require.Equal(t, http.StatusOK, code)
	require.True(t, c.healthy())

	// Invalid UTF-8 cannot be written in OTLP JSON: protobuf over gRPC.
	utf8Err := client.send(context.Background(), invalidUTF8())
	require.True(t, c.healthy())

	// 100k spans in one trace over gRPC.
	require.NoError(t, client.send(context.Background(), wideTrace(100_000)))
	require.True(t, c.healthy())

	db := openSQLite(t, s.dbPath())
	for _, id := range []string{idMalformed, idCycles, idDup, idTimes, idSQL, idHuge, idWide} {
		waitTrace(t, db, id, 90*time.Second)
	}

	t.Run("malformed JSON states are stored as JSON strings", func(t *testing.T) {
		require.Equal(t, 5, count(t, db, "SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", idMalformed))
		var out string
		require.NoError(t, db.QueryRow(`SELECT CAST(output_state AS TEXT) FROM trace_steps WHERE trace_id = ? AND node_name = 'plan'`, idMalformed).Scan(&out))
		var v any
		require.NoError(t, json.Unmarshal([]byte(out), &v), "output_state is valid JSON: %s", out)
		require.Equal(t, `{"query": [1, 2`, v)
	})
	t.Run("parent cycles are stored", func(t *testing.T) {
		// Five node spans, none a root; the cycle does not hang or crash.
		require.Equal(t, 5, count(t, db, "SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", idCycles))
	})
	t.Run("duplicate ids are stored once", func(t *testing.T) {
		n := count(t, db, "SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", idDup)
		require.Equal(t, n, count(t, db, "SELECT COUNT(DISTINCT id) FROM trace_steps WHERE trace_id = ?", idDup))
		require.Equal(t, n, count(t, db, "SELECT COUNT(DISTINCT step_number) FROM trace_steps WHERE trace_id = ?", idDup))
		require.Positive(t, n)
		require.Zero(t, count(t, db, "SELECT COUNT(*) FROM traces WHERE id = '00000000000000000000000000000000' OR id = ''"))
	})
	t.Run("extreme timestamps are stored", func(t *testing.T) {
		require.Equal(t, 4, count(t, db, "SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", idTimes))
		require.Zero(t, count(t, db, "SELECT COUNT(*) FROM trace_steps WHERE trace_id = ? AND duration_ms < 0", idTimes))
		require.Zero(t, count(t, db, "SELECT COUNT(*) FROM traces WHERE id = ? AND duration_ms < 0", idTimes))
	})
	t.Run("SQL and HTML are stored verbatim", func(t *testing.T) {
		require.Equal(t, 1, count(t, db, "SELECT COUNT(*) FROM trace_steps WHERE trace_id = ? AND node_name = ?", idSQL, hostileSQL))
		require.Equal(t, 1, count(t, db, "SELECT COUNT(*) FROM trace_steps WHERE trace_id = ? AND node_name = ?", idSQL, hostileHTML))
		var in string
		require.NoError(t, db.QueryRow("SELECT CAST(input_state AS TEXT) FROM trace_steps WHERE trace_id = ? AND node_name = ?", idSQL, hostileSQL).Scan(&in))
		var state map[string]any
		require.NoError(t, json.Unmarshal([]byte(in), &state))
		require.Equal(t, hostileHTML, state["html"])
		require.Equal(t, hostileHTML, state[hostileSQL])
		// Every table is intact.
		for _, table := range []string{"traces", "trace_steps", "detections", "forensics", "audit_logs"} {
			require.Equal(t, 1, count(t, db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table), table)
		}
		require.Positive(t, count(t, db, "SELECT COUNT(*) FROM traces"))
	})
	t.Run("10 MiB values are bounded in storage", func(t *testing.T) {
		requireValidStates(t, db, idHuge, 1)
		var in, meta int
		require.NoError(t, db.QueryRow("SELECT LENGTH(CAST(input_state AS TEXT)), LENGTH(CAST(metadata AS TEXT)) FROM trace_steps WHERE trace_id = ?", idHuge).Scan(&in, &meta))
		require.Less(t, in, 1<<20, "input_state is truncated to max_field_bytes")
		require.Less(t, meta, 1<<20, "step metadata is bounded")
	})
	t.Run("invalid UTF-8 is refused or stored as valid UTF-8", func(t *testing.T) {
		t.Logf("invalid UTF-8 over gRPC: %v", utf8Err)
		if utf8Err != nil {
			require.Contains(t, utf8Err.Error(), "utf-8", "a refusal names the problem")
			return
		}
		waitTrace(t, db, idUTF8, 30*time.Second)
		requireValidStates(t, db, idUTF8, 1)
		rows, err := db.Query("SELECT node_name, CAST(input_state AS TEXT), CAST(output_state AS TEXT), CAST(metadata AS TEXT) FROM trace_steps WHERE trace_id = ?", idUTF8)
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var a, b, c, d string
			require.NoError(t, rows.Scan(&a, &b, &c, &d))
			for _, v := range []string{a, b, c, d} {
				require.True(t, utf8.ValidString(v), "stored text is valid UTF-8: %q", v)
			}
		}
		require.NoError(t, rows.Err())
	})
	t.Run("100k-span trace is stored", func(t *testing.T) {
		var nodes int
		require.NoError(t, db.QueryRow("SELECT node_count FROM traces WHERE id = ?", idWide).Scan(&nodes))
		require.Equal(t, 100_000, nodes)
		require.Equal(t, 100_000, count(t, db, "SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", idWide))
	})
	t.Run("drops are counted, nothing panicked", func(t *testing.T) {
		// The spans with a zero or empty trace id cannot form a run: the
		// detector refuses them.
		require.GreaterOrEqual(t, c.metric(t, "otelcol_argusdetector_spans_refused"), 3.0)
		require.Zero(t, c.metric(t, "otelcol_argusexporter_items_dropped", `reason="panic"`))
		require.Zero(t, c.metric(t, "otelcol_argusdetector_detection_panics"))
		require.Positive(t, c.metric(t, "otelcol_argusdetector_spans_received"))
	})
	// JSON nested deeper than SQLite's json_valid accepts (1000 levels) but
	// within encoding/json's limit (10000). Sent alone and last, because
	// the store refusing it drops every trace of the same exporter batch.
	t.Run("deep nesting is stored as valid JSON", func(t *testing.T) {
		require.NotNil(t, nested)
		require.Equal(t, http.StatusOK, postJSON(t, c, nested))
		require.True(t, c.healthy())
		waitTrace(t, db, idNested, 20*time.Second)
		requireValidStates(t, db, idNested, 3)
	})
	t.Run("memory stays bounded", func(t *testing.T) {
		hwm := c.vmHWM(t)
		t.Logf("VmHWM %d MiB (limit %d MiB)", hwm>>20, hostileMemLimit>>20)
		require.Less(t, hwm, int64(hostileMemLimit))
	})
	require.True(t, c.healthy())
	require.True(t, c.stop(30*time.Second))
}

func postJSON(t *testing.T, c *collector, body []byte) int {
	t.Helper()
	cl := http.Client{Timeout: 60 * time.Second}
	resp, err := cl.Post("http://"+c.httpAddr+"/v1/traces", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func mustJSON(t *testing.T, td ptrace.Traces) []byte {
	t.Helper()
	var m ptrace.JSONMarshaler
	b, err := m.MarshalTraces(td)
	require.NoError(t, err)
	return b
}

func waitTrace(t *testing.T, db *sql.DB, id string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM traces WHERE id = ?", id).Scan(&n); err == nil && n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s not stored after %s", id, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// requireValidStates checks the trace has at least n steps and every stored
// JSON column of them parses.
func requireValidStates(t *testing.T, db *sql.DB, id string, n int) {
	t.Helper()
	rows, err := db.Query("SELECT CAST(input_state AS TEXT), CAST(output_state AS TEXT), CAST(metadata AS TEXT) FROM trace_steps WHERE trace_id = ?", id)
	require.NoError(t, err)
	defer rows.Close()
	got := 0
	for rows.Next() {
		var in, out, meta sql.NullString
		require.NoError(t, rows.Scan(&in, &out, &meta))
		for _, v := range []sql.NullString{in, out, meta} {
			if v.Valid {
				require.True(t, json.Valid([]byte(v.String)), "stored JSON does not parse: %.200s", v.String)
			}
		}
		got++
	}
	require.NoError(t, rows.Err())
	require.GreaterOrEqual(t, got, n)
}

func traceIDOf(s string) pcommon.TraceID {
	var id pcommon.TraceID
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		panic(err)
	}
	return id
}

func sid(n uint64) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], n)
	return id
}

// langgraphTrace is a root and one OpenInference node span per node name.
func langgraphTrace(traceHex string, nodes []string, each func(i int, sp ptrace.Span)) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "hostile")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	tid := traceIDOf(traceHex)
	start := time.Now().Add(-time.Minute)
	root := spans.AppendEmpty()
	root.SetTraceID(tid)
	root.SetSpanID(sid(1))
	root.SetName("LangGraph")
	root.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	root.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(len(nodes)+1) * time.Millisecond)))
	root.Attributes().PutStr("openinference.span.kind", "CHAIN")
	spans.EnsureCapacity(len(nodes) + 1)
	for i, name := range nodes {
		sp := spans.AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(sid(uint64(i) + 2))
		sp.SetParentSpanID(sid(1))
		sp.SetName(name)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i+1) * time.Millisecond)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i+2) * time.Millisecond)))
		a := sp.Attributes()
		a.PutStr("openinference.span.kind", "CHAIN")
		a.PutStr("metadata", fmt.Sprintf(`{"langgraph_node":%q,"langgraph_step":%d}`, name, i+1))
		if each != nil {
			each(i, sp)
		}
	}
	return td
}

// hugeAttributes carries three 10 MiB strings: a JSON input state, a plain
// attribute and a span name.
func hugeAttributes() ptrace.Traces {
	big := strings.Repeat("refund policy annual plan ", (10<<20)/26+1)[:10<<20]
	return langgraphTrace(idHuge, []string{"retrieve"}, func(_ int, sp ptrace.Span) {
		a := sp.Attributes()
		a.PutStr("input.value", `{"documents":["`+big+`"]}`)
		a.PutStr("input.mime_type", "application/json")
		a.PutStr("output.value", `{"documents":[]}`)
		a.PutStr("llm.note", big)
		sp.Events().AppendEmpty().SetName(big)
	})
}

// invalidUTF8 puts broken byte sequences in names, states and attributes.
func invalidUTF8() ptrace.Traces {
	bad := "ok \xff\xfe \xc3\x28 \xed\xa0\x80 end"
	return langgraphTrace(idUTF8, []string{"plan\xff", "retrieve"}, func(_ int, sp ptrace.Span) {
		a := sp.Attributes()
		a.PutStr("input.value", `{"q":"`+bad+`"}`)
		a.PutStr("input.mime_type", "application/json")
		a.PutStr("output.value", bad)
		a.PutStr("key\xff", bad)
		sp.Status().SetMessage(bad)
	})
}

// wideTrace is one run of n node executions (an agent loop gone wild).
func wideTrace(n int) ptrace.Traces {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("step_%d", i%16)
	}
	return langgraphTrace(idWide, names, nil)
}

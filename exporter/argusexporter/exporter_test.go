package argusexporter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/annotation"
	"github.com/arguslabs/argus-otel/internal/writehealth"
	"github.com/arguslabs/argus-otel/store"
)

// countingStore records Close calls on a real store.
type countingStore struct {
	store.Store
	closes *atomic.Int32
}

func (c countingStore) Close() error {
	c.closes.Add(1)
	return c.Store.Close()
}

// countOpens makes every store the exporter opens count its opens and
// closes, until the test ends.
func countOpens(t *testing.T) (opens, closes *atomic.Int32) {
	opens, closes = new(atomic.Int32), new(atomic.Int32)
	orig := openStore
	openStore = func(ctx context.Context, c store.Config) (store.Store, error) {
		opens.Add(1)
		st, err := orig(ctx, c)
		if err != nil {
			return nil, err
		}
		return countingStore{Store: st, closes: closes}, nil
	}
	t.Cleanup(func() { openStore = orig })
	return opens, closes
}

func TestStartCreatesDirectoryAndSchemaAndShutdownCloses(t *testing.T) {
	opens, closes := countOpens(t)

	cfg := testConfig()
	cfg.Path = filepath.Join(t.TempDir(), "nested", ".argus", "traces.db")
	s := startExporters(t, cfg)

	st, err := os.Stat(filepath.Dir(cfg.Path))
	require.NoError(t, err)
	require.True(t, st.IsDir())
	d := backends[0].open(t, cfg)
	for _, table := range []string{"traces", "trace_steps", "detections", "forensics", "audit_logs"} {
		assert.Equal(t, 1, d.count("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table), table)
	}
	assert.Equal(t, int32(1), opens.Load(), "the traces and logs halves share one store")

	// The store stays open until the last half shuts down.
	require.NoError(t, s.traces.Shutdown(context.Background()))
	assert.Equal(t, int32(0), closes.Load())
	require.NoError(t, s.logs.Shutdown(context.Background()))
	assert.Equal(t, int32(1), closes.Load())
	s.traces, s.logs = nil, nil

	// A restart opens the store again.
	s = startExporters(t, cfg)
	assert.Equal(t, int32(2), opens.Load())
	s.shutdown(t)
	assert.Equal(t, int32(2), closes.Load())
}

func TestStartFailsOnUnusableDatabase(t *testing.T) {
	cfg := testConfig()
	// The parent of the database is a file: the directory cannot be created.
	blocker := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocker, []byte("x"), 0o600))
	cfg.Path = filepath.Join(blocker, "traces.db")
	tr, err := NewFactory().CreateTraces(context.Background(), exportertestSettings(), cfg)
	require.NoError(t, err)
	err = tr.Start(context.Background(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "create directory")
	require.NoError(t, tr.Shutdown(context.Background()))
}

func TestWritesRuns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		cfg := be.config(t)
		s := startExporters(t, cfg)
		d := be.open(t, cfg)

		start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		failing := langGraphRun("support-bot", start, ragRun(true))
		clean := langGraphRun("support-bot", start.Add(time.Minute), ragRun(false))
		both := merge(failing, clean) // moves the spans out of failing.td and clean.td
		require.NoError(t, s.traces.ConsumeTraces(context.Background(), both))

		var status, name, meta string
		var nodes, dets int
		var dur int64
		var created any
		d.row("SELECT status, pipeline_name, node_count, detection_count, duration_ms, created_at, CAST(metadata AS TEXT) FROM traces WHERE id = ?",
			[]any{failing.traceID}, &status, &name, &nodes, &dets, &dur, &created, &meta)
		assert.Equal(t, "failed", status, "no processor: a span with status ERROR fails the run")
		assert.Equal(t, "LangGraph", name)
		assert.Equal(t, 5, nodes)
		assert.Zero(t, dets)
		assert.Equal(t, failing.end.Sub(failing.start).Milliseconds(), dur)
		assert.True(t, failing.start.Equal(timeOf(t, created)), "created_at %v", created)
		// traces.metadata is the run's metadata (from the one mapping) plus end_time.
		var run *agentrun.Run
		for _, r := range agentrun.MapTraces(both, agentrun.Options{RedactKeys: cfg.RedactKeys, MaxFieldBytes: cfg.MaxFieldBytes}) {
			if r.TraceID == failing.traceID {
				run = r
			}
		}
		require.NotNil(t, run)
		md := jsonOf(t, meta).(map[string]any)
		require.NotEmpty(t, run.Metadata)
		for k, v := range run.Metadata {
			assert.Equal(t, jsonOf(t, js(v)), md[k], "metadata %s", k)
		}
		assert.Contains(t, js(md), "support-bot", "resource attributes reach the row")
		endTime, err := time.Parse(time.RFC3339Nano, md["end_time"].(string))
		require.NoError(t, err)
		assert.True(t, failing.end.Equal(endTime))

		d.row("SELECT status FROM traces WHERE id = ?", []any{clean.traceID}, &status)
		assert.Equal(t, "ok", status)

		rows, err := d.Query(d.rebind("SELECT id, step_number, node_name, CAST(input_state AS TEXT), CAST(output_state AS TEXT), duration_ms, timestamp, CAST(metadata AS TEXT) FROM trace_steps WHERE trace_id = ? ORDER BY step_number"), failing.traceID)
		require.NoError(t, err)
		defer rows.Close()
		var order []string
		for rows.Next() {
			var id, node, in, out, smeta string
			var n int
			var ms int64
			var ts any
			require.NoError(t, rows.Scan(&id, &n, &node, &in, &out, &ms, &ts, &smeta))
			i := len(order)
			order = append(order, node)
			span := failing.nodes[i]
			assert.Equal(t, i+1, n)
			assert.Equal(t, agentrun.StepID(failing.traceID, span.SpanID().String()), id)
			assert.Equal(t, int64(20), ms)
			assert.True(t, span.StartTimestamp().AsTime().Equal(timeOf(t, ts)))
			in0, _ := span.Attributes().Get("input.value")
			assert.JSONEq(t, in0.Str(), in)
			assert.JSONEq(t, js(run.Steps[i].Metadata), smeta, "step metadata is the mapping's")
			sm := jsonOf(t, smeta).(map[string]any)
			assert.Equal(t, span.SpanID().String(), sm["span_id"])
			switch node {
			case "retrieve":
				assert.JSONEq(t, `{"documents":[]}`, out)
				assert.Contains(t, smeta, "kb_search", "the nested tool call is summarised")
			case "synthesize":
				assert.Equal(t, "null", out, "a node that threw has no output state")
				assert.Equal(t, "error", sm["status"])
				assert.NotEmpty(t, sm["exceptions"])
			case "plan":
				assert.Contains(t, smeta, "gpt-4o-mini", "the nested LLM call is summarised")
			}
		}
		require.NoError(t, rows.Err())
		assert.Equal(t, []string{"plan", "retrieve", "rerank", "format_context", "synthesize"}, order)

		assert.Equal(t, int64(2), s.counter(t, "otelcol_argusexporter_rows_written", "table", "traces"))
		assert.Equal(t, int64(10), s.counter(t, "otelcol_argusexporter_rows_written", "table", "trace_steps"))
	})
}

func TestSamePushTwiceLeavesNoDuplicates(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		cfg := be.config(t)
		s := startExporters(t, cfg)
		d := be.open(t, cfg)
		b := langGraphRun("svc", time.Now().Add(-time.Minute), ragRun(true))
		annotate(b)
		var before [4]int
		var meta1 string
		for i := 0; i < 2; i++ {
			require.NoError(t, s.traces.ConsumeTraces(context.Background(), b.td))
			counts := [4]int{
				d.count("SELECT COUNT(*) FROM traces WHERE id = ?", b.traceID),
				d.count("SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", b.traceID),
				d.count("SELECT COUNT(*) FROM detections WHERE trace_id = ?", b.traceID),
				d.count("SELECT COUNT(*) FROM forensics WHERE trace_id = ?", b.traceID),
			}
			var meta string
			var dets int
			d.row("SELECT CAST(metadata AS TEXT), detection_count FROM traces WHERE id = ?", []any{b.traceID}, &meta, &dets)
			assert.Equal(t, 3, dets)
			if i == 0 {
				before, meta1 = counts, meta
				assert.Equal(t, [4]int{1, 5, 3, 1}, counts)
				continue
			}
			assert.Equal(t, before, counts)
			m1, m2 := jsonOf(t, meta1).(map[string]any), jsonOf(t, meta).(map[string]any)
			for k, v := range m1 {
				if strings.HasSuffix(k, "_count") {
					assert.Equal(t, v, m2[k], "counter %s is not added twice by a retried push", k)
				}
			}
		}
	})
}

func TestTraceSplitAcrossPushesMerges(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		cfg := be.config(t)
		s := startExporters(t, cfg)
		d := be.open(t, cfg)
		start := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
		b := langGraphRun("svc", start, ragRun(false))
		early := map[pcommon.SpanID]bool{}
		for _, n := range b.nodes[:2] {
			early[n.SpanID()] = true
		}
		// Push 1: the first two nodes (and their nested calls), no root.
		p1, p2 := split(b.td, func(sp ptrace.Span) bool { return early[sp.SpanID()] || early[sp.ParentSpanID()] })
		require.NoError(t, s.traces.ConsumeTraces(context.Background(), p1))
		var name string
		var nodes int
		d.row("SELECT pipeline_name, node_count FROM traces WHERE id = ?", []any{b.traceID}, &name, &nodes)
		assert.Equal(t, 2, nodes)

		// Push 2: the root and the other three nodes.
		require.NoError(t, s.traces.ConsumeTraces(context.Background(), p2))
		var status string
		var dur int64
		var created any
		d.row("SELECT pipeline_name, node_count, status, duration_ms, created_at FROM traces WHERE id = ?", []any{b.traceID}, &name, &nodes, &status, &dur, &created)
		assert.Equal(t, "LangGraph", name, "the push holding the root names the run")
		assert.Equal(t, 5, nodes)
		assert.Equal(t, "ok", status)
		assert.Equal(t, b.end.Sub(b.start).Milliseconds(), dur)
		assert.True(t, b.start.Equal(timeOf(t, created)))
		assert.Equal(t, 1, d.count("SELECT COUNT(*) FROM traces WHERE id = ?", b.traceID))

		rows, err := d.Query(d.rebind("SELECT node_name FROM trace_steps WHERE trace_id = ? ORDER BY timestamp"), b.traceID)
		require.NoError(t, err)
		defer rows.Close()
		var order []string
		for rows.Next() {
			var n string
			require.NoError(t, rows.Scan(&n))
			order = append(order, n)
		}
		assert.Equal(t, []string{"plan", "retrieve", "rerank", "format_context", "synthesize"}, order)
	})
}

// annotate puts what the argusdetector processor would on a failing RAG run:
// a critical detection on retrieve, a warning on its tool call, a run-level
// info on the root, forensics blaming retrieve, and the run verdict.
func annotate(b built) (ids []string) {
	annotation.AddDetection(b.nodes[1], annotation.Detection{
		ID: "det-" + b.traceID + "-1", Layer: "structural", Severity: "critical", Rule: "structural.empty_output",
		Message: "retrieve returned an empty documents list",
		Details: []byte(`{"field":"documents","api_key":"sk-live-123"}`),
		Node:    "retrieve",
	})
	annotation.AddDetection(b.tools[0], annotation.Detection{
		ID: "det-" + b.traceID + "-2", Layer: "semantic", Severity: "warning", Rule: "semantic.empty_retrieval",
		Message: "kb_search returned no hits", Details: []byte(`[1, 2]`),
	})
	annotation.AddDetection(b.root, annotation.Detection{
		ID: "det-" + b.traceID + "-3", Layer: "behavioral", Severity: "info", Rule: "behavioral.summary",
		Message: "run summary", Details: []byte(`{"rule":"custom.rule"}`),
	})
	ids = []string{"det-" + b.traceID + "-1", "det-" + b.traceID + "-2", "det-" + b.traceID + "-3"}
	annotation.AddForensics(b.root, annotation.Forensics{
		ID:            "for-" + b.traceID,
		RootCauseSpan: b.nodes[1].SpanID().String(),
		RootCauseNode: "retrieve",
		CausalChain:   []byte(`[{"from":"retrieve","to":"synthesize","type":"field_drop","field":"documents","confidence":0.9}]`),
		DetectionIDs:  ids[:2],
		Confidence:    0.9,
		Explanation:   "retrieve returned no documents, so synthesize crashed on the missing context.",
	})
	annotation.SetRunStatus(b.root, "warning", 3)
	b.root.Attributes().PutBool(annotation.AttrPartial, true)
	return ids
}

func TestAnnotationsBecomeDetectionAndForensicsRows(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		cfg := be.config(t)
		s := startExporters(t, cfg)
		d := be.open(t, cfg)
		b := langGraphRun("svc", time.Now().Add(-time.Minute), ragRun(true))
		ids := annotate(b)
		require.NoError(t, s.traces.ConsumeTraces(context.Background(), b.td))

		var status, meta string
		var dets int
		d.row("SELECT status, detection_count, CAST(metadata AS TEXT) FROM traces WHERE id = ?", []any{b.traceID}, &status, &dets, &meta)
		assert.Equal(t, "warning", status, "argus.run.status on the root wins over the span statuses")
		assert.Equal(t, 3, dets)
		assert.Equal(t, true, jsonOf(t, meta).(map[string]any)["partial"], "argus.partial on the root is kept")

		retrieveStep := agentrun.StepID(b.traceID, b.nodes[1].SpanID().String())
		type det struct {
			stepID                        *string
			layer, severity, msg, details string
			created                       any
		}
		read := func(id string) det {
			var x det
			d.row("SELECT step_id, layer, severity, message, CAST(details AS TEXT), created_at FROM detections WHERE id = ?", []any{id},
				&x.stepID, &x.layer, &x.severity, &x.msg, &x.details, &x.created)
			return x
		}
		d1 := read(ids[0])
		require.NotNil(t, d1.stepID)
		assert.Equal(t, retrieveStep, *d1.stepID)
		assert.Equal(t, "structural", d1.layer)
		assert.Equal(t, "critical", d1.severity)
		assert.Equal(t, "retrieve returned an empty documents list", d1.msg)
		det1 := jsonOf(t, d1.details).(map[string]any)
		assert.Equal(t, "structural.empty_output", det1["rule"])
		assert.Equal(t, "retrieve", det1["node"])
		assert.Equal(t, "documents", det1["field"])
		assert.Equal(t, "[REDACTED]", det1["api_key"], "secrets in details are redacted")
		assert.True(t, b.nodes[1].EndTimestamp().AsTime().Equal(timeOf(t, d1.created)))

		d2 := read(ids[1])
		require.NotNil(t, d2.stepID, "a detection on a nested tool span links to its node's step")
		assert.Equal(t, retrieveStep, *d2.stepID)
		det2 := jsonOf(t, d2.details).(map[string]any)
		assert.Equal(t, "semantic.empty_retrieval", det2["rule"])
		assert.Equal(t, "retrieve", det2["node"], "node filled from the step")
		assert.Equal(t, "[1, 2]", det2["raw"], "details that are no object are kept")

		d3 := read(ids[2])
		assert.Nil(t, d3.stepID, "a detection on the root is run-level")
		assert.Equal(t, "custom.rule", jsonOf(t, d3.details).(map[string]any)["rule"], "a rule already in details is kept")

		var root *string
		var detIDs, chain, expl string
		d.row("SELECT root_cause_step, CAST(detection_ids AS TEXT), CAST(causal_chain AS TEXT), explanation FROM forensics WHERE id = ?",
			[]any{"for-" + b.traceID}, &root, &detIDs, &chain, &expl)
		require.NotNil(t, root)
		assert.Equal(t, retrieveStep, *root)
		assert.JSONEq(t, js(ids[:2]), detIDs)
		assert.JSONEq(t, `[{"from":"retrieve","to":"synthesize","type":"field_drop","field":"documents","confidence":0.9}]`, chain)
		assert.Contains(t, expl, "synthesize crashed")

		var node string
		d.row("SELECT s.node_name FROM forensics f JOIN trace_steps s ON s.id = f.root_cause_step WHERE f.trace_id = ?", []any{b.traceID}, &node)
		assert.Equal(t, "retrieve", node)
	})
}

func TestOddAnnotationValuesAreNormalisedNotFatal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		cfg := be.config(t)
		s := startExporters(t, cfg)
		d := be.open(t, cfg)
		b := langGraphRun("svc", time.Now(), ragRun(false))
		annotation.AddDetection(b.nodes[0], annotation.Detection{Layer: "Magic", Severity: "FATAL", Rule: "x.y", Message: "odd"})
		annotation.AddDetection(b.nodes[0], annotation.Detection{Layer: "SEMANTIC", Severity: "Critical", Rule: "x.z", Message: "case"})
		// Forensics pointing at a span that is no step of this trace.
		annotation.AddForensics(b.root, annotation.Forensics{RootCauseSpan: "00000000deadbeef", Explanation: "?"})
		annotation.SetRunStatus(b.root, "bogus", 1)
		require.NoError(t, s.traces.ConsumeTraces(context.Background(), b.td))

		var layer, sev, details string
		d.row("SELECT layer, severity, CAST(details AS TEXT) FROM detections WHERE trace_id = ? AND message = 'odd'", []any{b.traceID}, &layer, &sev, &details)
		assert.Equal(t, "behavioral", layer)
		assert.Equal(t, "warning", sev)
		dm := jsonOf(t, details).(map[string]any)
		assert.Equal(t, "Magic", dm["original_layer"])
		assert.Equal(t, "FATAL", dm["original_severity"])
		d.row("SELECT layer, severity, CAST(details AS TEXT) FROM detections WHERE trace_id = ? AND message = 'case'", []any{b.traceID}, &layer, &sev, &details)
		assert.Equal(t, "semantic", layer)
		assert.Equal(t, "critical", sev)
		assert.NotContains(t, details, "original_")
		assert.Equal(t, 2, d.count("SELECT COUNT(DISTINCT id) FROM detections WHERE trace_id = ?", b.traceID), "ids generated when absent")
		assert.Equal(t, 1, d.count("SELECT COUNT(*) FROM forensics WHERE trace_id = ?", b.traceID))
		var status string
		d.row("SELECT status FROM traces WHERE id = ?", []any{b.traceID}, &status)
		assert.Equal(t, "ok", status, "an unknown run status falls back to the span statuses")
	})
}

func TestRedactionAndTruncationReachTheRows(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		cfg := be.config(t)
		cfg.MaxFieldBytes = 2048
		s := startExporters(t, cfg)
		d := be.open(t, cfg)
		big := strings.Repeat("lorem ipsum dolor sit amet ", 4000) // ~108 KB
		ns := []node{
			{name: "login", input: map[string]any{"user": "ada", "password": "hunter2", "nested": map[string]any{"Api-Key": "sk-123"}},
				output: map[string]any{"session": "ok", "Authorization": "Bearer abc"}},
			{name: "summarize", input: map[string]any{"text": big}, output: map[string]any{"summary": "short"}},
		}
		b := langGraphRun("svc", time.Now(), ns)
		require.NoError(t, s.traces.ConsumeTraces(context.Background(), b.td))

		var in, out string
		d.row("SELECT CAST(input_state AS TEXT), CAST(output_state AS TEXT) FROM trace_steps WHERE trace_id = ? AND node_name = 'login'", []any{b.traceID}, &in, &out)
		for _, secret := range []string{"hunter2", "sk-123", "Bearer abc"} {
			assert.NotContains(t, in+out, secret)
		}
		im := jsonOf(t, in).(map[string]any)
		assert.Equal(t, "[REDACTED]", im["password"])
		assert.Equal(t, "[REDACTED]", im["nested"].(map[string]any)["Api-Key"])
		assert.Equal(t, "ada", im["user"])

		d.row("SELECT CAST(input_state AS TEXT) FROM trace_steps WHERE trace_id = ? AND node_name = 'summarize'", []any{b.traceID}, &in)
		assert.Less(t, len(in), 2*cfg.MaxFieldBytes)
		tm := jsonOf(t, in).(map[string]any)
		assert.Equal(t, true, tm["_argus_truncated"])
		assert.Greater(t, tm["original_bytes"], float64(100_000))

		var all int
		d.row("SELECT COUNT(*) FROM trace_steps WHERE trace_id = ? AND (CAST(input_state AS TEXT) LIKE '%hunter2%' OR CAST(metadata AS TEXT) LIKE '%hunter2%')", []any{b.traceID}, &all)
		assert.Zero(t, all)
	})
}

func TestBadInputIsStoredNotFatal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		cfg := be.config(t)
		s := startExporters(t, cfg)
		d := be.open(t, cfg)
		evil := "'); DROP TABLE traces; -- <script>alert(1)</script> \x00 \xff\xfe bad utf8"
		ns := []node{
			{name: evil, input: map[string]any{"q": evil, "k\x00": "v"}, output: map[string]any{"a": evil}},
			{name: "ok", input: map[string]any{"q": 1}, output: map[string]any{"b": 2}},
		}
		b := langGraphRun(evil, time.Now(), ns)
		// Malformed JSON in a state, and a span without ids in the same push.
		b.nodes[1].Attributes().PutStr("output.value", `{"unclosed": [1, 2`)
		b.nodes[1].Attributes().PutStr("output.mime_type", "application/json")
		annotation.AddDetection(b.nodes[0], annotation.Detection{Layer: "semantic", Severity: "warning", Rule: evil, Message: evil, Details: []byte(`{"v":"` + "\\u0000" + `"}`)})
		annotation.AddForensics(b.root, annotation.Forensics{Explanation: evil, CausalChain: []byte(`{"not":"an array"}`)})
		orphan := b.td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty()
		orphan.SetName("no ids")

		require.NoError(t, s.traces.ConsumeTraces(context.Background(), b.td))
		assert.Equal(t, 1, d.count("SELECT COUNT(*) FROM traces WHERE id = ?", b.traceID))
		assert.Equal(t, 2, d.count("SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", b.traceID))
		assert.Equal(t, 1, d.count("SELECT COUNT(*) FROM detections WHERE trace_id = ?", b.traceID))
		var chain string
		d.row("SELECT CAST(causal_chain AS TEXT) FROM forensics WHERE trace_id = ?", []any{b.traceID}, &chain)
		assert.Equal(t, "[]", strings.ReplaceAll(chain, " ", ""))
		var out string
		d.row("SELECT CAST(output_state AS TEXT) FROM trace_steps WHERE trace_id = ? AND node_name = 'ok'", []any{b.traceID}, &out)
		assert.Equal(t, `{"unclosed": [1, 2`, jsonOf(t, out), "malformed JSON is kept as a JSON string")
		assert.Equal(t, int64(1), s.counter(t, "otelcol_argusexporter_items_dropped", "reason", "unmapped"), "the span without ids")
		assert.Zero(t, d.count("SELECT COUNT(*) FROM traces WHERE id = ''"))
	})
}

// TestMissingTableIsRetriedNotDropped: a table renamed away (a backup
// restored over the file, a migration run late) refuses every write. That
// is the database's state: the error is retryable (exporterhelper retries,
// the detector holds the spans), nothing is dropped or quarantined, the
// write path reports failing with the error; once the table is back the
// same request stores the run. Until issue #16's follow-up this error was
// permanent and the batch was dropped.
func TestMissingTableIsRetriedNotDropped(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		cfg := be.config(t)
		s := startExporters(t, cfg)
		d := be.open(t, cfg)
		_, err := d.Exec("ALTER TABLE detections RENAME TO detections_away")
		require.NoError(t, err)
		b := langGraphRun("svc", time.Now(), ragRun(true))
		annotate(b)
		err = s.traces.ConsumeTraces(context.Background(), b.td)
		require.Error(t, err)
		assert.False(t, consumererror.IsPermanent(err), "%v", err)
		assert.Contains(t, err.Error(), "detections")
		assert.Zero(t, s.counter(t, "otelcol_argusexporter_items_dropped", "", ""))
		assert.Zero(t, s.counter(t, "otelcol_argusexporter_rows_quarantined", "", ""))
		assert.Zero(t, d.count("SELECT COUNT(*) FROM quarantine"))
		health := writehealth.For(cfg.Key()).State()
		assert.True(t, health.Failing)
		assert.Contains(t, health.LastError, "detections")

		_, err = d.Exec("ALTER TABLE detections_away RENAME TO detections")
		require.NoError(t, err)
		require.NoError(t, s.traces.ConsumeTraces(context.Background(), b.td), "the retry succeeds once the table is back")
		assert.Equal(t, 1, d.count("SELECT COUNT(*) FROM traces WHERE id = ?", b.traceID))
		assert.Equal(t, 5, d.count("SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", b.traceID))
		assert.Positive(t, d.count("SELECT COUNT(*) FROM detections WHERE trace_id = ?", b.traceID))
		assert.False(t, writehealth.For(cfg.Key()).State().Failing)
		assert.Zero(t, s.counter(t, "otelcol_argusexporter_items_dropped", "", ""))
	})
}

func TestLockedDatabaseIsTransient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		cfg := be.config(t)
		cfg.TimeoutConfig.Timeout = 500 * time.Millisecond
		s := startExporters(t, cfg)
		d := be.open(t, cfg)
		ctx := context.Background()
		conn, err := d.Conn(ctx)
		require.NoError(t, err)
		defer conn.Close()
		if d.pg {
			_, err = conn.ExecContext(ctx, "BEGIN")
			require.NoError(t, err)
			_, err = conn.ExecContext(ctx, "LOCK TABLE traces IN ACCESS EXCLUSIVE MODE")
		} else {
			_, err = conn.ExecContext(ctx, "BEGIN EXCLUSIVE")
		}
		require.NoError(t, err)

		b := langGraphRun("svc", time.Now(), ragRun(false))
		err = s.traces.ConsumeTraces(ctx, b.td)
		require.Error(t, err)
		assert.False(t, consumererror.IsPermanent(err), "a lock is transient: %v", err)
		assert.Zero(t, s.counter(t, "otelcol_argusexporter_items_dropped", "", ""))

		_, err = conn.ExecContext(ctx, "ROLLBACK")
		require.NoError(t, err)
		require.NoError(t, s.traces.ConsumeTraces(ctx, b.td), "the retry succeeds once the lock is gone")
		assert.Equal(t, 1, d.count("SELECT COUNT(*) FROM traces WHERE id = ?", b.traceID))
	})
}

func TestPanicIsPermanentAndTheExporterCarriesOn(t *testing.T) {
	orig := mapTraces
	var boom atomic.Bool
	mapTraces = func(td ptrace.Traces, o agentrun.Options) []*agentrun.Run {
		if boom.Load() {
			panic("mapping bug")
		}
		return orig(td, o)
	}
	t.Cleanup(func() { mapTraces = orig })
	cfg := backends[0].config(t)
	s := startExporters(t, cfg)
	b := langGraphRun("svc", time.Now(), ragRun(false))
	boom.Store(true)
	err := s.traces.ConsumeTraces(context.Background(), b.td)
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err))
	assert.Contains(t, err.Error(), "mapping bug")
	assert.Equal(t, int64(b.td.SpanCount()), s.counter(t, "otelcol_argusexporter_items_dropped", "reason", "panic"))
	boom.Store(false)
	require.NoError(t, s.traces.ConsumeTraces(context.Background(), b.td))
}

func TestRetentionPurgesOldTraces(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		cfg := be.config(t)
		cfg.Retention = time.Hour
		cfg.RetentionCheckInterval = 50 * time.Millisecond
		s := startExporters(t, cfg)
		d := be.open(t, cfg)
		old := langGraphRun("svc", time.Now().Add(-3*time.Hour), ragRun(true))
		annotate(old)
		fresh := langGraphRun("svc", time.Now().Add(-time.Minute), ragRun(false))
		require.NoError(t, s.traces.ConsumeTraces(context.Background(), merge(old, fresh)))
		require.Eventually(t, func() bool {
			return d.count("SELECT COUNT(*) FROM traces WHERE id = ?", old.traceID) == 0
		}, 10*time.Second, 20*time.Millisecond)
		assert.Zero(t, d.count("SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", old.traceID))
		assert.Zero(t, d.count("SELECT COUNT(*) FROM detections WHERE trace_id = ?", old.traceID))
		assert.Zero(t, d.count("SELECT COUNT(*) FROM forensics WHERE trace_id = ?", old.traceID))
		assert.Equal(t, 1, d.count("SELECT COUNT(*) FROM traces WHERE id = ?", fresh.traceID))
		assert.Equal(t, 5, d.count("SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", fresh.traceID))
		assert.GreaterOrEqual(t, s.counter(t, "otelcol_argusexporter_traces_purged", "", ""), int64(1))
	})
}

func TestPushBeforeStartIsAnError(t *testing.T) {
	e, err := newExporter(testConfig(), exportertestSettings())
	require.NoError(t, err)
	err = e.pushTraces(context.Background(), ptrace.NewTraces())
	require.True(t, errors.Is(err, errNotStarted))
	require.NoError(t, e.shutdown(context.Background()), "shutdown without start is fine")
}

// TestPermanentErrorDropsOnlyTheBadTrace: when a batch fails permanently,
// the exporter writes it trace by trace, so one trace the database can never
// take does not drop the healthy traces that shared its batch.
func TestPermanentErrorDropsOnlyTheBadTrace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		cfg := be.config(t)
		s := startExporters(t, cfg)
		d := be.open(t, cfg)
		good := langGraphRun("svc", time.Now(), ragRun(false))
		bad := langGraphRun("svc", time.Now(), ragRun(true))
		// The database refuses one trace id forever (a constraint).
		var err error
		if d.pg {
			_, err = d.Exec(fmt.Sprintf("ALTER TABLE traces ADD CONSTRAINT poison CHECK (id <> '%s')", bad.traceID))
		} else {
			_, err = d.Exec(fmt.Sprintf("CREATE TRIGGER poison BEFORE INSERT ON traces WHEN NEW.id = '%s' BEGIN SELECT RAISE(ABORT, 'poisoned trace'); END", bad.traceID))
		}
		require.NoError(t, err)

		badSpans := int64(bad.td.SpanCount()) // merge moves the spans out
		require.NoError(t, s.traces.ConsumeTraces(context.Background(), merge(good, bad)),
			"the batch as a whole is handled: the good trace stored, the bad one dropped")
		assert.Equal(t, 1, d.count("SELECT COUNT(*) FROM traces WHERE id = ?", good.traceID))
		assert.Equal(t, 5, d.count("SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", good.traceID))
		assert.Zero(t, d.count("SELECT COUNT(*) FROM traces WHERE id = ?", bad.traceID))
		assert.Equal(t, badSpans, s.counter(t, "otelcol_argusexporter_items_dropped", "reason", "permanent_error"),
			"only the bad trace's spans are counted as dropped")
	})
}

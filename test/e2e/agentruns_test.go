package e2e

import (
	"bytes"
	"database/sql"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

// agentFixtures are the testdata/otlp fixtures of AI conventions; the
// other two (plain_spans, parent_cycle) carry none.
var agentFixtures = []string{
	"duplicate_ids.json", "genai_agent.json", "langsmith_langgraph.json", "malformed_states.json",
	"no_root.json", "openinference_langgraph.json", "openllmetry_langgraph.json",
	"rag_clean.json", "rag_silent_failure.json",
}

// sentRun is one trace sent to the collector.
type sentRun struct {
	name string
	id   string
	td   ptrace.Traces
}

func agentTraffic(t *testing.T) []sentRun {
	var out []sentRun
	for _, name := range agentFixtures {
		out = append(out, sentRun{name: name, td: testutil.LoadTraces(t, name)})
	}
	for _, rec := range testutil.LoadRecordings(t, "go-agent-http") {
		out = append(out, sentRun{name: "go-agent-http/" + rec.Name, td: rec.Traces})
	}
	for i := range out {
		out[i].id = traceIDOf(out[i].td)
	}
	return out
}

func traceIDOf(td ptrace.Traces) string {
	for s := range agentrun.Spans(td) {
		return s.TraceID().String()
	}
	return ""
}

// webCopy is recorded request i%20 of the orders API under a trace id of
// its own (copy i/20), as another request of the same service would be.
func webCopy(web []testutil.Recording, i int) ptrace.Traces {
	td := ptrace.NewTraces()
	web[i%len(web)].Traces.CopyTo(td)
	for s := range agentrun.Spans(td) {
		id := s.TraceID()
		id[14], id[15] = 0xe0, byte(i/len(web))
		s.SetTraceID(id)
	}
	return td
}

// postOTLP sends td as one OTLP/HTTP protobuf request.
func postOTLP(t *testing.T, c *collector, td ptrace.Traces) {
	t.Helper()
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	resp, err := http.Post("http://"+c.httpAddr+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// stored is what the database holds of one run.
type stored struct {
	pipeline, status, rootCause string
	steps                       int
	findings                    []string // rule@node/severity, sorted
}

func storedRuns(t *testing.T, db *sql.DB) map[string]stored {
	t.Helper()
	out := map[string]stored{}
	rows, err := db.Query("SELECT id, pipeline_name, status, node_count FROM traces")
	require.NoError(t, err)
	for rows.Next() {
		var id string
		var s stored
		require.NoError(t, rows.Scan(&id, &s.pipeline, &s.status, &s.steps))
		out[id] = s
	}
	require.NoError(t, rows.Err())
	rows.Close()
	rows, err = db.Query(`SELECT d.trace_id, json_extract(d.details, '$.rule'), COALESCE(json_extract(d.details, '$.node'), ''), d.severity
		FROM detections d`)
	require.NoError(t, err)
	for rows.Next() {
		var id, rule, node, sev string
		require.NoError(t, rows.Scan(&id, &rule, &node, &sev))
		s := out[id]
		s.findings = append(s.findings, rule+"@"+node+"/"+sev)
		out[id] = s
	}
	require.NoError(t, rows.Err())
	rows.Close()
	rows, err = db.Query(`SELECT f.trace_id, COALESCE(s.node_name, '') FROM forensics f LEFT JOIN trace_steps s ON s.id = f.root_cause_step`)
	require.NoError(t, err)
	for rows.Next() {
		var id, node string
		require.NoError(t, rows.Scan(&id, &node))
		s := out[id]
		s.rootCause = node
		out[id] = s
	}
	require.NoError(t, rows.Err())
	rows.Close()
	for id, s := range out {
		slices.Sort(s.findings)
		out[id] = s
	}
	return out
}

// sendRuns sends the agent runs one at a time, each after webPerRun web
// requests, and waits for each run to be stored: the statistical
// baselines see the runs in the same order whatever else is sent. It
// then stops the collector, which flushes what it still holds.
func sendRuns(t *testing.T, c *collector, dbPath string, agents []sentRun, webPerRun int) *sql.DB {
	t.Helper()
	web := testutil.LoadRecordings(t, "go-orders-api")
	copies := 0
	var db *sql.DB
	for i, a := range agents {
		for j := 0; j < webPerRun; j++ {
			postOTLP(t, c, webCopy(web, copies))
			copies++
		}
		td := ptrace.NewTraces()
		a.td.CopyTo(td)
		postOTLP(t, c, td)
		if db == nil {
			db = openSQLite(t, dbPath)
		}
		waitRows(t, db, "SELECT COUNT(*) FROM traces", i+1)
	}
	c.stop(t)
	return db
}

// TestOnlyAgentRunsAreStored: a service's whole telemetry through the
// built collector, ten web requests (the recorded orders API) for every
// agent run (the convention fixtures and the recorded agent in an HTTP
// request). Only the agent runs are stored, each once, and each with the
// findings and root cause it gets when sent alone.
func TestOnlyAgentRunsAreStored(t *testing.T) {
	agents := agentTraffic(t)
	detector := "decision_wait: 2s\n    root_quiet_period: 200ms\n    tick: 100ms"

	aloneDB := filepath.Join(t.TempDir(), "alone.db")
	alone := storedRuns(t, sendRuns(t, startCollector(t, sqliteExporter(aloneDB), map[string]string{"detector": detector}), aloneDB, agents, 0))

	mixedDB := filepath.Join(t.TempDir(), "mixed.db")
	c := startCollector(t, sqliteExporter(mixedDB), map[string]string{"detector": detector})
	mixed := storedRuns(t, sendRuns(t, c, mixedDB, agents, 10))

	var want []string
	for _, a := range agents {
		want = append(want, a.id)
	}
	var got []string
	for id := range mixed {
		got = append(got, id)
	}
	assert.ElementsMatch(t, want, got, "only the agent runs are stored")
	assert.Equal(t, alone, mixed, "findings and root causes as without web traffic")
	assert.True(t, hasLine(c.logs.String(), "Traces without an AI convention are forwarded unanalysed"),
		"the first skipped traces are told about in the log")
	assert.Equal(t, 1, strings.Count(c.logs.String(), "Traces without an AI convention"), "told once")

	// The agent inside an HTTP request: one run, named after the agent,
	// its steps the model and tool calls; the carrier outage found at
	// track_shipment.
	for _, a := range agents {
		if !strings.HasPrefix(a.name, "go-agent-http/") {
			continue
		}
		r := mixed[a.id]
		assert.Equal(t, "support-agent", r.pipeline, a.name)
		nodes := stepNodes(t, mixedDB, a.id)
		assert.Equal(t, r.steps, len(nodes))
		for _, n := range nodes {
			assert.Contains(t, []string{"chat gpt-4o-mini", "lookup_order", "track_shipment"}, n, "%s: a step that is no model or tool call", a.name)
		}
		if strings.Contains(a.name, "fault_carrier_down") {
			assert.Equal(t, "failed", r.status)
			assert.Equal(t, "track_shipment", r.rootCause)
			assert.Contains(t, r.findings, "behavioral.error_span@track_shipment/critical")
		}
		if strings.Contains(a.name, "healthy_") {
			assert.Equal(t, "ok", r.status, a.name)
		}
	}
	assert.Equal(t, "retrieve", mixed[agents[slices.IndexFunc(agents, func(a sentRun) bool { return a.name == "rag_silent_failure.json" })].id].rootCause)
}

// TestRuleKeepsPlainPipelines: the opt-in rule of a user whose service
// carries no AI convention stores its traces as runs; a look-alike of
// another service is still not stored.
func TestRuleKeepsPlainPipelines(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "rule.db")
	c := startCollector(t, sqliteExporter(dbPath), map[string]string{
		"detector": "decision_wait: 2s\n    root_quiet_period: 200ms\n    tick: 100ms\n    runs:\n      match:\n        - service_name: orders-api\n          root_span_name: GET /api/orders/.*",
	})
	web := testutil.LoadRecordings(t, "go-orders-api")
	for _, rec := range web {
		postOTLP(t, c, rec.Traces)
	}
	postOTLP(t, c, testutil.LoadTraces(t, "plain_spans.json")) // order-service: no rule for it
	db := openSQLite(t, dbPath)
	waitRows(t, db, "SELECT COUNT(*) FROM traces", len(web))
	c.stop(t)

	runs := storedRuns(t, db)
	require.Len(t, runs, len(web))
	failed := 0
	for id, r := range runs {
		assert.Equal(t, "GET /api/orders/{id}", r.pipeline, id)
		if r.status == "failed" {
			failed++
		}
	}
	assert.Equal(t, 4, failed, "the four 500s")
	// plain_spans was the one trace skipped, and the log names it.
	assert.True(t, hasLine(c.logs.String(), `"example_service": "order-service"`), "the skipped look-alike is named in the log")
}

// stepNodes are the node names of a stored run's steps, in order.
func stepNodes(t *testing.T, dbPath, id string) []string {
	t.Helper()
	db := openSQLite(t, dbPath)
	rows, err := db.Query("SELECT node_name FROM trace_steps WHERE trace_id = ? ORDER BY step_number", id)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		out = append(out, n)
	}
	require.NoError(t, rows.Err())
	return out
}

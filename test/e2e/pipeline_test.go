package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// TestSQLiteEndToEnd: SDK over gRPC and HTTP -> detector -> exporter -> SQLite.
func TestSQLiteEndToEnd(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), ".argus", "traces.db")
	c := startCollector(t, sqliteExporter(dbPath), nil)
	failing := emitAndFlush(t, c, "grpc", true)
	clean := emitAndFlush(t, c, "http", false)
	db := openSQLite(t, dbPath)
	checkRuns(t, db, failing, clean)
}

// TestPostgresEndToEnd: the same collector config with a PostgreSQL DSN
// writes the same rows.
func TestPostgresEndToEnd(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	c := startCollector(t, postgresExporter(dsn), nil)
	failing := emitAndFlush(t, c, "http", true)
	clean := emitAndFlush(t, c, "grpc", false)
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	checkRuns(t, db, failing, clean)
}

func emitAndFlush(t *testing.T, c *collector, proto string, failing bool) string {
	t.Helper()
	tp := newProvider(t, c, proto, "support-bot")
	id := emitLangGraph(tp, "thread-"+proto, ragRun(failing))
	flush(t, tp)
	return id
}

func checkRuns(t *testing.T, db *sql.DB, failing, clean string) {
	t.Helper()
	// Both runs complete (root arrived, quiet period) and are written.
	waitRows(t, db, fmt.Sprintf("SELECT COUNT(*) FROM traces WHERE id IN ('%s','%s')", failing, clean), 2)
	waitRows(t, db, fmt.Sprintf("SELECT COUNT(*) FROM forensics WHERE trace_id = '%s'", failing), 1)

	// The failing run: failed, five steps in order, the crash blamed on retrieve.
	var status, pipeline string
	var nodes, detCount int
	var meta string
	require.NoError(t, db.QueryRow(fmt.Sprintf(
		"SELECT status, pipeline_name, node_count, detection_count, CAST(metadata AS TEXT) FROM traces WHERE id = '%s'", failing)).
		Scan(&status, &pipeline, &nodes, &detCount, &meta))
	require.Equal(t, "failed", status)
	require.Equal(t, "LangGraph", pipeline)
	require.Equal(t, 5, nodes)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(meta), &m), "traces.metadata is valid JSON")
	require.Equal(t, "support-bot", m["service_name"])

	rows, err := db.Query(fmt.Sprintf("SELECT node_name, step_number, CAST(output_state AS TEXT) FROM trace_steps WHERE trace_id = '%s' ORDER BY step_number", failing))
	require.NoError(t, err)
	var order []string
	outputs := map[string]string{}
	for rows.Next() {
		var name, out string
		var n int
		require.NoError(t, rows.Scan(&name, &n, &out))
		require.Equal(t, len(order)+1, n)
		order = append(order, name)
		outputs[name] = out
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Equal(t, []string{"plan", "retrieve", "rerank", "format_context", "synthesize"}, order)
	require.JSONEq(t, `{"documents":[]}`, outputs["retrieve"])

	var stored int
	require.NoError(t, db.QueryRow(fmt.Sprintf("SELECT COUNT(*) FROM detections WHERE trace_id = '%s'", failing)).Scan(&stored))
	require.Equal(t, detCount, stored, "traces.detection_count matches the detections rows")
	require.Positive(t, stored)

	var retrieveDetections int
	require.NoError(t, db.QueryRow(fmt.Sprintf(
		"SELECT COUNT(*) FROM detections d JOIN trace_steps s ON s.id = d.step_id WHERE d.trace_id = '%s' AND s.node_name = 'retrieve' AND d.severity IN ('warning','critical')", failing)).
		Scan(&retrieveDetections))
	require.Positive(t, retrieveDetections, "the empty retrieval is detected on retrieve")

	var rootNode, explanation, chain string
	require.NoError(t, db.QueryRow(fmt.Sprintf(
		"SELECT s.node_name, f.explanation, CAST(f.causal_chain AS TEXT) FROM forensics f JOIN trace_steps s ON s.id = f.root_cause_step WHERE f.trace_id = '%s'", failing)).
		Scan(&rootNode, &explanation, &chain))
	require.Equal(t, "retrieve", rootNode)
	require.Contains(t, explanation, "retrieve")
	require.Contains(t, explanation, "synthesize")
	var links []map[string]any
	require.NoError(t, json.Unmarshal([]byte(chain), &links))
	require.NotEmpty(t, links)

	// The clean run: ok, no warning or critical detection.
	require.NoError(t, db.QueryRow(fmt.Sprintf("SELECT status FROM traces WHERE id = '%s'", clean)).Scan(&status))
	require.Equal(t, "ok", status)
	var alarms int
	require.NoError(t, db.QueryRow(fmt.Sprintf(
		"SELECT COUNT(*) FROM detections WHERE trace_id = '%s' AND severity IN ('warning','critical')", clean)).Scan(&alarms))
	require.Zero(t, alarms)
}

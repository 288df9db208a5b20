package e2e

import (
	"bytes"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/test/sdks"
)

// TestRecordedSDKs sends what real SDKs sent (testdata/sdks, recorded by
// make record-sdks) to the built collector over OTLP/HTTP, as the SDK did:
// first healthy runs, which build the baselines, then every injected fault.
// The stored rows must show the app's pipeline name, named steps with their
// content, every healthy run ok, and each fault found on the step where it
// was injected.
func TestRecordedSDKs(t *testing.T) {
	for _, c := range sdks.Cases() {
		t.Run(c.SDK, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "traces.db")
			col := startCollector(t, sqliteExporter(dbPath), nil)
			var healthy, faults []sdks.Recording
			for _, r := range sdks.Load(t, c.SDK) {
				if r.Healthy() {
					healthy = append(healthy, r)
				} else {
					faults = append(faults, r)
				}
			}
			// every healthy run: a baseline must rule out that a node's
			// outlier is a one-in-ten habit (about 30 samples) before a
			// token blow-up is a warning
			for _, r := range healthy {
				postRecording(t, col, c.SDK, r.Name)
			}
			db := openSQLite(t, dbPath)
			waitRows(t, db, "SELECT COUNT(*) FROM traces", len(healthy))
			for _, r := range faults {
				postRecording(t, col, c.SDK, r.Name)
			}
			waitRows(t, db, "SELECT COUNT(*) FROM traces", len(healthy)+len(faults))

			for _, h := range healthy {
				checkStoredRun(t, db, &c, h)
			}
			for _, f := range faults {
				checkStoredFault(t, db, &c, f)
			}
		})
	}
}

// postRecording sends one recorded file, unchanged, to /v1/traces.
func postRecording(t *testing.T, c *collector, sdk, name string) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sdks", sdk, name+".json"))
	require.NoError(t, err)
	resp, err := http.Post("http://"+c.httpAddr+"/v1/traces", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s/%s", sdk, name)
}

func checkStoredRun(t *testing.T, db *sql.DB, c *sdks.Case, r sdks.Recording) {
	t.Helper()
	var pipeline, status string
	require.NoError(t, db.QueryRow("SELECT pipeline_name, status FROM traces WHERE id = ?", r.Run.TraceID).Scan(&pipeline, &status))
	require.Equal(t, c.Pipeline, pipeline, r.Name)
	require.Equal(t, "ok", status, "%s: a healthy run, stored with a warning or failure", r.Name)
	rows, err := db.Query(`SELECT node_name, input_state IS NOT NULL AND CAST(input_state AS TEXT) != 'null',
		output_state IS NOT NULL AND CAST(output_state AS TEXT) != 'null' FROM trace_steps WHERE trace_id = ? ORDER BY step_number`, r.Run.TraceID)
	require.NoError(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var node string
		var in, out bool
		require.NoError(t, rows.Scan(&node, &in, &out))
		require.Contains(t, c.Nodes, node, "%s: step %d", r.Name, n+1)
		require.True(t, in && (out || c.NoOutput[r.Name] == node), "%s: step %s stored input %v, output %v", r.Name, node, in, out)
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, len(r.Run.Steps), n, r.Name)
}

func checkStoredFault(t *testing.T, db *sql.DB, c *sdks.Case, r sdks.Recording) {
	t.Helper()
	var status string
	require.NoError(t, db.QueryRow("SELECT status FROM traces WHERE id = ?", r.Run.TraceID).Scan(&status))
	if _, missed := c.Missed[r.Name]; missed {
		require.Equal(t, "ok", status, "%s is listed as missed", r.Name)
		return
	}
	want := c.Faults[r.Name]
	require.NotEqual(t, "ok", status, r.Name)
	rules := map[string]bool{}
	rows, err := db.Query(`SELECT json_extract(details, '$.rule') FROM detections WHERE trace_id = ? AND severity IN ('warning','critical')`, r.Run.TraceID)
	require.NoError(t, err)
	for rows.Next() {
		var rule string
		require.NoError(t, rows.Scan(&rule))
		rules[rule] = true
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.True(t, slices.ContainsFunc(want.Rules, func(r string) bool { return rules[r] }),
		"%s: stored rules %v, want one of %v", r.Name, rules, want.Rules)
	var root string
	require.NoError(t, db.QueryRow(`SELECT s.node_name FROM forensics f JOIN trace_steps s ON s.id = f.root_cause_step WHERE f.trace_id = ?`,
		r.Run.TraceID).Scan(&root), fmt.Sprintf("%s: forensics", r.Name))
	require.Equal(t, want.Root, root, r.Name)
}

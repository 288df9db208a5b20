package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
)

// TestStepAttributesEndToEnd: custom instrumentation with attributes of its
// own, and the detector's step_attributes naming them. The stored steps are
// the marked spans, named and with their content, and the placeholder in
// the answer is found on the step that wrote it: the exporter, which has no
// such setting, stored what the detector analyzed.
func TestStepAttributesEndToEnd(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "traces.db")
	c := startCollector(t, sqliteExporter(dbPath), map[string]string{"detector": `decision_wait: 3s
    root_quiet_period: 300ms
    step_attributes:
      name: [acme.stage]
      input: [acme.stage.in]
      output: [acme.stage.out]`})
	tp := newProvider(t, c, "http", "acme-bot")
	tr := tp.Tracer("acme")
	ctx, root := tr.Start(context.Background(), "handle ticket")
	stage := func(name, in, out string) {
		_, sp := tr.Start(ctx, "stage")
		sp.SetAttributes(attribute.String("acme.stage", name), attribute.String("acme.stage.in", in), attribute.String("acme.stage.out", out))
		sp.End()
	}
	stage("classify", `{"text":"where is my refund?"}`, `{"intent":"refund_status"}`)
	stage("answer", `{"intent":"refund_status"}`, `{"reply":"Hi {{customer_name}}, your refund is on its way."}`)
	root.End()
	id := root.SpanContext().TraceID().String()
	flush(t, tp)

	db := openSQLite(t, dbPath)
	waitRows(t, db, fmt.Sprintf("SELECT COUNT(*) FROM traces WHERE id = '%s'", id), 1)
	rows, err := db.Query("SELECT node_name, CAST(output_state AS TEXT) FROM trace_steps WHERE trace_id = ? ORDER BY step_number", id)
	require.NoError(t, err)
	var nodes, outputs []string
	for rows.Next() {
		var n, o string
		require.NoError(t, rows.Scan(&n, &o))
		nodes, outputs = append(nodes, n), append(outputs, o)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Equal(t, []string{"classify", "answer"}, nodes)
	require.JSONEq(t, `{"intent":"refund_status"}`, outputs[0])

	var status, rootNode string
	require.NoError(t, db.QueryRow("SELECT status FROM traces WHERE id = ?", id).Scan(&status))
	require.Equal(t, "warning", status)
	require.NoError(t, db.QueryRow(`SELECT s.node_name FROM forensics f JOIN trace_steps s ON s.id = f.root_cause_step WHERE f.trace_id = ?`, id).Scan(&rootNode))
	require.Equal(t, "answer", rootNode)
}

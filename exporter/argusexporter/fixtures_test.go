package argusexporter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

// TestFixturesAreStored pushes every OTLP fixture of the repository (every
// convention, and the broken ones: no root, duplicate ids, parent cycles,
// malformed states) and checks each mapped run became its rows.
func TestFixturesAreStored(t *testing.T) {
	names := testutil.FixtureNames(t)
	forEachBackend(t, func(t *testing.T, be backend) {
		cfg := be.config(t)
		s := startExporters(t, cfg)
		d := be.open(t, cfg)
		opts := agentrun.Options{RedactKeys: cfg.RedactKeys, MaxFieldBytes: cfg.MaxFieldBytes}
		for _, name := range names {
			td := testutil.LoadTraces(t, name)
			require.NoError(t, s.traces.ConsumeTraces(context.Background(), td), name)
			// Twice: a retried push changes nothing.
			require.NoError(t, s.traces.ConsumeTraces(context.Background(), td), name)
			runs := agentrun.MapTraces(td, opts)
			for _, run := range runs {
				if run.TraceID == "" {
					continue
				}
				var nodes int
				var status, pname string
				d.row("SELECT node_count, status, pipeline_name FROM traces WHERE id = ?", []any{run.TraceID}, &nodes, &status, &pname)
				assert.Equal(t, len(run.Steps), nodes, "%s: node_count", name)
				assert.Equal(t, len(run.Steps), d.count("SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", run.TraceID), "%s: steps", name)
				assert.Equal(t, run.PipelineName, pname, name)
				want := "ok"
				if run.Failed {
					want = "failed"
				}
				assert.Equal(t, want, status, "%s: no processor, the status comes from the spans", name)
				for _, st := range run.Steps {
					var node string
					var num int
					d.row("SELECT node_name, step_number FROM trace_steps WHERE id = ?", []any{st.ID}, &node, &num)
					assert.Equal(t, st.Node, node, name)
					assert.Equal(t, st.Number, num, name)
				}
			}
		}
	})
}

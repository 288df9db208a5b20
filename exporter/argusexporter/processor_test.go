package argusexporter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/processor/argusdetector"
)

// TestWithDetectorProcessor runs the real argusdetector in front of the
// exporter, in process: what the processor annotates must arrive as
// detection and forensics rows linked to the stored steps.
func TestWithDetectorProcessor(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		cfg := be.config(t)
		s := startExporters(t, cfg)
		d := be.open(t, cfg)

		pf := argusdetector.NewFactory()
		pset := processortest.NewNopSettings(pf.Type())
		proc, err := pf.CreateTraces(context.Background(), pset, pf.CreateDefaultConfig(), s.traces)
		require.NoError(t, err)
		require.NoError(t, proc.Start(context.Background(), componenttest.NewNopHost()))
		td := testutil.LoadTraces(t, "rag_silent_failure.json")
		runs := agentrun.MapTraces(td, agentrun.Options{})
		require.Len(t, runs, 1)
		traceID := runs[0].TraceID
		require.NoError(t, proc.ConsumeTraces(context.Background(), td))
		// Shutdown releases the buffered trace through detection to the exporter.
		require.NoError(t, proc.Shutdown(context.Background()))

		var status string
		var dets int
		d.row("SELECT status, detection_count FROM traces WHERE id = ?", []any{traceID}, &status, &dets)
		assert.NotEqual(t, "ok", status, "the silent failure is not an ok run")
		assert.Positive(t, dets)
		assert.Equal(t, dets, d.count("SELECT COUNT(*) FROM detections WHERE trace_id = ?", traceID))
		assert.Zero(t, d.count("SELECT COUNT(*) FROM detections d WHERE d.trace_id = ? AND d.step_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM trace_steps s WHERE s.id = d.step_id)", traceID),
			"every step-level detection links to a stored step")
		assert.Positive(t, d.count("SELECT COUNT(*) FROM detections WHERE trace_id = ? AND step_id IS NOT NULL", traceID))
		assert.Equal(t, 1, d.count("SELECT COUNT(*) FROM forensics f JOIN trace_steps s ON s.id = f.root_cause_step WHERE f.trace_id = ?", traceID),
			"forensics blames a stored step")
	})
}

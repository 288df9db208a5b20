package argusexporter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/annotation"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

// A push mixing an agent run with traces the processor marked skipped
// stores the run only; the data other exporters share is left as it came,
// and nothing is counted as dropped (skipping is no failure).
func TestSkippedTracesAreNotStored(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		cfg := be.config(t)
		s := startExporters(t, cfg)
		d := be.open(t, cfg)

		agent := langGraphRun("support-bot", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), ragRun(false))
		web := testutil.LoadTraces(t, "plain_spans.json")
		webID := web.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).TraceID().String()
		annotation.MarkSkipped(web, annotation.SkipNotAgentRun)
		both := merge(agent, built{td: web})
		before := both.SpanCount()
		require.NoError(t, s.traces.ConsumeTraces(context.Background(), both))

		assert.Equal(t, 1, d.count("SELECT COUNT(*) FROM traces WHERE id = ?", agent.traceID))
		assert.Zero(t, d.count("SELECT COUNT(*) FROM traces WHERE id = ?", webID))
		assert.Zero(t, d.count("SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", webID))
		assert.Equal(t, before, both.SpanCount(), "the shared data is not changed")
		assert.Zero(t, s.counter(t, "otelcol_argusexporter_items_dropped", "", ""))

		// A push of skipped traces only writes nothing.
		only := testutil.LoadTraces(t, "plain_spans.json")
		annotation.MarkSkipped(only, annotation.SkipNotAgentRun)
		require.NoError(t, s.traces.ConsumeTraces(context.Background(), only))
		assert.Equal(t, 1, d.count("SELECT COUNT(*) FROM traces"))
	})
}

func TestWithoutSkippedLeavesUnmarkedBatchesAlone(t *testing.T) {
	td := testutil.LoadTraces(t, "rag_clean.json")
	out := withoutSkipped(td)
	require.Equal(t, td.SpanCount(), out.SpanCount())
	// the very same data, not a copy
	out.ResourceSpans().At(0).Resource().Attributes().PutStr("probe", "x")
	_, ok := td.ResourceSpans().At(0).Resource().Attributes().Get("probe")
	assert.True(t, ok)
	assert.Zero(t, withoutSkipped(marked(t)).SpanCount())
}

func marked(t *testing.T) ptrace.Traces {
	td := testutil.LoadTraces(t, "plain_spans.json")
	annotation.MarkSkipped(td, annotation.SkipNotAgentRun)
	return td
}

package argusexporter

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/annotation"
	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/store"
)

func TestBatchKeyIgnoresOrder(t *testing.T) {
	a := batchKey([]string{"b", "a", "c"})
	assert.Equal(t, a, batchKey([]string{"c", "b", "a"}))
	assert.NotEqual(t, a, batchKey([]string{"a", "b"}))
	// The separator keeps ("ab","c") apart from ("a","bc").
	assert.NotEqual(t, hashID("ab", "c"), hashID("a", "bc"))
	assert.Len(t, a, 32)
}

func TestTruncateText(t *testing.T) {
	s, cut := truncateText("héllo", 2) // 'é' is two bytes: never split it
	assert.True(t, cut)
	assert.Equal(t, "h", s)
	s, cut = truncateText("hello", 0)
	assert.False(t, cut)
	assert.Equal(t, "hello", s)
}

func TestDropLogIsRateLimited(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	d := newDropLog(zap.New(core), time.Minute, msgDropped, "dropped_")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return now }

	d.add(dropPermanent, 10, errors.New("first"))
	require.Equal(t, 1, logs.Len(), "the first drop is reported at once")
	for i := 0; i < 100; i++ {
		now = now.Add(100 * time.Millisecond)
		d.add(dropPermanent, 1, errors.New("again"))
	}
	assert.Equal(t, 1, logs.Len(), "no more than one report per minute")
	now = now.Add(time.Minute)
	d.add(dropPanic, 2, errors.New("boom"))
	require.Equal(t, 2, logs.Len())
	f := logs.All()[1].ContextMap()
	assert.Equal(t, int64(100), f["dropped_permanent_error"])
	assert.Equal(t, int64(2), f["dropped_panic"])
	assert.Equal(t, "boom", f["last_error"])

	d.add(dropPermanent, 3, nil)
	d.flush()
	require.Equal(t, 3, logs.Len(), "shutdown reports what is pending")
	d.flush()
	assert.Equal(t, 3, logs.Len(), "nothing pending, nothing logged")
}

func TestNormalisers(t *testing.T) {
	assert.Equal(t, "failed", normStatus(" FAILED "))
	assert.Equal(t, "", normStatus("broken"))
	assert.Equal(t, "structural", normLayer("Structural"))
	assert.Equal(t, "behavioral", normLayer(strings.Repeat("x", 3)))
	assert.Equal(t, "info", normSeverity("INFO"))
	assert.Equal(t, "warning", normSeverity("fatal"))
}

// The processor's analysis marks become traces.metadata.analysis, and a
// whole run forwarded after parts of it were stored replaces them.
func TestAnalysisMarks(t *testing.T) {
	t0 := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	build := func(mark map[string]any, onChild map[string]any) *traceRows {
		td := testutil.BuildTraces(t,
			testutil.Span{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331", Name: "run",
				Start: t0, End: t0.Add(3 * time.Second), Attrs: mark},
			testutil.Span{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "c7ad6b7169203331", ParentID: "b7ad6b7169203331",
				Name: "plan", Start: t0, End: t0.Add(time.Second), Attrs: onChild})
		rows := buildRows(td, agentrun.MapTraces(td, agentrun.Options{}), rowOptions{}, t0)
		require.Len(t, rows.batch.Traces, 1)
		return &rows
	}
	analysis := func(r *traceRows) any {
		var md map[string]any
		require.NoError(t, json.Unmarshal(r.batch.Traces[0].Trace.Metadata, &md))
		return md["analysis"]
	}
	for _, c := range []struct {
		name        string
		root, child map[string]any
		want        any
		replace     bool
	}{
		{"forwarded once, whole", nil, nil, nil, false},
		{"in progress", nil, map[string]any{annotation.AttrAnalysis: annotation.AnalysisInProgress}, store.AnalysisInProgress, false},
		{"whole after in progress", map[string]any{annotation.AttrAnalysis: annotation.AnalysisFinal}, nil, store.AnalysisFinal, true},
		{"whole without some records", map[string]any{annotation.AttrAnalysis: annotation.AnalysisPartial}, nil, store.AnalysisPartial, false},
	} {
		r := build(c.root, c.child)
		assert.Equal(t, c.want, analysis(r), c.name)
		assert.Equal(t, c.replace, r.batch.Traces[0].Replace, c.name)
	}
}

// A run's tool calls become audit records once, from the whole run: not
// while it is in progress, when the step a call belongs to is not known yet.
func TestToolCallAuditsWaitForTheWholeRun(t *testing.T) {
	t0 := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	const tid = "1af7651916cd43dd8448eb211c80319c"
	build := func(mark map[string]any) traceRows {
		withMark := func(attrs map[string]any) map[string]any {
			for k, v := range mark {
				attrs[k] = v
			}
			return attrs
		}
		td := testutil.BuildTraces(t,
			testutil.Span{TraceID: tid, SpanID: "a1ad6b7169203331", Name: "LangGraph", Start: t0, End: t0.Add(3 * time.Second),
				Attrs: withMark(map[string]any{"openinference.span.kind": "CHAIN"})},
			testutil.Span{TraceID: tid, SpanID: "a2ad6b7169203331", ParentID: "a1ad6b7169203331", Name: "lookup",
				Start: t0, End: t0.Add(2 * time.Second), Attrs: withMark(map[string]any{"openinference.span.kind": "CHAIN",
					"metadata": `{"langgraph_node":"lookup","langgraph_step":1}`})},
			testutil.Span{TraceID: tid, SpanID: "a3ad6b7169203331", ParentID: "a2ad6b7169203331", Name: "search",
				Start: t0, End: t0.Add(time.Second), Attrs: withMark(map[string]any{"openinference.span.kind": "TOOL",
					"tool.name": "search", "metadata": `{"langgraph_node":"lookup","langgraph_step":1}`})})
		return buildRows(td, agentrun.MapTraces(td, agentrun.Options{}), rowOptions{toolAudit: true, actorType: "AGENT"}, t0)
	}
	require.Len(t, build(map[string]any{}).audit, 1, "a run forwarded once, whole")
	assert.Empty(t, build(map[string]any{annotation.AttrAnalysis: annotation.AnalysisInProgress}).audit, "in progress")
}

package argusdetector

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/annotation"
	"github.com/arguslabs/argus-otel/internal/detect"
)

func spanByID(t *testing.T, td ptrace.Traces, id string) ptrace.Span {
	t.Helper()
	var out ptrace.Span
	found := false
	eachSpan(td, func(s ptrace.Span) {
		if s.SpanID().String() == id {
			out, found = s, true
		}
	})
	require.True(t, found, "span %s", id)
	return out
}

func TestAnnotateRunWritesFindingsWhereTheyBelong(t *testing.T) {
	td := spans(root(1), span{trace: 1, n: 1, parent: 0, name: "retrieve"}, span{trace: 1, n: 2, parent: 0, name: "synthesize"})
	// An attribute that must survive untouched.
	spanByID(t, td, spanID(1, 1).String()).Attributes().PutStr("input.value", `{"q":"x"}`)
	run := stubMapper(td, agentrun.Options{})[0]
	require.Len(t, run.Steps, 2)
	res := detect.Result{
		Status: "failed",
		Findings: []detect.Finding{
			{ID: "det_a", Rule: "structural.empty_retrieval", Layer: "structural", Severity: "critical", Step: 0, Node: "retrieve", Message: "no documents", Details: map[string]any{"field": "documents"}},
			{ID: "det_b", Rule: "structural.dropped_field", Layer: "structural", Severity: "warning", Step: 1, Node: "synthesize", Message: "dropped"},
			{ID: "det_c", Rule: "behavioral.runaway_steps", Layer: "behavioral", Severity: "warning", Step: -1, Message: "run level"},
			{ID: "det_d", Rule: "semantic.placeholder", Layer: "semantic", Severity: "warning", Step: 7, Message: "unknown step"},
		},
		Forensics: &detect.Forensics{
			ID: "fx_1", RootCauseStep: 0, Confidence: 0.9, Explanation: "retrieve returned nothing",
			DetectionIDs: []string{"det_a", "det_b"},
			Chain:        []detect.Link{{From: "retrieve", To: "synthesize", Type: "empty_output", Confidence: 0.9}},
		},
	}
	annotateRun(indexSpans(td), run, res, true)

	r := annotation.Decode(spanByID(t, td, spanID(1, 0).String()))
	assert.Equal(t, "failed", r.RunStatus)
	require.Len(t, r.Detections, 2, "run-level and unknown-step findings go on the root")
	assert.Equal(t, "det_c", r.Detections[0].ID)
	assert.Equal(t, "det_d", r.Detections[1].ID)
	require.Len(t, r.Forensics, 1)
	f := r.Forensics[0]
	assert.Equal(t, spanID(1, 1).String(), f.RootCauseSpan)
	assert.Equal(t, "retrieve", f.RootCauseNode)
	assert.Equal(t, []string{"det_a", "det_b"}, f.DetectionIDs)
	assert.InDelta(t, 0.9, f.Confidence, 1e-9)
	var chain []map[string]any
	require.NoError(t, json.Unmarshal(f.CausalChain, &chain))
	require.Len(t, chain, 1)
	assert.Equal(t, "empty_output", chain[0]["type"])
	count, _ := spanByID(t, td, spanID(1, 0).String()).Attributes().Get(annotation.AttrRunDetectionCount)
	assert.EqualValues(t, 4, count.Int())
	partial, _ := spanByID(t, td, spanID(1, 0).String()).Attributes().Get(annotation.AttrPartial)
	assert.True(t, partial.Bool())

	ret := spanByID(t, td, spanID(1, 1).String())
	d := annotation.Decode(ret)
	require.Len(t, d.Detections, 1)
	assert.Equal(t, "det_a", d.Detections[0].ID)
	assert.Equal(t, "retrieve", d.Detections[0].Node)
	assert.JSONEq(t, `{"field":"documents"}`, string(d.Detections[0].Details))
	assert.Empty(t, d.RunStatus, "run status only on the root")
	v, _ := ret.Attributes().Get("input.value")
	assert.Equal(t, `{"q":"x"}`, v.Str())
	assert.Equal(t, 1, ret.Attributes().Len(), "a step span gets events, no attributes")

	syn := annotation.Decode(spanByID(t, td, spanID(1, 2).String()))
	require.Len(t, syn.Detections, 1)
	assert.Equal(t, "det_b", syn.Detections[0].ID)
	assert.JSONEq(t, `{}`, string(syn.Detections[0].Details))
}

// Without a root span, run-level annotations go on the earliest span.
func TestAnnotateRunWithoutRoot(t *testing.T) {
	td := spans(span{trace: 1, n: 3, parent: 0}, span{trace: 1, n: 1, parent: 0}, span{trace: 1, n: 2, parent: 0})
	run := &agentrun.Run{TraceID: traceID(1).String()}
	annotateRun(indexSpans(td), run, detect.Result{Status: "ok"}, false)
	for n := 1; n <= 3; n++ {
		d := annotation.Decode(spanByID(t, td, spanID(1, n).String()))
		if n == 1 {
			assert.Equal(t, "ok", d.RunStatus)
		} else {
			assert.Empty(t, d.RunStatus)
		}
	}
	_, partial := spanByID(t, td, spanID(1, 1).String()).Attributes().Get(annotation.AttrPartial)
	assert.False(t, partial)
}

package argusdetector

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// Custom instrumentation named in step_attributes: the processor finds the
// steps and their content (a placeholder answer on "answer"), and the spans
// it forwards map to the same steps without the config, as the exporter
// maps them.
func TestStepAttributesReachTheExporter(t *testing.T) {
	cfg := e2eConfig()
	cfg.StepAttributes = agentrun.StepAttributes{Name: []string{"app.stage"}, Input: []string{"app.in"}, Output: []string{"app.out"}}
	h := start(t, cfg, nil)

	td := spans(root(1), span{trace: 1, n: 1, parent: 0, name: "stage"}, span{trace: 1, n: 2, parent: 0, name: "stage"},
		span{trace: 1, n: 3, parent: 2, name: "http POST"})
	attrs := func(n int) ptrace.Span { return td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(n) }
	attrs(1).Attributes().PutStr("app.stage", "classify")
	attrs(1).Attributes().PutStr("app.in", `{"text":"refund for A1002"}`)
	attrs(1).Attributes().PutStr("app.out", `{"intent":"refund"}`)
	attrs(2).Attributes().PutStr("app.stage", "answer")
	attrs(2).Attributes().PutStr("app.in", `{"intent":"refund"}`)
	attrs(2).Attributes().PutStr("app.out", `{"answer":"Hi {{customer_name}}, your refund is on its way."}`)
	h.consume(t, td)
	h.waitSpans(t, 4)

	spansByID, _ := decodedSpans(h)
	answer := spansByID[spanID(1, 2).String()]
	require.NotEmpty(t, answer.Detections, "the placeholder is found on the answer step")
	for _, d := range answer.Detections {
		assert.Equal(t, "answer", d.Node)
	}
	assert.Equal(t, "warning", spansByID[spanID(1, 0).String()].RunStatus)

	out := ptrace.NewTraces()
	for _, f := range h.sink.AllTraces() {
		f.ResourceSpans().MoveAndAppendTo(out.ResourceSpans())
	}
	runs := agentrun.MapTraces(out, agentrun.Options{})
	require.Len(t, runs, 1)
	var nodes []string
	for _, s := range runs[0].Steps {
		nodes = append(nodes, s.Node)
	}
	assert.Equal(t, []string{"classify", "answer"}, nodes)
	assert.Equal(t, map[string]any{"intent": "refund"}, runs[0].Steps[0].Output)
	assert.Len(t, runs[0].Steps[1].Calls, 1)
}

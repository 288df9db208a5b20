package argusdetector

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/annotation"
	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/processor/argusdetector/internal/metadata"
)

// sendInPieces feeds a fixture one span per call, root last, the way a
// BatchSpanProcessor exports spans as they end.
func sendInPieces(t *testing.T, h *harness, td ptrace.Traces) int {
	t.Helper()
	reqs := testutil.SpanRequests(td)
	slices.SortStableFunc(reqs, func(a, b testutil.SpanRequest) int {
		switch {
		case a.Root == b.Root:
			return 0
		case a.Root:
			return 1
		}
		return -1
	})
	for _, r := range reqs {
		h.consume(t, r.Traces)
	}
	return td.SpanCount()
}

// decoded is the annotations of every forwarded span, by span id.
func decodedSpans(h *harness) (map[string]annotation.Decoded, map[string]string) {
	out := map[string]annotation.Decoded{}
	names := map[string]string{}
	for _, td := range h.sink.AllTraces() {
		eachSpan(td, func(s ptrace.Span) {
			out[s.SpanID().String()] = annotation.Decode(s)
			names[s.SpanID().String()] = s.Name()
		})
	}
	return out, names
}

// e2eConfig keeps agent runs only, as the default does.
func e2eConfig() *Config {
	cfg := testConfig()
	cfg.RootQuietPeriod = 20 * time.Millisecond
	cfg.Runs.Keep = KeepAgentRuns
	return cfg
}

func TestEndToEndSilentFailure(t *testing.T) {
	h := start(t, e2eConfig(), nil)
	n := sendInPieces(t, h, testutil.LoadTraces(t, "rag_silent_failure.json"))
	h.waitSpans(t, n)

	spans, names := decodedSpans(h)
	const rootID, retrieveID, synthesizeID = "95446bd774236d37", "dd2c9fc56a7dfe69", "fcc5ba07e497bba8"
	root := spans[rootID]
	assert.Equal(t, "failed", root.RunStatus)
	total := 0
	for id, d := range spans {
		assert.True(t, d.Analyzed, "span %s (%s) analyzed", id, names[id])
		assert.False(t, d.Late)
		total += len(d.Detections)
	}
	assert.NotEmpty(t, spans[retrieveID].Detections, "retrieve carries its detections")
	assert.NotEmpty(t, spans[synthesizeID].Detections, "synthesize carries its detections")
	for _, d := range spans[retrieveID].Detections {
		assert.Equal(t, "retrieve", d.Node)
	}

	require.Len(t, root.Forensics, 1)
	f := root.Forensics[0]
	assert.Equal(t, "retrieve", f.RootCauseNode)
	assert.Equal(t, retrieveID, f.RootCauseSpan)
	assert.NotEmpty(t, f.DetectionIDs)
	assert.NotEmpty(t, f.Explanation)
	assert.JSONEq(t, string(f.CausalChain), string(f.CausalChain)) // valid JSON array
	assert.NotEqual(t, "[]", string(f.CausalChain))

	// The count on the root matches the events written.
	got := forwarded(h.sink)
	for _, ft := range got {
		for _, s := range ft.spans {
			if s.SpanID().String() == rootID {
				v, ok := s.Attributes().Get(annotation.AttrRunDetectionCount)
				require.True(t, ok)
				assert.EqualValues(t, total, v.Int())
				_, partial := s.Attributes().Get(annotation.AttrPartial)
				assert.False(t, partial)
			}
		}
	}
	assert.EqualValues(t, total, h.sum(t, metadata.MetricDetections))
	assert.EqualValues(t, 1, h.sum(t, metadata.MetricRuns, attrStatus("failed")))
}

func TestEndToEndClean(t *testing.T) {
	h := start(t, e2eConfig(), nil)
	n := sendInPieces(t, h, testutil.LoadTraces(t, "rag_clean.json"))
	h.waitSpans(t, n)

	spans, names := decodedSpans(h)
	root := spans["93fbc8b6fd900c21"]
	assert.Equal(t, "ok", root.RunStatus)
	assert.Empty(t, root.Forensics)
	for id, d := range spans {
		assert.True(t, d.Analyzed, "span %s (%s) analyzed", id, names[id])
		for _, det := range d.Detections {
			assert.Equal(t, "info", det.Severity, "%s on %s: %s", det.Rule, names[id], det.Message)
		}
	}
	assert.EqualValues(t, 1, h.sum(t, metadata.MetricRuns, attrStatus("ok")))
}

// Every fixture, however odd, goes through the real mapping and detection
// without a panic and comes out whole.
func TestEndToEndEveryFixture(t *testing.T) {
	for _, name := range []string{
		"duplicate_ids.json", "genai_agent.json", "langsmith_langgraph.json", "malformed_states.json",
		"no_root.json", "openinference_langgraph.json", "openllmetry_langgraph.json",
		"parent_cycle.json", "plain_spans.json", "rag_clean.json", "rag_silent_failure.json",
	} {
		t.Run(name, func(t *testing.T) {
			cfg := e2eConfig()
			cfg.MaxRunDuration = 200 * time.Millisecond // no_root has no root to go quiet
			cfg.Runs.Keep = KeepAll                     // plain_spans and parent_cycle too
			h := start(t, cfg, nil)
			n := sendInPieces(t, h, testutil.LoadTraces(t, name))
			h.waitSpans(t, n)
			assert.EqualValues(t, 0, h.sum(t, metadata.MetricDetectionPanics))
			withStatus := 0 // counted span by span: span ids may repeat here
			for _, td := range h.sink.AllTraces() {
				eachSpan(td, func(s ptrace.Span) {
					if annotation.Decode(s).RunStatus != "" {
						withStatus++
					}
				})
			}
			assert.Equal(t, len(forwarded(h.sink)), withStatus, "one run status per trace")
		})
	}
}

// TestEndToEndRootThatEndsFirst: LangSmith JS ends its graph's root span
// with LangGraph's __start__ run (agentrun.RootEndsRun), so the root is
// exported before any node. Its arrival must not complete the run: the
// nodes coming after the quiet period are part of it, not late, and the run
// is analysed whole (here at max_run_duration).
func TestEndToEndRootThatEndsFirst(t *testing.T) {
	var td ptrace.Traces
	for _, rec := range testutil.LoadRecordings(t, "langsmith-langgraph") {
		if rec.Name == "fault_empty_result_claimed_success" {
			td = rec.Traces
		}
	}
	require.NotZero(t, td.SpanCount())
	cfg := e2eConfig()
	cfg.MaxRunDuration = 500 * time.Millisecond
	h := start(t, cfg, nil)
	reqs := testutil.InEndTimeOrder(td)
	require.True(t, reqs[0].Root, "the recorded root ends first")
	h.consume(t, reqs[0].Traces)
	time.Sleep(10 * cfg.RootQuietPeriod)
	for _, r := range reqs[1:] {
		h.consume(t, r.Traces)
	}
	h.waitSpans(t, td.SpanCount())

	spans, names := decodedSpans(h)
	detections := 0
	for id, d := range spans {
		assert.True(t, d.Analyzed, "span %s (%s) analysed", id, names[id])
		assert.False(t, d.Late, "span %s (%s) late", id, names[id])
		detections += len(d.Detections)
		if names[id] == "docs_rag" {
			assert.Equal(t, "warning", d.RunStatus)
		}
	}
	assert.NotZero(t, detections, "the fault is found on the whole run")
}

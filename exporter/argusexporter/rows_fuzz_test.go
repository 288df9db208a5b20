package argusexporter

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/annotation"
	"github.com/arguslabs/argus-otel/internal/redact"
	"github.com/arguslabs/argus-otel/store"
)

// FuzzBuildRows puts arbitrary strings into the span attributes and argus.*
// events the exporter reads (states, metadata, status, detections,
// forensics) and checks that turning spans into rows, with no database,
// never panics and yields rows the store can take: every row of the run's
// trace, JSON columns that parse, detections and forensics naming a stored
// trace.
func FuzzBuildRows(f *testing.F) {
	f.Add(`{"documents":[]}`, `{"langgraph_node":"retrieve","langgraph_step":2}`, "failed", `{"field":"documents"}`, `[{"step":"a"}]`, true)
	f.Add(`{{`, `not json`, "<b>ok</b>", `[`, `{}`, false)
	f.Add("\xff\xfe", `{"langgraph_node":"\u0000","langgraph_step":-1}`, "x'); DROP TABLE traces;--", `null`, `"s"`, true)
	f.Add(`[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]`, `{"langgraph_node":"a","langgraph_step":1e308}`, "", `{"a":1}`, `[]`, false)
	opt := rowOptions{redact: redact.New(redact.DefaultKeys), maxFieldBytes: 256, toolAudit: true, actorType: "AGENT"}
	mapOpt := agentrun.Options{RedactKeys: redact.DefaultKeys, MaxFieldBytes: 256}
	f.Fuzz(func(t *testing.T, state, meta, status, details, chain string, partial bool) {
		td := fuzzTrace(state, meta, status, details, chain, partial)
		runs := agentrun.MapTraces(td, mapOpt)
		rows := buildRows(td, runs, opt, time.Unix(1735689600, 0))
		b := rows.batch
		traces := map[string]bool{}
		for _, tr := range b.Traces {
			traces[tr.Trace.ID] = true
			mustJSONValid(t, "traces.metadata", tr.Trace.Metadata)
		}
		for _, s := range b.Steps {
			if !traces[s.TraceID] {
				t.Fatalf("step %s of trace %s without its traces row", s.ID, s.TraceID)
			}
			mustJSONValid(t, "input_state", s.InputState)
			mustJSONValid(t, "output_state", s.OutputState)
			mustJSONValid(t, "steps.metadata", s.Metadata)
		}
		for _, d := range b.Detections {
			if !traces[d.TraceID] {
				t.Fatalf("detection %s of trace %s without its traces row", d.ID, d.TraceID)
			}
			mustJSONValid(t, "details", d.Details)
		}
		for _, fo := range b.Forensics {
			if !traces[fo.TraceID] {
				t.Fatalf("forensics %s of trace %s without its traces row", fo.ID, fo.TraceID)
			}
			mustJSONValid(t, "causal_chain", fo.CausalChain)
			mustJSONValid(t, "detection_ids", fo.DetectionIDs)
		}
		for _, a := range rows.audit {
			if len(a.Metadata) > 0 {
				mustJSONValid(t, "audit metadata", a.Metadata)
			}
		}
	})
}

func mustJSONValid(t *testing.T, what string, raw json.RawMessage) {
	t.Helper()
	if len(raw) > 0 && !json.Valid(raw) {
		t.Fatalf("%s is not valid JSON: %.200q", what, raw)
	}
}

// fuzzTrace is a root, a node span and a tool span under it, with the
// fuzzed strings wherever the exporter reads a value, and argus events
// forged from them (as a sender could, bypassing the processor).
func fuzzTrace(state, meta, status, details, chain string, partial bool) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", status)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	add := func(id, parent byte, name string) ptrace.Span {
		sp := spans.AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{0xf0, 1})
		sp.SetSpanID(pcommon.SpanID{id})
		if parent != 0 {
			sp.SetParentSpanID(pcommon.SpanID{parent})
		}
		sp.SetName(name)
		sp.SetStartTimestamp(pcommon.Timestamp(id) * 1e6)
		sp.SetEndTimestamp(pcommon.Timestamp(id) * 2e6)
		return sp
	}
	root := add(1, 0, status)
	root.Attributes().PutStr("openinference.span.kind", "CHAIN")
	root.Attributes().PutStr("input.value", state)
	root.Attributes().PutStr("session.id", status)
	root.Attributes().PutBool(annotation.AttrPartial, partial)
	root.Attributes().PutStr(annotation.AttrRunStatus, status)
	root.Status().SetMessage(status)
	annotation.AddForensics(root, annotation.Forensics{ID: status, RootCauseSpan: pcommon.SpanID{2}.String(),
		RootCauseNode: status, CausalChain: json.RawMessage(chain), DetectionIDs: []string{status, details}, Explanation: details})
	ev := root.Events().AppendEmpty() // forged: fields of the wrong type
	ev.SetName(annotation.EventForensics)
	ev.Attributes().PutStr(annotation.AttrForensicsCausalChain, details)
	ev.Attributes().PutStr(annotation.AttrForensicsDetectionIDs, chain)
	ev.Attributes().PutStr(annotation.AttrForensicsConfidence, status)

	node := add(2, 1, "retrieve")
	a := node.Attributes()
	a.PutStr("openinference.span.kind", "CHAIN")
	a.PutStr("metadata", meta)
	a.PutStr("input.value", state)
	a.PutStr("input.mime_type", "application/json")
	a.PutStr("output.value", details)
	a.PutStr("output.mime_type", "application/json")
	a.PutStr(annotation.AttrRunStatus, status)
	annotation.AddDetection(node, annotation.Detection{ID: status, Layer: status, Severity: status, Rule: status,
		Message: state, Node: status, Details: json.RawMessage(details)})
	ex := node.Events().AppendEmpty()
	ex.SetName("exception")
	ex.Attributes().PutStr("exception.message", state)

	tool := add(3, 2, "kb_search")
	ta := tool.Attributes()
	ta.PutStr("openinference.span.kind", "TOOL")
	ta.PutStr("tool.name", status)
	ta.PutStr("tool.parameters", state)
	ta.PutStr("metadata", meta)
	ta.PutStr("output.value", chain)
	return td
}

// FuzzRowsRawStates: the rows made with states kept as their JSON text (the
// exporter's mapping) equal the rows made from parsed states (the
// processor's), column for column, the state columns as decoded JSON.
func FuzzRowsRawStates(f *testing.F) {
	f.Add(`{"q": "a<b>&c", "docs": [1.0, 2e3]}`, `{"langgraph_node":"retrieve","langgraph_step":2}`, `{"inputs":{"x":1}}`)
	f.Add(`{"a":1,"a":2}`, `{}`, `{"api_key":"sk"}`)
	f.Add(`{"x":"\ud800"}`, `not json`, `[1e400]`)
	f.Add(`"\u0000"`, `{"langgraph_node":"n","langgraph_step":1}`, `{"big":"`+strings.Repeat("x", 300)+`"}`)
	opt := rowOptions{redact: redact.New(redact.DefaultKeys), maxFieldBytes: 256, toolAudit: true, actorType: "AGENT"}
	f.Fuzz(func(t *testing.T, state, meta, out string) {
		td := fuzzTrace(state, meta, "ok", out, `[]`, false)
		now := time.Unix(1735689600, 0)
		for _, mapOpt := range []agentrun.Options{
			{RedactKeys: redact.DefaultKeys, MaxFieldBytes: 256},
			{MaxFieldBytes: 64 * 1024},
		} {
			want := buildRows(td, agentrun.MapTraces(td, mapOpt), opt, now)
			mapOpt.RawStates = true
			got := buildRows(td, agentrun.MapTraces(td, mapOpt), opt, now)
			sameRows(t, got, want)
		}
	})
}

// sameRows requires two row sets to be equal, states compared as JSON values.
func sameRows(t *testing.T, got, want traceRows) {
	t.Helper()
	require.Equal(t, len(want.batch.Steps), len(got.batch.Steps))
	for i := range want.batch.Steps {
		g, w := got.batch.Steps[i], want.batch.Steps[i]
		require.Equal(t, decodeJSON(t, w.InputState), decodeJSON(t, g.InputState), "input_state %s vs %s", w.InputState, g.InputState)
		require.Equal(t, decodeJSON(t, w.OutputState), decodeJSON(t, g.OutputState), "output_state %s vs %s", w.OutputState, g.OutputState)
		// A row that claims checked states must hold what the store
		// would have accepted from its own scan.
		for _, r := range []store.Step{g, w} {
			if r.StatesChecked {
				requireStorableJSON(t, r.InputState)
				requireStorableJSON(t, r.OutputState)
			}
		}
		g.InputState, g.OutputState, w.InputState, w.OutputState = nil, nil, nil, nil
		g.StatesChecked, w.StatesChecked = false, false
		require.Equal(t, w, g)
	}
	got.batch.Steps, want.batch.Steps = nil, nil
	require.Equal(t, want, got)
}

func decodeJSON(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(raw, &v), "%.200s", raw)
	return v
}

// requireStorableJSON: raw is valid JSON nested at most store.MaxJSONDepth.
func requireStorableJSON(t *testing.T, raw json.RawMessage) {
	t.Helper()
	require.True(t, json.Valid(raw), "claimed checked, not valid JSON: %.200s", raw)
	dec := json.NewDecoder(bytes.NewReader(raw))
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			require.LessOrEqual(t, depth, store.MaxJSONDepth, "claimed checked, nested too deep")
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

package reporttest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/arguslabs/argus-otel/store"
)

// LongID is the trace id of Long's run.
const LongID = "10aa0000000000000000000000000001"

// Long is a failed run of n steps (n >= 20) for paging tests: every step
// updates the merged state (a counter, a key per node, node0 dropped every
// 9th step), every 37th step has a warning detection, every 50th threw,
// and the forensics blame step 10 with a chain to step n-5, so the report
// of a page needs steps far off it. stateBytes pads each input (the memory
// tests make the run large with it).
func Long(n, stateBytes int) store.TraceBatch {
	start := base.Add(-5 * time.Hour)
	durMs := int64(n)*3 + 10
	pad := strings.Repeat("p", stateBytes)
	b := store.TraceBatch{Traces: []store.TraceUpdate{{
		Trace: store.Trace{ID: LongID, CreatedAt: start, PipelineName: "long-run", Status: "failed",
			DurationMs: durMs, Metadata: js(map[string]any{"service.name": "long"})},
		End: start.Add(time.Duration(durMs) * time.Millisecond), HasRoot: true, BatchKey: "fixture-long",
	}}}
	stepID := func(i int) string { return fmt.Sprintf("%s-%016x", LongID, i+1) }
	node := func(i int) string { return fmt.Sprintf("node%d", i%6) }
	for i := 0; i < n; i++ {
		out := map[string]any{"count": i, node(i): fmt.Sprintf("v%d", i)}
		if i%9 == 8 {
			out["node0"] = nil
		}
		s := store.Step{ID: stepID(i), TraceID: LongID, StepNumber: i + 1, NodeName: node(i),
			InputState: js(map[string]any{"i": i, "pad": pad}), OutputState: js(out), DurationMs: 2,
			Timestamp: start.Add(time.Duration(i*3) * time.Millisecond), Metadata: js(map[string]any{})}
		if i%50 == 49 {
			s.OutputState = json.RawMessage("null")
			s.Metadata = js(map[string]any{"status": "error",
				"exceptions": []any{map[string]any{"type": "KeyError", "message": fmt.Sprintf("'k%d'", i)}}})
		}
		b.Steps = append(b.Steps, s)
		if i%37 == 36 {
			b.Detections = append(b.Detections, store.Detection{ID: fmt.Sprintf("long-d%05d", i), TraceID: LongID,
				StepID: s.ID, Layer: "semantic", Severity: "warning", Message: fmt.Sprintf("placeholder at step %d", i+1),
				Details: js(map[string]any{"rule": "semantic.placeholder", "node": s.NodeName}), CreatedAt: start})
		}
	}
	b.Detections = append(b.Detections, store.Detection{ID: "long-run", TraceID: LongID, Layer: "behavioral",
		Severity: "critical", Message: "too many steps", CreatedAt: start,
		Details: js(map[string]any{"rule": "behavioral.runaway_steps", "node": ""})})
	b.Forensics = []store.Forensics{{ID: "long-f", TraceID: LongID, RootCauseStep: stepID(9),
		Explanation:  "node3 (step 10) dropped the field; it surfaced much later.",
		DetectionIDs: js([]string{"long-run"}), CreatedAt: start,
		CausalChain: js([]link{{"from": node(9), "to": node(n - 5), "from_step_id": stepID(9),
			"to_step_id": stepID(n - 5), "type": "field_drop", "field": "node0", "confidence": 0.8}}),
	}}
	return b
}

// At returns b with every time moved so that its run starts at start: the
// web UI's pages show windows ending now.
func At(b store.TraceBatch, start time.Time) store.TraceBatch {
	if len(b.Traces) == 0 {
		return b
	}
	d := start.Sub(b.Traces[0].Trace.CreatedAt)
	out := store.TraceBatch{}
	for _, t := range b.Traces {
		t.Trace.CreatedAt, t.End = t.Trace.CreatedAt.Add(d), t.End.Add(d)
		out.Traces = append(out.Traces, t)
	}
	for _, s := range b.Steps {
		s.Timestamp = s.Timestamp.Add(d)
		out.Steps = append(out.Steps, s)
	}
	for _, x := range b.Detections {
		x.CreatedAt = x.CreatedAt.Add(d)
		out.Detections = append(out.Detections, x)
	}
	for _, f := range b.Forensics {
		f.CreatedAt = f.CreatedAt.Add(d)
		out.Forensics = append(out.Forensics, f)
	}
	return out
}

package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

func init() {
	addLookAlikes(ruleDeepJSON, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a comment thread nested 800 replies deep, storable as JSON",
			healthy: nestedRun(t, 800),
			fault:   nestedRun(t, agentrun.MaxStoredJSONDepth+100),
		}}
	})
}

// TestDeepJSONIsInfoNotCorrupted: outputs that are valid JSON nested
// 100,000 deep (beyond encoding/json's limit) and 10,000 deep (within it,
// beyond what the store keeps as JSON) are reported once each as
// semantic.deep_json, info, and never as corrupted; the run stays ok. A
// look-alike nested 50 deep says nothing, and a broken deep text is still
// corrupted.
func TestDeepJSONIsInfoNotCorrupted(t *testing.T) {
	nest := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const tid = "5ee00000000000000000000000000001"
	meta := func(node string, step int) string {
		return `{"langgraph_node":"` + node + `","langgraph_step":` + string(rune('0'+step)) + `}`
	}
	span := func(id, name, out string, step int) testutil.Span {
		return testutil.Span{TraceID: tid, SpanID: id, ParentID: "00000000000000a0", Name: name,
			Start: at.Add(time.Duration(step) * time.Second), End: at.Add(time.Duration(step)*time.Second + 500*time.Millisecond),
			Attrs: map[string]any{"openinference.span.kind": "CHAIN", "metadata": meta(name, step),
				"input.value": `{"q":"x"}`, "input.mime_type": "application/json",
				"output.value": out, "output.mime_type": "application/json"}}
	}
	td := testutil.BuildTraces(t,
		testutil.Span{TraceID: tid, SpanID: "00000000000000a0", Name: "LangGraph", Start: at, End: at.Add(5 * time.Second),
			Attrs: map[string]any{"openinference.span.kind": "CHAIN", "input.value": `{"q":"x"}`}},
		span("00000000000000a1", "very_deep", nest(100_000), 1),
		span("00000000000000a2", "deep", nest(10_000), 2),
		span("00000000000000a3", "look_alike", nest(50), 3),
	)
	run := agentrun.MapTraces(td, agentrun.Options{})[0]
	cfg := Config{}.WithDefaults()
	res := Analyze(run, &cfg, NewBaselines(0, 0))
	none(t, res.Findings, ruleCorruptedJSON)
	noAlarms(t, res.Findings)
	if res.Status != "ok" {
		t.Errorf("status %s, want ok", res.Status)
	}
	deep := byRule(res.Findings, ruleDeepJSON)
	if len(deep) != 2 || deep[0].Node != "very_deep" || deep[1].Node != "deep" {
		t.Fatalf("deep_json findings:\n%s", dump(deep))
	}
	for _, f := range deep {
		if f.Severity != SeverityInfo || !strings.Contains(f.Message, "too deep to store as JSON: kept as text") {
			t.Errorf("%s: %s %q", f.Node, f.Severity, f.Message)
		}
	}

	// Broken, and deep: still corrupted.
	broken := testutil.BuildTraces(t,
		testutil.Span{TraceID: tid, SpanID: "00000000000000a0", Name: "LangGraph", Start: at, End: at.Add(5 * time.Second),
			Attrs: map[string]any{"openinference.span.kind": "CHAIN", "input.value": `{"q":"x"}`}},
		span("00000000000000a1", "broken", nest(20_000)[:110_000], 1),
	)
	run = agentrun.MapTraces(broken, agentrun.Options{})[0]
	res = Analyze(run, &cfg, NewBaselines(0, 0))
	one(t, res.Findings, ruleCorruptedJSON)
	none(t, res.Findings, ruleDeepJSON)
}

// nestedRun: a node whose output is a reply thread nested depth levels,
// mapped from OpenInference spans (the mapping measures the depth).
func nestedRun(t *testing.T, depth int) *agentrun.Run {
	thread := strings.Repeat(`{"reply":`, depth) + `"ok"` + strings.Repeat("}", depth)
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	id := fmt.Sprintf("%032x", 0xd000+depth)
	td := testutil.BuildTraces(t,
		testutil.Span{TraceID: id, SpanID: "00000000000000a1", Name: "LangGraph", Start: at, End: at.Add(time.Second),
			Attrs: map[string]any{"openinference.span.kind": "CHAIN"}},
		testutil.Span{TraceID: id, SpanID: "00000000000000a2", ParentID: "00000000000000a1", Name: "load_thread", Start: at, End: at.Add(time.Second),
			Attrs: map[string]any{"openinference.span.kind": "CHAIN", "input.value": `{"thread_id":"t-1"}`, "input.mime_type": "application/json",
				"output.value": `{"thread":` + thread + `}`, "output.mime_type": "application/json"}})
	runs := agentrun.MapTraces(td, agentrun.Options{})
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	return runs[0]
}

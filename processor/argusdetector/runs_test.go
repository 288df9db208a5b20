package argusdetector

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/annotation"
	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/processor/argusdetector/internal/metadata"
)

func skipReasonAttr() attribute.KeyValue {
	return attribute.String("reason", annotation.SkipNotAgentRun)
}

// skippedResources counts the forwarded resources marked skipped, and all.
func skippedResources(h *harness) (skipped, all int) {
	for _, td := range h.sink.AllTraces() {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			all++
			if annotation.Skipped(td.ResourceSpans().At(i)) {
				skipped++
			}
		}
	}
	return skipped, all
}

// observeSkipLog routes the skip log line to an observer.
func observeSkipLog(logs **observer.ObservedLogs) func(*argusProcessor) {
	return func(p *argusProcessor) {
		core, o := observer.New(zapcore.InfoLevel)
		p.skipLog.logger = zap.New(core)
		*logs = o
	}
}

// By default a web request (plain_spans: an orders API with HTTP, database
// and messaging spans) is forwarded whole but unanalysed, its resources
// marked skipped, counted and told about once; the agent run beside it is
// analysed as it always was.
func TestDefaultSkipsTracesWithoutAIConvention(t *testing.T) {
	var logs *observer.ObservedLogs
	h := start(t, e2eConfig(), nil, observeSkipLog(&logs))
	web := testutil.LoadTraces(t, "plain_spans.json")
	n := sendInPieces(t, h, web)
	n += sendInPieces(t, h, testutil.LoadTraces(t, "rag_silent_failure.json"))
	h.waitSpans(t, n)

	spans, _ := decodedSpans(h)
	webIDs := map[string]bool{}
	for s := range agentrun.Spans(web) {
		webIDs[s.SpanID().String()] = true
	}
	for id, d := range spans {
		if webIDs[id] {
			assert.False(t, d.Analyzed, "web span %s analysed", id)
			assert.Empty(t, d.RunStatus)
			assert.Empty(t, d.Detections)
		} else {
			assert.True(t, d.Analyzed, "agent span %s not analysed", id)
		}
	}
	for _, td := range h.sink.AllTraces() {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			isWeb := webIDs[rs.ScopeSpans().At(0).Spans().At(0).SpanID().String()]
			assert.Equal(t, isWeb, annotation.Skipped(rs), "a resource is skipped exactly when it holds the web trace")
		}
	}
	assert.EqualValues(t, 1, h.sum(t, metadata.MetricTracesSkipped, skipReasonAttr()))
	assert.EqualValues(t, 1, h.sum(t, metadata.MetricRuns, attrStatus("failed")))

	// One line, naming the trace and how to keep such traces.
	require.Equal(t, 1, logs.Len())
	entry := logs.All()[0]
	assert.Contains(t, entry.Message, "runs.match")
	assert.Contains(t, entry.Message, "runs.keep: all")
	fields := entry.ContextMap()
	assert.Equal(t, "order-service", fields["example_service"])
	assert.Equal(t, "POST /orders", fields["example_root_span"])

	// More web traffic: counted, not logged again within the hour.
	sendInPieces(t, h, renumbered(t, "plain_spans.json", 0x11))
	require.Eventually(t, func() bool { return h.sum(t, metadata.MetricTracesSkipped) == 2 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 1, logs.Len())
}

// renumbered loads a fixture under another trace id.
func renumbered(t *testing.T, name string, first byte) ptrace.Traces {
	td := testutil.LoadTraces(t, name)
	for s := range agentrun.Spans(td) {
		id := s.TraceID()
		id[0] = first
		s.SetTraceID(id)
	}
	return td
}

// Late spans of a skipped trace are skipped too: the exporter must not
// store them as a run of their own.
func TestLateSpansOfSkippedTraceAreSkipped(t *testing.T) {
	h := start(t, e2eConfig(), nil)
	h.consume(t, spans(span{trace: 1, n: 1, parent: 0}, root(1)))
	h.waitSpans(t, 2)
	h.consume(t, spans(span{trace: 1, n: 2, parent: 0}))
	h.waitSpans(t, 3)
	last := h.sink.AllTraces()[len(h.sink.AllTraces())-1]
	rs := last.ResourceSpans().At(0)
	assert.True(t, annotation.Skipped(rs), "late span of a skipped trace is marked skipped")
	v, ok := rs.ScopeSpans().At(0).Spans().At(0).Attributes().Get(annotation.AttrLate)
	require.True(t, ok)
	assert.True(t, v.Bool())
	assert.EqualValues(t, 1, h.sum(t, metadata.MetricTracesSkipped))

	// A late span of a kept trace is not.
	h2 := start(t, e2eConfig(), nil)
	n := sendInPieces(t, h2, testutil.LoadTraces(t, "rag_clean.json"))
	h2.waitSpans(t, n)
	straggler := testutil.LoadTraces(t, "rag_clean.json")
	straggler.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetSpanID(pcommon.SpanID{9, 9, 9, 9, 9, 9, 9, 9})
	straggler.ResourceSpans().At(0).ScopeSpans().At(0).Spans().RemoveIf(func(s ptrace.Span) bool {
		return s.SpanID() != pcommon.SpanID{9, 9, 9, 9, 9, 9, 9, 9}
	})
	h2.consume(t, straggler)
	h2.waitSpans(t, n+1)
	skipped, _ := skippedResources(h2)
	assert.Zero(t, skipped)
}

// One batch holding a web request and an agent run under one resource:
// the processor forwards each trace in resources of its own, so only the
// web request's resource is marked.
func TestSkipMarksOnlyTheSkippedTracesResources(t *testing.T) {
	h := start(t, e2eConfig(), nil)
	batch := testutil.LoadTraces(t, "rag_clean.json")
	agentSpans := batch.SpanCount()
	web := spans(span{trace: 7, n: 1, parent: 0}, span{trace: 7, n: 0, parent: -1, name: "GET /health"})
	web.ResourceSpans().At(0).ScopeSpans().At(0).Spans().MoveAndAppendTo(
		batch.ResourceSpans().At(0).ScopeSpans().At(0).Spans())
	require.Equal(t, 1, batch.ResourceSpans().Len())
	h.consume(t, batch)
	h.waitSpans(t, agentSpans+2)
	for _, td := range h.sink.AllTraces() {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			isWeb := rs.ScopeSpans().At(0).Spans().At(0).TraceID() == traceID(7)
			assert.Equal(t, isWeb, annotation.Skipped(rs))
		}
	}
}

// A client cannot make the exporter drop an agent run by sending the
// marker itself: only the processor's decision counts.
func TestClientSentSkipMarkIsCleared(t *testing.T) {
	h := start(t, e2eConfig(), nil)
	td := testutil.LoadTraces(t, "rag_clean.json")
	annotation.MarkSkipped(td, "forged")
	n := td.SpanCount()
	h.consume(t, td)
	h.waitSpans(t, n)
	skipped, all := skippedResources(h)
	assert.Zero(t, skipped)
	assert.Positive(t, all)
}

// A plain pipeline kept, by keep: all (every trace, as before there was a
// choice) or by a rule naming its service: analysed whole, not marked.
func TestKeptPlainPipelineIsAnalysed(t *testing.T) {
	for name, runs := range map[string]RunsConfig{
		"keep all": {Keep: KeepAll},
		"rule":     {Keep: KeepAgentRuns, Match: []RunMatch{{ServiceName: "order-service"}}},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := e2eConfig()
			cfg.Runs = runs
			h := start(t, cfg, nil)
			n := sendInPieces(t, h, testutil.LoadTraces(t, "plain_spans.json"))
			h.waitSpans(t, n)
			skipped, _ := skippedResources(h)
			assert.Zero(t, skipped)
			for id, d := range mustDecode(h) {
				assert.True(t, d.Analyzed, "span %s", id)
			}
			assert.Zero(t, h.sum(t, metadata.MetricTracesSkipped))
			assert.EqualValues(t, 1, h.sum(t, metadata.MetricRuns))
		})
	}
}

func mustDecode(h *harness) map[string]annotation.Decoded {
	spans, _ := decodedSpans(h)
	return spans
}

// Each field of a rule, its look-alike that must not match, and the AND of
// fields within a rule. plain_spans is service order-service, root
// "POST /orders", scope io.opentelemetry.spring-webmvc-6.0, a span with
// http.route /orders and a resource with telemetry.sdk.language java.
func TestRunRulesKeepPlainPipelines(t *testing.T) {
	web := testutil.LoadTraces(t, "plain_spans.json")
	runs := agentrun.MapTraces(web, agentrun.Options{})
	for _, tc := range []struct {
		name string
		rule RunMatch
		keep bool
	}{
		{"service exact", RunMatch{ServiceName: "order-service"}, true},
		{"service pattern", RunMatch{ServiceName: "order-.*"}, true},
		{"service is matched whole", RunMatch{ServiceName: "order"}, false},
		{"other service", RunMatch{ServiceName: "billing"}, false},
		{"root span", RunMatch{RootSpanName: "POST /orders"}, true},
		{"a child's name is no root", RunMatch{RootSpanName: "validate_order"}, false},
		{"scope", RunMatch{ScopeName: `io\.opentelemetry\.spring-webmvc-.*`}, true},
		{"other scope", RunMatch{ScopeName: "io.opentelemetry.jdbc"}, false},
		{"span attribute", RunMatch{Attribute: &AttributeMatch{Key: "http.route", Value: "/orders"}}, true},
		{"span attribute key only", RunMatch{Attribute: &AttributeMatch{Key: "messaging.system"}}, true},
		{"span attribute other value", RunMatch{Attribute: &AttributeMatch{Key: "http.route", Value: "/users"}}, false},
		{"resource attribute", RunMatch{Attribute: &AttributeMatch{Key: "telemetry.sdk.language", Value: "java"}}, true},
		{"absent attribute", RunMatch{Attribute: &AttributeMatch{Key: "app.pipeline"}}, false},
		{"all fields match", RunMatch{ServiceName: "order-service", RootSpanName: "POST .*"}, true},
		{"one field fails the rule", RunMatch{ServiceName: "order-service", RootSpanName: "GET .*"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := RunsConfig{Keep: KeepAgentRuns, Match: []RunMatch{tc.rule}}.selector()
			require.NoError(t, err)
			assert.Equal(t, tc.keep, sel.keep(web, runs))
		})
	}
	sel, err := RunsConfig{Keep: KeepAgentRuns}.selector()
	require.NoError(t, err)
	assert.False(t, sel.keep(web, runs), "no rule: not kept")
	agent := testutil.LoadTraces(t, "genai_agent.json")
	assert.True(t, sel.keep(agent, agentrun.MapTraces(agent, agentrun.Options{})), "an AI convention is kept without a rule")
}

func TestRunsConfigErrors(t *testing.T) {
	err := RunsConfig{Keep: KeepAll, Match: []RunMatch{{ServiceName: "x"}}}.validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "runs.match: has no effect with runs.keep: all")
	require.NoError(t, RunsConfig{Keep: KeepAll}.validate())
	err = RunsConfig{Keep: KeepAgentRuns, Match: []RunMatch{{Attribute: &AttributeMatch{Key: "k", Value: "a(b"}}}}.validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "runs.match[0].attribute.value:")
}

// runVerdict is what detection said about one run: its status, its
// findings (rule, node, severity) and the root cause node.
type runVerdict struct {
	status, rootCause string
	findings          []string
}

func verdicts(h *harness) map[pcommon.TraceID]runVerdict {
	out := map[pcommon.TraceID]runVerdict{}
	for id, ft := range forwarded(h.sink) {
		var v runVerdict
		for _, s := range ft.spans {
			d := annotation.Decode(s)
			if d.RunStatus != "" {
				v.status = d.RunStatus
			}
			for _, f := range d.Forensics {
				v.rootCause = f.RootCauseNode
			}
			for _, det := range d.Detections {
				v.findings = append(v.findings, det.Rule+"@"+det.Node+"/"+det.Severity)
			}
		}
		if v.status != "" {
			slices.Sort(v.findings)
			out[id] = v
		}
	}
	return out
}

// Agent runs mixed with ten times as many web requests (all recorded from
// the real Go SDK) get the very findings and root causes they get alone:
// the web requests are not analysed, so they touch no baseline either.
func TestMixedTrafficLeavesAgentFindingsUnchanged(t *testing.T) {
	var agents []ptrace.Traces
	for _, rec := range testutil.LoadRecordings(t, "go-agent-http") {
		agents = append(agents, rec.Traces)
	}
	for _, name := range []string{"rag_silent_failure.json", "rag_clean.json", "genai_agent.json",
		"openinference_langgraph.json", "openllmetry_langgraph.json", "langsmith_langgraph.json"} {
		agents = append(agents, testutil.LoadTraces(t, name))
	}
	web := testutil.LoadRecordings(t, "go-orders-api")

	run := func(webPerAgent int) (map[pcommon.TraceID]runVerdict, *harness) {
		h := start(t, e2eConfig(), nil)
		sent, copies := 0, 0
		for _, a := range agents {
			for i := 0; i < webPerAgent; i++ {
				rec := web[copies%len(web)]
				td := ptrace.NewTraces()
				rec.Traces.CopyTo(td)
				retrace(td, byte(copies/len(web)+1))
				copies++
				sent += sendInPieces(t, h, td)
			}
			td := ptrace.NewTraces()
			a.CopyTo(td)
			sent += sendInPieces(t, h, td)
			h.waitSpans(t, sent) // one run at a time: baselines see the same order
		}
		return verdicts(h), h
	}
	alone, _ := run(0)
	mixed, h := run(10)
	require.Len(t, alone, len(agents))
	assert.Equal(t, alone, mixed)
	assert.EqualValues(t, 10*len(agents), h.sum(t, metadata.MetricTracesSkipped, skipReasonAttr()))
	assert.EqualValues(t, len(agents), h.sum(t, metadata.MetricRuns))
	// the recorded faults are still found, at their root
	found := map[string]bool{}
	for _, v := range mixed {
		found[v.rootCause] = true
	}
	assert.True(t, found["track_shipment"], "the carrier outage is blamed on track_shipment")
}

// retrace gives every span of td a trace id of its own copy n.
func retrace(td ptrace.Traces, n byte) {
	for s := range agentrun.Spans(td) {
		id := s.TraceID()
		id[15] ^= n
		id[14] ^= 0xa5
		s.SetTraceID(id)
	}
}

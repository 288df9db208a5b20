package argusdetector

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/processor/argusdetector/internal/metadata"
)

var benchNodes = []string{"plan", "retrieve", "rerank", "grade", "rewrite", "retrieve_more", "synthesize", "cite", "review", "format"}

// realisticTrace is a LangGraph run as OpenInference exports it: a root
// chain, 10 node spans carrying their input state and partial update as
// JSON (2-10 KiB), each with an LLM call nested under it. 21 spans.
func realisticTrace(seed int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "rag-agent")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("openinference.instrumentation.langchain")
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	var tid pcommon.TraceID
	binary.BigEndian.PutUint64(tid[8:], uint64(seed))
	sid := func(n int) pcommon.SpanID {
		var id pcommon.SpanID
		binary.BigEndian.PutUint32(id[:4], uint32(seed))
		binary.BigEndian.PutUint32(id[4:], uint32(n+1))
		return id
	}
	mk := func(n, parent int, name string, start, end time.Duration) ptrace.Span {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(tid)
		s.SetSpanID(sid(n))
		if parent >= 0 {
			s.SetParentSpanID(sid(parent))
		}
		s.SetName(name)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(start)))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(end)))
		s.Status().SetCode(ptrace.StatusCodeOk)
		return s
	}
	state := map[string]any{"question": "How do I rotate the signing keys of the billing service?"}
	step := 300 * time.Millisecond
	for i, node := range benchNodes {
		start := time.Duration(i) * step
		ns := mk(1+2*i, 0, node, start, start+step-10*time.Millisecond)
		a := ns.Attributes()
		a.PutStr("openinference.span.kind", "CHAIN")
		in, _ := json.Marshal(state)
		a.PutStr("input.value", string(in))
		a.PutStr("input.mime_type", "application/json")
		// Each node returns 1-5 KiB; the state it is handed holds the
		// question and the last two updates: 2-10 KiB.
		size := 1024 + (seed*7+i*811)%(4*1024)
		update := map[string]any{node + "_result": prose(seed*31+i, size)}
		if node == "retrieve" {
			update["documents"] = []any{map[string]any{"id": "kb-1", "text": "Keys rotate via the admin console."}}
		}
		out, _ := json.Marshal(update)
		a.PutStr("output.value", string(out))
		a.PutStr("output.mime_type", "application/json")
		a.PutStr("metadata", fmt.Sprintf(`{"langgraph_step":%d,"langgraph_node":%q,"langgraph_triggers":["branch:to:%s"],"langgraph_path":["__pregel_pull",%q]}`, i+1, node, node, node))
		state = map[string]any{"question": state["question"], "previous": state["latest"], "latest": update}

		llm := mk(2+2*i, 1+2*i, "ChatOpenAI", start+5*time.Millisecond, start+step-20*time.Millisecond)
		la := llm.Attributes()
		la.PutStr("openinference.span.kind", "LLM")
		la.PutStr("llm.model_name", "gpt-4o-mini")
		la.PutStr("llm.provider", "openai")
		la.PutInt("llm.token_count.prompt", int64(400+i*50))
		la.PutInt("llm.token_count.completion", int64(120+i*10))
		la.PutInt("llm.token_count.total", int64(520+i*60))
		la.PutStr("llm.input_messages.0.message.role", "user")
		la.PutStr("llm.input_messages.0.message.content", "Summarise the findings for "+node)
		la.PutStr("llm.output_messages.0.message.role", "assistant")
		la.PutStr("llm.output_messages.0.message.content", "Here is the summary for "+node+".")
	}
	r := mk(0, -1, "LangGraph", 0, time.Duration(len(benchNodes))*step)
	r.Attributes().PutStr("openinference.span.kind", "CHAIN")
	in, _ := json.Marshal(map[string]any{"question": state["question"]})
	r.Attributes().PutStr("input.value", string(in))
	return td
}

var proseWords = strings.Fields(`the signing keys of the billing service rotate every ninety days
through the admin console where an operator with the security role opens the key management page
selects the active key and schedules a replacement that takes effect after all running jobs drain
audit logs record who rotated which key and when so incident reviews can trace any change back to a
ticket while alerts fire if a key is older than its policy allows or if a rotation fails halfway`)

// prose is size bytes of varied, sentence-shaped text (an LLM answer, not
// filler), deterministic for a seed.
func prose(seed, size int) string {
	var sb strings.Builder
	x := uint32(seed)*2654435761 + 1
	words := 0
	for sb.Len() < size {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		w := proseWords[x%uint32(len(proseWords))]
		if words == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		sb.WriteString(w)
		words++
		if words > 8 && x%7 == 0 {
			sb.WriteString(". ")
			words = 0
		} else {
			sb.WriteByte(' ')
		}
	}
	return strings.TrimSpace(sb.String()) + "."
}

// countingConsumer counts spans without keeping them.
type countingConsumer struct{ spans atomic.Int64 }

func (c *countingConsumer) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }
func (c *countingConsumer) ConsumeTraces(_ context.Context, td ptrace.Traces) error {
	c.spans.Add(int64(td.SpanCount()))
	return nil
}

// decoded returns a fresh copy of wire, decoded the way a receiver does,
// so no string is shared with the template (CopyTo would share them).
func decoded(b *testing.B, wire []byte, n int) ptrace.Traces {
	var u ptrace.ProtoUnmarshaler
	td, err := u.UnmarshalTraces(wire)
	if err != nil {
		b.Fatal(err)
	}
	setTraceID(td, n)
	return td
}

func wireOf(b *testing.B, td ptrace.Traces) []byte {
	var m ptrace.ProtoMarshaler
	wire, err := m.MarshalTraces(td)
	require.NoError(b, err)
	return wire
}

func setTraceID(td ptrace.Traces, n int) {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[:8], uint64(n)+1)
	binary.BigEndian.PutUint64(id[8:], uint64(n)*0x9e3779b97f4a7c15)
	eachSpan(td, func(s ptrace.Span) { s.SetTraceID(id) })
}

// BenchmarkProcessor pushes whole realistic traces through the processor
// (buffer, mapping, all four layers with baselines, forensics, annotation)
// and reports spans/s end to end. Each iteration decodes a template trace
// from OTLP bytes, as a receiver would.
func BenchmarkProcessor(b *testing.B) {
	templates := make([][]byte, 16)
	for i := range templates {
		templates[i] = wireOf(b, realisticTrace(i))
	}
	perTrace := realisticTrace(0).SpanCount()
	// The benchmark is only meaningful if the trace maps to its 10 steps.
	runs := agentrun.MapTraces(realisticTrace(0), agentrun.Options{})
	require.Len(b, runs, 1)
	require.Len(b, runs[0].Steps, len(benchNodes))
	cfg := createDefaultConfig().(*Config)
	cfg.RootQuietPeriod = 5 * time.Millisecond
	cfg.Tick = 5 * time.Millisecond
	next := &countingConsumer{}
	p, err := NewFactory().CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, next)
	require.NoError(b, err)
	require.NoError(b, p.Start(context.Background(), componenttest.NewNopHost()))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		td := decoded(b, templates[i%len(templates)], i)
		if err := p.ConsumeTraces(context.Background(), td); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(b.N * perTrace)
	for next.spans.Load() < want {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "spans/s")
	require.NoError(b, p.Shutdown(context.Background()))
}

// BenchmarkAnalyze is the detection share of the work: mapping, the four
// layers, forensics and annotation of one realistic trace.
func BenchmarkAnalyze(b *testing.B) {
	benchAnalyze(b, analyzer(b, createDefaultConfig().(*Config)), realisticTrace(1), true)
}

// BenchmarkBufferedTraceMemory measures the heap held per buffered trace
// (21 spans) against the processor's own estimate, which is what max_bytes
// counts. Each iteration fills a fresh processor with bufferedTraces traces.
func BenchmarkBufferedTraceMemory(b *testing.B) {
	const bufferedTraces = 2000
	wire := wireOf(b, realisticTrace(1))
	cfg := createDefaultConfig().(*Config)
	cfg.MaxRunDuration = time.Hour
	cfg.RootQuietPeriod = 0
	var heapPer, estPer float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tel := componenttest.NewTelemetry()
		set := processortest.NewNopSettings(metadata.Type)
		set.TelemetrySettings = tel.NewTelemetrySettings()
		p, err := NewFactory().CreateTraces(context.Background(), set, cfg, &countingConsumer{})
		require.NoError(b, err)
		require.NoError(b, p.Start(context.Background(), componenttest.NewNopHost()))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		for j := 0; j < bufferedTraces; j++ {
			td := decoded(b, wire, j)
			if err := p.ConsumeTraces(context.Background(), td); err != nil {
				b.Fatal(err)
			}
		}
		for gauge(tel, metadata.MetricTracesInBuffer) < bufferedTraces {
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		heapPer = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / bufferedTraces
		estPer = float64(gauge(tel, metadata.MetricBytesInBuffer)) / bufferedTraces
		// A spent context skips detection: only the buffer is measured here.
		done, cancel := context.WithCancel(context.Background())
		cancel()
		_ = p.Shutdown(done)
		for _, s := range p.(*argusProcessor).shards {
			<-s.done // Shutdown does not wait on a spent context; the next fill must start empty
		}
		_ = tel.Shutdown(context.Background())
	}
	b.ReportMetric(heapPer, "heap_B/trace")
	b.ReportMetric(estPer, "est_B/trace")
}

func gauge(tel *componenttest.Telemetry, name string) int64 {
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var v int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		v += dp.Value
	}
	return v
}

// BenchmarkAnalyzeWebRequest is what one web request (recorded from the Go
// SDK: server, database and client spans, a second service) costs at
// release: skipped by default (mapped, found to be no agent run, marked),
// or analysed as a run with runs.keep: all, as every trace was before.
func BenchmarkAnalyzeWebRequest(b *testing.B) {
	tmpl := testutil.LoadRecordings(b, "go-orders-api")[17].Traces
	for _, keep := range []string{KeepAgentRuns, KeepAll} {
		b.Run(keep, func(b *testing.B) {
			cfg := createDefaultConfig().(*Config)
			cfg.Runs.Keep = keep
			benchAnalyze(b, analyzer(b, cfg), tmpl, keep == KeepAll)
		})
	}
}

// analyzer is a processor ready for analyze alone: no shards, no buffer.
func analyzer(b *testing.B, cfg *Config) *argusProcessor {
	h, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg, &countingConsumer{})
	require.NoError(b, err)
	h.detectCfg = h.cfg.detectConfig()
	h.baselines, err = startBaselines(context.Background(), componenttest.NewNopHost(), h)
	require.NoError(b, err)
	return h
}

// benchAnalyze analyses a fresh copy of tmpl per op; kept is what analyze
// must answer.
func benchAnalyze(b *testing.B, h *argusProcessor, tmpl ptrace.Traces, kept bool) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		td := ptrace.NewTraces()
		tmpl.CopyTo(td)
		b.StartTimer()
		if got := h.analyze(td, false); got != kept {
			b.Fatalf("kept = %v, want %v", got, kept)
		}
	}
	b.ReportMetric(float64(b.N*tmpl.SpanCount())/b.Elapsed().Seconds(), "spans/s")
}

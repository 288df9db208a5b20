// Package loadgen drives an OTLP gRPC endpoint with traffic shaped like real
// agent pipelines: OpenInference LangGraph runs (a root CHAIN span, node
// spans with langgraph metadata and JSON states, nested LLM / tool spans),
// some of them failing silently the way a RAG pipeline does. It counts what
// the server acknowledged, so a caller can compare it with what was stored.
package loadgen

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Shape describes the generated runs.
type Shape struct {
	// NodesMin..NodesMax node executions per run (uniform).
	NodesMin, NodesMax int
	// StateMin..StateMax bytes of each node's input.value / output.value JSON
	// (uniform). A failing run's empty retrieval is smaller on purpose.
	StateMin, StateMax int
	// FailShare is the fraction of runs that fail like the RAG silent
	// failure: retrieve returns no documents, later nodes pass that on, the
	// last node throws.
	FailShare float64
	// Service is the resource's service.name.
	Service string
}

// DefaultShape is the shape the load script uses unless told otherwise.
func DefaultShape() Shape {
	return Shape{NodesMin: 5, NodesMax: 30, StateMin: 1 << 10, StateMax: 20 << 10, FailShare: 0.1, Service: "argus-load"}
}

// Validate reports every problem of the shape at once.
func (s Shape) Validate() error {
	var errs []error
	if s.NodesMin < 1 || s.NodesMax < s.NodesMin {
		errs = append(errs, fmt.Errorf("nodes: need 1 <= min <= max, got %d..%d", s.NodesMin, s.NodesMax))
	}
	if s.NodesMax > 10000 {
		errs = append(errs, fmt.Errorf("nodes: max %d is above 10000", s.NodesMax))
	}
	if s.StateMin < 64 || s.StateMax < s.StateMin {
		errs = append(errs, fmt.Errorf("state size: need 64 <= min <= max, got %d..%d", s.StateMin, s.StateMax))
	}
	if s.StateMax > 4<<20 {
		errs = append(errs, fmt.Errorf("state size: max %d is above 4 MiB", s.StateMax))
	}
	if s.FailShare < 0 || s.FailShare > 1 {
		errs = append(errs, fmt.Errorf("fail share: must be within [0,1], got %g", s.FailShare))
	}
	return errors.Join(errs...)
}

// Counts is what one or more generated runs contain.
type Counts struct {
	Traces        int64 `json:"traces"`
	FailingTraces int64 `json:"failing_traces"`
	Spans         int64 `json:"spans"`
	// NodeSpans are the spans that are steps (one trace_steps row each).
	NodeSpans int64 `json:"node_spans"`
}

func (c *Counts) add(o Counts) {
	c.Traces += o.Traces
	c.FailingTraces += o.FailingTraces
	c.Spans += o.Spans
	c.NodeSpans += o.NodeSpans
}

// Generator builds runs. It is not safe for concurrent use: give each worker
// its own (same seed and stream = same runs).
type Generator struct {
	shape Shape
	rng   *rand.Rand
	text  string // lowercase words, no character that JSON escapes
}

// NewGenerator returns a generator whose output depends only on shape, seed
// and stream.
func NewGenerator(shape Shape, seed, stream uint64) (*Generator, error) {
	if err := shape.Validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, stream))
	return &Generator{shape: shape, rng: rng, text: corpus(rand.New(rand.NewPCG(seed, 0x5eed)), 256<<10)}, nil
}

var words = strings.Fields(`the refund policy allows returns within thirty days of purchase annual plans
	can be refunded pro rata after the first month customers must contact support with the order number
	shipping costs are not refundable unless the item arrived damaged premium members get free returns
	invoices are issued monthly and payment is due within fourteen days late payments accrue interest
	the knowledge base article explains how to reset a password enable two factor authentication and
	export account data in csv or json format agents should cite the source document in every answer`)

// corpus is pseudo-random prose: states sliced from it look like text (not a
// repeated phrase a compressor or a detector would special-case).
func corpus(rng *rand.Rand, n int) string {
	var b strings.Builder
	b.Grow(n + 16)
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		if rng.IntN(12) == 0 {
			b.WriteString(". ")
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// prose returns about n bytes of whole sentences from a random place in the
// corpus (text that stops mid-word reads as a truncated LLM answer).
func (g *Generator) prose(n int) string {
	if n <= 0 {
		return ""
	}
	n = min(n, len(g.text)/2)
	off := g.rng.IntN(len(g.text) - 2*n)
	if i := strings.Index(g.text[off:off+n], ". "); i >= 0 {
		off += i + 2 // start at a sentence
	}
	t := g.text[off : off+n]
	if i := strings.LastIndexByte(t, '.'); i > 0 {
		return t[:i+1]
	}
	return strings.TrimSpace(t)
}

func (g *Generator) between(lo, hi int) int { return lo + g.rng.IntN(hi-lo+1) }

func (g *Generator) traceID() pcommon.TraceID {
	var id pcommon.TraceID
	for i := 0; i < 16; i += 8 {
		v := g.rng.Uint64()
		for j := 0; j < 8; j++ {
			id[i+j] = byte(v >> (8 * j))
		}
	}
	return id
}

func (g *Generator) spanID() pcommon.SpanID {
	var id pcommon.SpanID
	v := g.rng.Uint64() | 1 // never the all-zero (invalid) id
	for j := 0; j < 8; j++ {
		id[j] = byte(v >> (8 * j))
	}
	return id
}

// node names of a corrective-RAG agent; runs longer than the list loop back
// (re-query, re-retrieve), as agent loops do.
var nodeNames = []string{"plan", "retrieve", "grade_documents", "rerank", "format_context", "generate", "validate", "rewrite_query"}

var llmNodes = map[string]bool{"plan": true, "grade_documents": true, "generate": true, "validate": true, "rewrite_query": true}

// NewRequest returns an empty batch with one resource and one scope, the way
// an SDK's batch span processor sends them.
func (g *Generator) NewRequest() (ptrace.Traces, ptrace.SpanSlice) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", g.shape.Service)
	rs.Resource().Attributes().PutStr("telemetry.sdk.language", "python")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("openinference.instrumentation.langchain")
	ss.Scope().SetVersion("0.1.50")
	return td, ss.Spans()
}

// runState is what the generator remembers of the graph state, so each
// node's input is the merge of the earlier partial updates.
type runState struct {
	question string
	query    string
	docs     int // number of documents currently in the state; 0 after the silent failure
	context  int // bytes of context
	answer   bool
}

// AddRun appends one whole run to spans and returns what it added. now is
// the end of the run; spans are back-dated from it.
func (g *Generator) AddRun(spans ptrace.SpanSlice, now time.Time) Counts {
	s := g.shape
	n := g.between(s.NodesMin, s.NodesMax)
	failing := g.rng.Float64() < s.FailShare
	c := Counts{Traces: 1, Spans: 2, NodeSpans: int64(n)} // root + __start__
	if failing {
		c.FailingTraces = 1
	}
	tid := g.traceID()
	session := "thread-" + hex.EncodeToString(tid[:4])

	// Durations first, so the run ends at now.
	took := make([]time.Duration, n)
	var total time.Duration
	for i := range took {
		took[i] = time.Duration(g.between(2, 900)) * time.Millisecond
		total += took[i] + time.Millisecond
	}
	start := now.Add(-total - 2*time.Millisecond)

	st := runState{question: "how do " + g.prose(g.between(40, 160)) + "?"}
	root := spans.AppendEmpty()
	rootID := g.spanID()
	root.SetTraceID(tid)
	root.SetSpanID(rootID)
	root.SetName("LangGraph")
	root.SetKind(ptrace.SpanKindInternal)
	root.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	root.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	ra := root.Attributes()
	ra.PutStr("openinference.span.kind", "CHAIN")
	ra.PutStr("session.id", session)
	ra.PutStr("input.value", `{"question":"`+st.question+`"}`)
	ra.PutStr("input.mime_type", "application/json")

	// LangGraph's bookkeeping entry span: a span, never a step.
	g.child(spans, tid, rootID, "__start__", start, start.Add(time.Millisecond), func(a pcommon.Map) {
		a.PutStr("openinference.span.kind", "CHAIN")
		a.PutStr("metadata", g.metadata("__start__", 0))
	})

	// The silent failure: retrieve (node 2 when there is room, and every
	// later retrieve) returns nothing, later nodes carry the emptiness, the
	// last node throws.
	emptyAt := -1
	if failing {
		emptyAt = min(1, n-1)
	}
	at := start.Add(2 * time.Millisecond)
	for i := 0; i < n; i++ {
		name := nodeNames[i%len(nodeNames)]
		if i == emptyAt {
			name = "retrieve"
		}
		empty := failing && i >= emptyAt && name == "retrieve"
		end := at.Add(took[i])
		meta := g.metadata(name, i+1)
		input := g.state(st, g.between(s.StateMin, s.StateMax))
		throws := failing && i == n-1
		var output string
		if !throws {
			output = g.update(&st, name, empty, g.between(s.StateMin, s.StateMax))
		}
		sp := g.child(spans, tid, rootID, name, at, end, func(a pcommon.Map) {
			a.PutStr("openinference.span.kind", "CHAIN")
			a.PutStr("metadata", meta)
			a.PutStr("input.value", input)
			a.PutStr("input.mime_type", "application/json")
			if !throws {
				a.PutStr("output.value", output)
				a.PutStr("output.mime_type", "application/json")
			}
		})
		nodeID := sp.SpanID()
		if throws {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage("KeyError: 'documents'")
			ev := sp.Events().AppendEmpty()
			ev.SetName("exception")
			ev.SetTimestamp(pcommon.NewTimestampFromTime(end))
			ev.Attributes().PutStr("exception.type", "KeyError")
			ev.Attributes().PutStr("exception.message", "'documents'")
			ev.Attributes().PutStr("exception.stacktrace", "Traceback (most recent call last):\n  File \"graph.py\", line 88, in "+name+"\n    docs = state[\"documents\"][0]\nKeyError: 'documents'")
		}
		if llmNodes[name] {
			g.llm(spans, tid, nodeID, meta, at.Add(time.Millisecond), end.Add(-time.Millisecond))
			c.Spans++
		}
		if name == "retrieve" || (name == "generate" && g.rng.IntN(3) == 0) {
			g.tool(spans, tid, nodeID, meta, name, empty, at.Add(time.Millisecond), end.Add(-time.Millisecond))
			c.Spans++
		}
		at = end.Add(time.Millisecond)
	}
	c.Spans += int64(n)
	if failing {
		root.Status().SetCode(ptrace.StatusCodeError)
		root.Status().SetMessage("graph failed")
	} else {
		ra.PutStr("output.value", g.state(st, g.between(s.StateMin, s.StateMax)))
		ra.PutStr("output.mime_type", "application/json")
	}
	return c
}

func (g *Generator) child(spans ptrace.SpanSlice, tid pcommon.TraceID, parent pcommon.SpanID, name string, start, end time.Time, attrs func(pcommon.Map)) ptrace.Span {
	sp := spans.AppendEmpty()
	sp.SetTraceID(tid)
	sp.SetSpanID(g.spanID())
	sp.SetParentSpanID(parent)
	sp.SetName(name)
	sp.SetKind(ptrace.SpanKindInternal)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	attrs(sp.Attributes())
	return sp
}

func (g *Generator) metadata(node string, step int) string {
	ns := fmt.Sprintf("%s:%08x-%04x-%04x-%04x-%012x", node, g.rng.Uint32(), g.rng.IntN(1<<16), g.rng.IntN(1<<16), g.rng.IntN(1<<16), g.rng.Uint64()&(1<<48-1))
	return `{"langgraph_step":` + strconv.Itoa(step) + `,"langgraph_node":"` + node +
		`","langgraph_triggers":["branch:to:` + node + `"],"langgraph_path":["__pregel_pull","` + node +
		`"],"langgraph_checkpoint_ns":"` + ns + `"}`
}

var models = []string{"gpt-4o-mini", "gpt-4o", "claude-3-5-haiku", "llama-3.1-70b"}

func (g *Generator) llm(spans ptrace.SpanSlice, tid pcommon.TraceID, parent pcommon.SpanID, meta string, start, end time.Time) {
	prompt, completion := g.between(200, 4000), g.between(20, 800)
	model := models[g.rng.IntN(len(models))]
	g.child(spans, tid, parent, "ChatOpenAI", start, end, func(a pcommon.Map) {
		a.PutStr("openinference.span.kind", "LLM")
		a.PutStr("metadata", meta)
		a.PutStr("llm.model_name", model)
		a.PutStr("llm.provider", "openai")
		a.PutInt("llm.token_count.prompt", int64(prompt))
		a.PutInt("llm.token_count.completion", int64(completion))
		a.PutInt("llm.token_count.total", int64(prompt+completion))
		a.PutStr("llm.input_messages.0.message.role", "system")
		a.PutStr("llm.input_messages.0.message.content", "You answer from the context only. "+g.prose(g.between(100, 400)))
		a.PutStr("llm.input_messages.1.message.role", "user")
		a.PutStr("llm.input_messages.1.message.content", g.prose(g.between(50, 300)))
		a.PutStr("llm.output_messages.0.message.role", "assistant")
		a.PutStr("llm.output_messages.0.message.content", g.prose(g.between(50, 600)))
	})
}

func (g *Generator) tool(spans ptrace.SpanSlice, tid pcommon.TraceID, parent pcommon.SpanID, meta, node string, empty bool, start, end time.Time) {
	kind, name := "TOOL", "web_search"
	if node == "retrieve" {
		kind, name = "RETRIEVER", "kb_search"
	}
	result := `{"ids":["kb-` + strconv.Itoa(g.rng.IntN(1000)) + `","kb-` + strconv.Itoa(g.rng.IntN(1000)) + `"]}`
	if empty {
		result = `{"ids":[]}`
	}
	g.child(spans, tid, parent, name, start, end, func(a pcommon.Map) {
		a.PutStr("openinference.span.kind", kind)
		a.PutStr("metadata", meta)
		a.PutStr("tool.name", name)
		a.PutStr("input.value", `{"query":"`+g.prose(g.between(20, 120))+`","k":4}`)
		a.PutStr("output.value", result)
	})
}

// state is the JSON state handed to a node: the graph state so far, with a
// message history padding it to about size bytes.
func (g *Generator) state(st runState, size int) string {
	var b strings.Builder
	b.Grow(size + 256)
	b.WriteString(`{"question":"`)
	b.WriteString(st.question)
	b.WriteString(`","query":"`)
	b.WriteString(st.query)
	b.WriteString(`","documents":[`)
	for d := 0; d < st.docs; d++ {
		if d > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"id":"kb-`)
		b.WriteString(strconv.Itoa(d + 1))
		b.WriteString(`","text":"`)
		b.WriteString(g.prose(min(400, size/8)))
		b.WriteString(`"}`)
	}
	b.WriteString(`],"context":"`)
	b.WriteString(g.prose(min(st.context, size/4)))
	b.WriteString(`","answer":`)
	if st.answer {
		b.WriteString(`"`)
		b.WriteString(g.prose(120))
		b.WriteString(`"`)
	} else {
		b.WriteString(`null`)
	}
	b.WriteString(`,"messages":[`)
	first := true
	for b.Len() < size-64 {
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(`{"role":"user","content":"`)
		b.WriteString(g.prose(min(2000, max(16, size-b.Len()-48))))
		b.WriteString(`"}`)
	}
	b.WriteString(`]}`)
	return b.String()
}

// update applies a node's partial update to the state and returns its JSON.
func (g *Generator) update(st *runState, node string, empty bool, size int) string {
	var b strings.Builder
	b.Grow(size + 64)
	switch node {
	case "retrieve":
		if empty {
			st.docs, st.context = 0, 0
			return `{"documents":[]}`
		}
		st.docs = g.between(2, 8)
		b.WriteString(`{"documents":[`)
		per := max(32, size/st.docs-40)
		for d := 0; d < st.docs; d++ {
			if d > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"id":"kb-`)
			b.WriteString(strconv.Itoa(g.rng.IntN(1000)))
			b.WriteString(`","text":"`)
			b.WriteString(g.prose(per))
			b.WriteString(`"}`)
		}
		b.WriteString(`]}`)
		return b.String()
	case "format_context":
		if st.docs == 0 {
			st.context = 0
			return `{"context":""}`
		}
		st.context = size
	case "generate":
		st.answer = true
	case "plan", "rewrite_query":
		st.query = g.prose(g.between(20, 80))
	}
	key := map[string]string{"plan": "query", "rewrite_query": "query", "format_context": "context",
		"generate": "answer", "grade_documents": "grades", "rerank": "ranking", "validate": "verdict"}[node]
	b.WriteString(`{"`)
	b.WriteString(key)
	b.WriteString(`":"`)
	b.WriteString(g.prose(max(16, size-len(key)-8)))
	b.WriteString(`"}`)
	return b.String()
}

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// newProvider returns an SDK tracer provider exporting to the collector over
// "grpc" or "http", exactly as a user's one-line setup would.
func newProvider(t *testing.T, c *collector, proto, service string) *sdktrace.TracerProvider {
	t.Helper()
	ctx := context.Background()
	var exp sdktrace.SpanExporter
	var err error
	switch proto {
	case "grpc":
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(c.grpcAddr), otlptracegrpc.WithInsecure())
	case "http":
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(c.httpAddr), otlptracehttp.WithInsecure())
	}
	require.NoError(t, err)
	res := resource.NewSchemaless(attribute.String("service.name", service))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// node is one LangGraph node execution as OpenInference records it.
type node struct {
	name   string
	input  any
	output any // nil = the node threw
	err    error
	llm    bool
	tool   string
	took   time.Duration
}

// emitLangGraph records one LangGraph run the way
// openinference-instrumentation-langchain does: a LangGraph root CHAIN span,
// one CHAIN span per node with langgraph metadata, nested LLM/TOOL spans.
// It returns the trace id.
func emitLangGraph(tp trace.TracerProvider, session string, nodes []node) string {
	tr := tp.Tracer("openinference.instrumentation.langchain")
	start := time.Now().Add(-time.Minute)
	ctx, root := tr.Start(context.Background(), "LangGraph", trace.WithTimestamp(start),
		trace.WithAttributes(
			attribute.String("openinference.span.kind", "CHAIN"),
			attribute.String("session.id", session),
			attribute.String("input.value", js(nodes[0].input)),
			attribute.String("input.mime_type", "application/json"),
		))
	at := start.Add(time.Millisecond)
	failed := false
	for i, n := range nodes {
		meta := js(map[string]any{
			"langgraph_step": i + 1, "langgraph_node": n.name,
			"langgraph_triggers": []string{"branch:to:" + n.name},
			"langgraph_path":     []string{"__pregel_pull", n.name},
		})
		nctx, span := tr.Start(ctx, n.name, trace.WithTimestamp(at), trace.WithAttributes(
			attribute.String("openinference.span.kind", "CHAIN"),
			attribute.String("metadata", meta),
			attribute.String("input.value", js(n.input)),
			attribute.String("input.mime_type", "application/json"),
		))
		end := at.Add(n.took)
		if n.llm {
			_, llm := tr.Start(nctx, "ChatOpenAI", trace.WithTimestamp(at.Add(time.Millisecond)), trace.WithAttributes(
				attribute.String("openinference.span.kind", "LLM"),
				attribute.String("metadata", meta),
				attribute.String("llm.model_name", "gpt-4o-mini"),
				attribute.String("llm.provider", "openai"),
				attribute.Int("llm.token_count.prompt", 420),
				attribute.Int("llm.token_count.completion", 80),
				attribute.Int("llm.token_count.total", 500),
			))
			llm.End(trace.WithTimestamp(end.Add(-time.Millisecond)))
		}
		if n.tool != "" {
			_, tool := tr.Start(nctx, n.tool, trace.WithTimestamp(at.Add(time.Millisecond)), trace.WithAttributes(
				attribute.String("openinference.span.kind", "RETRIEVER"),
				attribute.String("metadata", meta),
				attribute.String("tool.name", n.tool),
				attribute.String("input.value", js(n.input)),
			))
			tool.End(trace.WithTimestamp(end.Add(-time.Millisecond)))
		}
		if n.err != nil {
			span.RecordError(n.err, trace.WithTimestamp(end), trace.WithAttributes(attribute.String("exception.type", "KeyError")))
			span.SetStatus(codes.Error, n.err.Error())
			failed = true
		} else {
			span.SetAttributes(attribute.String("output.value", js(n.output)), attribute.String("output.mime_type", "application/json"))
		}
		span.End(trace.WithTimestamp(end))
		at = end.Add(time.Millisecond)
		if failed {
			break
		}
	}
	if failed {
		root.SetStatus(codes.Error, "graph failed")
	}
	root.End(trace.WithTimestamp(at))
	return root.SpanContext().TraceID().String()
}

// ragRun is the product's signature scenario: retrieve silently returns no
// documents, two nodes pass that on, and synthesize crashes three steps later.
func ragRun(failing bool) []node {
	q := map[string]any{"question": "What is the refund window for annual plans?"}
	docs := []any{
		map[string]any{"id": "kb-12", "text": "Annual plans can be refunded within 30 days of purchase."},
		map[string]any{"id": "kb-40", "text": "Refunds are issued to the original payment method."},
	}
	if failing {
		return []node{
			{name: "plan", input: q, output: map[string]any{"query": "refund window annual plan"}, llm: true, took: 300 * time.Millisecond},
			{name: "retrieve", input: map[string]any{"question": q["question"], "query": "refund window annual plan"}, output: map[string]any{"documents": []any{}}, tool: "kb_search", took: 120 * time.Millisecond},
			{name: "rerank", input: map[string]any{"documents": []any{}}, output: map[string]any{"documents": []any{}}, took: 5 * time.Millisecond},
			{name: "format_context", input: map[string]any{"documents": []any{}}, output: map[string]any{"context": ""}, took: 2 * time.Millisecond},
			{name: "synthesize", input: map[string]any{"question": q["question"], "context": ""}, err: errors.New("'documents'"), took: 3 * time.Millisecond},
		}
	}
	return []node{
		{name: "plan", input: q, output: map[string]any{"query": "refund window annual plan"}, llm: true, took: 300 * time.Millisecond},
		{name: "retrieve", input: map[string]any{"question": q["question"], "query": "refund window annual plan"}, output: map[string]any{"documents": docs}, tool: "kb_search", took: 120 * time.Millisecond},
		{name: "rerank", input: map[string]any{"documents": docs}, output: map[string]any{"documents": docs[:1]}, took: 40 * time.Millisecond},
		{name: "format_context", input: map[string]any{"documents": docs[:1]}, output: map[string]any{"context": "Annual plans can be refunded within 30 days of purchase."}, took: 2 * time.Millisecond},
		{name: "synthesize", input: map[string]any{"question": q["question"], "context": "Annual plans can be refunded within 30 days of purchase."}, output: map[string]any{"answer": "You can get a refund within 30 days of buying an annual plan."}, llm: true, took: 900 * time.Millisecond},
	}
}

func flush(t *testing.T, tp *sdktrace.TracerProvider) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, tp.ForceFlush(ctx), "export to the collector failed")
}

var _ = fmt.Sprintf

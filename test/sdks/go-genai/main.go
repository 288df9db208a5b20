// Command go-genai is the support agent of test/sdks/scenarios/support.mjs
// as a Go service would write it on the OpenTelemetry Go SDK with the GenAI
// semantic conventions: an invoke_agent span, a chat span per model call
// and an execute_tool span per tool call, exported over OTLP/HTTP to the
// capture endpoint, one file per run.
//
//	node ../scenarios/support.mjs > runs.json
//	go run ./test/sdks/go-genai -runs runs.json -form attributes   (or -form events)
//
// -form attributes is the current convention (semconv 1.40: content in
// gen_ai.input.messages, gen_ai.output.messages, gen_ai.system_instructions,
// gen_ai.tool.call.arguments / .result). -form events is the older one
// (semconv 1.31: gen_ai.system, content as per-message span events
// gen_ai.system.message, gen_ai.user.message, gen_ai.assistant.message,
// gen_ai.tool.message and gen_ai.choice, each body JSON in
// gen_ai.event.content, as the Azure AI Inference and Semantic Kernel
// instrumentations wrote them; tool spans carry only name and call id).
// The model is scripted: each chat call returns the run's next turn.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/arguslabs/argus-otel/test/sdks/gocapture"
)

type scenarios struct {
	Agent  string `json:"agent"`
	Model  string `json:"model"`
	System string `json:"system"`
	Runs   []run  `json:"runs"`
}

type run struct {
	Name         string                       `json:"name"`
	User         string                       `json:"user"`
	Turns        []turn                       `json:"turns"`
	Tools        map[string][]json.RawMessage `json:"tools"`
	Model429Once bool                         `json:"model_429_once"`
}

type turn struct {
	ToolCalls []struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"tool_calls"`
	Content      string `json:"content"`
	FinishReason string `json:"finish_reason"`
	Usage        struct {
		Input  int `json:"input"`
		Output int `json:"output"`
	} `json:"usage"`
	LatencyMs int `json:"latency_ms"`
}

func main() {
	runsPath := flag.String("runs", "", "the scenarios JSON (node test/sdks/scenarios/support.mjs)")
	form := flag.String("form", "attributes", "attributes (current GenAI convention) or events (the older span-event form)")
	flag.Parse()
	if *runsPath == "" || (*form != "attributes" && *form != "events") {
		log.Fatal("usage: go-genai -runs runs.json -form attributes|events (through test/sdks/record.sh)")
	}
	raw, err := os.ReadFile(*runsPath)
	if err != nil {
		log.Fatal(err)
	}
	// compact, as a model API and a tool's JSON answer would be
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		log.Fatal(err)
	}
	var sc scenarios
	if err := json.Unmarshal(buf.Bytes(), &sc); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	rec, err := gocapture.New(ctx, resource.NewSchemaless(attribute.String("service.name", "support-agent-go")))
	if err != nil {
		log.Fatal(err)
	}
	a := &agent{sc: sc, events: *form == "events", tracer: rec.Tracer("github.com/arguslabs/argus-otel/test/sdks/go-genai")}
	for _, r := range sc.Runs {
		if err := rec.Record(ctx, r.Name, func() { a.run(ctx, r) }); err != nil {
			log.Fatal(err)
		}
	}
	if err := rec.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("recorded %d runs\n", len(sc.Runs))
}

type agent struct {
	sc     scenarios
	events bool
	tracer trace.Tracer
}

// run is one invocation: the model loop until the model answers in text.
func (a *agent) run(ctx context.Context, r run) {
	attrs := []attribute.KeyValue{semconv.GenAIOperationNameInvokeAgent, semconv.GenAIAgentName(a.sc.Agent),
		semconv.GenAIConversationID("conv-" + r.Name)}
	if a.events {
		attrs = append(attrs, attribute.String("gen_ai.system", "openai"))
	} else {
		attrs = append(attrs, semconv.GenAIProviderNameOpenAI)
	}
	ctx, span := a.tracer.Start(ctx, "invoke_agent "+a.sc.Agent, trace.WithAttributes(attrs...))
	defer span.End()

	history := []gocapture.Message{{Role: "user", Parts: []gocapture.Part{{Type: "text", Content: r.User}}}}
	next := map[string]int{}
	for k, t := range r.Turns {
		out := a.chat(ctx, r, k, t, history)
		history = append(history, out)
		if len(t.ToolCalls) == 0 {
			return
		}
		for j, c := range t.ToolCalls {
			id := fmt.Sprintf("call_%d_%d", k, j)
			result := a.tool(ctx, r, c.Name, id, c.Arguments, next)
			history = append(history, gocapture.Message{Role: "tool", Parts: []gocapture.Part{{Type: "tool_call_response", ID: id, Response: result}}})
		}
	}
}

// chat is one model call: the span is the call, the scripted turn its answer.
func (a *agent) chat(ctx context.Context, r run, k int, t turn, history []gocapture.Message) gocapture.Message {
	_, span := a.tracer.Start(ctx, "chat "+a.sc.Model, trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	if k == 0 && r.Model429Once {
		// the provider answers 429 once; the client waits and retries
		time.Sleep(15 * time.Millisecond)
	}
	time.Sleep(time.Duration(t.LatencyMs) * time.Millisecond)
	out := gocapture.Message{Role: "assistant"}
	finish := t.FinishReason
	if len(t.ToolCalls) > 0 {
		finish = "tool_call"
		for j, c := range t.ToolCalls {
			out.Parts = append(out.Parts, gocapture.Part{Type: "tool_call", ID: fmt.Sprintf("call_%d_%d", k, j), Name: c.Name, Arguments: c.Arguments})
		}
	} else {
		out.Parts = []gocapture.Part{{Type: "text", Content: t.Content}}
	}
	attrs := []attribute.KeyValue{
		semconv.GenAIOperationNameChat,
		semconv.GenAIRequestModel(a.sc.Model),
		semconv.GenAIResponseModel(a.sc.Model),
		semconv.GenAIResponseID(fmt.Sprintf("chatcmpl-%s-%d", r.Name, k)),
		semconv.GenAIResponseFinishReasons(finish),
		semconv.GenAIUsageInputTokens(t.Usage.Input),
		semconv.GenAIUsageOutputTokens(t.Usage.Output),
	}
	if a.events {
		span.SetAttributes(append(attrs, attribute.String("gen_ai.system", "openai"))...)
		a.messageEvents(span, history, out, finish)
		return out
	}
	span.SetAttributes(append(attrs, semconv.GenAIProviderNameOpenAI,
		attribute.String(string(semconv.GenAISystemInstructionsKey), gocapture.MustJSON([]gocapture.Part{{Type: "text", Content: a.sc.System}})),
		attribute.String(string(semconv.GenAIInputMessagesKey), gocapture.MustJSON(history)),
		attribute.String(string(semconv.GenAIOutputMessagesKey), gocapture.MustJSON([]map[string]any{{"role": out.Role, "parts": out.Parts, "finish_reason": finish}})),
	)...)
	return out
}

// messageEvents writes the conversation the older way: one span event per
// message, then one per choice, each body JSON in gen_ai.event.content.
func (a *agent) messageEvents(span trace.Span, history []gocapture.Message, out gocapture.Message, finish string) {
	event := func(name string, body any) {
		span.AddEvent(name, trace.WithAttributes(attribute.String("gen_ai.system", "openai"), attribute.String("gen_ai.event.content", gocapture.MustJSON(body))))
	}
	event("gen_ai.system.message", map[string]any{"role": "system", "content": a.sc.System})
	for _, m := range history {
		switch m.Role {
		case "user":
			event("gen_ai.user.message", map[string]any{"role": "user", "content": m.Parts[0].Content})
		case "assistant":
			event("gen_ai.assistant.message", legacyAssistant(m))
		case "tool":
			event("gen_ai.tool.message", map[string]any{"role": "tool", "id": m.Parts[0].ID, "content": string(m.Parts[0].Response)})
		}
	}
	event("gen_ai.choice", map[string]any{"index": 0, "finish_reason": finish, "message": legacyAssistant(out)})
}

// legacyAssistant is an assistant gocapture.Message in the events' body shape:
// content text and OpenAI-style tool_calls.
func legacyAssistant(m gocapture.Message) map[string]any {
	body := map[string]any{"role": "assistant"}
	var calls []any
	for _, p := range m.Parts {
		switch p.Type {
		case "text":
			body["content"] = p.Content
		case "tool_call":
			calls = append(calls, map[string]any{"id": p.ID, "type": "function",
				"function": map[string]any{"name": p.Name, "arguments": string(p.Arguments)}})
		}
	}
	if calls != nil {
		body["tool_calls"] = calls
	}
	return body
}

// tool runs one tool call: the scripted result (a 429 is waited out and the
// call repeated, as the JS agents do), or the scripted failure.
func (a *agent) tool(ctx context.Context, r run, name, id string, args json.RawMessage, next map[string]int) json.RawMessage {
	call := func() (json.RawMessage, error) {
		_, span := a.tracer.Start(ctx, "execute_tool "+name)
		defer span.End()
		span.SetAttributes(semconv.GenAIOperationNameExecuteTool, semconv.GenAIToolName(name),
			semconv.GenAIToolCallID(id), semconv.GenAIToolType("function"))
		if !a.events {
			span.SetAttributes(attribute.String(string(semconv.GenAIToolCallArgumentsKey), string(args)))
		}
		i := next[name]
		next[name]++
		time.Sleep(time.Duration(10+(i%3)*7) * time.Millisecond)
		res := r.Tools[name][i]
		var failure struct {
			Throws string `json:"throws"`
		}
		if json.Unmarshal(res, &failure) == nil && failure.Throws != "" {
			err := errors.New(failure.Throws)
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
			span.SetAttributes(attribute.String("error.type", "tool_error"))
			return nil, err
		}
		if !a.events {
			span.SetAttributes(attribute.String(string(semconv.GenAIToolCallResultKey), string(res)))
		}
		return res, nil
	}
	res, err := call()
	for tries := 1; err == nil && tries < 3; tries++ {
		var limited struct {
			Status       any `json:"status"`
			RetryAfterMs int `json:"retry_after_ms"`
		}
		if json.Unmarshal(res, &limited) != nil || limited.Status != float64(429) {
			break
		}
		time.Sleep(time.Duration(limited.RetryAfterMs) * time.Millisecond)
		res, err = call()
	}
	if err != nil {
		return json.RawMessage(gocapture.MustJSON(map[string]string{"error": err.Error()}))
	}
	return res
}

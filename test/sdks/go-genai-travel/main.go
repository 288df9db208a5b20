// Command go-genai-travel records testdata/otlp/genai_agent.json (a link to
// testdata/sdks/go-genai-travel/genai_agent.json): a Go travel-planner
// service on the OpenTelemetry Go SDK, its HTTP server and clients traced by
// otelhttp, its agent by hand with the GenAI conventions (semconv 1.40).
// One request plans a weekend: the model asks for the weather and for
// flights, the weather API answers, the flight search times out, the model
// answers without flights. The model, weather and flight APIs are local
// test servers; everything on the wire is real HTTP.
//
//	ARGUS_CAPTURE_URL=... go run ./test/sdks/go-genai-travel    (test/sdks/record.sh go-genai-travel)
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/arguslabs/argus-otel/test/sdks/gocapture"
)

const (
	model    = "gpt-4o"
	question = "Plan a weekend in Lisbon on June 14, with flights from Berlin."
)

func main() {
	ctx := context.Background()
	res, err := resource.New(ctx, resource.WithTelemetrySDK(),
		resource.WithAttributes(attribute.String("service.name", "travel-planner"), attribute.String("service.version", "2.3.1")))
	if err != nil {
		log.Fatal(err)
	}
	rec, err := gocapture.New(ctx, res)
	if err != nil {
		log.Fatal(err)
	}
	tp := rec.TracerProvider

	llm := httptest.NewServer(http.HandlerFunc(chatCompletions))
	defer llm.Close()
	weather := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(20 * time.Millisecond)
		_, _ = io.WriteString(w, `{"forecast": "sunny", "high_c": 27, "low_c": 18}`)
	}))
	defer weather.Close()
	flights := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // slower than the agent waits
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer flights.Close()

	a := &agent{
		tracer:  tp.Tracer("github.com/acme/travel-planner/internal/agent"),
		client:  &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport, otelhttp.WithTracerProvider(tp))},
		llm:     llm.URL,
		weather: weather.URL,
		flights: flights.URL,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/plan", a.plan)
	srv := httptest.NewServer(otelhttp.NewHandler(mux, "travel-planner", otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(propagation.TraceContext{})))
	defer srv.Close()

	err = rec.Record(ctx, "genai_agent", func() {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/plan", bytes.NewBufferString(`{"question":"`+question+`"}`))
		req.Header.Set("User-Agent", "travel-web/5.1")
		req.Header.Set("X-User-ID", "u-5521")
		req.Header.Set("X-Conversation-ID", "conv-77")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		_, _ = io.Copy(os.Stdout, resp.Body)
		resp.Body.Close()
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := tp.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println()
}

// chatCompletions is the scripted model: the first turn asks for both
// tools, the second answers from what came back.
func chatCompletions(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Messages []map[string]any `json:"messages"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	time.Sleep(30 * time.Millisecond)
	var msg map[string]any
	finish, in, out := "tool_calls", 310, 42
	if len(req.Messages) == 1 {
		msg = map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{
			map[string]any{"id": "call_w1", "type": "function", "function": map[string]any{"name": "get_weather", "arguments": `{"city": "Lisbon", "date": "2025-06-14"}`}},
			map[string]any{"id": "call_f1", "type": "function", "function": map[string]any{"name": "search_flights", "arguments": `{"from": "BER", "to": "LIS", "date": "2025-06-13"}`}},
		}}
	} else {
		finish, in, out = "stop", 455, 61
		msg = map[string]any{"role": "assistant", "content": "Lisbon looks sunny on June 14 (27 °C). I could not search flights right now (the flight service timed out); try again or check the airline sites directly."}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-travel", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
		"usage":   map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out},
	})
}

type agent struct {
	tracer                trace.Tracer
	client                *http.Client
	llm, weather, flights string
}

// plan is the HTTP handler: one agent invocation.
func (a *agent) plan(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("user.id", r.Header.Get("X-User-ID")))
	ctx, span := a.tracer.Start(ctx, "invoke_agent travel_planner", trace.WithAttributes(
		semconv.GenAIOperationNameInvokeAgent, semconv.GenAIAgentName("travel_planner"), semconv.GenAIAgentID("agt_travel_01"),
		semconv.GenAIProviderNameOpenAI, semconv.GenAIRequestModel(model), semconv.GenAIConversationID(r.Header.Get("X-Conversation-ID"))))
	defer span.End()

	user := gocapture.Message{Role: "user", Parts: []gocapture.Part{{Type: "text", Content: question}}}
	openai := []map[string]any{{"role": "user", "content": question}}
	first := a.chat(ctx, []gocapture.Message{user}, openai)
	openai = append(openai, first.raw)
	for _, tc := range first.toolCalls {
		result, err := a.tool(ctx, tc)
		content := string(result)
		if err != nil {
			content = `{"error": "` + err.Error() + `"}`
		}
		openai = append(openai, map[string]any{"role": "tool", "tool_call_id": tc.ID, "content": content})
	}
	final := a.chat(ctx, []gocapture.Message{user}, openai)
	span.SetAttributes(attribute.String(string(semconv.GenAIInputMessagesKey), gocapture.MustJSON([]gocapture.Message{user})),
		attribute.String(string(semconv.GenAIOutputMessagesKey), gocapture.MustJSON([]gocapture.Message{final.msg})))
	span.SetStatus(codes.Ok, "")
	_, _ = io.WriteString(w, final.text)
}

type toolCall struct {
	ID, Name  string
	Arguments json.RawMessage
}

type chatResult struct {
	msg       gocapture.Message
	raw       map[string]any
	text      string
	toolCalls []toolCall
}

// chat is one model call over HTTP; the span is the call.
func (a *agent) chat(ctx context.Context, input []gocapture.Message, openai []map[string]any) chatResult {
	ctx, span := a.tracer.Start(ctx, "chat "+model, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		semconv.GenAIOperationNameChat, semconv.GenAIProviderNameOpenAI, semconv.GenAIRequestModel(model)))
	defer span.End()
	body, _ := json.Marshal(map[string]any{"model": model, "messages": openai})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.llm+"/v1/chat/completions", bytes.NewReader(body))
	resp, err := a.client.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var cc struct {
		Model   string `json:"model"`
		Choices []struct {
			Message struct {
				Content   string `json:"content"`
				ToolCalls []struct {
					ID       string `json:"id"`
					Function struct {
						Name      string `json:"name"`
						Arguments string `json:"arguments"`
					} `json:"function"`
				} `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			Prompt     int `json:"prompt_tokens"`
			Completion int `json:"completion_tokens"`
		} `json:"usage"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &cc); err != nil {
		log.Fatal(err)
	}
	ch := cc.Choices[0]
	res := chatResult{text: ch.Message.Content, msg: gocapture.Message{Role: "assistant", FinishReason: ch.FinishReason}}
	var rawResp struct {
		Choices []struct {
			Message map[string]any `json:"message"`
		} `json:"choices"`
	}
	_ = json.Unmarshal(raw, &rawResp)
	res.raw = rawResp.Choices[0].Message
	if ch.Message.Content != "" {
		res.msg.Parts = append(res.msg.Parts, gocapture.Part{Type: "text", Content: ch.Message.Content})
	}
	for _, tc := range ch.Message.ToolCalls {
		call := toolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: json.RawMessage(tc.Function.Arguments)}
		res.toolCalls = append(res.toolCalls, call)
		res.msg.Parts = append(res.msg.Parts, gocapture.Part{Type: "tool_call", ID: call.ID, Name: call.Name, Arguments: call.Arguments})
	}
	span.SetAttributes(semconv.GenAIResponseModel(cc.Model), semconv.GenAIUsageInputTokens(cc.Usage.Prompt),
		semconv.GenAIUsageOutputTokens(cc.Usage.Completion), semconv.GenAIResponseFinishReasons(ch.FinishReason),
		attribute.String(string(semconv.GenAIInputMessagesKey), gocapture.MustJSON(input)),
		attribute.String(string(semconv.GenAIOutputMessagesKey), gocapture.MustJSON([]gocapture.Message{res.msg})),
		attribute.String("server.address", req.URL.Hostname()))
	span.SetStatus(codes.Ok, "")
	return res
}

// tool runs one tool over HTTP, the flight search with a deadline.
func (a *agent) tool(ctx context.Context, tc toolCall) (json.RawMessage, error) {
	ctx, span := a.tracer.Start(ctx, "execute_tool "+tc.Name, trace.WithAttributes(
		semconv.GenAIOperationNameExecuteTool, semconv.GenAIToolName(tc.Name), semconv.GenAIToolType("function"),
		semconv.GenAIToolCallID(tc.ID), attribute.String(string(semconv.GenAIToolCallArgumentsKey), string(tc.Arguments))))
	defer span.End()
	target := a.weather + "/v3/forecast?city=Lisbon"
	if tc.Name == "search_flights" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		target = a.flights + "/api/search?from=BER&to=LIS"
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	resp, err := a.client.Do(req)
	if err != nil {
		span.RecordError(err)
		span.SetAttributes(attribute.String("error.type", fmt.Sprintf("%T", err)))
		span.SetStatus(codes.Error, toolLabel[tc.Name]+" failed: "+cause(err).Error())
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	span.SetAttributes(attribute.String(string(semconv.GenAIToolCallResultKey), string(body)))
	span.SetStatus(codes.Ok, "")
	return body, nil
}

var toolLabel = map[string]string{"get_weather": "weather lookup", "search_flights": "flight search"}

// cause is the innermost error: "context deadline exceeded" of a *url.Error.
func cause(err error) error {
	for {
		inner := errors.Unwrap(err)
		if inner == nil {
			return err
		}
		err = inner
	}
}

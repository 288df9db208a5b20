// Command go-agent-http records an agent run inside an HTTP request, as a Go
// service writes it: POST /api/support/chat (otelhttp server span, the
// trace's root) runs a small support agent with the GenAI semantic
// conventions (invoke_agent, a chat span per model call, an execute_tool
// span per tool call). Each model call is an HTTP request to the model API
// (otelhttp client span under the chat span); the lookup_order tool reads
// PostgreSQL (pgx + otelpgx spans under the tool span); track_shipment asks
// the carrier over HTTP. The model API and the carrier are scripted
// stand-ins for third parties (not traced); everything of the service is
// the real SDK and instrumentation. One run per request.
//
//	test/sdks/record.sh go-agent-http   (ARGUS_TEST_POSTGRES_DSN, or the test PostgreSQL)
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/arguslabs/argus-otel/test/sdks/gocapture"
	"github.com/arguslabs/argus-otel/test/sdks/goshop"
)

const (
	agentName = "support-agent"
	model     = "gpt-4o-mini"
	system    = "You are the support agent of an online shop. Use the tools to answer questions about orders."
)

// turn is what the scripted model answers on one call: tool calls, or text.
type turn struct {
	Tools []toolCall
	Text  string
}

type toolCall struct {
	Name string
	Args map[string]any
}

// scenario is one run: the user's message and the model's turns.
type scenario struct {
	Name, User  string
	Turns       []turn
	CarrierDown bool // the carrier answers 500
}

var scenarios = []scenario{
	{Name: "healthy_order_status", User: "What's the status of order 6?", Turns: []turn{
		{Tools: []toolCall{{"lookup_order", map[string]any{"order_id": 6}}}},
		{Text: "Order 6 was delivered. It contained one SKU-7006 item and came to $30.00."},
	}},
	{Name: "healthy_shipment_tracking", User: "Where is my package for order 5?", Turns: []turn{
		{Tools: []toolCall{{"lookup_order", map[string]any{"order_id": 5}}}},
		{Tools: []toolCall{{"track_shipment", map[string]any{"tracking": "1Z04400005US"}}}},
		{Text: "Your package for order 5 is in transit with the carrier and should arrive on Thursday."},
	}},
	{Name: "healthy_greeting", User: "Hello!", Turns: []turn{
		{Text: "Hi! How can I help you with your order today?"},
	}},
	{Name: "healthy_order_total", User: "How much did I pay for order 12?", Turns: []turn{
		{Tools: []toolCall{{"lookup_order", map[string]any{"order_id": 12}}}},
		{Text: "Order 12 came to $45.00 and is still being processed."},
	}},
	{Name: "healthy_not_shipped_yet", User: "Has order 4 shipped yet?", Turns: []turn{
		{Tools: []toolCall{{"lookup_order", map[string]any{"order_id": 4}}}},
		{Text: "Not yet: order 4 is still being processed. You will get a tracking number once it ships."},
	}},
	{Name: "healthy_delivered_tracking", User: "Can you track order 11 for me?", Turns: []turn{
		{Tools: []toolCall{{"lookup_order", map[string]any{"order_id": 11}}}},
		{Tools: []toolCall{{"track_shipment", map[string]any{"tracking": "1Z04400011US"}}}},
		{Text: "Order 11 is in transit and should arrive on Thursday."},
	}},
	{Name: "fault_carrier_down", User: "Where is the package of order 9?", CarrierDown: true, Turns: []turn{
		{Tools: []toolCall{{"lookup_order", map[string]any{"order_id": 9}}}},
		{Tools: []toolCall{{"track_shipment", map[string]any{"tracking": "1Z04400009US"}}}},
		{Text: "Order 9 has shipped with tracking number 1Z04400009US."},
	}},
	{Name: "fault_refusal", User: "Please cancel order 15.", Turns: []turn{
		{Text: "I'm sorry, but I cannot help with that request."},
	}},
}

func main() {
	ctx := context.Background()
	recs, db, cleanup, err := goshop.Start(ctx, "support-api")
	if err != nil {
		log.Fatal(err)
	}
	rec := recs[0]
	defer cleanup()

	model := httptest.NewServer(http.HandlerFunc(scriptedModel))
	defer model.Close()
	carrierSrv := httptest.NewServer(http.HandlerFunc(carrier))
	defer carrierSrv.Close()
	a := &agent{tracer: rec.Tracer("github.com/arguslabs/argus-otel/test/sdks/go-agent-http"),
		client: goshop.Client(rec), db: db, modelURL: model.URL, carrierURL: carrierSrv.URL}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/support/chat", a.chatHandler)
	api := httptest.NewServer(goshop.Traced(mux, rec, "support-api"))
	defer api.Close()

	for _, sc := range scenarios {
		err := rec.Record(ctx, sc.Name, func() {
			body, _ := json.Marshal(map[string]string{"message": sc.User})
			req, _ := http.NewRequest(http.MethodPost, api.URL+"/api/support/chat", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Scenario", sc.Name)   // read by the scripted model and carrier only
			resp, err := http.DefaultClient.Do(req) // the caller is not traced
			if err != nil {
				log.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				log.Fatalf("%s: %s %s", sc.Name, resp.Status, answer)
			}
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	if err := rec.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("recorded %d runs\n", len(scenarios))
}

func scenarioNamed(name string) (scenario, bool) {
	for _, sc := range scenarios {
		if sc.Name == name {
			return sc, true
		}
	}
	return scenario{}, false
}

// modelRequest / modelResponse are the scripted model API's shapes.
type modelRequest struct {
	Model    string              `json:"model"`
	Messages []gocapture.Message `json:"messages"`
}

type modelResponse struct {
	ID           string            `json:"id"`
	Message      gocapture.Message `json:"message"`
	FinishReason string            `json:"finish_reason"`
	InputTokens  int               `json:"input_tokens"`
	OutputTokens int               `json:"output_tokens"`
}

// scriptedModel answers turn k of the scenario, k = assistant messages so far.
func scriptedModel(w http.ResponseWriter, r *http.Request) {
	var req modelRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sc, ok := scenarioNamed(r.Header.Get("X-Scenario"))
	k := 0
	for _, m := range req.Messages {
		if m.Role == "assistant" {
			k++
		}
	}
	if !ok || k >= len(sc.Turns) {
		http.Error(w, "no scripted turn", http.StatusBadRequest)
		return
	}
	t := sc.Turns[k]
	time.Sleep(time.Duration(60+20*k) * time.Millisecond)
	resp := modelResponse{ID: fmt.Sprintf("chatcmpl-%s-%d", sc.Name, k), Message: gocapture.Message{Role: "assistant"}, FinishReason: "stop"}
	if len(t.Tools) > 0 {
		resp.FinishReason = "tool_calls"
		for j, c := range t.Tools {
			args, _ := json.Marshal(c.Args)
			resp.Message.Parts = append(resp.Message.Parts, gocapture.Part{Type: "tool_call", ID: fmt.Sprintf("call_%d_%d", k, j), Name: c.Name, Arguments: args})
		}
	} else {
		resp.Message.Parts = []gocapture.Part{{Type: "text", Content: t.Text}}
	}
	in, _ := json.Marshal(req.Messages)
	out, _ := json.Marshal(resp.Message)
	resp.InputTokens, resp.OutputTokens = 40+len(in)/4, 5+len(out)/4
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// carrier is the shipping company's tracking API.
func carrier(w http.ResponseWriter, r *http.Request) {
	if sc, _ := scenarioNamed(r.Header.Get("X-Scenario")); sc.CarrierDown {
		http.Error(w, "upstream tracking system error", http.StatusInternalServerError)
		return
	}
	time.Sleep(30 * time.Millisecond)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"tracking": strings.TrimPrefix(r.URL.Path, "/track/"),
		"status": "in_transit", "estimated_delivery": "Thursday"})
}

type agent struct {
	tracer     trace.Tracer
	client     *http.Client
	db         *pgxpool.Pool
	modelURL   string
	carrierURL string
}

func (a *agent) chatHandler(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Message string `json:"message"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Message == "" {
		http.Error(w, "message required", http.StatusBadRequest)
		return
	}
	answer, err := a.run(r.Context(), r.Header.Get("X-Scenario"), in.Message)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"answer": answer})
}

// run is one agent invocation: model calls until the model answers in text.
func (a *agent) run(ctx context.Context, scenario, user string) (string, error) {
	ctx, span := a.tracer.Start(ctx, "invoke_agent "+agentName, trace.WithAttributes(
		semconv.GenAIOperationNameInvokeAgent, semconv.GenAIAgentName(agentName),
		semconv.GenAIProviderNameOpenAI, semconv.GenAIRequestModel(model),
		semconv.GenAIConversationID("conv-"+scenario)))
	defer span.End()
	history := []gocapture.Message{{Role: "user", Parts: []gocapture.Part{{Type: "text", Content: user}}}}
	for k := 0; k < 8; k++ {
		out, err := a.chat(ctx, scenario, history)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
			return "", err
		}
		history = append(history, out)
		if out.Parts[0].Type == "text" {
			return out.Parts[0].Content, nil
		}
		for _, p := range out.Parts {
			result := a.tool(ctx, scenario, p)
			history = append(history, gocapture.Message{Role: "tool", Parts: []gocapture.Part{{Type: "tool_call_response", ID: p.ID, Response: result}}})
		}
	}
	return "", fmt.Errorf("no answer after 8 model calls")
}

// chat is one model call over HTTP; the span is the call.
func (a *agent) chat(ctx context.Context, scenario string, history []gocapture.Message) (gocapture.Message, error) {
	ctx, span := a.tracer.Start(ctx, "chat "+model, trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	body, _ := json.Marshal(modelRequest{Model: model, Messages: history})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.modelURL+"/v1/chat", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Scenario", scenario)
	resp, err := a.client.Do(req)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("model API: %s", resp.Status)
	}
	var mr modelResponse
	if err == nil {
		err = json.NewDecoder(resp.Body).Decode(&mr)
	}
	if resp != nil {
		resp.Body.Close()
	}
	span.SetAttributes(semconv.GenAIOperationNameChat, semconv.GenAIProviderNameOpenAI, semconv.GenAIRequestModel(model),
		attribute.String(string(semconv.GenAISystemInstructionsKey), gocapture.MustJSON([]gocapture.Part{{Type: "text", Content: system}})),
		attribute.String(string(semconv.GenAIInputMessagesKey), gocapture.MustJSON(history)))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return gocapture.Message{}, err
	}
	span.SetAttributes(semconv.GenAIResponseModel(model), semconv.GenAIResponseID(mr.ID),
		semconv.GenAIResponseFinishReasons(mr.FinishReason),
		semconv.GenAIUsageInputTokens(mr.InputTokens), semconv.GenAIUsageOutputTokens(mr.OutputTokens),
		attribute.String(string(semconv.GenAIOutputMessagesKey), gocapture.MustJSON([]gocapture.Message{
			{Role: mr.Message.Role, Parts: mr.Message.Parts, FinishReason: mr.FinishReason}})))
	return mr.Message, nil
}

// tool runs one tool call; a failure is recorded on the span and handed
// back to the model as an error result, as agent frameworks do.
func (a *agent) tool(ctx context.Context, scenario string, call gocapture.Part) json.RawMessage {
	ctx, span := a.tracer.Start(ctx, "execute_tool "+call.Name, trace.WithAttributes(
		semconv.GenAIOperationNameExecuteTool, semconv.GenAIToolName(call.Name),
		semconv.GenAIToolCallID(call.ID), semconv.GenAIToolType("function"),
		attribute.String(string(semconv.GenAIToolCallArgumentsKey), string(call.Arguments))))
	defer span.End()
	var result any
	var err error
	switch call.Name {
	case "lookup_order":
		var args struct {
			OrderID int `json:"order_id"`
		}
		_ = json.Unmarshal(call.Arguments, &args)
		result, err = goshop.LoadOrder(ctx, a.db, fmt.Sprint(args.OrderID))
	case "track_shipment":
		var args struct {
			Tracking string `json:"tracking"`
		}
		_ = json.Unmarshal(call.Arguments, &args)
		result, err = a.track(ctx, scenario, args.Tracking)
	default:
		err = fmt.Errorf("unknown tool %q", call.Name)
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(attribute.String("error.type", "tool_error"))
		result = map[string]string{"error": err.Error()}
	}
	out := json.RawMessage(gocapture.MustJSON(result))
	span.SetAttributes(attribute.String(string(semconv.GenAIToolCallResultKey), string(out)))
	return out
}

func (a *agent) track(ctx context.Context, scenario, tracking string) (map[string]any, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.carrierURL+"/track/"+tracking, nil)
	req.Header.Set("X-Scenario", scenario)
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("carrier answered %s", resp.Status)
	}
	var out map[string]any
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

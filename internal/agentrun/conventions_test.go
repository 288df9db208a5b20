package agentrun_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	tu "github.com/arguslabs/argus-otel/internal/testutil"
)

// Every fixture of an AI convention is an agent run, named by the
// conventions its spans carry; plain spans are not.
func TestRunConventionsOfFixtures(t *testing.T) {
	for name, want := range map[string]string{
		"openinference_langgraph.json": agentrun.ConvOpenInference,
		"openllmetry_langgraph.json":   agentrun.ConvOpenLLMetry,
		"langsmith_langgraph.json":     agentrun.ConvLangSmith,
		"genai_agent.json":             agentrun.ConvGenAI,
		"rag_silent_failure.json":      agentrun.ConvOpenInference,
		"rag_clean.json":               agentrun.ConvOpenInference,
		"plain_spans.json":             "",
	} {
		t.Run(name, func(t *testing.T) {
			r := fixtureRun(t, name)
			if want == "" {
				eq(t, "conventions", len(r.Conventions), 0)
				eq(t, "agent run", r.IsAgentRun(), false)
				return
			}
			if !slices.Contains(r.Conventions, want) {
				t.Errorf("conventions %v lack %s", r.Conventions, want)
			}
			eq(t, "agent run", r.IsAgentRun(), true)
		})
	}
}

// httpSpan is an otelhttp-style span (server or client) of a web request.
func httpSpan(id, parent int, name string, kind ptrace.SpanKind, start, end int, status int) tu.Span {
	s := span(id, parent, name, start, end, map[string]any{
		"http.request.method":       "GET",
		"http.route":                "/api/orders/{id}",
		"http.response.status_code": status,
		"url.path":                  "/api/orders/42",
		"server.address":            "orders.internal",
	})
	s.Kind = kind
	if status >= 500 {
		s.Status = ptrace.StatusCodeError
	}
	return s
}

// dbSpan is a database client span with the database semantic conventions.
func dbSpan(id, parent int, start, end int) tu.Span {
	s := span(id, parent, "SELECT orders", start, end, map[string]any{
		"db.system.name":    "postgresql",
		"db.operation.name": "SELECT",
		"db.query.text":     "SELECT id, status FROM orders WHERE id = $1",
	})
	s.Kind = ptrace.SpanKindClient
	return s
}

// A web request is no agent run, however many keys it shares with AI
// conventions' generic ones (user.id, session.id, input.value, a metadata
// JSON without LangGraph fields, tool.name): healthy look-alikes.
func TestWebTraceIsNoAgentRun(t *testing.T) {
	root := httpSpan(0, -1, "GET /api/orders/{id}", ptrace.SpanKindServer, 0, 50, 200)
	root.Attrs["user.id"] = "u-42"
	root.Attrs["session.id"] = "s-9"
	root.Attrs["input.value"] = `{"id":42}`
	root.Attrs["metadata"] = `{"tenant":"acme","thread":"t-1"}`
	root.Attrs["tool.name"] = "curl"
	td := tu.BuildTraces(t, root, dbSpan(1, 0, 2, 10),
		httpSpan(2, 0, "GET", ptrace.SpanKindClient, 11, 40, 200))
	r := oneRun(t, td, agentrun.Options{})
	eq(t, "conventions", len(r.Conventions), 0)
	eq(t, "agent run", r.IsAgentRun(), false)
	eq(t, "pipeline", r.PipelineName, "GET /api/orders/{id}")
}

// An LLM call instrumented with model, provider and usage keys but no
// operation or kind attribute is still an AI span.
func TestKindlessLLMSpanIsAgentRun(t *testing.T) {
	td := tu.BuildTraces(t,
		httpSpan(0, -1, "POST /summarize", ptrace.SpanKindServer, 0, 900, 200),
		span(1, 0, "openai.chat", 10, 800, map[string]any{
			"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
			"gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 40,
		}))
	r := oneRun(t, td, agentrun.Options{})
	eq(t, "conventions", r.Conventions, []string{agentrun.ConvGenAI})
}

// A GenAI agent run inside an HTTP request is one run named after the
// agent: the request span is an envelope, the HTTP client and database
// spans under a tool are calls of that tool's step, never steps.
func TestGenAIAgentNestedInHTTPRequest(t *testing.T) {
	agent := span(1, 0, "invoke_agent support", 5, 950, map[string]any{
		"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support",
	})
	chat := func(id, start, end int) tu.Span {
		return span(id, 1, "chat gpt-4o-mini", start, end, map[string]any{
			"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
			"gen_ai.output.messages": `[{"role":"assistant","parts":[{"type":"text","content":"ok"}]}]`,
		})
	}
	tool := span(3, 1, "execute_tool lookup_order", 300, 600, map[string]any{
		"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order",
		"gen_ai.tool.call.arguments": `{"id":"A1001"}`, "gen_ai.tool.call.result": `{"status":"shipped"}`,
	})
	td := tu.BuildTraces(t,
		httpSpan(0, -1, "POST /api/support/chat", ptrace.SpanKindServer, 0, 1000, 200),
		agent, chat(2, 10, 290), tool,
		dbSpan(4, 3, 310, 350),
		httpSpan(5, 3, "GET", ptrace.SpanKindClient, 360, 590, 200),
		chat(6, 610, 940),
	)
	r := oneRun(t, td, agentrun.Options{})
	eq(t, "pipeline", r.PipelineName, "support")
	eq(t, "nodes", nodes(r), []string{"chat gpt-4o-mini", "lookup_order", "chat gpt-4o-mini"})
	eq(t, "conventions", r.Conventions, []string{agentrun.ConvGenAI})
	toolStep := r.Steps[1]
	var calls []string
	for _, c := range toolStep.Calls {
		calls = append(calls, c.Name)
	}
	eq(t, "tool calls", calls, []string{"SELECT orders", "GET"})
	eq(t, "root is the request", r.RootSpanID, sid(0))
	for _, s := range r.Steps {
		if s.SpanID == sid(0) {
			t.Error("the HTTP request span is a step")
		}
	}
}

// A LangGraph run (OpenInference) under an HTTP request is named after the
// graph, not the route, and its steps are the graph's nodes.
func TestLangGraphNestedInHTTPRequest(t *testing.T) {
	td := tu.BuildTraces(t,
		httpSpan(0, -1, "POST /chat", ptrace.SpanKindServer, 0, 1000, 200),
		span(1, 0, "LangGraph", 5, 990, map[string]any{"openinference.span.kind": "CHAIN"}),
		span(2, 1, "retrieve", 10, 400, oiNode("retrieve", 1, "retrieve:1", `{"q":"x"}`, `{"documents":["d"]}`)),
		dbSpan(3, 2, 20, 300),
		span(4, 1, "answer", 410, 980, oiNode("answer", 2, "answer:2", `{"documents":["d"]}`, `{"answer":"a"}`)),
		httpSpan(5, 4, "POST", ptrace.SpanKindClient, 420, 970, 200),
	)
	r := oneRun(t, td, agentrun.Options{})
	eq(t, "pipeline", r.PipelineName, "LangGraph")
	eq(t, "nodes", nodes(r), []string{"retrieve", "answer"})
	eq(t, "retrieve calls", len(r.Steps[0].Calls), 1)
	eq(t, "answer calls", len(r.Steps[1].Calls), 1)
	eq(t, "conventions", r.Conventions, []string{agentrun.ConvOpenInference})
}

// loadRecordings maps every recording of an SDK, one run per file, by name.
func loadRecordings(t *testing.T, sdk string) map[string]*agentrun.Run {
	t.Helper()
	out := map[string]*agentrun.Run{}
	for _, rec := range tu.LoadRecordings(t, sdk) {
		out[rec.Name] = oneRun(t, rec.Traces, agentrun.Options{})
	}
	return out
}

// The orders API recorded from the Go SDK (otelhttp server and client,
// otelpgx, a second service in the trace): no request is an agent run.
func TestRecordedWebRequestsAreNoAgentRuns(t *testing.T) {
	runs := loadRecordings(t, "go-orders-api")
	eq(t, "requests", len(runs), 20)
	failed := 0
	for name, r := range runs {
		if r.IsAgentRun() {
			t.Errorf("%s: conventions %v in a web request", name, r.Conventions)
		}
		eq(t, name+" pipeline", r.PipelineName, "GET /api/orders/{id}")
		if r.Failed {
			failed++
		}
	}
	eq(t, "failed requests", failed, 4)
}

// The support agent recorded inside an HTTP request (otelhttp server span
// as root, otelpgx and otelhttp client spans under its tools and model
// calls): one run per request, named after the agent; its steps are the
// model and tool calls, the request and the HTTP and database spans are not.
func TestRecordedAgentInHTTPRequest(t *testing.T) {
	runs := loadRecordings(t, "go-agent-http")
	eq(t, "runs", len(runs), 8)
	for name, r := range runs {
		eq(t, name+" pipeline", r.PipelineName, "support-agent")
		eq(t, name+" conventions", r.Conventions, []string{agentrun.ConvGenAI})
		eq(t, name+" root", r.RootSpanID != "", true)
		httpOrDB := 0
		for _, s := range r.Steps {
			if s.SpanID == r.RootSpanID {
				t.Errorf("%s: the HTTP request span is a step", name)
			}
			if s.Node != "chat gpt-4o-mini" && s.Node != "lookup_order" && s.Node != "track_shipment" {
				t.Errorf("%s: step %q is neither a model nor a tool call", name, s.Node)
			}
			for _, c := range s.Calls {
				if strings.HasPrefix(c.Name, "HTTP ") || c.Name == "SELECT" || c.Name == "pool.acquire" {
					httpOrDB++
				}
			}
		}
		// every step holds its HTTP (model API, carrier) or database calls
		if httpOrDB < len(r.Steps) {
			t.Errorf("%s: %d HTTP/database calls under %d steps", name, httpOrDB, len(r.Steps))
		}
	}
	shipment := runs["healthy_shipment_tracking"]
	eq(t, "shipment nodes", nodes(shipment), []string{"chat gpt-4o-mini", "lookup_order", "chat gpt-4o-mini", "track_shipment", "chat gpt-4o-mini"})
	eq(t, "failed carrier", runs["fault_carrier_down"].Failed, true)
}

// Every recorded SDK run is an agent run, whatever convention it speaks;
// the recorded web requests are the only exception. A convention reader
// added without naming its convention on the span fails here.
func TestEveryRecordedSDKRunIsAnAgentRun(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(tu.ModuleRoot(t), "testdata", "sdks", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no recordings: %v", err)
	}
	for _, dir := range dirs {
		sdk := filepath.Base(dir)
		t.Run(sdk, func(t *testing.T) {
			for name, r := range loadRecordings(t, sdk) {
				if got, want := r.IsAgentRun(), sdk != "go-orders-api"; got != want {
					t.Errorf("%s: agent run %v, want %v (conventions %v)", name, got, want, r.Conventions)
				}
			}
		})
	}
}

// A step of custom instrumentation (argus.step.name, which the processor's
// step_attributes sets) makes its trace a run: the user declared it.
func TestCustomStepIsARun(t *testing.T) {
	td := tu.BuildTraces(t,
		span(0, -1, "handle ticket", 0, 100, nil),
		span(1, 0, "stage", 1, 50, map[string]any{agentrun.AttrStepName: "classify"}),
	)
	r := oneRun(t, td, agentrun.Options{})
	eq(t, "conventions", r.Conventions, []string{agentrun.ConvCustom})
}

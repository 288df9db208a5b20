// Package agentrun is the domain model of an agent pipeline run and the one
// mapping from a trace's OTLP spans to it. The processor and the exporter both
// call MapTrace, so they always agree on what a step is.
package agentrun

import (
	"encoding/json"
	"time"
)

// Run is one pipeline execution: every span of one OTel trace id.
type Run struct {
	TraceID      string // 32 lowercase hex chars
	PipelineName string
	RootSpanID   string // "" when the trace has no root span (yet)
	Start        time.Time
	End          time.Time
	// Failed is true when any span of the run has status ERROR.
	Failed bool
	// Steps are node executions in execution order (Step.Number = index+1).
	Steps []Step
	// Edges declared by the instrumentation (gen_ai.workflow.edges), "src -> dst".
	Edges []Edge
	// Metadata for traces.metadata: resource attributes (service.name, ...),
	// session / conversation id, span counts, dropped counts.
	Metadata map[string]any
	// SpanCount is the number of spans of the trace that were mapped.
	SpanCount int
	// Conventions are the AI conventions recognised on the trace's spans
	// (openinference, openllmetry, langsmith, genai, ...), in order of first
	// appearance; empty for a trace of no AI convention (a web request, a
	// pipeline with plain spans). The processor keeps a trace as an agent
	// run by it.
	Conventions []string
}

// IsAgentRun reports whether any span of the run carries an AI convention.
func (r *Run) IsAgentRun() bool { return len(r.Conventions) > 0 }

// DurationMs is the wall time of the run in milliseconds.
func (r *Run) DurationMs() int64 { return durationMs(r.Start, r.End) }

// Edge is one declared transition of the pipeline graph.
type Edge struct{ From, To string }

// Step is one node execution.
type Step struct {
	// ID is the trace_steps primary key: "<trace id>-<span id>".
	ID           string
	SpanID       string
	ParentSpanID string
	Number       int // 1-based execution order
	Node         string
	// LangGraphStep is the superstep from langgraph_step metadata, -1 when absent.
	LangGraphStep int
	// Convention that recognised the span: openinference | openllmetry | langsmith | genai | plain.
	Convention string
	SpanKind   string // OTel span kind: internal, server, client, ...
	// Kind is the AI-convention kind of the node span (CHAIN, task, chain, invoke_agent, ...).
	Kind  string
	Start time.Time
	End   time.Time
	// Input / Output are the parsed states: the JSON value of the first
	// attribute present in convention order. A value that is not valid JSON
	// is kept as a JSON string. HasOutput is false when no output attribute
	// existed (e.g. the node threw).
	Input     any
	Output    any
	HasInput  bool
	HasOutput bool
	// InputMalformed / OutputMalformed: the attribute claimed JSON (mime type
	// or leading { / [) but did not parse.
	InputMalformed  bool
	OutputMalformed bool
	// InputTooDeep / OutputTooDeep: valid JSON nested deeper than
	// MaxStoredJSONDepth; the store keeps it as the text of its JSON.
	InputTooDeep  bool
	OutputTooDeep bool
	// InputJSON / OutputJSON: JSON(Input) / JSON(Output), kept when the
	// mapping had to encode the state anyway (to measure it against
	// Options.MaxFieldBytes) so the exporter does not encode it again; nil
	// when not known. With Options.RawStates they may instead hold the
	// attribute's own JSON text (Input / Output then nil): the same value,
	// possibly with other whitespace, key order and escapes.
	InputJSON     json.RawMessage
	OutputJSON    json.RawMessage
	Status        string // ok | error | unset
	StatusMessage string
	Exceptions    []Exception
	// Calls are the LLM / tool / retriever / other spans nested under the node.
	Calls []Call
	// InputTokens / OutputTokens / TotalTokens: the node span's own usage
	// (a GenAI step whose span is the LLM call); Tokens adds the calls'.
	InputTokens, OutputTokens, TotalTokens int64
	// FinishReasons the node span itself reports (its calls' are in Call).
	FinishReasons []string
	// Attributes of the node span that are worth keeping (metadata, tags).
	Metadata map[string]any
}

// DurationMs is the wall time of the step in milliseconds.
func (s *Step) DurationMs() int64 { return durationMs(s.Start, s.End) }

// Failed reports whether the node span or any nested call errored.
func (s *Step) Failed() bool {
	if s.Status == StatusError || len(s.Exceptions) > 0 {
		return true
	}
	for _, c := range s.Calls {
		if c.Status == StatusError {
			return true
		}
	}
	return false
}

// Tokens is the step's token usage: its own span's and its nested calls'.
// A span whose own usage only repeats its calls' total (a wrapper that
// reports the sum of the LLM calls under it) counts once.
func (s *Step) Tokens() (input, output, total int64) {
	for _, c := range s.Calls {
		input += c.InputTokens
		output += c.OutputTokens
		total += c.TotalTokens
	}
	if s.TotalTokens == total && total != 0 {
		return input, output, total
	}
	return input + s.InputTokens, output + s.OutputTokens, total + s.TotalTokens
}

// Call is a span nested under a node: an LLM call, a tool, a retriever...
type Call struct {
	SpanID        string
	ParentSpanID  string
	Name          string
	Kind          string // llm | tool | retriever | embedding | reranker | agent | chain | other
	Model         string
	Provider      string
	Tool          string
	Arguments     string // raw tool arguments / input (JSON text when JSON)
	Result        string // raw tool result / output
	InputTokens   int64
	OutputTokens  int64
	TotalTokens   int64
	FinishReasons []string // gen_ai.response.finish_reasons, llm.finish_reason
	Start         time.Time
	End           time.Time
	Status        string // ok | error | unset
	StatusMessage string
	Exceptions    []Exception
}

// DurationMs is the wall time of the call in milliseconds.
func (c *Call) DurationMs() int64 { return durationMs(c.Start, c.End) }

// Exception is one `exception` span event.
type Exception struct {
	Type       string `json:"type,omitempty"`
	Message    string `json:"message,omitempty"`
	Stacktrace string `json:"stacktrace,omitempty"`
}

// Span status values.
const (
	StatusOK    = "ok"
	StatusError = "error"
	StatusUnset = "unset"
)

func durationMs(start, end time.Time) int64 {
	if start.IsZero() || end.IsZero() || end.Before(start) {
		return 0
	}
	return end.Sub(start).Milliseconds()
}

// JSON encodes v for a JSON column; it never fails (unencodable values become null).
func JSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

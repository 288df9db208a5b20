package agentrun

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The Vercel AI SDK's LegacyOpenTelemetry integration (@ai-sdk/otel) names
// every span by its ai.operationId and keeps content in ai.* attributes:
//
//	ai.generateText                      the call: ai.prompt, ai.response.text, ai.telemetry.functionId
//	  ai.generateText.doGenerate         one model call: ai.prompt.messages, ai.response.text,
//	                                     ai.response.toolCalls, ai.response.finishReason, gen_ai.usage.*
//	    ai.toolCall                      one tool the call asked for: ai.toolCall.name, .args, .result
//
// (recorded in testdata/sdks/vercel-ai-legacy). The model calls and the tool
// calls are the steps; the tool calls nest under the model call that asked
// for them, and are steps of their own (markGenAI). The OpenTelemetry
// integration (GenAI conventions) needs no reader: its agent_step spans are
// wrappers (isWrapperOp).
const (
	vercelOperationID = "ai.operationId"
	vercelFunctionID  = "ai.telemetry.functionId"
)

// vercelAIOp maps an ai.operationId to a GenAI operation.
func vercelAIOp(id string) string {
	switch {
	case id == "ai.toolCall":
		return opExecuteTool
	case strings.HasSuffix(id, ".doGenerate"), strings.HasSuffix(id, ".doStream"):
		return opChat
	case strings.HasSuffix(id, ".doEmbed"):
		return opEmbeddings
	case strings.HasPrefix(id, "ai.embed"):
		return opWorkflow // embed / embedMany wrap their doEmbed calls
	case strings.HasPrefix(id, "ai."):
		// generateText, streamText, generateObject, ...: the agent loop.
		return opInvokeAgent
	}
	return ""
}

// vercelAINode names a Vercel AI step: a tool call by its tool; "" leaves a
// model call its span name (ai.generateText.doGenerate), the same in every run.
func vercelAINode(sp ptrace.Span) string { return attrText(sp, "ai.toolCall.name") }

// vercelAIStates reads a Vercel AI step's input and output: a tool call's
// arguments and result; a model call's prompt messages and what it answered
// (its text and tool calls, as the SDK's content parts).
func (b *traceBuild) vercelAIStates(s *Step, sp ptrace.Span) {
	at := sp.Attributes()
	if v, ok := at.Get("ai.toolCall.args"); ok {
		s.HasInput, s.InputMalformed, s.Input, s.InputJSON = b.stateOf(v)
		if v, ok := at.Get("ai.toolCall.result"); ok {
			s.HasOutput, s.OutputMalformed, s.Output, s.OutputJSON = b.stateOf(v)
		}
		return
	}
	for _, k := range [...]string{"ai.prompt.messages", "ai.prompt"} {
		if v, ok := at.Get(k); ok {
			s.HasInput, s.InputMalformed, s.Input, s.InputJSON = b.stateOf(v)
			break
		}
	}
	text, hasText := at.Get("ai.response.text")
	calls, hasCalls := at.Get("ai.response.toolCalls")
	if !hasText && !hasCalls {
		return
	}
	// The SDK's own content parts: {type: text, text} and
	// {type: tool-call, toolCallId, toolName, input}.
	var parts []any
	if t := valueText(text); t != "" {
		parts = append(parts, map[string]any{"type": "text", "text": t})
	}
	if hasCalls {
		if list, malformed := parseValue(calls, "application/json"); !malformed {
			if items, ok := list.([]any); ok {
				for _, it := range items {
					if m, ok := it.(map[string]any); ok {
						c := map[string]any{"type": "tool-call"}
						for k, v := range m {
							c[k] = v
						}
						parts = append(parts, c)
					}
				}
			}
		}
	}
	if parts == nil {
		parts = []any{} // answered nothing at all: an empty update
	}
	s.HasOutput = true
	s.Output, s.OutputJSON = b.finishState(state{value: parts, has: true})
}

// vercelAIPipeline is the app's functionId, from the span closest to the root.
func (b *traceBuild) vercelAIPipeline() string {
	best, val := int32(-1), ""
	for i := range b.recs {
		r := &b.recs[i]
		if r.conv != ConvVercelAI || (best >= 0 && r.depth >= b.recs[best].depth) {
			continue
		}
		if s := attrText(r.span, vercelFunctionID); s != "" {
			best, val = int32(i), s
		}
	}
	return val
}

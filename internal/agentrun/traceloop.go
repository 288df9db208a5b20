package agentrun

import (
	"encoding/json"
	"strings"

	"github.com/arguslabs/argus-otel/internal/jsonscan"
)

// OpenLLMetry (Traceloop) wraps its entity input and output in envelopes
// that differ by SDK, as recorded in testdata/sdks/openllmetry-*:
//
//   - Python: traceloop.entity.input {"inputs": ...}, output {"outputs": ...}
//     (states.go unwraps these by key);
//   - JS withTask/withWorkflow: input {"args": [...], "kwargs": {...}}
//     (the call's arguments), output the plain result;
//   - JS LangChain tool spans: input {"args": ["<tool input as text>"]},
//     output the tool's string result JSON-encoded once more.
//
// traceloopValue unwraps the JS forms of an already parsed entity value.
func traceloopValue(v any) any {
	if m, ok := v.(map[string]any); ok {
		args, hasArgs := m["args"]
		kwargs, hasKwargs := m["kwargs"]
		list, _ := args.([]any)
		kw, isKw := kwargs.(map[string]any)
		switch {
		case len(m) == 2 && hasArgs && hasKwargs && isKw: // withTask / withWorkflow
			switch {
			case len(kw) > 0 && len(list) == 0:
				v = kw
			case len(kw) == 0 && len(list) == 1:
				v = list[0]
			case len(kw) == 0 && len(list) == 0:
				return nil
			}
		case len(m) == 1 && len(list) == 1: // a LangChain tool's input
			v = list[0]
		}
	}
	// A string holding JSON (a tool's text result, encoded again) is that JSON.
	if s, ok := v.(string); ok && looksLikeJSON(s) {
		if inner, err := jsonscan.Decode(s, jsonscan.UTF8Replace); err == nil {
			return inner
		}
	}
	return v
}

// traceloopText is traceloopValue for a call's raw argument or result text:
// the unwrapped value as text (a string as itself, anything else as JSON),
// or text unchanged when it is no JS envelope.
func traceloopText(text string) string {
	if !maybeTraceloopJSEnvelope(text) {
		return text
	}
	v, err := jsonscan.Decode(text, jsonscan.UTF8Replace)
	if err != nil {
		return text
	}
	switch u := traceloopValue(v).(type) {
	case nil:
		return ""
	case string:
		return u
	default:
		b, err := json.Marshal(u)
		if err != nil {
			return text
		}
		return string(b)
	}
}

// maybeTraceloopJSEnvelope is the cheap test the raw-state path uses to
// leave such texts to the parse path: a JSON string, or an object that
// opens with args or kwargs (JSON.stringify writes no blanks).
func maybeTraceloopJSEnvelope(s string) bool {
	t := strings.TrimLeft(s, " \t\r\n")
	return strings.HasPrefix(t, `"`) || strings.HasPrefix(t, `{"args":`) || strings.HasPrefix(t, `{"kwargs":`)
}

// isTraceloopLangChainChain: the Traceloop JS LangChain instrumentation
// opens a "workflow <Runnable class>" span for every LangChain chain,
// LangGraph's node runnables included. Its traceloop.workflow.name is the
// class name (RunnableSequence, CompiledStateGraph), not the app's
// workflow, and the span is plumbing beside the app's task spans.
func isTraceloopLangChainChain(a spanAttrs) bool {
	const both = 1<<aTLKind | 1<<aOp
	return a.mask&both == both && strings.EqualFold(a.str(aTLKind), "workflow") && strings.EqualFold(a.str(aOp), "workflow")
}

package agentrun

import (
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// OpenInference writes a model call's conversation as flattened attributes,
// llm.input_messages.{i}.message.role|content|tool_calls.{j}.tool_call.*,
// beside input.value / output.value, which hold the whole request and
// response (model, tools, ids, usage). When the LLM span is itself a step
// (an agent on the openai client, testdata/sdks/openinference-openai), its
// states are the messages in and the messages out: the conversation, not
// the API envelope, which is no pipeline state.

const (
	oiInputMessages  = "llm.input_messages."
	oiOutputMessages = "llm.output_messages."
	// maxOIMessages bounds the messages rebuilt from one span.
	maxOIMessages = 256
)

// isOpenInferenceLLMStep: an OpenInference LLM span that is a step of its
// own (not a call nested under a LangGraph node).
func isOpenInferenceLLMStep(r *spanRec) bool {
	return r.mark == nil && r.conv == ConvOpenInference && strings.EqualFold(r.kind, "LLM")
}

// openInferenceMessages rebuilds the messages under prefix as
// [{role, content, tool_calls: [{id, name, arguments}], tool_call_id}],
// in index order; nil when the span has none.
func openInferenceMessages(attrs pcommon.Map, prefix string) []any {
	type call struct{ id, name, args string }
	type msg struct {
		idx                       int
		role, content, toolCallID string
		calls                     map[int]*call
		hasContent                bool
	}
	var msgs []*msg
	byIdx := map[int]*msg{}
	for k, v := range attrs.All() {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		num, field, ok := strings.Cut(rest, ".")
		i, err := strconv.Atoi(num)
		if !ok || err != nil || i < 0 {
			continue
		}
		m := byIdx[i]
		if m == nil {
			if len(msgs) >= maxOIMessages {
				continue
			}
			m = &msg{idx: i}
			byIdx[i] = m
			msgs = append(msgs, m)
		}
		text := clean(v.AsString())
		switch field {
		case "message.role":
			m.role = text
		case "message.content":
			m.content, m.hasContent = text, true
		case "message.tool_call_id":
			m.toolCallID = text
		default:
			tc, ok := strings.CutPrefix(field, "message.tool_calls.")
			if !ok {
				continue
			}
			jn, sub, _ := strings.Cut(tc, ".")
			j, err := strconv.Atoi(jn)
			if err != nil || j < 0 || j >= maxOIMessages {
				continue
			}
			if m.calls == nil {
				m.calls = map[int]*call{}
			}
			c := m.calls[j]
			if c == nil {
				c = &call{}
				m.calls[j] = c
			}
			switch sub {
			case "tool_call.id":
				c.id = text
			case "tool_call.function.name":
				c.name = text
			case "tool_call.function.arguments":
				c.args = text
			}
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	slices.SortFunc(msgs, func(a, b *msg) int { return a.idx - b.idx })
	out := make([]any, 0, len(msgs))
	for _, m := range msgs {
		e := map[string]any{"role": m.role}
		if m.hasContent {
			e["content"] = m.content
		}
		if m.toolCallID != "" {
			e["tool_call_id"] = m.toolCallID
		}
		if len(m.calls) > 0 {
			js := make([]int, 0, len(m.calls))
			for j := range m.calls {
				js = append(js, j)
			}
			slices.Sort(js)
			calls := make([]any, 0, len(js))
			for _, j := range js {
				c := m.calls[j]
				args, _ := parseJSONText(c.args, "")
				calls = append(calls, map[string]any{"id": c.id, "name": c.name, "arguments": args})
			}
			e["tool_calls"] = calls
		}
		out = append(out, e)
	}
	return out
}

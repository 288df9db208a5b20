package agentrun

import "go.opentelemetry.io/collector/pdata/ptrace"

// The older GenAI form (semantic conventions up to 1.36, recorded in
// testdata/sdks/go-genai-events) carries a model call's content in span
// events, one per message: gen_ai.system.message, gen_ai.user.message,
// gen_ai.assistant.message, gen_ai.tool.message in, gen_ai.choice out, each
// body in gen_ai.event.content (JSON) or spread over the event's own
// attributes. Tool spans then carry only gen_ai.tool.name and
// gen_ai.tool.call.id: their arguments are in the tool_calls of the choice
// that asked for them, their result in the tool message that answers that id.

const genAIEventContent = "gen_ai.event.content"

// genAIEventDirection: in for a message sent to the model, out for a choice.
func genAIEventDirection(name string) (out, ok bool) {
	switch name {
	case "gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message":
		return false, true
	case "gen_ai.choice":
		return true, true
	}
	return false, false
}

// maxEventMessages bounds the messages read from one span.
const maxEventMessages = 256

// genAIEventMessages reads the message bodies of sp's GenAI events; nil
// when it has none.
func genAIEventMessages(sp ptrace.Span) (in, out []any) {
	evs := sp.Events()
	for i := 0; i < evs.Len() && len(in)+len(out) < maxEventMessages; i++ {
		ev := evs.At(i)
		isOut, ok := genAIEventDirection(ev.Name())
		if !ok {
			continue
		}
		var body any
		if v, ok := ev.Attributes().Get(genAIEventContent); ok {
			body, _ = parseValue(v, "")
		} else {
			m := map[string]any{}
			for k, v := range ev.Attributes().All() {
				if k != "gen_ai.system" && k != "gen_ai.provider.name" {
					m[clean(k)], _ = parseValue(v, "")
				}
			}
			body = m
		}
		if isOut {
			out = append(out, body)
		} else {
			in = append(in, body)
		}
	}
	return in, out
}

// eventStates fills a step's missing states from its GenAI events.
func (b *traceBuild) eventStates(s *Step, r *spanRec) {
	in, out := genAIEventMessages(r.span)
	if !s.HasInput && in != nil {
		s.HasInput, s.InputMalformed = true, false
		s.Input, s.InputJSON = b.finishState(state{value: in, has: true})
	}
	if !s.HasOutput && out != nil {
		s.HasOutput, s.OutputMalformed = true, false
		s.Output, s.OutputJSON = b.finishState(state{value: out, has: true})
	}
}

// toolStatesFromConversation gives tool steps without states the arguments
// and result the conversation holds for their gen_ai.tool.call.id. When a
// call was repeated under one id (a retry), only the last try's result
// reached the conversation: the earlier tries get the arguments alone.
func (b *traceBuild) toolStatesFromConversation(run *Run, order []int32) {
	var args, results map[string]any
	var last map[string]int
	for i, v := range order {
		s := &run.Steps[i]
		if s.HasInput && s.HasOutput || b.recs[v].mask&(1<<aToolCallID) == 0 {
			continue
		}
		id := b.m.attrs(&b.recs[v]).str(aToolCallID)
		if id == "" {
			continue
		}
		if args == nil {
			args, results = b.conversationToolCalls()
			last = map[string]int{}
			for j, w := range order {
				if id := b.m.attrs(&b.recs[w]).str(aToolCallID); id != "" {
					last[id] = j
				}
			}
		}
		if a, ok := args[id]; ok && !s.HasInput {
			s.HasInput = true
			s.Input, s.InputJSON = b.finishState(state{value: a, has: true})
		}
		if res, ok := results[id]; ok && !s.HasOutput && last[id] == i {
			s.HasOutput = true
			s.Output, s.OutputJSON = b.finishState(state{value: res, has: true})
		}
	}
}

// conversationToolCalls indexes the GenAI events of the trace: tool call
// id -> arguments (from assistant messages and choices), -> result (from
// tool messages). Text that is JSON is parsed.
func (b *traceBuild) conversationToolCalls() (args, results map[string]any) {
	args, results = map[string]any{}, map[string]any{}
	text := func(v any) any {
		if s, ok := v.(string); ok {
			p, _ := parseJSONText(clean(s), "")
			return p
		}
		return v
	}
	var visit func(msg any)
	visit = func(msg any) {
		m, ok := msg.(map[string]any)
		if !ok {
			return
		}
		if inner, ok := m["message"]; ok { // a choice wraps its message
			visit(inner)
		}
		if id, ok := m["id"].(string); ok && m["role"] == "tool" {
			results[id] = text(m["content"])
		}
		calls, _ := m["tool_calls"].([]any)
		for _, c := range calls {
			cm, _ := c.(map[string]any)
			id, _ := cm["id"].(string)
			if fn, ok := cm["function"].(map[string]any); ok && id != "" {
				args[id] = text(fn["arguments"])
			}
		}
	}
	for i := range b.recs {
		if b.recs[i].span.Events().Len() == 0 {
			continue
		}
		in, out := genAIEventMessages(b.recs[i].span)
		for _, m := range in {
			visit(m)
		}
		for _, m := range out {
			visit(m)
		}
	}
	return args, results
}

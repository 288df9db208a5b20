package agentrun_test

import (
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	tu "github.com/arguslabs/argus-otel/internal/testutil"
)

// The older GenAI form: a chat span's states are its message events, a tool
// span's are the arguments and result the conversation holds for its call
// id; of two tries under one id only the last one's result is known.
func TestGenAIEventForm(t *testing.T) {
	ev := func(name, body string) tu.Event {
		return tu.Event{Name: name, Time: at(1), Attrs: map[string]any{"gen_ai.system": "openai", "gen_ai.event.content": body}}
	}
	chat := func(id, parent, start int, events ...tu.Event) tu.Span {
		s := span(id, parent, "chat gpt-4o", start, start+5, map[string]any{"gen_ai.operation.name": "chat", "gen_ai.system": "openai"})
		s.Events = events
		return s
	}
	tool := func(id, start int) tu.Span {
		return span(id, 0, "execute_tool check_inventory", start, start+2, map[string]any{"gen_ai.operation.name": "execute_tool",
			"gen_ai.tool.name": "check_inventory", "gen_ai.tool.call.id": "call_1"})
	}
	td := tu.BuildTraces(t,
		span(0, -1, "invoke_agent shop", 0, 100, map[string]any{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "shop"}),
		chat(1, 0, 1,
			ev("gen_ai.user.message", `{"role":"user","content":"in stock?"}`),
			ev("gen_ai.choice", `{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"check_inventory","arguments":"{\"sku\":\"K1\"}"}}]}}`)),
		tool(2, 10),
		tool(3, 20),
		chat(4, 0, 30,
			ev("gen_ai.user.message", `{"role":"user","content":"in stock?"}`),
			ev("gen_ai.tool.message", `{"role":"tool","id":"call_1","content":"{\"in_stock\":true}"}`),
			ev("gen_ai.choice", `{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Yes."}}`)),
	)
	r := oneRun(t, td, agentrun.Options{})
	eq(t, "nodes", nodes(r), []string{"chat gpt-4o", "check_inventory", "check_inventory", "chat gpt-4o"})
	eq(t, "chat input", r.Steps[0].Input, js(t, `[{"role":"user","content":"in stock?"}]`))
	eq(t, "chat output", r.Steps[3].Output, js(t, `[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Yes."}}]`))
	first, last := r.Steps[1], r.Steps[2]
	eq(t, "tool arguments, both tries", []any{first.Input, last.Input}, []any{js(t, `{"sku":"K1"}`), js(t, `{"sku":"K1"}`)})
	eq(t, "the last try's result", []any{first.HasOutput, last.Output}, []any{false, js(t, `{"in_stock":true}`)})
}

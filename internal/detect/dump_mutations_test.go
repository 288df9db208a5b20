package detect

import (
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"strings"
	"time"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The clean inputs of the finding dump fire few rules. mutatedRuns takes
// clean corpus runs and breaks them the ways the rules look for (placeholder
// and refusal texts, emptied and dropped fields, typos, crashes, failing and
// repeated tool calls, stalls, echoes, slow and bloated steps, ...), one to
// three damages per run chosen by a fixed seed, so that the dump holds every
// rule, alone and in combination, and the forensics over them.

// mutationConfig declares what the configurable rules need: contracts, the
// graphs of the corpus shapes, signatures.
func mutationConfig() Config {
	edges := []string{
		"__start__ -> plan", "plan -> retrieve", "retrieve -> rerank", "rerank -> synthesize",
		"__start__ -> supervisor", "supervisor -> web_search", "supervisor -> kb_lookup", "supervisor -> calculator",
		"web_search -> merge", "kb_lookup -> merge", "calculator -> merge",
		"__start__ -> agent", "agent -> tools", "tools -> agent", "agent -> draft", "draft -> validate", "validate -> draft",
		"__start__ -> classify", "classify -> lookup_order", "lookup_order -> issue_refund", "issue_refund -> reply",
	}
	return Config{
		Contracts: map[string]FieldContract{
			"synthesize": {Required: map[string]string{"answer": "string"}},
			"merge":      {Required: map[string]string{"answer": "string"}},
			"reply":      {Required: map[string]string{"reply": "string", "refund": "any"}},
		},
		Edges: edges,
		Signatures: []Signature{
			{ID: "kb-down", Match: MatchContains, Pattern: "knowledge base unavailable", Severity: SeverityCritical, Message: "the knowledge base was down"},
			{ID: "error-prefix", Match: MatchPrefix, Pattern: "ERROR"},
			{ID: "stale", Match: MatchRegex, Pattern: `(?i)as of my last (?:update|training)`},
		},
	}.WithDefaults()
}

// tunedConfig is mutationConfig with rules disabled, severities and
// thresholds overridden: the same runs then go through every rule's gates.
func tunedConfig() Config {
	c := mutationConfig()
	c.Rules = map[string]RuleConfig{
		"structural.dropped_field":        {Disabled: true},
		"behavioral.tool_error":           {Disabled: true},
		"semantic.placeholder":            {Disabled: true},
		"statistical.latency_spike":       {Disabled: true},
		"structural.key_typo":             {Threshold: 1},
		"behavioral.loop_stall":           {Threshold: 2},
		"behavioral.retry_storm":          {Threshold: 2, Severity: SeverityCritical},
		"semantic.repeated_filler":        {Threshold: 4},
		"semantic.truncated":              {Severity: SeverityWarning},
		"statistical.output_size_anomaly": {Severity: SeverityInfo, Threshold: 2},
		"structural.empty_retrieval":      {Severity: SeverityCritical},
		"behavioral.input_echo":           {Threshold: 40},
		"behavioral.runaway_steps":        {Threshold: 12},
	}
	return c
}

// badTexts are values the semantic and behavioral rules look for, and
// healthy look-alikes of them.
var badTexts = []any{
	"TODO", "Summary: TBD", "Dear <YOUR_NAME>, thanks.", "Hello {{ customer_name }}!", "<<ANSWER>>", "[INSERT answer here]",
	"lorem ipsum dolor sit amet", "XXXX", "PLACEHOLDER", "a todo list app for teams",
	"I'm sorry, but I cannot help with that request.", "As an AI language model, I can't browse.",
	"N/A", "null", "undefined", "[object Object]", "none", "   \n\t", "\u200b",
	`{"answer": "x", "sources": [1, 2`, `[{"id": 1}, {"id": 2}`, "```json\n{\"a\": \n```", `{"ok": true}`, "{name} and [1] citations",
	"ERROR 42: upstream failed", "Sorry, the knowledge base unavailable right now.", "As of my last update, refunds take 5 days.",
	"Error: connection refused", "KeyError: 'documents'", "Traceback (most recent call last):\n  File x", "Too Many Requests",
	"rate limit exceeded for model", "The rate limit is 600 requests per minute.",
	map[string]any{"error": "boom"}, map[string]any{"error": "Rate limit reached", "code": "rate_limit_exceeded"},
	map[string]any{"status": 503.0, "body": "down"}, map[string]any{"status": 429.0}, map[string]any{"success": false},
	map[string]any{"success": true, "results": []any{}}, map[string]any{"status": "ok", "data": ""},
	map[string]any{"ok": true, "items": map[string]any{}}, map[string]any{"error": nil, "results": []any{"a"}},
	map[string]any{"finish_reason": "length", "content": "The refund policy allows"},
	[]any{map[string]any{"role": "assistant", "content": "Done.", "stop_reason": "max_tokens"}},
	"", []any{}, map[string]any{}, nil, 42.0, true,
}

type mutator struct {
	rnd *rand.Rand
	g   *corpusGen
}

func (m *mutator) pick(n int) int { return m.rnd.Intn(n) }

// key picks a key of the map, in sorted order so the choice is the seed's.
func (m *mutator) key(v any) (map[string]any, string, bool) {
	out, ok := v.(map[string]any)
	if !ok || len(out) == 0 {
		return nil, "", false
	}
	keys := slices.Sorted(maps.Keys(out))
	return out, keys[m.pick(len(keys))], true
}

func (m *mutator) prose(sentences int) string {
	var b strings.Builder
	for range sentences {
		b.WriteString(m.g.sentence())
		b.WriteByte(' ')
	}
	return strings.TrimSpace(b.String())
}

// mutations each damage step i of run; they report false when the step
// does not fit (the next mutation is tried).
var mutations = []struct {
	name string
	fn   func(m *mutator, run *agentrun.Run, i int) bool
}{
	{"bad text", func(m *mutator, run *agentrun.Run, i int) bool {
		s := &run.Steps[i]
		v := badTexts[m.pick(len(badTexts))]
		if out, k, ok := m.key(s.Output); ok {
			out[k] = v
			return true
		}
		s.Output, s.HasOutput = v, true
		return true
	}},
	{"nested bad text", func(m *mutator, run *agentrun.Run, i int) bool {
		out, k, ok := m.key(run.Steps[i].Output)
		if !ok {
			return false
		}
		out[k] = []any{map[string]any{"text": m.g.sentence(), "note": badTexts[m.pick(24)]}, badTexts[m.pick(24)]}
		return true
	}},
	{"long text", func(m *mutator, run *agentrun.Run, i int) bool {
		out, k, ok := m.key(run.Steps[i].Output)
		if !ok {
			return false
		}
		switch m.pick(4) {
		case 0: // cut off mid-word
			out[k] = m.prose(6) + " and the customers must contact the supp"
		case 1: // filler
			out[k] = strings.Repeat("I will look into this for you. ", 3+m.pick(6))
		case 2: // a phrase repeated back to back, inside prose
			out[k] = m.g.sentence() + " " + strings.Repeat("please wait while we check ", 5+m.pick(5)) + m.g.sentence()
		default: // healthy long prose
			out[k] = m.prose(8)
		}
		return true
	}},
	{"emptied", func(m *mutator, run *agentrun.Run, i int) bool {
		out, k, ok := m.key(run.Steps[i].Output)
		if !ok {
			return false
		}
		out[k] = []any{"", []any{}, map[string]any{}, nil}[m.pick(4)]
		return true
	}},
	{"empty update", func(m *mutator, run *agentrun.Run, i int) bool {
		s := &run.Steps[i]
		s.Output, s.HasOutput = []any{map[string]any{}, []any{}, "", nil}[m.pick(4)], true
		return true
	}},
	{"full state without a key", func(m *mutator, run *agentrun.Run, i int) bool {
		s := &run.Steps[i]
		out, ok := s.Output.(map[string]any)
		if !ok || i == 0 {
			return false
		}
		state := run.StateBefore(i)
		if len(state) == 0 {
			return false
		}
		full := maps.Clone(state)
		maps.Copy(full, out)
		keys := slices.Sorted(maps.Keys(state))
		delete(full, keys[m.pick(len(keys))])
		s.Output, s.Convention = full, []string{"openllmetry", "plain"}[m.pick(2)]
		return true
	}},
	{"typo", func(m *mutator, run *agentrun.Run, i int) bool {
		out, k, ok := m.key(run.Steps[i].Output)
		if !ok || len(k) < 4 {
			return false
		}
		p := 1 + m.pick(len(k)-2)
		typo := k[:p-1] + k[p:p+1] + k[p-1:p] + k[p+1:]
		if typo == k {
			typo = k + "s"
		}
		out[typo] = out[k]
		delete(out, k)
		return true
	}},
	{"type change", func(m *mutator, run *agentrun.Run, i int) bool {
		out, k, ok := m.key(run.Steps[i].Output)
		if !ok {
			return false
		}
		out[k] = []any{42.0, "text", map[string]any{"v": 1.0}, []any{"x"}, false}[m.pick(5)]
		return true
	}},
	{"crash", func(m *mutator, run *agentrun.Run, i int) bool {
		s := &run.Steps[i]
		field := "documents"
		if _, k, ok := m.key(s.Input); ok && m.pick(2) == 0 {
			field = k
		}
		switch m.pick(3) {
		case 0:
			s.Exceptions = keyError(field)
		case 1:
			s.Exceptions = []agentrun.Exception{{Type: "ValueError", Message: "no " + field + " to summarize"}}
		default:
			s.StatusMessage = "TypeError: Cannot read properties of undefined (reading '" + field + "')"
		}
		s.Status, s.Output, s.HasOutput = agentrun.StatusError, nil, false
		run.Failed = true
		return true
	}},
	{"tool result", func(m *mutator, run *agentrun.Run, i int) bool {
		s := &run.Steps[i]
		res := badTexts[m.pick(len(badTexts))]
		text, ok := res.(string)
		if !ok {
			text = mustJSON(res)
		}
		kind := []string{"tool", "retriever", "tool"}[m.pick(3)]
		call := agentrun.Call{SpanID: fmt.Sprintf("%016x", 0xbad0+i), Name: "lookup", Kind: kind, Tool: "lookup",
			Arguments: `{"q": "refund"}`, Result: text, Status: agentrun.StatusOK}
		if m.pick(4) == 0 {
			call.Status, call.StatusMessage = agentrun.StatusError, "HTTP 429 Too Many Requests"
			run.Failed = true
		}
		s.Calls = append(s.Calls, call)
		return true
	}},
	{"retried call", func(m *mutator, run *agentrun.Run, i int) bool {
		s := &run.Steps[i]
		for k := range 2 + m.pick(4) {
			args := `{"q": "refund policy",  "k": 5}`
			if k%2 == 1 {
				args = `{"k":5,"q":"refund   policy"}`
			}
			s.Calls = append(s.Calls, agentrun.Call{SpanID: fmt.Sprintf("%016x", 0xca11+k), Name: "kb_search", Kind: "tool", Tool: "kb_search",
				Arguments: args, Result: `{"results": []}`, Status: agentrun.StatusOK})
		}
		return true
	}},
	{"stall", func(m *mutator, run *agentrun.Run, i int) bool {
		n := 2 + m.pick(3)
		steps := slices.Clone(run.Steps[:i+1])
		for k := range n {
			dup := run.Steps[i]
			dup.SpanID = fmt.Sprintf("%s%02d", dup.SpanID[:14], k)
			if m.pick(3) == 0 { // near-identical, not identical
				if out, key, ok := m.key(dup.Output); ok {
					c := maps.Clone(out)
					c[key] = fmt.Sprint(c[key]) + "."
					dup.Output = c
				}
			}
			steps = append(steps, dup)
		}
		run.Steps = append(steps, run.Steps[i+1:]...)
		return true
	}},
	{"echo", func(m *mutator, run *agentrun.Run, i int) bool {
		s := &run.Steps[i]
		text := m.prose(2)
		if m.pick(2) == 0 {
			s.Input, s.Output, s.HasInput, s.HasOutput = text, "  "+strings.ToUpper(text[:1])+text[1:], true, true
			return true
		}
		s.Calls = append(s.Calls, agentrun.Call{SpanID: fmt.Sprintf("%016x", 0xec0+i), Name: "ChatOpenAI", Kind: "llm", Model: "gpt-4o-mini",
			Arguments: mustJSON([]any{map[string]any{"role": "user", "content": text}}),
			Result:    mustJSON(map[string]any{"role": "assistant", "content": text}), Status: agentrun.StatusOK})
		return true
	}},
	{"runaway", func(m *mutator, run *agentrun.Run, i int) bool {
		if len(run.Steps) > 20 {
			return false
		}
		base := slices.Clone(run.Steps)
		for len(run.Steps) < 14+m.pick(100) {
			run.Steps = append(run.Steps, base...)
		}
		return true
	}},
	{"finish reason", func(m *mutator, run *agentrun.Run, i int) bool {
		s := &run.Steps[i]
		if m.pick(2) == 0 {
			s.Metadata = maps.Clone(s.Metadata)
			s.Metadata["llm.finish_reason"] = []any{"length", "stop", "max_tokens"}[m.pick(3)]
			return true
		}
		s.Calls = append(s.Calls, agentrun.Call{SpanID: fmt.Sprintf("%016x", 0xf1+i), Name: "ChatOpenAI", Kind: "llm",
			Result: mustJSON(map[string]any{"choices": []any{map[string]any{"finish_reason": "length", "message": map[string]any{"content": m.g.sentence()}}}}),
			Status: agentrun.StatusOK})
		return true
	}},
	{"slow, costly or bloated", func(m *mutator, run *agentrun.Run, i int) bool {
		s := &run.Steps[i]
		switch m.pick(4) {
		case 0:
			s.End = s.Start.Add(s.End.Sub(s.Start) * time.Duration(8+m.pick(20)))
		case 1:
			s.End = s.Start.Add(time.Millisecond)
		case 2:
			s.Calls = append(s.Calls, agentrun.Call{SpanID: fmt.Sprintf("%016x", 0x70+i), Name: "ChatOpenAI", Kind: "llm", TotalTokens: int64(5000 + m.pick(50000)), Status: agentrun.StatusOK})
		default:
			out, k, ok := m.key(s.Output)
			if !ok {
				return false
			}
			out[k] = m.prose(400)
		}
		return true
	}},
	{"malformed output", func(m *mutator, run *agentrun.Run, i int) bool {
		s := &run.Steps[i]
		s.Output, s.HasOutput, s.OutputMalformed = []string{`{"answer": "x`, `{{{{`, `[1, 2`, `NaN`}[m.pick(4)], true, true
		return true
	}},
	{"swapped steps", func(m *mutator, run *agentrun.Run, i int) bool {
		if i+1 >= len(run.Steps) {
			return false
		}
		a, b := run.Steps[i], run.Steps[i+1]
		run.Steps[i].Node, run.Steps[i+1].Node = b.Node, a.Node
		return true
	}},
	{"bookkeeping node", func(m *mutator, run *agentrun.Run, i int) bool {
		run.Steps[i].Node = []string{"__start__", "__end__", "__pregel_pull__", "__x"}[m.pick(4)]
		return true
	}},
	{"parallel", func(m *mutator, run *agentrun.Run, i int) bool {
		if i == 0 {
			return false
		}
		for k := range run.Steps {
			run.Steps[k].LangGraphStep = -1
		}
		run.Steps[i].Start = run.Steps[i-1].Start
		return true
	}},
}

// mutatedRuns returns n damaged corpus runs.
func mutatedRuns(g *corpusGen, n int) []*agentrun.Run {
	m := &mutator{rnd: rand.New(rand.NewSource(99)), g: g}
	shapes := []func() []corpusNode{g.linearRAG, g.fanOut, g.agentLoop, g.toolUse}
	var out []*agentrun.Run
	for len(out) < n {
		for _, run := range agentrun.MapTraces(g.build(shapes[m.pick(len(shapes))]()), agentrun.Options{}) {
			for range 1 + m.pick(3) {
				for tries := 0; tries < 5; tries++ {
					if mutations[m.pick(len(mutations))].fn(m, run, m.pick(len(run.Steps))) {
						break
					}
				}
			}
			for k := range run.Steps { // as the mapping numbers them
				run.Steps[k].Number = k + 1
				run.Steps[k].ID = agentrun.StepID(run.TraceID, fmt.Sprintf("%s%d", run.Steps[k].SpanID, k))
			}
			out = append(out, run)
		}
	}
	return out
}

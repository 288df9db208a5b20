package detect

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

const ruleInputEcho = "behavioral.input_echo"

// inputEcho: a step returned its text input unchanged, or an LLM call
// answered with its own prompt. A node that returns its input unchanged
// routinely (a spell checker or normalizer given text that needs no change)
// is judged against that habit.
type inputEcho struct{}

func init() {
	register(Rule{ID: ruleInputEcho, Layer: LayerBehavioral, Severity: SeverityWarning, Threshold: 20,
		ThresholdMeaning: "minimum length in characters of an echoed text",
		Description:      "A step returned its text input unchanged (unless the node routinely does: a spell checker given correct text), or an LLM call answered with its own prompt."}, inputEcho{})
}

func (inputEcho) check(a *analysis) {
	minChars := int(a.cfg.threshold(ruleInputEcho))
	for i := range a.run.Steps {
		checkInputEcho(a, i, minChars)
	}
}

func checkInputEcho(a *analysis, i int, minChars int) {
	s := &a.run.Steps[i]
	if minChars <= 0 {
		minChars = 20
	}
	// Text in, same text out. Dict states passed through unchanged are not
	// echo: they are pass-through nodes, judged by the structural layer.
	if isTextEcho(s) {
		if n := utf8.RuneCountInString(normText(s.Input.(string))); n >= minChars {
			h := a.updatesHabit(s.Node, func(u *updateShape) uint32 { return u.echoes })
			a.emitJudged(ruleInputEcho, i, judgement{habit: h}, fmt.Sprintf("node %q returned its text input unchanged", s.Node),
				map[string]any{"field": "output", "chars": n, "preview": preview(s.Output.(string))})
			return
		}
	}
	for j := range s.Calls {
		c := &s.Calls[j]
		if c.Kind != "llm" || c.Arguments == "" || c.Result == "" {
			continue
		}
		prompt := normText(messageText(parseJSONOrText(c.Arguments), "user"))
		answer := normText(messageText(parseJSONOrText(c.Result), "assistant"))
		if utf8.RuneCountInString(answer) >= minChars && answer == prompt {
			a.emit(ruleInputEcho, i, fmt.Sprintf("LLM call %q in node %q answered with its own prompt", c.Name, s.Node),
				map[string]any{"field": "llm_result", "call": c.Name, "model": c.Model, "chars": utf8.RuneCountInString(answer), "preview": preview(answer)})
			return
		}
	}
}

// messageText extracts the text of the last message (preferring role) from
// the shapes LLM spans use: a string, a list of messages, {"messages":[...]},
// {"content": ...}, GenAI parts [{type:text, content}], LangChain serialized
// messages ({"kwargs":{"content"}}) and generations. Anything else yields its
// JSON, which only equals a prompt when it truly is one.
func messageText(v any, role string) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		if len(x) == 0 {
			return ""
		}
		for k := len(x) - 1; k >= 0; k-- {
			if m, ok := x[k].(map[string]any); ok && roleIs(m, role) {
				return messageText(m, role)
			}
		}
		var parts []string
		allParts := true
		for _, e := range x {
			m, ok := e.(map[string]any)
			if !ok || m["type"] != "text" {
				allParts = false
				break
			}
			parts = append(parts, messageText(m, role))
		}
		if allParts {
			return strings.Join(parts, " ")
		}
		return messageText(x[len(x)-1], role)
	case map[string]any:
		for _, k := range []string{"content", "text", "prompt", "completion", "parts", "messages", "choices", "message", "kwargs", "generations"} {
			if e, ok := x[k]; ok {
				return messageText(e, role)
			}
		}
	}
	return string(agentrun.JSON(v))
}

func roleIs(m map[string]any, role string) bool {
	r, _ := m["role"].(string)
	if kw, ok := m["kwargs"].(map[string]any); ok && r == "" {
		r, _ = kw["type"].(string) // LangChain serialized message
	}
	if r == "" {
		r, _ = m["type"].(string)
	}
	r = strings.ToLower(r)
	switch role {
	case "user":
		return r == "user" || r == "human"
	case "assistant":
		return r == "assistant" || r == "ai" || r == "model"
	}
	return false
}

// normText is the comparison form of a text: collapsed, lower case.
func normText(s string) string { return strings.ToLower(collapseSpace(s)) }

// isTextEcho: the step's input and output are texts, the same but for case
// and white space.
func isTextEcho(s *agentrun.Step) bool {
	in, ok := s.Input.(string)
	if !ok || !s.HasInput || !s.HasOutput {
		return false
	}
	out, ok := s.Output.(string)
	return ok && normText(in) == normText(out)
}

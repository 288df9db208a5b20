package detect

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/arguslabs/argus-otel/internal/jsonscan"
)

const ruleCorruptedJSON = "semantic.corrupted_json"

// corruptedJSON: the output, or a string value meant as JSON, does not
// parse.
type corruptedJSON struct{}

func init() {
	register(Rule{ID: ruleCorruptedJSON, Layer: LayerSemantic, Severity: SeverityWarning,
		Description: "the output, or a string value meant as JSON, does not parse (unclosed brace, unterminated string)"}, corruptedJSON{})
}

func (corruptedJSON) check(a *analysis) {
	for i, st := range a.stepTexts() {
		if !st.checked {
			continue
		}
		s := &a.run.Steps[i]
		a.startTexts(ruleCorruptedJSON, i)
		if s.OutputMalformed {
			// The mapping flagged the whole output as broken JSON: reported
			// here, the raw text at "$" is not checked again.
			d := map[string]any{"field": "", "path": "$"}
			msg := fmt.Sprintf("%s output is not valid JSON", s.Node)
			if raw, ok := s.Output.(string); ok {
				d["reason"] = jsonProblem(strings.TrimSpace(raw))
				msg += ": " + d["reason"].(string)
			}
			a.emitText(msg, d)
		}
		for k := range st.texts {
			t := &st.texts[k]
			if t.class != plainText || (t.output && t.path == "$" && s.OutputMalformed) {
				continue
			}
			if reason, ok := brokenJSON(t.trimmed); ok {
				a.emitText(fmt.Sprintf("%s %s looks like JSON but does not parse: %s", s.Node, t.where(), reason), t.details("reason", reason))
			}
		}
		a.doneTexts()
	}
}

// brokenJSON reports a string that is clearly meant as JSON (an object or
// array opening, possibly in a ```json fence) but does not parse. JSON
// Lines, where every line parses, are fine.
func brokenJSON(t string) (string, bool) {
	if strings.HasPrefix(t, "```json") && strings.HasSuffix(t, "```") && len(t) >= 10 {
		t = strings.TrimSpace(t[7 : len(t)-3])
	}
	if len(t) < 2 || len(t) > maxJSONBytes || !meantAsJSON(t) {
		return "", false
	}
	if json.Valid([]byte(t)) {
		return "", false
	}
	if _, ok := jsonscan.Depth(t); ok { // valid, nested beyond encoding/json's limit
		return "", false
	}
	if strings.Contains(t, "\n") {
		allValid := true
		for _, line := range strings.Split(t, "\n") {
			if l := strings.TrimSpace(line); l != "" && !json.Valid([]byte(l)) {
				allValid = false
				break
			}
		}
		if allValid {
			return "", false
		}
	}
	return jsonProblem(t), true
}

// meantAsJSON: "{" followed by a quoted key or "}", or "[" followed by an
// object, array, string or "]". "{name}" templates and "[1] citations" are not.
func meantAsJSON(t string) bool {
	rest := strings.TrimLeft(t[1:], " \t\r\n")
	if rest == "" {
		return true
	}
	switch t[0] {
	case '{':
		return rest[0] == '"' || rest[0] == '}'
	case '[':
		return rest[0] == '{' || rest[0] == '[' || rest[0] == '"' || rest[0] == ']'
	}
	return false
}

// jsonProblem names what is wrong with invalid JSON in plain words.
func jsonProblem(t string) string {
	var stack []byte
	inString, escaped := false, false
	for i := 0; i < len(t); i++ {
		b := t[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
			continue
		}
		switch b {
		case '"':
			inString = true
		case '{', '[':
			stack = append(stack, b)
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	switch {
	case inString:
		return "unterminated string"
	case len(stack) > 0 && stack[len(stack)-1] == '{':
		return "unclosed brace"
	case len(stack) > 0:
		return "unclosed bracket"
	}
	var v any
	if err := json.Unmarshal([]byte(t), &v); err != nil {
		return "invalid JSON (" + clipRunes(err.Error(), 80) + ")"
	}
	return "invalid JSON"
}

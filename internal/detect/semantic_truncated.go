package detect

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

const ruleTruncated = "semantic.truncated"

// truncated: an LLM stopped on its token limit, as its finish reason says
// (a warning), or a long prose text ends mid-word (a heuristic: info
// unless the severity is configured).
type truncated struct{}

func init() {
	register(Rule{ID: ruleTruncated, Layer: LayerSemantic, Severity: SeverityWarning,
		Description: "an LLM stopped on its token limit (finish reason length / max_tokens); a long prose text ending mid-word is reported as info"}, truncated{})
}

// minTruncatedRunes: shorter texts are never taken as cut off.
const minTruncatedRunes = 200

func (truncated) check(a *analysis) {
	for i, st := range a.stepTexts() {
		if !st.checked {
			continue
		}
		s := &a.run.Steps[i]
		a.startTexts(ruleTruncated, i)
		for k := range st.texts {
			t := &st.texts[k]
			if t.class != plainText || !looksTruncated(t.text) {
				continue
			}
			if k, ok := a.emitText(fmt.Sprintf("%s %s seems cut off mid-word", s.Node, t.where()),
				t.details("ending", clipTail(t.trimmed, 40), "heuristic", true)); ok && a.cfg.Rules[ruleTruncated].Severity == "" {
				a.out[k].Severity = SeverityInfo
			}
		}
		if path, reason := stepFinishReason(s, st.fresh); reason != "" {
			a.emitText(fmt.Sprintf("%s: the LLM stopped at its token limit (finish reason %q), so its output is cut short", s.Node, reason),
				map[string]any{"field": "", "path": path, "finish_reason": reason})
		}
		a.doneTexts()
	}
}

// stepFinishReason returns the finish reason, and where it was found, of an
// LLM that stopped on its token limit, when the mapping exposes it (step
// metadata, the output, or an LLM call's JSON result).
func stepFinishReason(s *agentrun.Step, freshKeys []string) (path, reason string) {
	path, reason = findFinishReason(s.Metadata, "metadata", 0)
	if reason == "" && s.HasOutput {
		// GenAI output messages carry finish_reason; only fields this step
		// changed count, so an accumulated message history is not re-reported.
		if out, isMap := s.Output.(map[string]any); isMap {
			fresh := map[string]any{}
			for _, k := range freshKeys {
				fresh[k] = out[k]
			}
			path, reason = findFinishReason(fresh, "$", 0)
		} else {
			path, reason = findFinishReason(s.Output, "$", 0)
		}
	}
	for j := 0; reason == "" && j < len(s.Calls); j++ {
		call := &s.Calls[j]
		if strings.ToLower(call.Kind) != "llm" || !strings.Contains(call.Result, "_reason") {
			continue
		}
		if v, ok := parseJSON(call.Result); ok {
			path, reason = findFinishReason(v, "calls["+strconv.Itoa(j)+"].result", 0)
		}
	}
	return path, reason
}

func findFinishReason(v any, path string, depth int) (string, string) {
	if p, r := findFinishReasonIn(v, depth); r != "" {
		return path + p, r
	}
	return "", ""
}

// findFinishReasonIn returns the path of the reason below v: paths are
// built on the way back from a find, not for every value walked.
func findFinishReasonIn(v any, depth int) (string, string) {
	if depth > 6 {
		return "", ""
	}
	if list, ok := v.([]any); ok {
		for i, e := range list {
			if i >= 16 {
				break
			}
			if p, r := findFinishReasonIn(e, depth+1); r != "" {
				return "[" + strconv.Itoa(i) + "]" + p, r
			}
		}
		return "", ""
	}
	m, ok := v.(map[string]any)
	if !ok || !mayHoldFinishReason(m) {
		return "", ""
	}
	for _, k := range sortedKeys(m) {
		if isFinishReasonKey(k) {
			if r := truncatingReason(m[k]); r != "" {
				return pathKey(k), r
			}
			continue
		}
		switch m[k].(type) {
		case map[string]any, []any:
			if p, r := findFinishReasonIn(m[k], depth+1); r != "" {
				return pathKey(k) + p, r
			}
		}
	}
	return "", ""
}

func isFinishReasonKey(k string) bool {
	lk := strings.ToLower(k)
	return strings.Contains(lk, "finish_reason") || strings.Contains(lk, "stop_reason")
}

// mayHoldFinishReason: m has a finish reason key or a value to descend
// into; most maps of a state hold neither, and need no sorting or paths.
func mayHoldFinishReason(m map[string]any) bool {
	for k, v := range m {
		switch v.(type) {
		case map[string]any, []any:
			return true
		}
		if isFinishReasonKey(k) {
			return true
		}
	}
	return false
}

func truncatingReason(v any) string {
	switch x := v.(type) {
	case string:
		if parsed, ok := parseJSON(x); ok {
			if _, isStr := parsed.(string); !isStr {
				return truncatingReason(parsed)
			}
		}
		switch r := strings.ToLower(strings.TrimSpace(x)); r {
		case "length", "max_tokens", "max_output_tokens", "model_length", "token_limit":
			return r
		}
	case []any:
		for _, e := range x {
			if r := truncatingReason(e); r != "" {
				return r
			}
		}
	case []string:
		for _, e := range x {
			if r := truncatingReason(e); r != "" {
				return r
			}
		}
	}
	return ""
}

// looksTruncated is a conservative heuristic for prose cut off by a token
// limit: a long text with sentences, whose last line is prose (not a list,
// table, heading or code) and which ends mid-word on a lowercase letter.
func looksTruncated(s string) bool {
	// The O(1) test first: most texts end in punctuation.
	if r, _ := utf8.DecodeLastRuneInString(s); !unicode.IsLower(r) {
		return false // ends in punctuation, whitespace, a digit, a capital...
	}
	if utf8.RuneCountInString(s) < minTruncatedRunes || strings.Contains(s, "```") {
		return false
	}
	last := s[strings.LastIndexByte(s, '\n')+1:]
	lt := strings.TrimSpace(last)
	if lt == "" || strings.ContainsAny(lt[:1], "|-*#>+`") || strings.Contains(lt, "|") {
		return false
	}
	if len(strings.Fields(lt)) < 4 {
		return false
	}
	word := lt[strings.LastIndexAny(lt, " \t")+1:]
	if strings.ContainsAny(word, "/:._=<>{}()[]@#$%&\\\"'`*0123456789") {
		return false // URLs, identifiers, code
	}
	sentences := 0
	for _, end := range []string{". ", "! ", "? ", ".\n", "!\n", "?\n"} {
		sentences += strings.Count(s, end)
	}
	return sentences >= 2
}

package detect

import (
	"cmp"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// What the values a step produced report: an error, a rate limit, or
// success with an empty result. Each tool result and the node output are
// scanned once, for behavioral.tool_error, behavioral.rate_limited and
// behavioral.claimed_success_empty.

// sourceSignals are the signals of one value a step produced: a tool
// result or the node output.
type sourceSignals struct {
	tool   string // "" for the node output (unless the node is a tool)
	call   int    // index of the call in the step's Calls; len(Calls) for the node output
	failed bool   // the call (or the node, for its output) ended in error
	valueSignals
}

// outputSignals returns the signals of step i's values, scanning every
// step's on first use.
func (a *analysis) outputSignals(i int) []sourceSignals {
	if a.signals == nil {
		a.signals = make([][]sourceSignals, len(a.run.Steps))
		for j := range a.run.Steps {
			a.signals[j] = stepSignals(&a.run.Steps[j])
		}
	}
	return a.signals[i]
}

func stepSignals(s *agentrun.Step) []sourceSignals {
	var out []sourceSignals
	for j := range s.Calls {
		c := &s.Calls[j]
		if (isToolCall(c) || c.Kind == "retriever") && c.Result != "" {
			out = append(out, sourceSignals{tool: cmp.Or(c.Tool, c.Name), call: j,
				failed:       c.Status == agentrun.StatusError || len(c.Exceptions) > 0,
				valueSignals: scanSignals(parseJSONOrText(c.Result))})
		}
	}
	if s.HasOutput {
		tool := ""
		if isToolStep(s) {
			tool = s.Node
		}
		out = append(out, sourceSignals{tool: tool, call: len(s.Calls), failed: s.Failed(), valueSignals: scanSignals(s.Output)})
	}
	return out
}

// succeededLater reports whether a call of tool after call j of step i (in
// that step or a later one) returned a result that reports neither an
// error nor a rate limit: the rate limit was waited out.
func (a *analysis) succeededLater(i, j int, tool string) bool {
	if tool == "" {
		return false
	}
	for k := i; k < len(a.run.Steps); k++ {
		for _, src := range a.outputSignals(k) {
			if k == i && src.call <= j {
				continue
			}
			if src.tool == tool && !src.failed && src.err == nil && src.rate == nil {
				return true
			}
		}
	}
	return false
}

type errorMessage struct {
	field, tool, text string
	call              int // index in the step's Calls; -1 for the node span
}

func errorMessages(s *agentrun.Step) []errorMessage {
	var ms []errorMessage
	add := func(field, tool, text string, call int) {
		if text != "" {
			ms = append(ms, errorMessage{field, tool, text, call})
		}
	}
	add("status_message", "", s.StatusMessage, -1)
	for _, e := range s.Exceptions {
		add("exception", "", joinNonEmpty(": ", e.Type, e.Message), -1)
	}
	for j := range s.Calls {
		c := &s.Calls[j]
		tool := ""
		if isToolCall(c) {
			tool = cmp.Or(c.Tool, c.Name)
		}
		add("call_status_message", tool, c.StatusMessage, j)
		for _, e := range c.Exceptions {
			add("call_exception", tool, joinNonEmpty(": ", e.Type, e.Message), j)
		}
	}
	return ms
}

// signalHit is one signal found in a value: where, and what it said.
type signalHit struct{ field, value string }

type valueSignals struct{ err, rate, empty *signalHit }

// scanSignals looks for error, rate-limit and claimed-success-empty signals in
// one value, keeping the first of each (keys are visited in sorted order, so
// "first" is deterministic).
func scanSignals(v any) valueSignals {
	var r valueSignals
	if s, ok := v.(string); ok {
		if isRateLimitText(s, isErrorText(s)) {
			r.rate = &signalHit{field: "$", value: preview(s)}
		} else if isErrorText(s) {
			r.err = &signalHit{field: "$", value: preview(s)}
		}
		return r
	}
	visits := 0
	walkObjects(v, "", 0, &visits, func(path string, obj map[string]any, keys []string) {
		for _, k := range keys {
			val := obj[k]
			lk := strings.ToLower(k)
			field := joinPath(path, k)
			switch {
			case errorKeys[lk] && truthy(val):
				if mentionsRateLimit(val) {
					setHit(&r.rate, field, val)
				} else {
					setHit(&r.err, field, val)
				}
			case statusKeys[lk]:
				if code, ok := statusCode(val); ok {
					if code == 429 {
						setHit(&r.rate, field, val)
					} else if code >= 400 && code <= 599 {
						setHit(&r.err, field, val)
					}
				} else if str, ok := val.(string); ok && failedStatuses[strings.ToLower(strings.TrimSpace(str))] {
					setHit(&r.err, field, val)
				}
			case (lk == "success" || lk == "ok") && val == false:
				setHit(&r.err, field, val)
			case (lk == "code" || lk == "type") && isRateLimitCode(val):
				setHit(&r.rate, field, val)
			}
		}
		if r.empty == nil {
			if claim := successClaim(obj); claim != "" {
				for _, k := range keys {
					if resultKeys[strings.ToLower(k)] && isBlankValue(obj[k]) {
						r.empty = &signalHit{field: joinPath(path, k), value: claim}
						break
					}
				}
			}
		}
	})
	return r
}

func setHit(h **signalHit, field string, v any) {
	if *h == nil {
		*h = &signalHit{field: field, value: previewValue(v)}
	}
}

var (
	errorKeys      = map[string]bool{"error": true, "error_message": true, "errors": true, "exception": true, "err": true}
	statusKeys     = map[string]bool{"status": true, "status_code": true, "statuscode": true, "http_status": true, "http_status_code": true}
	failedStatuses = map[string]bool{"error": true, "failed": true, "failure": true}
	resultKeys     = map[string]bool{"result": true, "results": true, "data": true, "items": true, "documents": true, "hits": true, "records": true, "rows": true}
	// Strings that mean "no error" although they are not empty.
	falsyTexts = map[string]bool{"": true, "none": true, "null": true, "nil": true, "false": true, "0": true, "n/a": true, "ok": true, "no": true}
)

// truthy: non-empty string/object/list, true, a non-zero number.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return !falsyTexts[strings.ToLower(strings.TrimSpace(x))]
	case float64:
		return x != 0
	case json.Number:
		f, err := x.Float64()
		return err != nil || f != 0
	case map[string]any:
		return len(x) > 0
	case []any:
		return len(x) > 0
	}
	return true
}

func successClaim(obj map[string]any) string {
	for _, k := range []string{"success", "ok"} {
		if obj[k] == true {
			return k + ": true"
		}
	}
	for _, k := range []string{"status", "state", "result_status"} {
		if s, ok := obj[k].(string); ok {
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "success", "succeeded", "successful", "ok":
				return k + ": " + s
			}
		}
	}
	return ""
}

func statusCode(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		if x == float64(int(x)) {
			return int(x), true
		}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return int(n), true
		}
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(x)); err == nil {
			return n, true
		}
	}
	return 0, false
}

func isRateLimitCode(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	s = strings.ToLower(s)
	return strings.Contains(s, "rate_limit") || strings.Contains(s, "ratelimit")
}

// mentionsRateLimit reports whether an error value (a string or an error
// object) speaks of a rate limit.
func mentionsRateLimit(v any) bool {
	found := false
	eachString(v, 64, func(s string) bool {
		found = isRateLimitText(s, true) || isRateLimitCode(s)
		return !found
	})
	return found
}

// isRateLimitText: strong phrases count in any short text; a bare "rate limit"
// only counts where the text is already known to be an error, so prose about
// rate limits never fires.
func isRateLimitText(s string, errorContext bool) bool {
	if len(s) > shortTextBytes && !errorContext {
		return false
	}
	l := strings.ToLower(s)
	for _, p := range []string{"too many requests", "rate_limit_exceeded", "ratelimiterror", "rate limit exceeded", "rate limit reached", "rate-limited", "rate limited"} {
		if strings.Contains(l, p) {
			return true
		}
	}
	if errorContext {
		return strings.Contains(l, "rate limit") || strings.Contains(l, "ratelimit") || strings.Contains(l, " 429")
	}
	return false
}

// errorTextRe matches text that opens like an error report:
// "Error: ...", "KeyError: 'x'", "requests.exceptions.ConnectionError(...".
var errorTextRe = regexp.MustCompile(`^(?:[A-Za-z_][A-Za-z0-9_.]*)?(?:Error|Exception)(?::|\(| -)|^(?i:error|exception|fatal)(?::| -)|^(?i:traceback \(most recent call last\))|^\[(?i:error)\]`)

func isErrorText(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > shortTextBytes*4 {
		return false
	}
	return errorTextRe.MatchString(s)
}

// walkObjects calls fn for every object inside v (depth-first, sorted
// keys), within the depth and visit bounds.
func walkObjects(v any, path string, depth int, visits *int, fn func(path string, obj map[string]any, keys []string)) {
	if depth > maxValueDepth || *visits >= maxObjectVisits {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		*visits++
		keys := sortedKeys(x)
		fn(path, x, keys)
		for _, k := range keys {
			switch x[k].(type) {
			case map[string]any, []any:
				walkObjects(x[k], joinPath(path, k), depth+1, visits, fn)
			}
		}
	case []any:
		*visits++
		for i, e := range x {
			switch e.(type) {
			case map[string]any, []any:
				walkObjects(e, path+"["+strconv.Itoa(i)+"]", depth+1, visits, fn)
			}
		}
	}
}

// eachString calls fn for the strings inside v until fn returns false or
// budget values were seen.
func eachString(v any, budget int, fn func(string) bool) {
	var walk func(v any, depth int) bool
	walk = func(v any, depth int) bool {
		if budget <= 0 || depth > maxValueDepth {
			return false
		}
		budget--
		switch x := v.(type) {
		case string:
			return fn(x)
		case map[string]any:
			for _, k := range sortedKeys(x) {
				if !walk(x[k], depth+1) {
					return false
				}
			}
		case []any:
			for _, e := range x {
				if !walk(e, depth+1) {
					return false
				}
			}
		}
		return true
	}
	walk(v, 0)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

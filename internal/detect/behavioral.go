package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The behavioral layer looks at what a run did rather than at single values:
// repeated work (stalls, retry storms, runaway loops), errors reported by
// tools and spans, and outputs that contradict themselves.

const (
	ruleLoopStall           = "behavioral.loop_stall"
	ruleRetryStorm          = "behavioral.retry_storm"
	ruleToolError           = "behavioral.tool_error"
	ruleRateLimited         = "behavioral.rate_limited"
	ruleErrorSpan           = "behavioral.error_span"
	ruleRunawaySteps        = "behavioral.runaway_steps"
	ruleInputEcho           = "behavioral.input_echo"
	ruleClaimedSuccessEmpty = "behavioral.claimed_success_empty"
)

func init() {
	for _, r := range []Rule{
		Rule{ID: ruleLoopStall, Layer: LayerBehavioral, Severity: SeverityWarning, Threshold: 3,
			ThresholdMeaning: "repetitions of the same node with near-identical output and no progress in between",
			Description:      "A node keeps producing the same output (normalized JSON equal or text similarity >= 0.95) while nothing else in the loop changes."},
		Rule{ID: ruleRetryStorm, Layer: LayerBehavioral, Severity: SeverityWarning, Threshold: 3,
			ThresholdMeaning: "calls of one tool with identical (normalized) arguments in a run",
			Description:      "The same tool is called again and again with the same arguments."},
		Rule{ID: ruleToolError, Layer: LayerBehavioral, Severity: SeverityWarning,
			Description: "A tool result or node output carries an error: a truthy error/exception key, an HTTP status 400-599 (429 excepted), success or ok false, or error text."},
		Rule{ID: ruleRateLimited, Layer: LayerBehavioral, Severity: SeverityWarning,
			Description: "A tool, call or node hit a rate limit (HTTP 429, rate limit or Too Many Requests text)."},
		Rule{ID: ruleErrorSpan, Layer: LayerBehavioral, Severity: SeverityCritical,
			Description: "The node span, or a call nested under it, ended with status ERROR or recorded an exception."},
		Rule{ID: ruleRunawaySteps, Layer: LayerBehavioral, Severity: SeverityWarning, Threshold: 100,
			ThresholdMeaning: "maximum steps per run; one node may run at most a quarter of it",
			Description:      "The run has more steps than the limit, or one node ran far more often than a pipeline should need."},
		Rule{ID: ruleInputEcho, Layer: LayerBehavioral, Severity: SeverityWarning, Threshold: 20,
			ThresholdMeaning: "minimum length in characters of an echoed text",
			Description:      "A step returned its text input unchanged, or an LLM call answered with its own prompt."},
		Rule{ID: ruleClaimedSuccessEmpty, Layer: LayerBehavioral, Severity: SeverityWarning,
			Description: "An output claims success while its result, data or items field is empty."},
	} {
		register(r, nil) // the layer still runs its rules itself
	}
}

// Bounds that keep the layer linear in the size of a run, whatever it holds.
const (
	behMaxDepth       = 8       // nesting walked inside one JSON value
	behMaxVisits      = 4096    // containers walked inside one JSON value
	behMaxParseBytes  = 4 << 20 // larger tool results are treated as text
	behMaxGramBytes   = 32 << 10
	behMaxClusters    = 16 // output clusters remembered per node for stall detection
	behPreviewBytes   = 200
	behNearIdentical  = 0.95
	behShortTextBytes = 2048 // longer texts are prose, not error messages
)

// Behavioral runs the behavioral rules over a run.
func Behavioral(run *agentrun.Run, cfg *Config) []Finding {
	if run == nil {
		return nil
	}
	if cfg == nil {
		cfg = &Config{}
	}
	var out []Finding
	emit := func(rule string, step int, msg string, d map[string]any) {
		if f, ok := cfg.finding(run, rule, step, msg, d); ok {
			out = append(out, f)
		}
	}
	for i := range run.Steps {
		s := &run.Steps[i]
		if cfg.enabled(ruleErrorSpan) {
			behErrorSpan(s, i, emit)
		}
		behOutputSignals(s, i, cfg, emit)
		if cfg.enabled(ruleInputEcho) {
			behInputEcho(s, i, int(cfg.threshold(ruleInputEcho)), emit)
		}
	}
	if cfg.enabled(ruleLoopStall) {
		behLoopStall(run, int(cfg.threshold(ruleLoopStall)), emit)
	}
	if cfg.enabled(ruleRetryStorm) {
		behRetryStorm(run, int(cfg.threshold(ruleRetryStorm)), emit)
	}
	if cfg.enabled(ruleRunawaySteps) {
		behRunaway(run, int(cfg.threshold(ruleRunawaySteps)), emit)
	}
	return out
}

type behEmit func(rule string, step int, msg string, details map[string]any)

// ---- error_span ----------------------------------------------------------

func behErrorSpan(s *agentrun.Step, i int, emit behEmit) {
	if !s.Failed() {
		return
	}
	d := map[string]any{}
	msg := fmt.Sprintf("node %q failed", s.Node)
	if s.StatusMessage != "" {
		d["status_message"] = behPreview(s.StatusMessage)
	}
	exc := behFirstException(s.Exceptions)
	if s.Status != agentrun.StatusError && len(s.Exceptions) == 0 {
		// Only a nested call failed: name it, it is where the error happened.
		for j := range s.Calls {
			c := &s.Calls[j]
			if c.Status != agentrun.StatusError {
				continue
			}
			d["call"] = c.Name
			d["call_kind"] = c.Kind
			if c.Tool != "" {
				d["tool"] = c.Tool
			}
			if c.StatusMessage != "" {
				d["call_status_message"] = behPreview(c.StatusMessage)
			}
			exc = behFirstException(c.Exceptions)
			msg = fmt.Sprintf("node %q: %s call %q failed", s.Node, behOr(c.Kind, "nested"), behOr(c.Tool, c.Name))
			break
		}
	}
	if exc != nil {
		d["exception_type"] = exc.Type
		d["exception_message"] = behPreview(exc.Message)
		if text := behJoinNonEmpty(": ", exc.Type, exc.Message); text != "" {
			msg += ": " + behPreview(text)
		}
	} else if m, ok := d["status_message"].(string); ok {
		msg += ": " + m
	} else if m, ok := d["call_status_message"].(string); ok {
		msg += ": " + m
	}
	emit(ruleErrorSpan, i, msg, d)
}

func behFirstException(es []agentrun.Exception) *agentrun.Exception {
	if len(es) == 0 {
		return nil
	}
	return &es[0]
}

// ---- tool_error, rate_limited, claimed_success_empty -----------------------

// behSource is one value a step produced: a tool result or the node output.
type behSource struct {
	tool  string // "" for the node output
	value any    // parsed JSON, or a string
}

func behOutputSignals(s *agentrun.Step, i int, cfg *Config, emit behEmit) {
	wantErr, wantRate, wantEmpty := cfg.enabled(ruleToolError), cfg.enabled(ruleRateLimited), cfg.enabled(ruleClaimedSuccessEmpty)
	if !wantErr && !wantRate && !wantEmpty {
		return
	}
	var sources []behSource
	for j := range s.Calls {
		c := &s.Calls[j]
		if behIsTool(c) || c.Kind == "retriever" {
			if c.Result != "" {
				sources = append(sources, behSource{tool: behOr(c.Tool, c.Name), value: behParse(c.Result)})
			}
		}
	}
	if s.HasOutput {
		tool := ""
		if behIsToolStep(s) {
			tool = s.Node
		}
		sources = append(sources, behSource{tool: tool, value: s.Output})
	}
	// The same error often shows twice (the tool result, then the node output
	// that carries it along): report each distinct value once per step.
	seenErr, seenRate, seenEmpty := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, src := range sources {
		sc := behScan(src.value)
		if wantErr && sc.err != nil && !seenErr[sc.err.value] {
			seenErr[sc.err.value] = true
			d := map[string]any{"field": sc.err.field, "value": sc.err.value}
			var msg string
			if src.tool != "" {
				d["tool"] = src.tool
				msg = fmt.Sprintf("tool %q returned an error in node %q: %s", src.tool, s.Node, sc.err.value)
			} else {
				msg = fmt.Sprintf("node %q output carries an error in %q: %s", s.Node, sc.err.field, sc.err.value)
			}
			emit(ruleToolError, i, msg, d)
		}
		if wantRate && sc.rate != nil && !seenRate[sc.rate.value] {
			seenRate[sc.rate.value] = true
			d := map[string]any{"field": sc.rate.field, "value": sc.rate.value}
			msg := fmt.Sprintf("node %q hit a rate limit", s.Node)
			if src.tool != "" {
				d["tool"] = src.tool
				msg = fmt.Sprintf("tool %q hit a rate limit in node %q", src.tool, s.Node)
			}
			emit(ruleRateLimited, i, msg, d)
		}
		if wantEmpty && sc.empty != nil && !seenEmpty[sc.empty.field] {
			seenEmpty[sc.empty.field] = true
			d := map[string]any{"field": sc.empty.field, "claim": sc.empty.value}
			if src.tool != "" {
				d["tool"] = src.tool
			}
			emit(ruleClaimedSuccessEmpty, i, fmt.Sprintf("node %q reports success (%s) but %q is empty", s.Node, sc.empty.value, sc.empty.field), d)
		}
	}
	// Error messages of the span and its calls: any rate-limit mention counts.
	if wantRate && len(seenRate) == 0 {
		for _, m := range behErrorMessages(s) {
			if behRateText(m.text, true) {
				d := map[string]any{"field": m.field, "value": behPreview(m.text)}
				msg := fmt.Sprintf("node %q hit a rate limit", s.Node)
				if m.tool != "" {
					d["tool"] = m.tool
					msg = fmt.Sprintf("tool %q hit a rate limit in node %q", m.tool, s.Node)
				}
				emit(ruleRateLimited, i, msg, d)
				break
			}
		}
	}
}

type behMessage struct{ field, tool, text string }

func behErrorMessages(s *agentrun.Step) []behMessage {
	var ms []behMessage
	add := func(field, tool, text string) {
		if text != "" {
			ms = append(ms, behMessage{field, tool, text})
		}
	}
	add("status_message", "", s.StatusMessage)
	for _, e := range s.Exceptions {
		add("exception", "", behJoinNonEmpty(": ", e.Type, e.Message))
	}
	for j := range s.Calls {
		c := &s.Calls[j]
		tool := ""
		if behIsTool(c) {
			tool = behOr(c.Tool, c.Name)
		}
		add("call_status_message", tool, c.StatusMessage)
		for _, e := range c.Exceptions {
			add("call_exception", tool, behJoinNonEmpty(": ", e.Type, e.Message))
		}
	}
	return ms
}

// behHit is one signal found in a value: where, and what it said.
type behHit struct{ field, value string }

type behScanResult struct{ err, rate, empty *behHit }

// behScan looks for error, rate-limit and claimed-success-empty signals in
// one value, keeping the first of each (keys are visited in sorted order, so
// "first" is deterministic).
func behScan(v any) behScanResult {
	var r behScanResult
	if s, ok := v.(string); ok {
		if behRateText(s, behErrorText(s)) {
			r.rate = &behHit{field: "$", value: behPreview(s)}
		} else if behErrorText(s) {
			r.err = &behHit{field: "$", value: behPreview(s)}
		}
		return r
	}
	visits := 0
	behWalkObjects(v, "", 0, &visits, func(path string, obj map[string]any, keys []string) {
		for _, k := range keys {
			val := obj[k]
			lk := strings.ToLower(k)
			field := behJoin(path, k)
			switch {
			case behErrorKeys[lk] && behTruthy(val):
				if behValueMentionsRate(val) {
					behSet(&r.rate, field, val)
				} else {
					behSet(&r.err, field, val)
				}
			case behStatusKeys[lk]:
				if code, ok := behStatusCode(val); ok {
					if code == 429 {
						behSet(&r.rate, field, val)
					} else if code >= 400 && code <= 599 {
						behSet(&r.err, field, val)
					}
				} else if str, ok := val.(string); ok && behFailedStatus[strings.ToLower(strings.TrimSpace(str))] {
					behSet(&r.err, field, val)
				}
			case (lk == "success" || lk == "ok") && val == false:
				behSet(&r.err, field, val)
			case (lk == "code" || lk == "type") && behIsRateCode(val):
				behSet(&r.rate, field, val)
			}
		}
		if r.empty == nil {
			if claim := behSuccessClaim(obj); claim != "" {
				for _, k := range keys {
					if behResultKeys[strings.ToLower(k)] && behEmpty(obj[k]) {
						r.empty = &behHit{field: behJoin(path, k), value: claim}
						break
					}
				}
			}
		}
	})
	return r
}

func behSet(h **behHit, field string, v any) {
	if *h == nil {
		*h = &behHit{field: field, value: behPreviewValue(v)}
	}
}

var (
	behErrorKeys    = map[string]bool{"error": true, "error_message": true, "errors": true, "exception": true, "err": true}
	behStatusKeys   = map[string]bool{"status": true, "status_code": true, "statuscode": true, "http_status": true, "http_status_code": true}
	behFailedStatus = map[string]bool{"error": true, "failed": true, "failure": true}
	behResultKeys   = map[string]bool{"result": true, "results": true, "data": true, "items": true, "documents": true, "hits": true, "records": true, "rows": true}
	// Strings that mean "no error" although they are not empty.
	behFalsyText = map[string]bool{"": true, "none": true, "null": true, "nil": true, "false": true, "0": true, "n/a": true, "ok": true, "no": true}
)

// behTruthy: non-empty string/object/list, true, a non-zero number.
func behTruthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return !behFalsyText[strings.ToLower(strings.TrimSpace(x))]
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

func behEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

func behSuccessClaim(obj map[string]any) string {
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

func behStatusCode(v any) (int, bool) {
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

func behIsRateCode(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	s = strings.ToLower(s)
	return strings.Contains(s, "rate_limit") || strings.Contains(s, "ratelimit")
}

// behValueMentionsRate reports whether an error value (a string or an error
// object) speaks of a rate limit.
func behValueMentionsRate(v any) bool {
	found := false
	behStrings(v, 64, func(s string) bool {
		found = behRateText(s, true) || behIsRateCode(s)
		return !found
	})
	return found
}

// behRateText: strong phrases count in any short text; a bare "rate limit"
// only counts where the text is already known to be an error, so prose about
// rate limits never fires.
func behRateText(s string, errorContext bool) bool {
	if len(s) > behShortTextBytes && !errorContext {
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

// behErrorTextRE matches text that opens like an error report:
// "Error: ...", "KeyError: 'x'", "requests.exceptions.ConnectionError(...".
var behErrorTextRE = regexp.MustCompile(`^(?:[A-Za-z_][A-Za-z0-9_.]*)?(?:Error|Exception)(?::|\(| -)|^(?i:error|exception|fatal)(?::| -)|^(?i:traceback \(most recent call last\))|^\[(?i:error)\]`)

func behErrorText(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > behShortTextBytes*4 {
		return false
	}
	return behErrorTextRE.MatchString(s)
}

// behWalkObjects calls fn for every object inside v (depth-first, sorted
// keys), within the depth and visit bounds.
func behWalkObjects(v any, path string, depth int, visits *int, fn func(path string, obj map[string]any, keys []string)) {
	if depth > behMaxDepth || *visits >= behMaxVisits {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		*visits++
		keys := behSortedKeys(x)
		fn(path, x, keys)
		for _, k := range keys {
			switch x[k].(type) {
			case map[string]any, []any:
				behWalkObjects(x[k], behJoin(path, k), depth+1, visits, fn)
			}
		}
	case []any:
		*visits++
		for i, e := range x {
			switch e.(type) {
			case map[string]any, []any:
				behWalkObjects(e, path+"["+strconv.Itoa(i)+"]", depth+1, visits, fn)
			}
		}
	}
}

// behStrings calls fn for the strings inside v until fn returns false or
// budget values were seen.
func behStrings(v any, budget int, fn func(string) bool) {
	var walk func(v any, depth int) bool
	walk = func(v any, depth int) bool {
		if budget <= 0 || depth > behMaxDepth {
			return false
		}
		budget--
		switch x := v.(type) {
		case string:
			return fn(x)
		case map[string]any:
			for _, k := range behSortedKeys(x) {
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

// ---- input_echo ----------------------------------------------------------

func behInputEcho(s *agentrun.Step, i int, minChars int, emit behEmit) {
	if minChars <= 0 {
		minChars = 20
	}
	// Text in, same text out. Dict states passed through unchanged are not
	// echo: they are pass-through nodes, judged by the structural layer.
	if in, ok := s.Input.(string); ok && s.HasInput && s.HasOutput {
		if out, ok := s.Output.(string); ok {
			if n := behNormText(in); utf8.RuneCountInString(n) >= minChars && n == behNormText(out) {
				emit(ruleInputEcho, i, fmt.Sprintf("node %q returned its text input unchanged", s.Node),
					map[string]any{"field": "output", "chars": utf8.RuneCountInString(n), "preview": behPreview(out)})
				return
			}
		}
	}
	for j := range s.Calls {
		c := &s.Calls[j]
		if c.Kind != "llm" || c.Arguments == "" || c.Result == "" {
			continue
		}
		prompt := behNormText(behMessageText(behParse(c.Arguments), "user"))
		answer := behNormText(behMessageText(behParse(c.Result), "assistant"))
		if utf8.RuneCountInString(answer) >= minChars && answer == prompt {
			emit(ruleInputEcho, i, fmt.Sprintf("LLM call %q in node %q answered with its own prompt", c.Name, s.Node),
				map[string]any{"field": "llm_result", "call": c.Name, "model": c.Model, "chars": utf8.RuneCountInString(answer), "preview": behPreview(answer)})
			return
		}
	}
}

// behMessageText extracts the text of the last message (preferring role) from
// the shapes LLM spans use: a string, a list of messages, {"messages":[...]},
// {"content": ...}, GenAI parts [{type:text, content}], LangChain serialized
// messages ({"kwargs":{"content"}}) and generations. Anything else yields its
// JSON, which only equals a prompt when it truly is one.
func behMessageText(v any, role string) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		if len(x) == 0 {
			return ""
		}
		for k := len(x) - 1; k >= 0; k-- {
			if m, ok := x[k].(map[string]any); ok && behRoleIs(m, role) {
				return behMessageText(m, role)
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
			parts = append(parts, behMessageText(m, role))
		}
		if allParts {
			return strings.Join(parts, " ")
		}
		return behMessageText(x[len(x)-1], role)
	case map[string]any:
		for _, k := range []string{"content", "text", "prompt", "completion", "parts", "messages", "choices", "message", "kwargs", "generations"} {
			if e, ok := x[k]; ok {
				return behMessageText(e, role)
			}
		}
	}
	return string(agentrun.JSON(v))
}

func behRoleIs(m map[string]any, role string) bool {
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

// ---- loop_stall ----------------------------------------------------------

// behProfile is a comparable digest of one output.
type behProfile struct {
	hash  uint64      // canonical normalized text
	shape uint64      // keys and list lengths; a growing list changes it
	text  []byte      // canonical text; nil when too long to compare by similarity
	grams []uint32    // hashed character 3-grams of text, built on first use
	top   *[256]int32 // how many 3-grams of text fall in each behGramBucket, built on first use
	// sorted: grams are in order (sorted only for a Dice count, which
	// most pairs never need).
	sorted bool
}

// behSeed keys the profile hash (only ever compared within one process).
var behSeed = maphash.MakeSeed()

// behNewProfile profiles v; its text is written over buf (reused from
// profile to profile: most profiles are compared once and dropped) and is
// only valid until buf is reused, see behKeep. It returns buf, grown.
func behNewProfile(v any, buf []byte) (*behProfile, []byte) {
	c := behCanonizer{buf: buf[:0], dropVolatile: true, track: true, shape: behFNVOffset}
	c.value(v, 0)
	p := &behProfile{hash: maphash.Bytes(behSeed, c.buf), shape: c.shape}
	if len(c.buf) <= behMaxGramBytes {
		p.text = c.buf
	}
	return p, c.buf
}

// behKeep makes p's text its own, for a profile kept as a cluster's
// representative: only while the node has outputs left to compare with it.
func (p *behProfile) behKeep(more bool) {
	switch {
	case !more:
		p.text, p.grams, p.top = nil, nil, nil // never compared again
	case p.text != nil:
		p.text = bytes.Clone(p.text)
	}
}

// behNear: equal canonical texts, or the same shape and a text similarity
// (Dice coefficient of character 3-grams) of at least 0.95. Texts whose
// lengths alone rule that out are rejected before building any 3-grams.
func behNear(a, b *behProfile) bool {
	if a.hash == b.hash {
		return true
	}
	if a.shape != b.shape || a.text == nil || b.text == nil {
		return false
	}
	// Dice <= 2*min/(a+b) over the 3-gram counts.
	ga, gb := max(len(a.text)-2, 1), max(len(b.text)-2, 1)
	if 2*float64(min(ga, gb)) < behNearIdentical*float64(ga+gb) {
		return false
	}
	// Grams in different buckets never match, so the common count is at
	// most the sum of the smaller per-bucket counts: most different
	// long outputs are ruled out without sorting any 3-grams.
	if ga+gb >= behTopBoundGrams {
		ta, tb := a.gramTop(), b.gramTop()
		bound := 0
		for i := range ta {
			bound += int(min(ta[i], tb[i]))
		}
		if 2*float64(bound)/float64(ga+gb) < behNearIdentical { // ga, gb: the gram counts
			return false
		}
	}
	return behDiceAtLeast(a.sortedGrams(), b.sortedGrams(), behNearIdentical)
}

// behTopBoundGrams: below this many 3-grams in a pair, sorting them is as
// cheap as the per-top-byte bound.
const behTopBoundGrams = 1024

// gramTop counts the 3-grams of the text per bucket straight from the
// text: most pairs are ruled out by these counts, without the grams.
func (p *behProfile) gramTop() *[256]int32 {
	if p.top == nil {
		p.top = new([256]int32)
		s := p.text
		if len(s) < 3 {
			p.top[behGramBucket(behGrams(s)[0])]++
			return p.top
		}
		x := uint32(s[0]) | uint32(s[1])<<8
		for _, c := range s[2:] { // the grams of behGrams, in order
			x |= uint32(c) << 16
			p.top[behGramBucket(x)]++
			x >>= 8
		}
	}
	return p.top
}

// behGramBucket spreads grams over 256 buckets for the bound of behNear
// (any function of the gram bounds the common count).
func behGramBucket(g uint32) uint32 { return g * 0x9e3779b1 >> 24 }

func (p *behProfile) sortedGrams() []uint32 {
	if p.grams == nil {
		p.grams = behGrams(p.text)
	}
	if !p.sorted {
		behRadixSort(p.grams)
		p.sorted = true
	}
	return p.grams
}

type behCluster struct {
	rep   *behProfile
	last  int   // index of the latest member
	steps []int // members of the current streak
	hitAt int   // step where the streak reached the threshold, -1 before
	exact bool  // all members of the streak had the same canonical output
}

// behLoopStall finds nodes that produced a near-identical output threshold
// times while nothing else made progress: between two members no step
// produced an output new for its node. Agent loops whose tools return new
// results, and validator retries around a generator that changes its draft,
// make progress and never fire.
func behLoopStall(run *agentrun.Run, threshold int, emit behEmit) {
	if threshold < 2 {
		threshold = 2
	}
	// A node that ran once cannot repeat itself: skip profiling it.
	runs, left := map[string]int{}, map[string]int{} // left: outputs of the node not yet profiled
	for i := range run.Steps {
		if run.Steps[i].HasOutput {
			runs[run.Steps[i].Node]++
			left[run.Steps[i].Node]++
		}
	}
	byNode := map[string][]*behCluster{}
	var fired []*behCluster
	var buf []byte // canonical texts are written here
	lastNew := -1  // latest step whose output was new for its node
	for i := range run.Steps {
		s := &run.Steps[i]
		if !s.HasOutput {
			continue // a step that threw made no progress and has no output to compare
		}
		if runs[s.Node] < 2 {
			lastNew = i // a first output is always new
			continue
		}
		var p *behProfile
		p, buf = behNewProfile(s.Output, buf)
		left[s.Node]--
		cs := byNode[s.Node]
		var c *behCluster
		for k := len(cs) - 1; k >= 0; k-- {
			if behNear(cs[k].rep, p) {
				c = cs[k]
				break
			}
		}
		if c == nil {
			lastNew = i
			p.behKeep(left[s.Node] > 0)
			cs = append(cs, &behCluster{rep: p, last: i, steps: []int{i}, hitAt: -1, exact: true})
			if len(cs) > behMaxClusters {
				cs = cs[1:]
			}
			byNode[s.Node] = cs
			continue
		}
		progressed := lastNew > c.last
		c.last = i
		if progressed {
			if c.hitAt >= 0 {
				continue // already reported; that streak is over
			}
			c.steps, c.exact = c.steps[:0], true
		}
		c.steps = append(c.steps, i)
		c.exact = c.exact && c.rep.hash == p.hash
		if len(c.steps) >= threshold && c.hitAt < 0 {
			c.hitAt = i
			fired = append(fired, c)
		}
	}
	for _, c := range fired {
		nums := make([]int, 0, len(c.steps))
		for k, idx := range c.steps {
			if k == 20 {
				break
			}
			nums = append(nums, run.Steps[idx].Number)
		}
		node := run.Steps[c.hitAt].Node
		match := "near_identical"
		if c.exact {
			match = "identical"
		}
		how := "without progress in between"
		if behConsecutive(run, c.steps) {
			how = "in a row"
		}
		emit(ruleLoopStall, c.hitAt, fmt.Sprintf("node %q ran %d times %s with the same output", node, len(c.steps), how),
			map[string]any{"repetitions": len(c.steps), "steps": nums, "match": match, "threshold": threshold})
	}
}

// behConsecutive reports whether the steps follow each other with no other
// node's step in between.
func behConsecutive(run *agentrun.Run, idx []int) bool {
	for k := 1; k < len(idx); k++ {
		if idx[k] != idx[k-1]+1 {
			return false
		}
	}
	return len(idx) > 0
}

// ---- retry_storm ---------------------------------------------------------

func behRetryStorm(run *agentrun.Run, threshold int, emit behEmit) {
	if threshold < 2 {
		threshold = 2
	}
	type group struct {
		tool, args string
		count      int
		hitAt      int
	}
	groups := map[string]*group{}
	var hits []*group
	add := func(step int, tool, rawArgs string) {
		args := behCanonArgs(rawArgs)
		key := tool + "\x00" + args
		g := groups[key]
		if g == nil {
			g = &group{tool: tool, args: args, hitAt: -1}
			groups[key] = g
		}
		g.count++
		if g.count == threshold {
			g.hitAt = step
			hits = append(hits, g)
		}
	}
	for i := range run.Steps {
		s := &run.Steps[i]
		if behIsToolStep(s) && s.HasInput {
			add(i, s.Node, string(agentrun.JSON(s.Input)))
		}
		for j := range s.Calls {
			c := &s.Calls[j]
			if behIsTool(c) {
				add(i, behOr(c.Tool, c.Name), c.Arguments)
			}
		}
	}
	for _, g := range hits {
		emit(ruleRetryStorm, g.hitAt, fmt.Sprintf("tool %q was called %d times with the same arguments", g.tool, g.count),
			map[string]any{"tool": g.tool, "key": strconv.FormatUint(behFNV(behFNVOffset, g.args), 16), "calls": g.count,
				"arguments": behPreview(g.args), "threshold": threshold})
	}
}

// behCanonArgs normalizes tool arguments: JSON re-encoded canonically (sorted
// keys, collapsed whitespace in strings), other text whitespace-collapsed.
func behCanonArgs(raw string) string {
	v := behParse(raw)
	if s, ok := v.(string); ok {
		return behCollapse(s)
	}
	c := behCanonizer{}
	c.value(v, 0)
	return string(c.buf)
}

// ---- runaway_steps -------------------------------------------------------

func behRunaway(run *agentrun.Run, maxSteps int, emit behEmit) {
	if maxSteps <= 0 {
		return
	}
	if n := len(run.Steps); n > maxSteps {
		emit(ruleRunawaySteps, -1, fmt.Sprintf("run has %d steps, more than the limit of %d", n, maxSteps),
			map[string]any{"metric": "steps", "count": n, "limit": maxSteps})
	}
	perNode := maxSteps / 4
	if perNode < 1 {
		perNode = 1
	}
	counts := map[string]int{}
	first := map[string]int{}
	var order []string
	for i := range run.Steps {
		node := run.Steps[i].Node
		counts[node]++
		if counts[node] == perNode+1 {
			first[node] = i
			order = append(order, node)
		}
	}
	for _, node := range order {
		emit(ruleRunawaySteps, first[node], fmt.Sprintf("node %q ran %d times, more than the limit of %d", node, counts[node], perNode),
			map[string]any{"metric": "node_executions", "count": counts[node], "limit": perNode})
	}
}

// ---- shared helpers ------------------------------------------------------

func behIsTool(c *agentrun.Call) bool { return c.Kind == "tool" || c.Tool != "" }

// behIsToolStep: the node span is itself a tool execution (GenAI execute_tool,
// OpenInference TOOL), so its input is the arguments and its output the result.
func behIsToolStep(s *agentrun.Step) bool {
	switch strings.ToLower(s.Kind) {
	case "execute_tool", "tool":
		return true
	}
	return false
}

// behParse parses JSON objects and arrays; anything else stays a string.
func behParse(raw string) any {
	t := strings.TrimSpace(raw)
	if len(t) == 0 || len(t) > behMaxParseBytes || (t[0] != '{' && t[0] != '[' && t[0] != '"') {
		return raw
	}
	var v any
	if err := json.Unmarshal([]byte(t), &v); err != nil {
		return raw
	}
	return v
}

// behVolatileKeys change on every run without meaning different work
// (timestamps, request ids, usage counters); stall comparison ignores them.
var behVolatileKeys = map[string]bool{
	"timestamp": true, "created_at": true, "updated_at": true, "created": true, "ts": true,
	"run_id": true, "request_id": true, "trace_id": true, "span_id": true,
	"response_metadata": true, "usage_metadata": true, "latency_ms": true, "duration_ms": true, "elapsed_ms": true,
}

// behCanonizer writes a canonical text of a value: sorted keys,
// whitespace-collapsed strings, volatile keys dropped when dropVolatile.
// When track is set, shape also hashes the value's structure (keys, list
// lengths, types) so outputs of another shape never count as near-identical.
type behCanonizer struct {
	buf          []byte
	shape        uint64
	track        bool
	dropVolatile bool
}

func (c *behCanonizer) tag(s string) {
	if c.track {
		c.shape = behFNV(c.shape, s)
	}
}

func (c *behCanonizer) value(v any, depth int) {
	if depth > behMaxDepth*2 {
		c.buf = append(c.buf, "…"...)
		c.tag("…")
		return
	}
	switch x := v.(type) {
	case nil:
		c.buf = append(c.buf, "null"...)
		c.tag("n")
	case bool:
		c.buf = strconv.AppendBool(c.buf, x)
		c.tag("b")
	case float64:
		c.buf = strconv.AppendFloat(c.buf, x, 'g', -1, 64)
		c.tag("f")
	case json.Number:
		c.buf = append(c.buf, x...)
		c.tag("f")
	case string:
		c.buf = behAppendQuoteCollapsed(c.buf, x)
		c.tag("s")
	case []any:
		c.buf = append(c.buf, '[')
		c.tag("[")
		c.tag(strconv.Itoa(len(x)))
		for i, e := range x {
			if i > 0 {
				c.buf = append(c.buf, ',')
			}
			c.value(e, depth+1)
		}
		c.buf = append(c.buf, ']')
		c.tag("]")
	case map[string]any:
		c.buf = append(c.buf, '{')
		c.tag("{")
		first := true
		for _, k := range behSortedKeys(x) {
			if c.dropVolatile && behVolatileKeys[strings.ToLower(k)] {
				continue
			}
			if !first {
				c.buf = append(c.buf, ',')
			}
			first = false
			c.buf = behAppendQuote(c.buf, k)
			c.buf = append(c.buf, ':')
			c.tag(k)
			c.tag(":")
			c.value(x[k], depth+1)
		}
		c.buf = append(c.buf, '}')
		c.tag("}")
	default:
		c.buf = append(c.buf, agentrun.JSON(x)...)
		c.tag("?")
	}
}

const (
	behFNVOffset = 14695981039346656037
	behFNVPrime  = 1099511628211
)

// behFNV extends a 64-bit FNV-1a hash with s.
func behFNV[T string | []byte](h uint64, s T) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= behFNVPrime
	}
	return h
}

// behGrams returns the character 3-grams of s, unsorted, each packed into
// the low 3 bytes of a uint32 (an exact key, cheaper than hashing it: it
// compares equal exactly when the 32-bit FNV-1a hashes used before did,
// which are injective on strings of up to 3 bytes). A text shorter than 3
// bytes is one gram marked by its length in the top byte.
func behGrams(s []byte) []uint32 {
	if len(s) < 3 {
		g := 0xff000000 | uint32(len(s))<<16
		for i, c := range s {
			g |= uint32(c) << (8 * i)
		}
		return []uint32{g}
	}
	g := make([]uint32, len(s)-2)
	x := uint32(s[0]) | uint32(s[1])<<8
	for i := range g {
		x = x | uint32(s[i+2])<<16
		g[i] = x
		x >>= 8
	}
	return g
}

// behRadixSort sorts v in place: four byte-wise counting passes (LSD), a few
// times faster than a comparison sort on the tens of thousands of 3-gram
// hashes of a long output.
func behRadixSort(v []uint32) {
	if len(v) < 512 {
		slices.Sort(v) // the counting passes' fixed cost is not worth it
		return
	}
	var counts [4][256]int
	for _, x := range v {
		counts[0][x&0xff]++
		counts[1][x>>8&0xff]++
		counts[2][x>>16&0xff]++
		counts[3][x>>24]++
	}
	tmp := make([]uint32, len(v))
	src, dst := v, tmp
	for pass := range 4 {
		c := &counts[pass]
		shift := uint(pass * 8)
		if c[src[0]>>shift&0xff] == len(src) {
			continue // every value has the same byte here: the order stands
		}
		sum := 0
		for b, n := range c {
			c[b] = sum
			sum += n
		}
		for _, x := range src {
			b := x >> shift & 0xff
			dst[c[b]] = x
			c[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &v[0] {
		copy(v, src)
	}
}

// behDiceAtLeast reports whether the Sørensen-Dice coefficient of two
// sorted multisets, 2*common/(len(a)+len(b)), is at least limit. It stops as
// soon as the elements left could not bring it there: most pairs of
// different outputs are decided early.
func behDiceAtLeast(a, b []uint32, limit float64) bool {
	total := float64(len(a) + len(b))
	if total == 0 {
		return 1 >= limit
	}
	common, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			common++
			i++
			j++
			continue
		case a[i] < b[j]:
			i++
		default:
			j++
		}
		// Only a mismatch lowers the best reachable count.
		if 2*float64(common+min(len(a)-i, len(b)-j))/total < limit {
			return false
		}
	}
	return 2*float64(common)/total >= limit
}

func behSortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// behCollapse trims and collapses runs of white space to one space.
func behCollapse(s string) string {
	if behCollapsed(s) {
		return s // the common case, without allocating
	}
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}

func behCollapsed(s string) bool {
	prevSpace := true
	for i := 0; i < len(s); {
		if i+8 <= len(s) {
			// 8 printable ASCII bytes or spaces: collapsed unless two
			// spaces meet (also across the chunk's start).
			if x := load64(s[i:]); x&swarHigh|swarBelow(x, 0x20) == 0 {
				sp := swarEq(x, ' ')
				if sp&(sp<<8) != 0 || prevSpace && sp&0x80 != 0 {
					return false
				}
				prevSpace = sp>>63 != 0
				i += 8
				continue
			}
		}
		if c := s[i]; c > ' ' && c < utf8.RuneSelf {
			prevSpace = false // the common case: a printable ASCII byte
			i++
			continue
		}
		// Other ASCII without the unicode tables; the rest (invalid bytes
		// decode to RuneError, not a space) as unicode.IsSpace says.
		r, size := rune(s[i]), 1
		var sp bool
		if r < utf8.RuneSelf {
			sp = r == ' ' || '\t' <= r && r <= '\r'
		} else {
			r, size = utf8.DecodeRuneInString(s[i:])
			sp = unicode.IsSpace(r)
		}
		if sp && (prevSpace || r != ' ') {
			return false
		}
		prevSpace = sp
		i += size
	}
	return !prevSpace || s == ""
}

// behAppendQuote appends strconv.Quote(s) to buf. Printable ASCII other
// than '"' and '\\' quotes as itself, so that prefix is copied as is and only
// the rest goes through strconv (which escapes rune by rune, so quoting
// the two parts apart gives the same bytes).
func behAppendQuote(buf []byte, s string) []byte {
	i := 0
	for i+8 <= len(s) && swarPlain(load64(s[i:])) {
		i += 8
	}
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\' {
		i++
	}
	buf = append(buf, '"')
	buf = append(buf, s[:i]...)
	if i == len(s) {
		return append(buf, '"')
	}
	mark := len(buf)
	buf = strconv.AppendQuote(buf, s[i:])
	copy(buf[mark:], buf[mark+1:]) // drop the opening quote of the rest
	return buf[:len(buf)-1]
}

// behAppendQuoteCollapsed appends strconv.Quote(behCollapse(s)). Plain
// printable ASCII without a leading, trailing or doubled space, nearly
// every string of an output, is its own collapsed form and quotes as
// itself: it is tested 8 bytes at a time in one pass and copied. Anything
// else goes the long way.
func behAppendQuoteCollapsed(buf []byte, s string) []byte {
	prevSpace := true // a leading space is not collapsed
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := load64(s[i:])
		if !swarPlain(x) {
			return behAppendQuote(buf, behCollapse(s))
		}
		sp := swarEq(x, ' ')
		if sp&(sp<<8) != 0 || prevSpace && sp&0x80 != 0 {
			return behAppendQuote(buf, behCollapse(s))
		}
		prevSpace = sp>>63 != 0
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == ' ' && prevSpace {
			return behAppendQuote(buf, behCollapse(s))
		}
		prevSpace = c == ' '
	}
	if prevSpace { // a trailing space, or s is empty
		return behAppendQuote(buf, behCollapse(s))
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// behNormText is the comparison form of a text: collapsed, lower case.
func behNormText(s string) string { return strings.ToLower(behCollapse(s)) }

func behJoin(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func behJoinNonEmpty(sep string, parts ...string) string {
	out := parts[:0:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

func behOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// behPreview is a short, valid UTF-8 excerpt for messages and details.
func behPreview(s string) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	if len(s) <= behPreviewBytes {
		return s
	}
	cut := behPreviewBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func behPreviewValue(v any) string {
	if s, ok := v.(string); ok {
		return behPreview(s)
	}
	return behPreview(string(agentrun.JSON(v)))
}

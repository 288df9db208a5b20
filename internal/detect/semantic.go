package detect

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/pipeline"
)

// Semantic rule ids.
const (
	rulePlaceholder    = "semantic.placeholder"
	ruleRefusal        = "semantic.refusal"
	ruleNullLike       = "semantic.null_like"
	ruleWhitespace     = "semantic.whitespace"
	ruleTruncated      = "semantic.truncated"
	ruleCorruptedJSON  = "semantic.corrupted_json"
	ruleRepeatedFiller = "semantic.repeated_filler"
	ruleSignatureMatch = "semantic.signature"
)

func init() {
	register(
		Rule{ID: rulePlaceholder, Layer: LayerSemantic, Severity: SeverityWarning,
			Description: "output text holds a template placeholder: PLACEHOLDER, <YOUR_...>, {{var}}, <<VAR>>, TODO, TBD, lorem ipsum, [INSERT ...], XXX"},
		Rule{ID: ruleRefusal, Layer: LayerSemantic, Severity: SeverityWarning,
			Description: `output text is a model refusal ("As an AI, ...", "I'm sorry, but I cannot ...")`},
		Rule{ID: ruleNullLike, Layer: LayerSemantic, Severity: SeverityWarning,
			Description: "a string value stands for nothing: n/a, null, none, undefined, nil, nan, [object Object]"},
		Rule{ID: ruleWhitespace, Layer: LayerSemantic, Severity: SeverityWarning,
			Description: "a non-empty string value holds only whitespace"},
		Rule{ID: ruleTruncated, Layer: LayerSemantic, Severity: SeverityWarning,
			Description: "an LLM stopped on its token limit (finish reason length / max_tokens); a long prose text ending mid-word is reported as info"},
		Rule{ID: ruleCorruptedJSON, Layer: LayerSemantic, Severity: SeverityWarning,
			Description: "the output, or a string value meant as JSON, does not parse (unclosed brace, unterminated string)"},
		Rule{ID: ruleRepeatedFiller, Layer: LayerSemantic, Severity: SeverityWarning, Threshold: 3,
			ThresholdMeaning: "minimum repetitions of a sentence or 4+-word phrase",
			Description:      "the same sentence or phrase is repeated over and over and makes up most of the text"},
		Rule{ID: ruleSignatureMatch, Layer: LayerSemantic, Severity: SeverityWarning,
			Description: "output text matches a user signature; a signature's own severity wins over this rule's"},
	)
}

// Bounds that keep the layer linear whatever a step holds.
const (
	semMaxDepth        = 64        // nesting walked inside one value
	semMaxStrings      = 5000      // string values inspected per step
	semMaxPerRule      = 20        // findings per rule and step; the rest are counted
	semScanBytes       = 256 << 10 // pattern scans look at the head of a long text
	semMaxJSONBytes    = 4 << 20   // longer JSON-looking strings are not parsed
	semMaxFillerWords  = 20000
	semFillerCoverage  = 0.5 // share of the text the repetition must cover
	semMinTruncateRune = 200
)

// Semantic inspects the text a step produced: every string value of its
// output (recursively, with its JSON path) and the results of its LLM calls.
// A top-level field passed through unchanged from the state before the step
// is skipped: the step that produced it already carries the finding.
func Semantic(run *pipeline.Run, cfg *Config) []Finding {
	if run == nil || len(run.Steps) == 0 {
		return nil
	}
	if cfg == nil {
		cfg = &Config{}
	}
	v := newStateView(run)
	c := &semanticCheck{run: run, cfg: cfg, sigs: signaturesFor(cfg.Signatures)}
	c.minRepeats = max(2, int(c.cfg.threshold(ruleRepeatedFiller)))
	c.filler = fillerPool.Get().(*fillerScratch)
	defer fillerPool.Put(c.filler)
	for i := range run.Steps {
		if !isBookkeepingNode(run.Steps[i].Node) {
			c.checkStep(i, v.before[i])
		}
	}
	return c.out
}

type semanticCheck struct {
	run        *pipeline.Run
	cfg        *Config
	sigs       *SignatureSet
	minRepeats int
	out        []Finding
	filler     *fillerScratch

	// per step
	step   int
	budget int
	seen   map[string]bool // output texts (their scanned head), so an LLM result that became the output is checked once
	// rootMalformed: the mapping flagged the whole output as broken JSON,
	// already reported; the raw text at "$" is not checked again.
	rootMalformed bool
	perRule       map[string]int
	lastOfRule    map[string]int // index into out of the last finding of a rule in this step
}

func (c *semanticCheck) checkStep(i int, before map[string]any) {
	s := &c.run.Steps[i]
	c.step, c.budget = i, semMaxStrings
	c.seen = map[string]bool{}
	c.perRule = map[string]int{}
	c.lastOfRule = map[string]int{}

	c.rootMalformed = s.OutputMalformed
	if s.OutputMalformed {
		d := map[string]any{"field": "", "path": "$"}
		msg := fmt.Sprintf("%s output is not valid JSON", s.Node)
		if raw, ok := s.Output.(string); ok {
			d["reason"] = jsonProblem(strings.TrimSpace(raw))
			msg += ": " + d["reason"].(string)
		}
		c.emit(ruleCorruptedJSON, msg, d)
	}
	fresh := map[string]any{} // top-level fields this step changed
	if s.HasOutput {
		switch out := s.Output.(type) {
		case map[string]any:
			if !isTruncationMarker(out) {
				for _, k := range keysSorted(out) {
					if old, had := before[k]; had && reflect.DeepEqual(old, out[k]) {
						continue
					}
					fresh[k] = out[k]
					c.walk(out[k], "$"+pathKey(k), k, "", 1, true)
				}
			}
		default:
			c.walk(s.Output, "$", "", "", 0, true)
		}
	}
	for j := range s.Calls {
		call := &s.Calls[j]
		if strings.ToLower(call.Kind) != "llm" || strings.TrimSpace(call.Result) == "" {
			continue
		}
		path := fmt.Sprintf("calls[%d].result", j)
		if v, ok := parseJSON(call.Result); ok {
			if _, isStr := v.(string); !isStr {
				c.walk(v, path, "", call.Name, 0, false)
				continue
			}
		}
		c.walk(call.Result, path, "", call.Name, 0, false)
	}
	c.finishReason(s, fresh)
	for rule, n := range c.perRule {
		if n > semMaxPerRule {
			c.out[c.lastOfRule[rule]].Details["more_matches"] = n - semMaxPerRule
		}
	}
}

func (c *semanticCheck) emit(rule, msg string, d map[string]any) (int, bool) {
	c.perRule[rule]++
	if c.perRule[rule] > semMaxPerRule {
		return 0, false
	}
	f, ok := c.cfg.finding(c.run, rule, c.step, msg, d)
	if !ok {
		return 0, false
	}
	c.out = append(c.out, f)
	c.lastOfRule[rule] = len(c.out) - 1
	return len(c.out) - 1, true
}

// walk visits string values; output marks the step's own output (as opposed
// to an LLM call result).
func (c *semanticCheck) walk(v any, path, field, call string, depth int, output bool) {
	if depth > semMaxDepth || c.budget <= 0 {
		return
	}
	switch x := v.(type) {
	case string:
		c.budget--
		c.checkText(x, path, field, call, output)
	case map[string]any:
		for _, k := range keysSorted(x) {
			f := field
			if f == "" && call == "" {
				f = k
			}
			c.walk(x[k], path+pathKey(k), f, call, depth+1, output)
		}
	case []any:
		for i, e := range x {
			c.walk(e, path+"["+strconv.Itoa(i)+"]", field, call, depth+1, output)
		}
	}
}

// plainKey: k matches ^[A-Za-z_][A-Za-z0-9_]*$ (written out: it runs for
// every key walked).
func plainKey(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return k != ""
}

func pathKey(k string) string {
	if plainKey(k) {
		return "." + k
	}
	return "[" + strconv.Quote(clipBytes(k, 128)) + "]"
}

func (c *semanticCheck) checkText(text, path, field, call string, output bool) {
	if text == "" {
		return // empty values are the structural layer's
	}
	key := clipBytes(text, semScanBytes)
	if output {
		c.seen[key] = true
	} else if c.seen[key] {
		return
	}
	node := c.run.Steps[c.step].Node
	// where names the value in messages; built only for a finding.
	where := func() string {
		switch {
		case call != "":
			return fmt.Sprintf("LLM call %q", call)
		case field == "":
			return "output"
		}
		return fmt.Sprintf("%q", field)
	}
	details := func(extra ...any) map[string]any {
		d := map[string]any{"field": field, "path": path}
		if call != "" {
			d["call"] = call
		}
		for i := 0; i+1 < len(extra); i += 2 {
			d[extra[i].(string)] = extra[i+1]
		}
		return d
	}

	if isBlank(text) {
		c.emit(ruleWhitespace, fmt.Sprintf("%s %s holds only whitespace", node, where()), details("length", len(text)))
		return
	}
	trimmed := strings.TrimSpace(text)
	if isNullLike(trimmed) {
		c.emit(ruleNullLike, fmt.Sprintf("%s %s is %q, a null-like value", node, where(), clipRunes(trimmed, 20)), details("value", strings.ToLower(trimmed)))
		return
	}
	head := clipBytes(trimmed, semScanBytes)
	if name, match, ok := findPlaceholder(head); ok {
		c.emit(rulePlaceholder, fmt.Sprintf("%s %s contains the placeholder %q", node, where(), clipRunes(match, 60)),
			details("pattern", name, "match", clipRunes(match, 60)))
	}
	if phrase, ok := findRefusal(head); ok {
		c.emit(ruleRefusal, fmt.Sprintf("%s %s is a refusal (%q)", node, where(), phrase), details("phrase", phrase))
	}
	if reason, ok := brokenJSON(trimmed); ok && !(output && path == "$" && c.rootMalformed) {
		c.emit(ruleCorruptedJSON, fmt.Sprintf("%s %s looks like JSON but does not parse: %s", node, where(), reason), details("reason", reason))
	}
	if looksTruncated(text) {
		if k, ok := c.emit(ruleTruncated, fmt.Sprintf("%s %s seems cut off mid-word", node, where()),
			details("ending", clipTail(trimmed, 40), "heuristic", true)); ok && c.cfg.Rules[ruleTruncated].Severity == "" {
			c.out[k].Severity = SeverityInfo
		}
	}
	if unit, n, cover, ok := c.filler.repeatedFiller(head, c.minRepeats); ok {
		c.emit(ruleRepeatedFiller, fmt.Sprintf("%s %s repeats %q %d times", node, where(), clipRunes(unit, 60), n),
			details("repeated", clipRunes(unit, 120), "repeats", n, "coverage", roundTo(cover, 2)))
	}
	if c.sigs != nil {
		c.sigs.each(head, func(sig *compiledSignature) {
			msg := sig.Message
			if msg == "" {
				msg = "matched signature " + strconv.Quote(sig.ID)
			}
			if k, ok := c.emit(ruleSignatureMatch, fmt.Sprintf("%s %s: %s", node, where(), msg),
				details("signature", sig.ID, "match", sig.Match)); ok && sig.Severity != "" {
				c.out[k].Severity = sig.Severity
			}
		})
	}
}

// finishReason reports an LLM that stopped on its token limit, when the
// mapping exposes the finish reason (step metadata or an LLM call's JSON
// result).
func (c *semanticCheck) finishReason(s *pipeline.Step, fresh map[string]any) {
	path, reason := findFinishReason(s.Metadata, "metadata", 0)
	if reason == "" && s.HasOutput {
		// GenAI output messages carry finish_reason; only fields this step
		// changed count, so an accumulated message history is not re-reported.
		if _, isMap := s.Output.(map[string]any); isMap {
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
			path, reason = findFinishReason(v, fmt.Sprintf("calls[%d].result", j), 0)
		}
	}
	if reason == "" {
		return
	}
	c.emit(ruleTruncated, fmt.Sprintf("%s: the LLM stopped at its token limit (finish reason %q), so its output is cut short", s.Node, reason),
		map[string]any{"field": "", "path": path, "finish_reason": reason})
}

func findFinishReason(v any, path string, depth int) (string, string) {
	if depth > 6 {
		return "", ""
	}
	if list, ok := v.([]any); ok {
		for i, e := range list {
			if i >= 16 {
				break
			}
			if p, r := findFinishReason(e, path+"["+strconv.Itoa(i)+"]", depth+1); r != "" {
				return p, r
			}
		}
		return "", ""
	}
	m, ok := v.(map[string]any)
	if !ok {
		return "", ""
	}
	for _, k := range keysSorted(m) {
		lk := strings.ToLower(k)
		p := path + pathKey(k)
		if strings.Contains(lk, "finish_reason") || strings.Contains(lk, "stop_reason") {
			if r := truncatingReason(m[k]); r != "" {
				return p, r
			}
			continue
		}
		if p2, r := findFinishReason(m[k], p, depth+1); r != "" {
			return p2, r
		}
	}
	return "", ""
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

// isBlank: non-empty and only whitespace (zero-width spaces included).
func isBlank(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) && r != '\u200b' && r != '\u200c' && r != '\u200d' && r != '\ufeff' {
			return false
		}
	}
	return s != ""
}

func isNullLike(trimmed string) bool {
	if len(trimmed) > 16 {
		return false
	}
	switch strings.ToLower(trimmed) {
	case "n/a", "null", "none", "undefined", "nil", "nan", "[object object]":
		return true
	}
	return false
}

// placeholderPatterns: each regex runs only when its literal occurs in the
// lowercased text, which keeps the common case (no placeholder) to one
// pass over the text (placeholderLiterals).
var placeholderPatterns = []struct {
	name, literal string
	re            *regexp.Regexp
}{
	{"PLACEHOLDER", "placeholder", regexp.MustCompile(`\bPLACEHOLDER\b|(?i:[<\[{]\s*placeholder\s*[>\]}])`)},
	{"<YOUR_...>", "your", regexp.MustCompile(`(?i:<\s*your[ _-][^<>\n]{1,60}>)|\bYOUR_[A-Z0-9_]{2,}\b`)},
	{"{{var}}", "{{", regexp.MustCompile(`\{\{\s*[A-Za-z_][A-Za-z0-9_.\- ]{0,60}\}\}`)},
	{"<<VAR>>", "<<", regexp.MustCompile(`<<[A-Za-z_][A-Za-z0-9_]{0,60}>>`)},
	{"TODO", "todo", regexp.MustCompile(`\bTODO\b`)},
	{"TBD", "tbd", regexp.MustCompile(`\bTBD\b`)},
	{"lorem ipsum", "lorem ipsum", regexp.MustCompile(`(?i)\blorem ipsum\b`)},
	{"[INSERT ...]", "insert", regexp.MustCompile(`(?i)\[\s*insert\b[^\]\n]{0,80}\]`)},
	{"XXX", "xxx", regexp.MustCompile(`\bXXX+\b`)},
}

// findPlaceholder returns the first placeholder pattern that matches s.
// TODO and TBD count only in capitals as standalone tokens, so "a todo list
// app" in prose is not a placeholder.
func findPlaceholder(s string) (name, match string, ok bool) {
	found := placeholderLiterals(s)
	for i, p := range placeholderPatterns {
		if found&(1<<i) == 0 {
			continue
		}
		if m := p.re.FindString(s); m != "" {
			return p.name, m, true
		}
	}
	return "", "", false
}

// placeholderAt[n][b]: the patterns whose literal can have byte b at
// offset n (0 or 1) of a match, counting upper case and U+0130 (which
// lowercases to 'i' and is the bytes c4 b0) as strings.ToLower would. A
// position must pass both tables before its literals are compared.
var placeholderAt = func() (t [2][256]uint16) {
	for i, p := range placeholderPatterns {
		for n := range 2 {
			c := p.literal[n]
			t[n][c] |= 1 << i
			if 'a' <= c && c <= 'z' {
				t[n][c-'a'+'A'] |= 1 << i
			}
			if c == 'i' {
				t[n][0xc4] |= 1 << i
				if n == 0 {
					t[1][0xb0] |= 1 << i
				}
			}
		}
	}
	return t
}()

// placeholderLiterals returns a bit per placeholderPatterns entry whose
// literal occurs in strings.ToLower(s), in one pass over s instead of
// lowering it and searching it once per literal. The literals are ASCII
// without 'k', and the only non-ASCII rune that lowercases to an ASCII
// letter other than 'k' is U+0130 (to 'i'), so comparing ASCII letters
// case-blind and U+0130 as 'i' finds what the lowered text holds.
func placeholderLiterals(s string) (found uint16) {
	for i := 0; i+1 < len(s); i++ { // every literal has 2+ bytes
		for cand := placeholderAt[0][s[i]] & placeholderAt[1][s[i+1]] &^ found; cand != 0; cand &= cand - 1 {
			k := bits.TrailingZeros16(cand)
			if lowerHasPrefix(s[i:], placeholderPatterns[k].literal) {
				found |= 1 << k
			}
		}
	}
	return found
}

// lowerHasPrefix reports whether strings.ToLower(s) starts with lit, a
// lowercase ASCII string without 'k'.
func lowerHasPrefix(s, lit string) bool {
	j := 0
	for k := 0; k < len(lit); k++ {
		if j >= len(s) {
			return false
		}
		c := s[j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch {
		case c == lit[k]:
			j++
		case lit[k] == 'i' && strings.HasPrefix(s[j:], "\u0130"):
			j += len("\u0130")
		default:
			return false
		}
	}
	return true
}

// prefixRunes returns the first n runes of s (an invalid byte counts as one).
func prefixRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

var quoteFolder = strings.NewReplacer("\u2019", "'", "\u2018", "'")

var refusalRe = regexp.MustCompile(`(?i)\b(?:as an ai(?: language model| assistant| model)?\s*,|(?:i'm|i am) sorry,? but i (?:cannot|can't|can not|am unable|am not able|won't)|i (?:cannot|can't|can not) (?:help|assist|comply|fulfill|provide|answer|do that|support)|i(?: am|'m) (?:unable|not able) to|i must decline|i won't be able to help)`)

// findRefusal: a refusal phrase at the start of a text, or anywhere in a
// short one (where it dominates). A long answer that mentions such a phrase
// in passing is not a refusal.
func findRefusal(s string) (string, bool) {
	// The first 1024 bytes of the lowered text: lowering the first 1024
	// runes gives at least that many (every rune lowers to 1+ bytes).
	lower := clipBytes(strings.ToLower(prefixRunes(s, 1024)), 1024)
	if !strings.Contains(lower, "as an ai") && !strings.Contains(lower, "sorry") && !strings.Contains(lower, "i can") &&
		!strings.Contains(lower, "i am") && !strings.Contains(lower, "i\u2019m") && !strings.Contains(lower, "i'm") &&
		!strings.Contains(lower, "i must") && !strings.Contains(lower, "i won") {
		return "", false
	}
	head := quoteFolder.Replace(clipBytes(s, 1024))
	loc := refusalRe.FindStringIndex(head)
	if loc == nil {
		return "", false
	}
	if loc[0] > 80 && utf8.RuneCountInString(s) > 300 {
		return "", false
	}
	return strings.TrimRight(head[loc[0]:loc[1]], " ,"), true
}

// brokenJSON reports a string that is clearly meant as JSON (an object or
// array opening, possibly in a ```json fence) but does not parse. JSON
// Lines, where every line parses, are fine.
func brokenJSON(t string) (string, bool) {
	if strings.HasPrefix(t, "```json") && strings.HasSuffix(t, "```") && len(t) >= 10 {
		t = strings.TrimSpace(t[7 : len(t)-3])
	}
	if len(t) < 2 || len(t) > semMaxJSONBytes || !meantAsJSON(t) {
		return "", false
	}
	if json.Valid([]byte(t)) {
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

// looksTruncated is a conservative heuristic for prose cut off by a token
// limit: a long text with sentences, whose last line is prose (not a list,
// table, heading or code) and which ends mid-word on a lowercase letter.
func looksTruncated(s string) bool {
	// The O(1) test first: most texts end in punctuation.
	if r, _ := utf8.DecodeLastRuneInString(s); !unicode.IsLower(r) {
		return false // ends in punctuation, whitespace, a digit, a capital...
	}
	if utf8.RuneCountInString(s) < semMinTruncateRune || strings.Contains(s, "```") {
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

// fillerScratch holds the buffers of repeatedFiller so that they are
// reused from text to text instead of allocated per text. They are bounded
// by semMaxFillerWords (under 2 MB).
type fillerScratch struct {
	words   []fillerWord
	ends    []int
	prev    []int32      // per 4-gram: the previous position of the same 4-gram, -1 if none
	slots   []fillerSlot // open-addressing table: 4-gram hash -> latest position
	period  [fillerMaxPeriod + 1]bool
	sents   []fillerSentence
	hashes  []uint64
	periods []int
}

var fillerPool = sync.Pool{New: func() any { return new(fillerScratch) }}

type fillerSlot struct {
	gram uint64
	pos  int32 // latest position + 1; 0 marks an empty slot
}

const (
	fillerMinPeriod = 4  // a repeated phrase has at least 4 words
	fillerMaxPeriod = 64 // and at most 64
)

// repeatedFiller finds degenerate repetition: the same phrase of 4+ words
// repeated back to back, or the same sentence, at least minRepeats times,
// covering at least half of the text. Words are compared by hash.
//
// Healthy prose, the common case, costs one pass over the text and one over
// its words: a period p can only qualify with a run of at least p >= 4
// words equal to the words p later, so some 4-gram must recur exactly p
// words later, and only periods where one does are scanned. Likewise
// sentences are only grouped when some sentence occurs often enough to
// cover half of the text.
func (sc *fillerScratch) repeatedFiller(s string, minRepeats int) (unit string, repeats int, coverage float64, ok bool) {
	words, sentenceEnds := sc.fillerWords(s)
	n := len(words)
	text := func(a, b int) string { return s[words[a].start:words[b-1].end] }
	if n >= fillerMinPeriod*minRepeats {
		for _, p := range sc.candidatePeriods(min(fillerMaxPeriod, n/minRepeats)) {
			covered, bestRun, bestStart := 0, 0, 0
			run := 0
			for j := 0; j <= n-p; j++ {
				if j < n-p && words[j].hash == words[j+p].hash {
					run++
					continue
				}
				if run >= (minRepeats-1)*p {
					covered += run + p
					if run > bestRun {
						bestRun, bestStart = run, j-run
					}
				}
				run = 0
			}
			if cov := float64(covered) / float64(n); bestRun > 0 && cov >= semFillerCoverage && cov > coverage {
				unit, repeats, coverage, ok = text(bestStart, bestStart+p), bestRun/p+1, cov, true
			}
		}
	}
	if ok || len(sentenceEnds) < minRepeats || !sc.sentenceMayCover(minRepeats) {
		return
	}
	// Identical sentences (same words), not necessarily adjacent.
	type sentence struct{ first, end, count, chars int }
	seen := map[uint64]*sentence{}
	total, a := 0, 0
	var best *sentence
	for _, b := range sentenceEnds {
		chars := words[b-1].end - words[a].start
		total += chars
		if chars >= 8 {
			h := sentenceHash(words[a:b])
			st := seen[h]
			if st == nil {
				st = &sentence{first: a, end: b, chars: chars}
				seen[h] = st
			}
			st.count++
			if best == nil || st.count*st.chars > best.count*best.chars {
				best = st
			}
		}
		a = b
	}
	if best == nil || best.count < minRepeats {
		return
	}
	if cov := float64(best.count*best.chars) / float64(max(total, 1)); cov >= semFillerCoverage {
		return strings.ToLower(text(best.first, best.end)), best.count, cov, true
	}
	return
}

// candidatePeriods returns, in ascending order, the periods p in
// [4, maxP] at which some 4-gram of sc.words recurs p words later.
func (sc *fillerScratch) candidatePeriods(maxP int) []int {
	words := sc.words
	grams := len(words) - fillerMinPeriod + 1
	sc.periods = sc.periods[:0]
	if grams <= fillerMinPeriod || maxP < fillerMinPeriod {
		return nil
	}
	size := 1
	for size < 2*grams {
		size <<= 1
	}
	shift := 64 - bits.TrailingZeros(uint(size))
	if cap(sc.slots) < size {
		sc.slots = make([]fillerSlot, size)
	}
	slots := sc.slots[:size]
	clear(slots)
	if cap(sc.prev) < grams {
		sc.prev = make([]int32, grams)
	}
	prev := sc.prev[:grams]
	clear(sc.period[:])
	want := maxP - fillerMinPeriod + 1
	for j := range grams {
		g := uint64(14695981039346656037)
		for _, w := range words[j : j+fillerMinPeriod] {
			g = (g ^ w.hash) * 1099511628211
		}
		i := (g * 0x9e3779b97f4a7c15) >> shift
		for slots[i].pos != 0 && slots[i].gram != g {
			i = (i + 1) & uint64(size-1)
		}
		prev[j] = slots[i].pos - 1
		slots[i] = fillerSlot{gram: g, pos: int32(j + 1)}
		for k := int(prev[j]); k >= 0 && j-k <= maxP; k = int(prev[k]) {
			if d := j - k; d >= fillerMinPeriod && !sc.period[d] {
				sc.period[d] = true
				if want--; want == 0 {
					break // every period is a candidate: nothing more to learn
				}
			}
		}
		if want == 0 {
			break
		}
	}
	for p := fillerMinPeriod; p <= maxP; p++ {
		if sc.period[p] {
			sc.periods = append(sc.periods, p)
		}
	}
	return sc.periods
}

// sentenceMayCover reports whether some sentence of 8+ characters occurs
// at least minRepeats times and, counted at the length of its first
// occurrence as the sentence rule counts it, covers half of the text: the
// rule cannot fire otherwise.
func (sc *fillerScratch) sentenceMayCover(minRepeats int) bool {
	sc.sents, sc.hashes = sc.sents[:0], sc.hashes[:0]
	total, a := 0, 0
	for _, b := range sc.ends {
		chars := sc.words[b-1].end - sc.words[a].start
		total += chars
		if chars >= 8 {
			h := sentenceHash(sc.words[a:b])
			sc.sents = append(sc.sents, fillerSentence{hash: h, chars: chars})
			sc.hashes = append(sc.hashes, h)
		}
		a = b
	}
	if len(sc.hashes) < minRepeats {
		return false
	}
	slices.Sort(sc.hashes)
	type group struct {
		hash  uint64
		count int
	}
	var recur []group // sentences that occur minRepeats+ times
	for i := 0; i < len(sc.hashes); {
		k := i + 1
		for k < len(sc.hashes) && sc.hashes[k] == sc.hashes[i] {
			k++
		}
		if k-i >= minRepeats {
			recur = append(recur, group{hash: sc.hashes[i], count: k - i})
		}
		i = k
	}
	for _, st := range sc.sents { // in text order: the first occurrence sets the length
		for i, r := range recur {
			if r.hash == st.hash {
				if float64(r.count*st.chars)/float64(max(total, 1)) >= semFillerCoverage {
					return true
				}
				recur = slices.Delete(recur, i, i+1)
				break
			}
		}
		if len(recur) == 0 {
			return false
		}
	}
	return false
}

type fillerSentence struct {
	hash  uint64
	chars int
}

func sentenceHash(words []fillerWord) uint64 {
	h := uint64(14695981039346656037)
	for _, w := range words {
		h = (h ^ w.hash) * 1099511628211
	}
	return h
}

// fillerASCII: the lowercase of each ASCII word byte (letter, digit,
// apostrophe), 0 for the others.
var fillerASCII = func() (t [utf8.RuneSelf]byte) {
	for c := range byte(utf8.RuneSelf) {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '\'':
			t[c] = c
		case 'A' <= c && c <= 'Z':
			t[c] = c + 'a' - 'A'
		}
	}
	return t
}()

type fillerWord struct {
	hash       uint64 // FNV-1a of the lowercased word
	start, end int    // byte offsets in the text
}

// fillerWords splits s into words (letters, digits, apostrophes) and
// returns them with the word index that ends each sentence. The slices
// are sc's, valid until the next call.
func (sc *fillerScratch) fillerWords(s string) (words []fillerWord, sentenceEnds []int) {
	words, sentenceEnds = sc.words[:0], sc.ends[:0]
	inWord := false
	var h uint64
	start := 0
	for i := 0; i < len(s); {
		// ASCII, nearly all of LLM prose, without the unicode tables; the
		// hash is the same as for the rune path (ToLower of A-Z is +32).
		r, size := rune(s[i]), 1
		var isWord bool
		if r < utf8.RuneSelf {
			if l := fillerASCII[r]; l != 0 {
				isWord, r = true, rune(l)
			}
		} else {
			r, size = utf8.DecodeRuneInString(s[i:])
			if isWord = unicode.IsLetter(r) || unicode.IsDigit(r); isWord {
				r = unicode.ToLower(r)
			}
		}
		if isWord {
			if !inWord {
				inWord, h, start = true, 14695981039346656037, i
			}
			h = (h ^ uint64(r)) * 1099511628211
			i += size
			continue
		}
		if inWord {
			words = append(words, fillerWord{hash: h, start: start, end: i})
			inWord = false
			if len(words) >= semMaxFillerWords {
				break
			}
		}
		if r == '.' || r == '!' || r == '?' || r == '\n' {
			if n := len(words); n > 0 && (len(sentenceEnds) == 0 || sentenceEnds[len(sentenceEnds)-1] < n) {
				sentenceEnds = append(sentenceEnds, n)
			}
		}
		i += size
	}
	if inWord && len(words) < semMaxFillerWords {
		words = append(words, fillerWord{hash: h, start: start, end: len(s)})
	}
	if n := len(words); n > 0 && (len(sentenceEnds) == 0 || sentenceEnds[len(sentenceEnds)-1] < n) {
		sentenceEnds = append(sentenceEnds, n)
	}
	sc.words, sc.ends = words, sentenceEnds
	return words, sentenceEnds
}

// parseJSON decodes text that starts like a JSON value.
func parseJSON(t string) (any, bool) {
	t = strings.TrimSpace(t)
	if t == "" || len(t) > semMaxJSONBytes {
		return nil, false
	}
	var v any
	if err := json.Unmarshal([]byte(t), &v); err != nil {
		return nil, false
	}
	return v, true
}

func roundTo(f float64, places int) float64 {
	p := 1.0
	for range places {
		p *= 10
	}
	return float64(int(f*p+0.5)) / p
}

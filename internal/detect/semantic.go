package detect

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/agentrun"
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
	for _, r := range []Rule{
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
	} {
		register(r, nil) // the layer still runs its rules itself
	}
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
func Semantic(run *agentrun.Run, cfg *Config) []Finding {
	if run == nil || len(run.Steps) == 0 {
		return nil
	}
	return semanticOver(run, cfg, newStateView(run))
}

// semanticOver is Semantic over v, the state view of run.
func semanticOver(run *agentrun.Run, cfg *Config, v *stateView) []Finding {
	if cfg == nil {
		cfg = &Config{}
	}
	c := &semanticCheck{run: run, cfg: cfg, sigs: signaturesFor(cfg.Signatures)}
	c.minRepeats = max(2, int(c.cfg.threshold(ruleRepeatedFiller)))
	c.filler = fillerPool.Get().(*fillerScratch)
	defer fillerPool.Put(c.filler)
	for i := range run.Steps {
		if !isPseudoNode(run.Steps[i].Node) {
			c.checkStep(i, v.before[i])
		}
	}
	return c.out
}

type semanticCheck struct {
	run        *agentrun.Run
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
				for _, k := range sortedKeys(out) {
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
		for _, k := range sortedKeys(x) {
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
func (c *semanticCheck) finishReason(s *agentrun.Step, fresh map[string]any) {
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
	cues, sure := placeholderCues(s)
	if cues == 0 {
		return "", "", false // the common case: no pattern can match
	}
	found := sure
	if want := cues &^ sure; want != 0 {
		found |= placeholderLiterals(s, want)
	}
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

// placeholderLiterals returns a bit per placeholderPatterns entry of want
// whose literal occurs in strings.ToLower(s), in one pass over s instead of
// lowering it and searching it once per literal. The literals are ASCII
// without 'k', and the only non-ASCII rune that lowercases to an ASCII
// letter other than 'k' is U+0130 (to 'i'), so comparing ASCII letters
// case-blind and U+0130 as 'i' finds what the lowered text holds.
func placeholderLiterals(s string, want uint16) (found uint16) {
	for i := 0; i+1 < len(s) && found != want; i++ { // every literal has 2+ bytes
		for cand := placeholderAt[0][s[i]] & placeholderAt[1][s[i+1]] & want &^ found; cand != 0; cand &= cand - 1 {
			k := bits.TrailingZeros16(cand)
			if lowerHasPrefix(s[i:], placeholderPatterns[k].literal) {
				found |= 1 << k
			}
		}
	}
	return found
}

// The placeholderPatterns entries by index, for placeholderCueAt.
const (
	phPlaceholder = 1 << iota
	phYour
	phBraces
	phAngles
	phTODO
	phTBD
	phLorem
	phInsert
	phXXX
)

// placeholderCues returns the patterns whose regexp can match s: every
// match holds a cue that placeholderCueAt finds (see there), so a pattern
// without one is skipped without its literal scan. sure marks the
// patterns whose cue is an occurrence of the literal itself (e.g. "TODO"
// is "todo" lowered). Prose has none of the cues nearly always. All but
// one hold a byte rare in prose, found with strings.IndexByte (vector
// instructions); the last, " ip" in any case, is tested 8 positions at a
// time.
func placeholderCues(s string) (cues, sure uint16) {
	for _, c := range [...]byte{'<', '[', '{', '_', 'D', 'X'} {
		for i := 0; ; {
			k := strings.IndexByte(s[i:], c)
			if k < 0 {
				break
			}
			cs, ss := placeholderCueAt(s, i+k)
			cues, sure = cues|cs, sure|ss
			i += k + 1
		}
	}
	const fold = 0x2020202020202020 // lowercases the ASCII letters of 8 bytes
	i := 0
	for ; i+10 <= len(s) && cues&phLorem == 0; i += 8 {
		a, b, c := load64(s[i:]), load64(s[i+1:]), load64(s[i+2:])
		if swarEq(a, ' ')&swarEq(b|fold, 'i')&swarEq(c|fold, 'p') != 0 {
			cues |= phLorem
		}
	}
	for ; i < len(s) && cues&phLorem == 0; i++ { // the last 9 bytes or fewer
		if asciiHasPrefixFold(s[i:], " ip") {
			cues |= phLorem
		}
	}
	return cues | sure, sure
}

// placeholderCueAt returns the cues at s[p], one of the bytes that
// placeholderCues looks for. Each regexp of placeholderPatterns matches
// only text that holds its cues: "PLACEHOLDER" or an opening '<', '[' or
// '{' (its case-blind form is bracketed); "YOUR_" or '<'; "{{"; "<<";
// "TODO"; "TBD"; " ip" in any case (in "lorem ipsum": (?i) folds i and p
// only with their ASCII capitals); '['; "XXX".
func placeholderCueAt(s string, p int) (cues, sure uint16) {
	switch s[p] {
	case '<':
		cues |= phPlaceholder | phYour
		if strings.HasPrefix(s[p:], "<<") {
			sure |= phAngles
		}
	case '[':
		cues |= phPlaceholder | phInsert
	case '{':
		cues |= phPlaceholder
		if strings.HasPrefix(s[p:], "{{") {
			sure |= phBraces
		}
	case '_':
		if p >= 4 && s[p-4:p+1] == "YOUR_" {
			sure |= phYour
		}
	case 'D': // the third byte of TODO and TBD, the ninth of PLACEHOLDER
		if p >= 2 && strings.HasPrefix(s[p-2:], "TODO") {
			sure |= phTODO
		}
		if p >= 2 && strings.HasPrefix(s[p-2:], "TBD") {
			sure |= phTBD
		}
		if p >= 8 && strings.HasPrefix(s[p-8:], "PLACEHOLDER") {
			sure |= phPlaceholder
		}
	case 'X':
		if strings.HasPrefix(s[p:], "XXX") {
			sure |= phXXX
		}
	}
	return cues | sure, sure
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

var quoteFolder = strings.NewReplacer("\u2019", "'", "\u2018", "'")

var refusalRe = regexp.MustCompile(`(?i)\b(?:as an ai(?: language model| assistant| model)?\s*,|(?:i'm|i am) sorry,? but i (?:cannot|can't|can not|am unable|am not able|won't)|i (?:cannot|can't|can not) (?:help|assist|comply|fulfill|provide|answer|do that|support)|i(?: am|'m) (?:unable|not able) to|i must decline|i won't be able to help)`)

// findRefusal: a refusal phrase at the start of a text, or anywhere in a
// short one (where it dominates). A long answer that mentions such a phrase
// in passing is not a refusal.
func findRefusal(s string) (string, bool) {
	if !refusalGate(s) {
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

// refusalGate reports whether the first 1024 bytes of the lowered text
// hold one of the phrases every refusal starts with, the cheap test in
// front of the regexp.
func refusalGate(s string) bool {
	head := s[:min(len(s), 1024)]
	if asciiPrefix(head) == len(head) {
		// ASCII lowers byte for byte: one pass over the head, no copy.
		// Each phrase's first two bytes pass refusalPair; most positions
		// fail it, a branch predicted right.
		for i := 0; i+1 < len(head); i++ {
			if refusalPair[0][head[i]]&refusalPair[1][head[i+1]] == 0 {
				continue
			}
			switch head[i] | 0x20 { // 'A'|0x20 == 'a': only letters pass
			case 'a':
				if asciiHasPrefixFold(head[i:], "as an ai") {
					return true
				}
			case 's':
				if asciiHasPrefixFold(head[i:], "sorry") {
					return true
				}
			case 'i':
				if next := head[i+1]; next != ' ' && next != '\'' {
					continue
				}
				for _, lit := range [...]string{"i can", "i am", "i'm", "i must", "i won"} {
					if asciiHasPrefixFold(head[i:], lit) {
						return true
					}
				}
			}
		}
		return false
	}
	// The first 1024 bytes of the lowered text: lowering the first 1024
	// runes gives at least that many (every rune lowers to 1+ bytes).
	lower := clipBytes(strings.ToLower(prefixRunes(s, 1024)), 1024)
	return strings.Contains(lower, "as an ai") || strings.Contains(lower, "sorry") || strings.Contains(lower, "i can") ||
		strings.Contains(lower, "i am") || strings.Contains(lower, "i\u2019m") || strings.Contains(lower, "i'm") ||
		strings.Contains(lower, "i must") || strings.Contains(lower, "i won")
}

// refusalPair[n][b]: the phrases of refusalGate's ASCII path (bit 0 "as
// an ai", bit 1 "sorry", bit 2 "i " and "i'" for the rest) that can have
// byte b at offset n, in either case.
var refusalPair = func() (t [2][256]uint8) {
	for bit, pair := range []string{"as", "so", "i ", "i'"} {
		bit = min(bit, 2)
		for n := range 2 {
			c := pair[n]
			t[n][c] |= 1 << bit
			if 'a' <= c && c <= 'z' {
				t[n][c-'a'+'A'] |= 1 << bit
			}
		}
	}
	return t
}()

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
	prev    []int32      // per indexed 4-gram: the previous position + 1 of one with its tag, 0 if none
	slots   []fillerSlot // open-addressing table: 4-gram tag -> latest indexed position
	period  [fillerMaxPeriod + 1]bool
	seen    []uint64 // bit set of the indexed 4-grams' hashes, tested before the table
	sents   []fillerSentence
	counts  []fillerCount // open-addressing table: sentence hash -> occurrences
	periods []int
}

var fillerPool = sync.Pool{New: func() any { return new(fillerScratch) }}

type fillerSlot struct {
	tag uint32 // 32 bits of the 4-gram's hash: equal 4-grams, equal tags
	pos int32  // latest position + 1; 0 marks an empty slot
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
		for _, p := range sc.candidatePeriods(min(fillerMaxPeriod, n/minRepeats), (minRepeats-1)*fillerMinPeriod) {
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
// [4, maxP] at which some 4-gram of sc.words recurs p words later (or
// seems to: a superset, as the scan of each period decides).
//
// A period qualifies only with a run of minRun or more words equal to the
// words p later (minRun = (minRepeats-1)*4 at the shortest period), and
// such a run holds at least minRun-3 consecutive 4-gram matches, so one of
// them starts at a multiple of stride = minRun-3. Only the 4-grams there
// are indexed (a table a stride-th of the size, which stays in cache);
// every 4-gram is looked up among them.
func (sc *fillerScratch) candidatePeriods(maxP, minRun int) []int {
	words := sc.words
	grams := len(words) - fillerMinPeriod + 1
	sc.periods = sc.periods[:0]
	if grams <= fillerMinPeriod || maxP < fillerMinPeriod {
		return nil
	}
	stride := max(1, minRun-fillerMinPeriod+1)
	indexed := (grams + stride - 1) / stride
	size, shift := hashTableSize(indexed)
	if cap(sc.slots) < size {
		sc.slots = make([]fillerSlot, size)
	}
	slots := sc.slots[:size]
	clear(slots)
	if cap(sc.prev) < indexed {
		sc.prev = make([]int32, indexed)
	}
	prev := sc.prev[:indexed]
	// Most 4-grams of prose were never indexed: a bit per tag, 8 bits per
	// indexed 4-gram, rules nearly all of them out with one test that a
	// branch predictor gets right, before the probe of the table.
	bitsLog := max(bits.Len(uint(8*indexed-1)), 6)
	if n := 1 << (bitsLog - 6); cap(sc.seen) < n {
		sc.seen = make([]uint64, n)
	}
	seen := sc.seen[:1<<(bitsLog-6)]
	clear(seen)
	bitShift := 32 - bitsLog
	clear(sc.period[:])
	want := maxP - fillerMinPeriod + 1
	for j, next := 0, 0; j < grams; j++ {
		w := words[j : j+fillerMinPeriod]
		g := (w[0].hash + bits.RotateLeft64(w[1].hash, 16) + bits.RotateLeft64(w[2].hash, 32) + bits.RotateLeft64(w[3].hash, 48)) * fillerMul
		tag := uint32(g >> 8)
		bit := tag >> bitShift
		if j != next && seen[bit>>6]&(1<<(bit&63)) == 0 {
			continue // no indexed 4-gram has this tag
		}
		i := g >> shift
		for slots[i].pos != 0 && slots[i].tag != tag {
			i = (i + 1) & uint64(size-1)
		}
		// Earlier indexed 4-grams with this tag, latest first.
		for k := int(slots[i].pos) - 1; k >= 0 && j-k <= maxP; k = int(prev[k/stride]) - 1 {
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
		if j == next { // j is a multiple of stride: index it
			next += stride
			prev[j/stride] = slots[i].pos
			slots[i] = fillerSlot{tag: tag, pos: int32(j + 1)}
			seen[bit>>6] |= 1 << (bit & 63)
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
	sc.sents = sc.sents[:0]
	total, a := 0, 0
	for _, b := range sc.ends {
		chars := sc.words[b-1].end - sc.words[a].start
		total += chars
		if chars >= 8 {
			h := sentenceHash(sc.words[a:b])
			sc.sents = append(sc.sents, fillerSentence{hash: h, chars: chars})
		}
		a = b
	}
	if len(sc.sents) < minRepeats {
		return false
	}
	// Count each sentence hash in an open-addressing table.
	size, shift := hashTableSize(len(sc.sents))
	if cap(sc.counts) < size {
		sc.counts = make([]fillerCount, size)
	}
	counts := sc.counts[:size]
	clear(counts)
	slot := func(h uint64) *fillerCount {
		i := (h * fillerMul) >> shift
		for counts[i].n != 0 && counts[i].hash != h {
			i = (i + 1) & uint64(size-1)
		}
		return &counts[i]
	}
	most := 0
	for _, st := range sc.sents {
		c := slot(st.hash)
		c.hash = st.hash
		c.n++
		most = max(most, c.n)
	}
	if most < minRepeats {
		return false // the common case: no sentence recurs often enough
	}
	for _, st := range sc.sents { // in text order: the first occurrence sets the length
		if c := slot(st.hash); c.n >= minRepeats {
			if float64(c.n*st.chars)/float64(max(total, 1)) >= semFillerCoverage {
				return true
			}
			c.n = -1 // judged at its first occurrence
		}
	}
	return false
}

type fillerCount struct {
	hash uint64
	n    int // occurrences; 0 marks an empty slot, -1 one already judged
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

// fillerByte classifies a byte for fillerWords: the lowercase of an ASCII
// word byte (letter, digit, apostrophe), fillerSep or fillerStop for other
// ASCII (fillerStop ends a sentence), fillerMulti for the bytes of
// multi-byte runes (and invalid UTF-8), which are decoded as runes.
var fillerByte = func() (t [256]byte) {
	for c := range 256 {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '\'':
			t[c] = byte(c)
		case 'A' <= c && c <= 'Z':
			t[c] = byte(c + 'a' - 'A')
		case c == '.', c == '!', c == '?', c == '\n':
			t[c] = fillerStop
		case c >= utf8.RuneSelf:
			t[c] = fillerMulti
		}
	}
	return t
}()

const (
	fillerSep   = 0
	fillerStop  = 1
	fillerMulti = 0x80
)

type fillerWord struct {
	hash       uint64 // fillerHash of the lowercased word
	start, end int    // byte offsets in the text
}

// Word hashes. Words are compared by hash alone, so a hash depends only on
// the runes of the lowercased word, whichever bytes spelled them. A word
// whose lowercase is ASCII (nearly every word of LLM prose, and also e.g.
// "\u212Aing", whose lowercase is "king") is hashed from its bytes packed 8
// to a chunk, so that the common case needs no per-byte hashing; any other
// word is FNV-1a over its lowercased runes.
const fillerMul = 0x9e3779b97f4a7c15

// fillerChunk folds 8 packed lowercase ASCII bytes (the last chunk of a
// word zero-padded) into h.
func fillerChunk(h, chunk uint64) uint64 {
	return bits.RotateLeft64((h^chunk)*fillerMul, 29)
}

// fillerFinish mixes the length into the folded chunks, enough for the
// 4-gram and sentence hashes built from word hashes.
func fillerFinish(h uint64, n int) uint64 {
	h = (h ^ uint64(n)<<56) * fillerMul
	return h ^ h>>29
}

// fillerASCIIHash hashes the ASCII word s[a:e] (letters, digits,
// apostrophes): its chunks are read 8 bytes at a time and lowercased
// together (setting bit 5 lowercases a letter and leaves digits and the
// apostrophe as they are). Words of up to 16 bytes, nearly all, take no
// branch on their length.
func fillerASCIIHash(s string, a, e int) uint64 {
	const lower = 0x2020202020202020
	n := e - a
	if n <= 16 && a+16 <= len(s) {
		c0 := (load64(s[a:]) | lower) & fillerMask(n)
		c1 := (load64(s[a+8:]) | lower) & fillerMask(n-8)
		h := fillerChunk(0, c0)
		if h1 := fillerChunk(h, c1); n > 8 {
			h = h1
		}
		return fillerFinish(h, n)
	}
	var h uint64
	for ; a+8 <= e; a += 8 {
		h = fillerChunk(h, load64(s[a:])|lower)
	}
	if a < e {
		var chunk uint64
		for i := a; i < e; i++ {
			chunk |= uint64(s[i]|0x20) << (8 * (i - a))
		}
		h = fillerChunk(h, chunk)
	}
	return fillerFinish(h, n)
}

// fillerMask keeps the first n bytes of a chunk (none for n <= 0), from a
// table: a word's length is no pattern a branch predictor can learn.
func fillerMask(n int) uint64 {
	return fillerMasks[min(max(n, 0), 8)]
}

var fillerMasks = [9]uint64{0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffff, 0xffffffffffff, 0xffffffffffffff, ^uint64(0)}

// fillerRuneWord hashes the word that starts at s[i] and holds a multi-byte
// rune, and returns it with the word's end.
func fillerRuneWord(s string, i int) (hash uint64, end int) {
	fnv := uint64(14695981039346656037)
	h, chunk, n := uint64(0), uint64(0), 0
	ascii := true // every lowercased rune so far is ASCII
	for i < len(s) {
		r, size := rune(s[i]), 1
		if c := fillerByte[r]; c != fillerMulti {
			if c <= fillerStop {
				break
			}
			r = rune(c)
		} else {
			r, size = utf8.DecodeRuneInString(s[i:])
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				break
			}
			r = unicode.ToLower(r)
		}
		fnv = (fnv ^ uint64(r)) * 1099511628211
		if ascii = ascii && r < utf8.RuneSelf; ascii {
			chunk |= uint64(r) << (8 * (n & 7))
			if n++; n&7 == 0 {
				h, chunk = fillerChunk(h, chunk), 0
			}
		}
		i += size
	}
	if !ascii {
		return fnv, i
	}
	if n&7 != 0 {
		h = fillerChunk(h, chunk)
	}
	return fillerFinish(h, n), i
}

// fillerWords splits s into words (letters, digits, apostrophes) and
// returns them with the word index that ends each sentence. The slices
// are sc's, valid until the next call.
//
// ASCII stretches, all of most texts, go 64 bytes at a time: bit masks of
// the word bytes and sentence stops give every word's bounds without a
// branch per byte. A multi-byte rune and the word around it go rune by rune.
func (sc *fillerScratch) fillerWords(s string) (words []fillerWord, sentenceEnds []int) {
	sc.words, sc.ends = sc.words[:0], sc.ends[:0]
	for i := 0; i < len(s) && len(sc.words) < semMaxFillerWords; {
		j := i + asciiPrefix(s[i:])
		if j < len(s) {
			for j > i && fillerByte[s[j-1]] > fillerStop {
				j-- // that word may go on with a multi-byte letter
			}
		}
		sc.asciiWords(s, i, j)
		if i = j; i == len(s) || len(sc.words) >= semMaxFillerWords {
			break
		}
		// One word with a multi-byte rune, or one separator.
		c := fillerByte[s[i]]
		size := 1
		if c == fillerMulti {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				c = fillerSep
			}
		}
		switch c {
		case fillerStop:
			sc.endSentence()
			i++
		case fillerSep:
			i += size
		default:
			h, end := fillerRuneWord(s, i)
			sc.words = append(sc.words, fillerWord{hash: h, start: i, end: end})
			i = end
		}
	}
	sc.endSentence()
	return sc.words, sc.ends
}

func (sc *fillerScratch) endSentence() {
	if n := len(sc.words); n > 0 && (len(sc.ends) == 0 || sc.ends[len(sc.ends)-1] < n) {
		sc.ends = append(sc.ends, n)
	}
}

// fillerClass: bit 31 marks an ASCII word byte, bit 63 a sentence stop,
// so that shifting in 32 bytes' classes gives both masks of a block.
var fillerClass = func() (t [256]uint64) {
	for c, b := range fillerByte {
		switch {
		case b == fillerStop:
			t[c] = 1 << 63
		case b > fillerStop && b != fillerMulti:
			t[c] = 1 << 31
		}
	}
	return t
}()

// asciiWords adds the words and sentence ends of s[from:to], ASCII that
// starts and ends outside a word, until the word cap.
func (sc *fillerScratch) asciiWords(s string, from, to int) {
	pending := -1 // start of a word that goes on into the next block
	for b := from; b < to; b += 32 {
		blk := s[b:min(b+32, to)]
		var m uint64
		if len(blk) == 32 {
			for k := 0; k < 32; k += 4 {
				m = m>>4 | fillerClass[blk[k]]>>3 | fillerClass[blk[k+1]]>>2 | fillerClass[blk[k+2]]>>1 | fillerClass[blk[k+3]]
			}
		} else {
			for k := 0; k < len(blk); k++ {
				m = m>>1 | fillerClass[blk[k]]
			}
			m >>= 32 - len(blk) // a short last block: its bytes to the bottom
		}
		wm, stops := m&(1<<32-1), m>>32
		next := uint64(0) // the byte after the block is a word byte
		if e := b + 32; e < to {
			next = fillerClass[s[e]] >> 31 & 1
		}
		prev := uint64(0)
		if pending >= 0 {
			prev = 1
		}
		starts := wm &^ (wm<<1 | prev)
		ends := wm &^ (wm>>1 | next<<31)
		for ev := ends | stops; ev != 0; ev &= ev - 1 {
			k := bits.TrailingZeros64(ev)
			if stops&(1<<k) != 0 {
				sc.endSentence()
				continue
			}
			a := pending
			if a >= 0 {
				pending = -1
			} else {
				a = b + bits.TrailingZeros64(starts)
				starts &= starts - 1
			}
			e := b + k + 1
			sc.words = append(sc.words, fillerWord{hash: fillerASCIIHash(s, a, e), start: a, end: e})
			if len(sc.words) >= semMaxFillerWords {
				return
			}
		}
		if starts != 0 {
			pending = b + bits.TrailingZeros64(starts)
		}
	}
}

// hashTableSize sizes an open-addressing table for n entries: the smallest
// power of two at least 2n (load at most 1/2), and the shift that takes a
// 64-bit hash's top bits as a slot index.
func hashTableSize(n int) (size, shift int) {
	size = 1
	for size < 2*n {
		size <<= 1
	}
	return size, 64 - bits.TrailingZeros(uint(size))
}

package detect

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// The semantic layer inspects the text a step produced: every string value
// of its output (recursively, with its JSON path) and the results of its
// LLM calls. Texts are collected once per run (stepTexts); its rules are
// the files semantic_*.go.

// Bounds that keep the layer linear whatever a step holds.
const (
	maxTextDepth       = 64        // nesting walked inside one value
	maxTextsPerStep    = 5000      // string values inspected per step
	maxFindingsPerRule = 20        // findings per rule and step; the rest are counted
	textScanBytes      = 256 << 10 // pattern scans look at the head of a long text
)

// textClass sorts a text for the rules: a blank text is only the
// whitespace rule's, a null-like one only null_like's.
type textClass uint8

const (
	plainText    textClass = iota
	blankText              // non-empty, only whitespace
	nullLikeText           // n/a, null, none, ...
)

// textValue is one non-empty string a step produced.
type textValue struct {
	text    string
	trimmed string // text without surrounding whitespace (plain and null-like texts)
	head    string // the first textScanBytes of trimmed (plain texts)
	class   textClass
	path    string // JSON path: $.answer, $.sections[0].body, calls[1].result
	field   string // top-level output field, "" for the whole output or an LLM call
	call    string // LLM call name, "" for the output
	output  bool   // the step's own output, not an LLM call's result
}

// stepTexts are the texts of one step.
type stepTexts struct {
	checked bool // false for LangGraph's pseudo-nodes, which are skipped
	texts   []textValue
	// fresh are the top-level output fields this step changed (sorted): a
	// field passed through unchanged from the state before the step is
	// skipped, the step that produced it already carries the finding.
	fresh []string
}

// stepTexts collects the texts of every step, once.
func (a *analysis) stepTexts() []stepTexts {
	if a.textBuf != nil {
		return a.textBuf.steps
	}
	n := len(a.run.Steps)
	b := textPool.Get().(*textBuffers)
	a.textBuf = b
	b.steps = slices.Grow(b.steps[:0], n)[:n]
	w := textWalk{texts: b.texts[:0]}
	fresh := b.fresh[:0]
	// The texts of step i are w.texts[starts[i]:starts[i+1]], its fresh
	// fields fresh[freshStarts[i]:freshStarts[i+1]]: one slice of each for
	// the run, grown a few times rather than every step.
	starts, freshStarts := make([]int, n+1), make([]int, n+1)
	for i := range a.run.Steps {
		starts[i], freshStarts[i] = len(w.texts), len(fresh)
		s := &a.run.Steps[i]
		if isPseudoNode(s.Node) {
			continue
		}
		b.steps[i].checked = true
		w.budget, w.seen = maxTextsPerStep, map[string]bool{}
		if s.HasOutput {
			switch out := s.Output.(type) {
			case map[string]any:
				if !isTruncationMarker(out) {
					before := a.stateView().before[i]
					for _, k := range sortedKeys(out) {
						if old, had := before[k]; had && reflect.DeepEqual(old, out[k]) {
							continue
						}
						fresh = append(fresh, k)
						w.walk(out[k], "$"+pathKey(k), k, "", 1, true)
					}
				}
			default:
				// An output that is the text of JSON too deep to decode is
				// JSON, not prose: semantic.deep_json says so, the text
				// rules skip it.
				if _, isText := s.Output.(string); !isText || !s.OutputTooDeep {
					w.walk(s.Output, "$", "", "", 0, true)
				}
			}
		}
		for j := range s.Calls {
			call := &s.Calls[j]
			if strings.ToLower(call.Kind) != "llm" || strings.TrimSpace(call.Result) == "" {
				continue
			}
			path := "calls[" + strconv.Itoa(j) + "].result"
			if v, ok := parseJSON(call.Result); ok {
				if _, isStr := v.(string); !isStr {
					w.walk(v, path, "", call.Name, 0, false)
					continue
				}
			}
			w.walk(call.Result, path, "", call.Name, 0, false)
		}
	}
	starts[n], freshStarts[n] = len(w.texts), len(fresh)
	b.texts, b.fresh = w.texts, fresh
	for i := range b.steps {
		b.steps[i].texts = w.texts[starts[i]:starts[i+1]:starts[i+1]]
		b.steps[i].fresh = fresh[freshStarts[i]:freshStarts[i+1]:freshStarts[i+1]]
	}
	return b.steps
}

// textBuffers hold what stepTexts collects. They come from textPool and are
// used from run to run rather than grown anew for each.
type textBuffers struct {
	steps []stepTexts
	texts []textValue
	fresh []string
}

var textPool = sync.Pool{New: func() any { return new(textBuffers) }}

// releaseTexts returns the texts' buffers, cleared so that they keep
// nothing of the run.
func (a *analysis) releaseTexts() {
	if b := a.textBuf; b != nil {
		clear(b.steps)
		clear(b.texts)
		clear(b.fresh)
		textPool.Put(b)
		a.textBuf = nil
	}
}

// textWalk collects the strings of one step's values.
type textWalk struct {
	texts  []textValue
	budget int
	// seen holds the output texts (their scanned head), so an LLM result
	// that became the output is checked once.
	seen map[string]bool
}

// walk visits string values; output marks the step's own output (as opposed
// to an LLM call result).
func (w *textWalk) walk(v any, path, field, call string, depth int, output bool) {
	if depth > maxTextDepth || w.budget <= 0 {
		return
	}
	switch x := v.(type) {
	case string:
		w.budget--
		w.add(x, path, field, call, output)
	case map[string]any:
		for _, k := range sortedKeys(x) {
			f := field
			if f == "" && call == "" {
				f = k
			}
			w.walk(x[k], path+pathKey(k), f, call, depth+1, output)
		}
	case []any:
		for i, e := range x {
			w.walk(e, path+"["+strconv.Itoa(i)+"]", field, call, depth+1, output)
		}
	}
}

func (w *textWalk) add(text, path, field, call string, output bool) {
	if text == "" {
		return // empty values are the structural layer's
	}
	key := clipBytes(text, textScanBytes)
	if output {
		w.seen[key] = true
	} else if w.seen[key] {
		return
	}
	t := textValue{text: text, path: path, field: field, call: call, output: output}
	switch {
	case isBlank(text):
		t.class = blankText
	case isNullLike(strings.TrimSpace(text)):
		t.class, t.trimmed = nullLikeText, strings.TrimSpace(text)
	default:
		t.trimmed = strings.TrimSpace(text)
		t.head = clipBytes(t.trimmed, textScanBytes)
	}
	w.texts = append(w.texts, t)
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

// where names the text in messages.
func (t *textValue) where() string {
	switch {
	case t.call != "":
		return "LLM call " + strconv.Quote(t.call)
	case t.field == "":
		return "output"
	}
	return strconv.Quote(t.field)
}

// details are a finding's details about the text, plus key/value pairs.
func (t *textValue) details(extra ...any) map[string]any {
	d := map[string]any{"field": t.field, "path": t.path}
	if t.call != "" {
		d["call"] = t.call
	}
	for i := 0; i+1 < len(extra); i += 2 {
		d[extra[i].(string)] = extra[i+1]
	}
	return d
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

// eachText calls fn with every text of a class, step by step, while
// a.emitText reports findings of rule on the step.
func (a *analysis) eachText(rule string, class textClass, fn func(node string, t *textValue)) {
	for i, st := range a.stepTexts() {
		a.startTexts(rule, i)
		for k := range st.texts {
			if t := &st.texts[k]; t.class == class {
				fn(a.run.Steps[i].Node, t)
			}
		}
		a.doneTexts()
	}
}

// textFindings counts the findings of one rule on one step: at most
// maxFindingsPerRule are emitted, the last of them records how many more
// there were.
type textFindings struct {
	rule    string
	step, n int
	last    int
}

// startTexts starts counting the findings of rule on step i.
func (a *analysis) startTexts(rule string, i int) {
	a.textCount = textFindings{rule: rule, step: i}
}

// emitText emits a finding of the rule on the step, unless over the cap,
// and returns its index in a.out.
func (a *analysis) emitText(msg string, d map[string]any) (int, bool) {
	f := &a.textCount
	f.n++
	if f.n > maxFindingsPerRule {
		return 0, false
	}
	k, ok := a.emit(f.rule, f.step, msg, d)
	if ok {
		f.last = k
	}
	return k, ok
}

// doneTexts records the findings over the cap on the last one emitted.
func (a *analysis) doneTexts() {
	if f := &a.textCount; f.n > maxFindingsPerRule {
		a.out[f.last].Details["more_matches"] = f.n - maxFindingsPerRule
	}
}

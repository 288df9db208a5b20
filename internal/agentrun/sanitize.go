package agentrun

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/arguslabs/argus-otel/internal/jsonscan"
	"github.com/arguslabs/argus-otel/internal/redact"
)

// Redacted replaces the value of every key matched by Options.RedactKeys.
const Redacted = redact.Redacted

// TruncatedKey marks a state replaced because it exceeded MaxFieldBytes.
const TruncatedKey = "_argus_truncated"

// clean returns s as valid UTF-8, replacing bad bytes with U+FFFD. It does
// not allocate for the (usual) valid case.
func clean(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if n >= len(s) {
		return s
	}
	if n <= 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// capText bounds a raw text field (tool arguments, results, stack traces) to
// max bytes, naming how many bytes were cut. max <= 0 means no limit.
func capText(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	kept := cutUTF8(s, max)
	return kept + "…[truncated " + strconv.Itoa(len(s)-len(kept)) + " bytes]"
}

// truncateState replaces a state whose JSON encoding exceeds max bytes by the
// documented marker object; the preview is the start of that encoding. A
// state that is kept comes back with that encoding (JSON(v)); nil when
// none was made.
func truncateState(v any, max int) (any, json.RawMessage) {
	if max <= 0 {
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v, nil
	}
	if len(b) <= max {
		return v, b
	}
	n := max / 2
	if n > 512 {
		n = 512
	}
	return map[string]any{
		TruncatedKey:     true,
		"original_bytes": len(b),
		"preview":        cutUTF8(string(b), n),
	}, nil
}

// redactor is the mapping's use of the one redaction (internal/redact):
// matching and decoded values are redact.Keys'; text adds the mapping's
// own fast scan.
type redactor struct {
	keys *redact.Keys
	// verbatim is verbatimRule(r), made once.
	verbatim jsonscan.Verbatim
}

func newRedactor(keys []string) *redactor {
	r := &redactor{keys: redact.New(keys)}
	r.verbatim = verbatimRule(r)
	return r
}

func (r *redactor) active() bool { return r != nil && r.keys.Active() }

func (r *redactor) match(key string) bool { return r.active() && r.keys.Match(key) }

// value redacts matching keys anywhere inside a decoded JSON value, in place.
// It reports whether anything was replaced.
func (r *redactor) value(v any) bool { return r.active() && r.keys.Value(v) }

// text redacts a raw text field when it is a JSON object or array; other
// text is returned unchanged (there are no keys to match).
func (r *redactor) text(s string) string {
	if !r.active() || !looksLikeJSON(s) {
		return s
	}
	// Most texts have no key to redact: one scan that builds nothing tells
	// (it refuses, among others, every text with a key that matches).
	if _, _, ok := r.verbatim.Scan(s); ok {
		return s
	}
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	if !r.value(v) {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Redacted
	}
	return string(b)
}

// looksLikeJSON reports whether s starts (after blanks) with { or [.
func looksLikeJSON(s string) bool { return redact.LooksLikeJSON(s) }

// mayBeJSONScalar reports whether s could be a JSON scalar (so parsing it is
// worth a try): a number, string, true, false or null.
func mayBeJSONScalar(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return false
	}
	switch c := s[0]; {
	case c == '"' || c == '-' || ('0' <= c && c <= '9'):
		return true
	}
	return s == "true" || s == "false" || s == "null"
}

// maxValueDepth bounds the recursion over nested OTLP map/slice values.
const maxValueDepth = 64

// valueAny converts an attribute value to a JSON-friendly Go value with valid
// UTF-8 strings. Integers become float64, like numbers parsed from JSON, so
// consumers see one numeric type.
func valueAny(v pcommon.Value, depth int) any {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return clean(v.Str())
	case pcommon.ValueTypeInt:
		return float64(v.Int())
	case pcommon.ValueTypeDouble:
		return v.Double()
	case pcommon.ValueTypeBool:
		return v.Bool()
	case pcommon.ValueTypeBytes:
		return base64.StdEncoding.EncodeToString(v.Bytes().AsRaw())
	case pcommon.ValueTypeMap:
		if depth >= maxValueDepth {
			return "…"
		}
		m := make(map[string]any, v.Map().Len())
		v.Map().Range(func(k string, e pcommon.Value) bool {
			m[clean(k)] = valueAny(e, depth+1)
			return true
		})
		return m
	case pcommon.ValueTypeSlice:
		if depth >= maxValueDepth {
			return "…"
		}
		s := v.Slice()
		out := make([]any, 0, s.Len())
		for i := 0; i < s.Len(); i++ {
			out = append(out, valueAny(s.At(i), depth+1))
		}
		return out
	}
	return nil
}

// valueText returns an attribute value as text: strings as they are, other
// values JSON-encoded.
func valueText(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return clean(v.Str())
	case pcommon.ValueTypeEmpty:
		return ""
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		b, err := json.Marshal(valueAny(v, 0))
		if err != nil {
			return ""
		}
		return string(b)
	}
	return clean(v.AsString())
}

package agentrun

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/arguslabs/argus-otel/internal/jsonscan"
)

// Options.RawStates: a state attribute that is JSON text is kept as that
// text when storing it stores the same value as the parse path would
// (decode, redact, size check, json.Marshal). jsonscan.Verbatim decides that
// in one pass over the text, building no Go values; anything it is unsure
// of goes the parse path, which is the processor's and stays the reference.

// rawMaxDepth is the deepest state kept as text. It is below the store's
// MaxJSONDepth (900), past which the store keeps a too-deep value as the
// text of its encoding: deeper states take the parse path so that text is
// the same as before.
const rawMaxDepth = 512

// rawMaxNumber bounds the length of a number kept as text. Longer numbers,
// and exponents beyond ±rawMaxExp, take the parse path (float64): the
// PostgreSQL numeric type inside JSONB refuses exponents beyond ±1000 that
// strconv.ParseFloat silently turns into 0.
const (
	rawMaxNumber = 40
	rawMaxExp    = 300
)

// verbatimRule is what may be kept as text: nesting, numbers and, when
// the redactor is active, no key it matches (those values are replaced).
func verbatimRule(red *redactor) jsonscan.Verbatim {
	rule := jsonscan.Verbatim{MaxDepth: rawMaxDepth, MaxNumber: rawMaxNumber, MaxExponent: rawMaxExp}
	if red.active() {
		rule.Keys = red.keys
	}
	return rule
}

// readRawState returns the JSON text of the first state attribute present
// on the span, when it may be stored as it is: the attribute is a string
// the parse path would decode, and jsonscan.Verbatim accepts it with an encoding
// of at most max bytes (max <= 0: no limit). ok is false when the parse
// path must run (also when no attribute is present).
func (b *traceBuild) readRawState(a spanAttrs, sources []stateSource) (string, bool) {
	for _, src := range sources {
		v, ok := a.get(src.key)
		if !ok {
			continue
		}
		if v.Type() != pcommon.ValueTypeStr {
			return "", false
		}
		mime := ""
		if src.mime != numAttrKeys {
			if m, ok := a.get(src.mime); ok {
				mime = m.AsString()
			}
		}
		s := clean(v.Str())
		if !wouldDecode(s, mime) || src.unwrap != "" && maybeTraceloopJSEnvelope(s) {
			return "", false // kept as a JSON string, or unwrapped, by the parse path
		}
		rule := b.m.red.verbatim
		rule.Unwrap = src.unwrap
		text, encLen, ok := rule.Scan(s)
		if !ok || (b.m.opts.MaxFieldBytes > 0 && encLen > b.m.opts.MaxFieldBytes) {
			return "", false
		}
		return text, true
	}
	return "", false
}

// wouldDecode reports whether parseJSONText tries to decode s as JSON.
func wouldDecode(s, mime string) bool {
	mime = strings.ToLower(strings.TrimSpace(mime))
	if strings.HasPrefix(mime, "text/plain") {
		return false
	}
	return strings.Contains(mime, "json") || looksLikeJSON(s) || mayBeJSONScalar(s)
}

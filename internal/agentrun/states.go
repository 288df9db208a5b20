package agentrun

import (
	"encoding/json"
	"errors"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/jsonscan"
)

// MaxStoredJSONDepth is the deepest nesting the store keeps as JSON
// (store.MaxJSONDepth, which a store test holds equal to it): a deeper
// state is stored as the text of its JSON. The mapping flags such states
// (Step.InputTooDeep, OutputTooDeep) so detection can say so.
const MaxStoredJSONDepth = 900

// state is one parsed input or output of a node span.
type state struct {
	value     any
	has       bool
	malformed bool
	// tooDeep: valid JSON nested deeper than MaxStoredJSONDepth.
	tooDeep bool
}

// stateSource is one attribute a state can come from, with the mime-type
// attribute that qualifies it and the field to unwrap from an envelope.
type stateSource struct {
	key    attrKey
	mime   attrKey // numAttrKeys: none
	unwrap string  // "inputs" / "outputs" for traceloop's entity envelopes (traceloop.go)
}

// The convention order of span-conventions.md.
var (
	inputSources = [...]stateSource{
		{aInputValue, aInputMime, ""},
		{aTLEntityInput, numAttrKeys, "inputs"},
		{aTaskInput, numAttrKeys, ""},
		{aPrompt, numAttrKeys, ""},
		{aInputMessages, numAttrKeys, ""},
		{aToolArgs, numAttrKeys, ""},
	}
	outputSources = [...]stateSource{
		{aOutputValue, aOutputMime, ""},
		{aTLEntityOutput, numAttrKeys, "outputs"},
		{aTaskOutput, numAttrKeys, ""},
		{aCompletion, numAttrKeys, ""},
		{aOutputMessages, numAttrKeys, ""},
		{aToolResult, numAttrKeys, ""},
	}
)

// readState returns the first state attribute present on the span.
func readState(a spanAttrs, sources []stateSource) state {
	for _, src := range sources {
		v, ok := a.get(src.key)
		if !ok {
			continue
		}
		mime := ""
		if src.mime != numAttrKeys {
			if m, ok := a.get(src.mime); ok {
				mime = m.AsString()
			}
		}
		val, p := parseState(v, mime)
		if src.unwrap != "" && !p.malformed {
			if m, ok := val.(map[string]any); ok {
				if inner, ok := m[src.unwrap]; ok {
					val = inner
				}
			}
			val = traceloopValue(val)
		}
		return state{value: val, has: true, malformed: p.malformed, tooDeep: p.depth > MaxStoredJSONDepth}
	}
	return state{}
}

// parseValue turns an attribute into a state value. Text is parsed as JSON
// unless its mime type says text/plain; text that is not JSON is kept as a
// JSON string, and flagged malformed when it claimed to be JSON.
func parseValue(v pcommon.Value, mime string) (any, bool) {
	val, p := parseState(v, mime)
	return val, p.malformed
}

// parsed is what parsing a state's text found out.
type parsed struct {
	malformed bool // claimed JSON and is not
	depth     int  // nesting of valid JSON (also beyond the decoder's limit)
}

func parseState(v pcommon.Value, mime string) (any, parsed) {
	if v.Type() != pcommon.ValueTypeStr {
		return valueAny(v, 0), parsed{}
	}
	s := v.Str()
	// Text that decodes with every string valid UTF-8 is valid UTF-8
	// throughout (JSON outside strings is ASCII), so clean(s) is s and the
	// value is the one parseJSONText gives; decoding strictly saves
	// checking all of s first. Anything else takes the full path.
	if wouldDecode(s, mime) {
		if out, depth, err := jsonscan.DecodeDepth(s, jsonscan.UTF8Strict); err == nil {
			return out, parsed{depth: depth}
		}
	}
	return parseJSONText(clean(s), mime)
}

// parseJSONText: s must be valid UTF-8 (callers pass clean text).
func parseJSONText(s, mime string) (any, parsed) {
	mime = strings.ToLower(strings.TrimSpace(mime))
	if strings.HasPrefix(mime, "text/plain") {
		return s, parsed{}
	}
	claimsJSON := strings.Contains(mime, "json") || looksLikeJSON(s)
	if !claimsJSON && !mayBeJSONScalar(s) {
		return s, parsed{}
	}
	// Errors keep the text: nothing is lost. A syntax error flags it
	// malformed; valid JSON nested beyond the decoder's limit is not
	// broken, only too deep (its depth says so).
	out, depth, err := jsonscan.DecodeDepth(s, jsonscan.UTF8Valid)
	if err != nil {
		if errors.Is(err, jsonscan.ErrTooDeep) {
			if d, ok := jsonscan.Depth(s); ok {
				return s, parsed{depth: d}
			}
		}
		return s, parsed{malformed: claimsJSON}
	}
	return out, parsed{depth: depth}
}

// attrText reads one attribute of a span as text, "" when absent. For
// convention attributes read only on the spans of that convention, so they
// need no slot in the per-span attribute scan.
func attrText(sp ptrace.Span, key string) string {
	if v, ok := sp.Attributes().Get(key); ok {
		return clean(valueText(v))
	}
	return ""
}

// stateOf parses one attribute value into a state (redacted and bounded).
func (b *traceBuild) stateOf(v pcommon.Value) (has, malformed bool, val any, enc json.RawMessage) {
	parsed, malformed := parseValue(v, "")
	val, raw := b.finishState(state{value: parsed, has: true, malformed: malformed})
	return true, malformed, val, raw
}

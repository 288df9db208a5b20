package store

// Text and JSON made storable in both databases: valid UTF-8, no NUL, JSON
// of the shape its column requires and no deeper than SQLite reads.

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/jsonscan"
)

// cleanText makes s storable everywhere: valid UTF-8 and no NUL, which
// PostgreSQL text cannot hold. Both become U+FFFD.
func cleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// jsonShape is the top-level JSON type a column requires.
type jsonShape uint8

const (
	anyJSON           jsonShape = iota // states: any value
	objectJSON                         // metadata, details
	arrayJSON                          // detection_ids
	arrayOrObjectJSON                  // causal_chain
)

// cleanJSON checks raw and returns the form to store: def when empty,
// invalid UTF-8 replaced, and \u0000 escapes (which PostgreSQL JSONB
// rejects) turned into \ufffd; an error when raw is not JSON of the shape
// the column requires.
func cleanJSON(raw json.RawMessage, def string, shape jsonShape, what string) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return json.RawMessage(def), nil
	}
	if !utf8.Valid(raw) {
		raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
	}
	depth, ok := jsonscan.ValidBytes(raw)
	if !ok {
		return nil, invalidf("%s is not valid JSON", what)
	}
	switch c := raw[0]; shape {
	case objectJSON:
		if c != '{' {
			return nil, invalidf("%s must be a JSON object", what)
		}
	case arrayJSON:
		if c != '[' {
			return nil, invalidf("%s must be a JSON array", what)
		}
	case arrayOrObjectJSON:
		if c != '{' && c != '[' {
			return nil, invalidf("%s must be a JSON array or object", what)
		}
	}
	if bytes.Contains(raw, []byte(`\u0000`)) {
		raw = replaceNULEscapes(raw)
	}
	if depth > MaxJSONDepth {
		raw = tooDeep(raw, shape)
	}
	return raw, nil
}

// cleanCheckedJSON is cleanJSON for a value the caller already checked
// (Step.StatesChecked): valid JSON, at most MaxJSONDepth deep. It skips the
// syntax scan, the costly part, and keeps the cheap byte-level repairs
// that make the text storable in both databases.
func cleanCheckedJSON(raw json.RawMessage, def string, shape jsonShape, what string) (json.RawMessage, error) {
	if shape != anyJSON {
		return cleanJSON(raw, def, shape, what)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return json.RawMessage(def), nil
	}
	if !utf8.Valid(raw) {
		raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
	}
	if bytes.Contains(raw, []byte(`\u0000`)) {
		raw = replaceNULEscapes(raw)
	}
	return raw, nil
}

// MaxJSONDepth is the deepest nesting stored as JSON. SQLite's JSON
// functions (and so the json_valid CHECK) refuse more than 1000 levels while
// Go's parser accepts 10000: a deeper value would fail its whole batch
// permanently. It is kept instead as text, inside a marker where the column
// must stay an object or array.
const MaxJSONDepth = 900

// tooDeep keeps a too-deep value as a JSON string: bare for state columns,
// in {"_argus_too_deep":true,"raw":...} where an object is required, and as
// the one element of an array where an array is.
func tooDeep(raw []byte, shape jsonShape) json.RawMessage {
	text, _ := json.Marshal(string(raw))
	switch shape {
	case objectJSON, arrayOrObjectJSON:
		return json.RawMessage(`{"_argus_too_deep":true,"raw":` + string(text) + `}`)
	case arrayJSON:
		return json.RawMessage(`[{"_argus_too_deep":true,"raw":` + string(text) + `}]`)
	}
	return text
}

// replaceNULEscapes rewrites the escape \u0000 inside JSON strings as
// \ufffd, skipping escaped backslashes (so `\\u0000` stays literal text).
func replaceNULEscapes(raw []byte) []byte {
	out := append([]byte(nil), raw...)
	for i := 0; i < len(out)-1; i++ {
		if out[i] != '\\' {
			continue
		}
		if out[i+1] == 'u' && i+6 <= len(out) && string(out[i+2:i+6]) == "0000" {
			copy(out[i+2:i+6], "fffd")
		}
		i++ // skip the escaped character
	}
	return out
}

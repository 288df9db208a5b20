package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// decode parses a stored JSON column, keeping numbers as their text so a
// value renders the same from SQLite and PostgreSQL.
func decode(raw json.RawMessage) (any, bool) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, true
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if dec.More() {
		return nil, false
	}
	return v, true
}

// encode writes v as compact JSON with sorted object keys and without
// HTML escaping (each format escapes for its own medium).
func encode(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return json.RawMessage("null")
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// canonical re-encodes a stored JSON column in one canonical form: key
// order and whitespace differ between SQLite TEXT and PostgreSQL JSONB, the
// report must not. A value that is not JSON at all is kept as a JSON string
// (invalid UTF-8 replaced), so nothing is lost and nothing breaks the output.
func canonical(raw json.RawMessage) json.RawMessage {
	v, ok := decode(raw)
	if !ok {
		return encode(strings.ToValidUTF8(string(raw), string(utf8.RuneError)))
	}
	return encode(v)
}

// canonicalOr is canonical with a default for an empty or null column.
func canonicalOr(raw json.RawMessage, def string) json.RawMessage {
	c := canonical(raw)
	if string(c) == "null" {
		return json.RawMessage(def)
	}
	return c
}

// equalJSON compares two canonical encodings.
func equalJSON(a, b json.RawMessage) bool { return bytes.Equal(a, b) }

package detect

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"
)

// Decoded JSON values, as the mapping puts them in a step's input and
// output (map[string]any, []any, string, float64, bool, nil): when they
// are empty, their type, a short description.

// isEmptyValue: null, "", [] or {} (of any Go slice, map, array or string
// type; a nil pointer too). Whitespace is content here: a blank string is
// the semantic layer's whitespace finding, not an empty value.
func isEmptyValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	case bool, float64, int, int64:
		return false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Map, reflect.Array, reflect.String:
		return rv.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// isBlankValue is isEmptyValue with text of only whitespace counted as
// empty too: a tool result or state field that says nothing.
func isBlankValue(v any) bool {
	if s, ok := v.(string); ok {
		return strings.TrimSpace(s) == ""
	}
	return isEmptyValue(v)
}

// isEmptyRetrieval is isBlankValue for the value of a retrieval field
// (documents, results, ...), where an empty object is a result of another
// shape rather than "found nothing".
func isEmptyRetrieval(v any) bool {
	if _, isObject := v.(map[string]any); isObject {
		return false
	}
	return isBlankValue(v)
}

// asObject is v as a JSON object, nil when it is none.
func asObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// sortedKeys returns the keys of m in order. It is
// slices.Sorted(maps.Keys(m)) with the slice allocated once (that one
// grows it from nothing, 2.6x slower on the 3-key maps of most states)
// and inlined, so that a small result can live on the caller's stack.
// The result is never nil.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // not slices.Sort: its inlined body would keep this function from being inlined
	return keys
}

// jsonTypeOf names a decoded JSON value's type; every numeric kind is
// "number" so int <-> float is no change.
func jsonTypeOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, interface{ Float64() (float64, error) }:
		return "number"
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.String:
		return "string"
	}
	return "other"
}

// emptyLiteral is the empty value of v's type, as JSON.
func emptyLiteral(v any) string {
	switch jsonTypeOf(v) {
	case "string":
		return `""`
	case "array":
		return "[]"
	case "object":
		return "{}"
	}
	return "null"
}

// describeValue is a short, safe description of a value for messages.
func describeValue(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("a %d-character string", utf8.RuneCountInString(x))
	case []any:
		if len(x) == 1 {
			return "1 item"
		}
		return fmt.Sprintf("%d items", len(x))
	case map[string]any:
		return fmt.Sprintf("an object with %d keys", len(x))
	}
	return "a " + jsonTypeOf(v)
}

// maxJSONBytes bounds the texts parsed as JSON: longer ones are treated as
// text.
const maxJSONBytes = 4 << 20

// parseJSON decodes text that starts like a JSON value.
func parseJSON(t string) (any, bool) {
	t = strings.TrimSpace(t)
	if t == "" || len(t) > maxJSONBytes {
		return nil, false
	}
	var v any
	if err := json.Unmarshal([]byte(t), &v); err != nil {
		return nil, false
	}
	return v, true
}

// parseJSONOrText decodes a tool result or argument text that holds a JSON
// object, array or string; anything else stays the text it was.
func parseJSONOrText(raw string) any {
	t := strings.TrimSpace(raw)
	if len(t) == 0 || len(t) > maxJSONBytes || (t[0] != '{' && t[0] != '[' && t[0] != '"') {
		return raw
	}
	var v any
	if err := json.Unmarshal([]byte(t), &v); err != nil {
		return raw
	}
	return v
}

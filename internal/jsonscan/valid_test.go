package jsonscan

import (
	"encoding/json"
	"testing"

	"github.com/arguslabs/argus-otel/internal/jsonscan/jsonscantest"
)

// depthByBrackets is the deepest nesting of objects and arrays in valid
// JSON, counted bracket by bracket outside strings: the reference for the
// depth Valid measures while it validates.
func depthByBrackets(raw string) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range []byte(raw) {
		switch {
		case inString:
			if escaped {
				escaped = false
			} else if c == '\\' {
				escaped = true
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

func checkValid(t *testing.T, raw string) {
	t.Helper()
	depth, ok := Valid(raw)
	if want := json.Valid([]byte(raw)); ok != want {
		t.Fatalf("Valid(%.200q) = %v, json.Valid = %v", raw, ok, want)
	}
	if ok {
		if want := depthByBrackets(raw); depth != want {
			t.Fatalf("Valid(%.200q) depth = %d, counted %d", raw, depth, want)
		}
	}
	if bd, bok := ValidBytes([]byte(raw)); bd != depth || bok != ok {
		t.Fatalf("ValidBytes(%.200q) = %d %v, Valid = %d %v", raw, bd, bok, depth, ok)
	}
}

func TestValidSameAsEncodingJSON(t *testing.T) {
	if d, ok := Valid(`{"a":"[[[[","b":[{"c":"\"]}"}]}`); !ok || d != 3 || depthByBrackets(`{"a":"[[[[","b":[{"c":"\"]}"}]}`) != 3 {
		t.Fatalf("brackets in strings counted: depth %d", d)
	}
	for _, s := range jsonscantest.All(t) {
		checkValid(t, s)
	}
}

func FuzzValid(f *testing.F) {
	for _, raw := range jsonscantest.Cases {
		if len(raw) < 1000 {
			f.Add(raw)
		}
	}
	f.Fuzz(checkValid)
}

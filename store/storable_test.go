package store

import (
	"encoding/json"
	"testing"
)

func TestReplaceNULEscapes(t *testing.T) {
	cases := map[string]string{
		`"a\u0000b"`:           `"a\ufffdb"`,
		`"a\\u0000b"`:          `"a\\u0000b"`, // escaped backslash: literal text
		`"a\\\u0000b"`:         `"a\\\ufffdb"`,
		`{"k\u0000":"\u0000"}`: `{"k\ufffd":"\ufffd"}`,
		`"\u00001"`:            `"\ufffd1"`,
	}
	for in, want := range cases {
		if got := string(replaceNULEscapes([]byte(in))); got != want {
			t.Errorf("replaceNULEscapes(%s) = %s, want %s", in, got, want)
		}
		if !json.Valid(replaceNULEscapes([]byte(in))) {
			t.Errorf("result for %s is not valid JSON", in)
		}
	}
}

func TestCleanJSON(t *testing.T) {
	got, err := cleanJSON(json.RawMessage("  {\"a\":\"\xff\"}  "), "{}", objectJSON, "x")
	if err != nil || string(got) != "{\"a\":\"\uFFFD\"}" {
		t.Errorf("invalid UTF-8: %q, %v", got, err)
	}
	if got, err := cleanJSON(nil, "null", anyJSON, "x"); err != nil || string(got) != "null" {
		t.Errorf("empty: %q, %v", got, err)
	}
	for _, bad := range []string{`{`, `{"a":1}x`, `NaN`, `'x'`} {
		if _, err := cleanJSON(json.RawMessage(bad), "{}", anyJSON, "x"); err == nil {
			t.Errorf("cleanJSON(%s) accepted invalid JSON", bad)
		}
	}
}

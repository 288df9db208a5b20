package detect

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestJSONSizeMatchesEncoding(t *testing.T) {
	values := []string{
		`{}`, `[]`, `null`, `true`, `"x"`, `1.5e300`, `-0.000001`, `0.0000001`, `123456789012`, `1e21`, `-2.5e-12`,
		`{"a":[1,2,{"b":"c\"d\\e\n\tf"}],"é":"日本語","<tag>":"a&b"}`,
		`{"ctrl":"\u0001\u001f","sep":"\u2028\u2029","nested":{"x":[[],[{}]]}}`,
	}
	for _, s := range values {
		v := bhJSON(t, s)
		if got, want := jsonSize(v, 0), stEncodedLen(t, v); got != want {
			t.Errorf("jsonSize(%s) = %d, want %d", s, got, want)
		}
	}
	bad := map[string]any{"k\xff": "v\xfe\xfd"}
	if got, want := jsonSize(bad, 0), stEncodedLen(t, bad); got != want {
		t.Errorf("invalid UTF-8: %d, want %d", got, want)
	}
}

func stEncodedLen(t *testing.T, v any) int {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Len() - 1 // Encode adds a newline
}

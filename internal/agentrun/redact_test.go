package agentrun

import (
	"encoding/json"
	"testing"
)

// textByDecoding is redactor.text without its scan: decode, redact, encode.
func textByDecoding(r *redactor, s string) string {
	if !r.active() || !looksLikeJSON(s) {
		return s
	}
	var v any
	if json.Unmarshal([]byte(s), &v) != nil || !r.value(v) {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Redacted
	}
	return string(b)
}

// FuzzRedactText: the scan that lets redactor.text skip decoding never
// changes its result.
func FuzzRedactText(f *testing.F) {
	for _, s := range []string{`{"query":"x","api_key":"k"}`, `[{"a":{"Token":1}}]`, `{"a":1,"a":2}`, `{"x":"\ud800"}`, `[1e400]`, `{"q":"<&>"}`} {
		f.Add(s)
	}
	red := newRedactor([]string{"api_key", "token"})
	f.Fuzz(func(t *testing.T, s string) {
		s = clean(s)
		if got, want := red.text(s), textByDecoding(red, s); got != want {
			t.Fatalf("text(%q) = %q, by decoding %q", s, got, want)
		}
	})
}

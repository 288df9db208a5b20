package agentrun

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestJSONDepth: the same verdict as encoding/json wherever it has one,
// and a verdict beyond its nesting limit.
func TestJSONDepth(t *testing.T) {
	for _, s := range []string{
		`{}`, `[]`, `{"a":[1,2,{"b":null}],"c":"x\"y\u00e9"}`, ` [ true , false , -0.5e+3 ] `, `"s"`, `0`,
		`{"a":}`, `[1,]`, `{"a" 1}`, `{,}`, `[`, `]`, `{"a":1}}`, `01`, `1.`, `"\x"`, "\"\t\"", `tru`, `{"a":1,}`,
		`[1 2]`, `{"a":1 "b":2}`, `{1:2}`, `[}`, `{]`, `nul`, `"\u12"`, ``, ` `, `[[],[[]]]`, `{"k":{"k":{}}}`,
	} {
		_, ok := JSONDepth(s)
		if want := json.Valid([]byte(s)); ok != want {
			t.Errorf("JSONDepth(%q) valid = %v, encoding/json says %v", s, ok, want)
		}
	}
	if d, ok := JSONDepth(`[[],[[{"a":[]}]]]`); !ok || d != 5 {
		t.Errorf("depth %d ok %v, want 5", d, ok)
	}
	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	if d, ok := JSONDepth(deep); !ok || d != 100_000 {
		t.Errorf("100000 deep: depth %d ok %v", d, ok)
	}
	if json.Valid([]byte(deep)) {
		t.Fatal("encoding/json accepts 100000 levels now: the test no longer covers the gap")
	}
	if _, ok := JSONDepth(deep[:len(deep)-1]); ok {
		t.Error("one bracket short is not valid")
	}
}

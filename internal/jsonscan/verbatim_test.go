package jsonscan

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/jsonscan/jsonscantest"
)

// testVerbatim is the exporter's rule (agentrun's raw states), refusing
// keys that contain "key" or "password".
var testVerbatim = Verbatim{MaxDepth: 512, MaxNumber: 40, MaxExponent: 300, Keys: secretKeys{}}

type secretKeys struct{}

func (secretKeys) Match(k string) bool {
	k = strings.ToLower(k)
	return strings.Contains(k, "key") || strings.Contains(k, "password")
}

// hasRefusedKey reports whether a decoded value holds a key the rule refuses.
func hasRefusedKey(vb *Verbatim, v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if vb.Keys.Match(k) || hasRefusedKey(vb, e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasRefusedKey(vb, e) {
				return true
			}
		}
	}
	return false
}

// checkVerbatim holds Verbatim to what it promises: whatever it accepts
// decodes to the same value as the text it returns (after the same unwrap),
// the length it measured is len(json.Marshal(value)), and no refused key is
// in it. Whatever Decode cannot decode, it refuses.
func checkVerbatim(t *testing.T, vb Verbatim, s string) (string, bool) {
	t.Helper()
	text, encLen, ok := vb.Scan(s)
	want, err := Decode(s, UTF8Replace)
	if err != nil {
		if ok {
			t.Fatalf("accepted %q, Decode: %v", s, err)
		}
		return "", false
	}
	if !ok {
		return "", false
	}
	if m, isMap := want.(map[string]any); isMap && vb.Unwrap != "" {
		if inner, has := m[vb.Unwrap]; has {
			want = inner
		}
	}
	got, err := Decode(text, UTF8Replace)
	if err != nil {
		t.Fatalf("kept text %q of %q does not decode: %v", text, s, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("kept text %q of %q decodes to %#v, the whole to %#v", text, s, got, want)
	}
	enc, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("accepted %q that does not encode: %v", s, err)
	}
	if encLen != len(enc) {
		t.Fatalf("%q: measured %d bytes, json.Marshal gives %d (%s)", s, encLen, len(enc), enc)
	}
	if hasRefusedKey(&vb, want) {
		t.Fatalf("accepted %q with a refused key", s)
	}
	return text, true
}

func TestVerbatimAcceptsWhatItCanKeep(t *testing.T) {
	for _, tc := range []struct {
		in, unwrap, text string
	}{
		{in: ` {"b": 1, "a": [true, false, null]}  `, text: `{"b": 1, "a": [true, false, null]}`},
		{in: "\n[ 1.50 , -0, 1e2, 2E-7, 123456789012345678, 0.1 ]", text: "[ 1.50 , -0, 1e2, 2E-7, 123456789012345678, 0.1 ]"},
		{in: `"<b>&amp;</b> \u2028 \u00e9 \ud83d\ude00 \/ \b\f\n\r\t \u0000 \u001f"`, text: `"<b>&amp;</b> \u2028 \u00e9 \ud83d\ude00 \/ \b\f\n\r\t \u0000 \u001f"`},
		{in: `{"k\u00e9y":"é€😀 ","x":1}`, text: `{"k\u00e9y":"é€😀 ","x":1}`},
		{in: `{"k\u0065y":"v"}`, text: ``}, // a refused key, spelt with an escape
		{in: `{"inputs": {"q": "x"}, "other": 2}`, unwrap: "inputs", text: `{"q": "x"}`},
		{in: `{"inputz": 1}`, unwrap: "inputs", text: `{"inputz": 1}`},
		{in: `[{"inputs": 1}]`, unwrap: "inputs", text: `[{"inputs": 1}]`},
		{in: `42`, text: `42`},
		{in: `1.5e-300`, text: `1.5e-300`},
		{in: strings.Repeat("[", 512) + strings.Repeat("]", 512), text: strings.Repeat("[", 512) + strings.Repeat("]", 512)},
	} {
		vb := testVerbatim
		vb.Unwrap = tc.unwrap
		text, ok := checkVerbatim(t, vb, tc.in)
		if ok != (tc.text != "") || text != tc.text {
			t.Errorf("%q: kept %q (%v), want %q", tc.in, text, ok, tc.text)
		}
	}
}

func TestVerbatimRefusesWhatItCannotKeep(t *testing.T) {
	for _, in := range []string{
		``, `{`, `{"a":1,}`, `[1 2]`, `{"a" 1}`, `01`, `1.`, `.5`, `+1`, `1e`, `"a`, "\"\x01\"", `"\x"`, `"\u12"`,
		`NaN`, `Infinity`, `-Infinity`, `{"a":NaN}`, `nul`, `{} {}`, `'a'`, `{a:1}`,
		`{"a":1,"a":2}`, `{"a":{"b":1},"\u0061":2}`, // duplicate keys: decoding keeps the last
		`{"API-Key":"x"}`, `[{"user_password":"p"}]`, `{"p\u0061ssword":1}`, // refused keys
		`"\ud800"`, `"\udc00\ud800"`, `"\ud800\u0041"`, `"\ud800x"`, // lone surrogates
		`1e400`, `-1e309`, `1e-400`, `1e-1001`, `0e99999`, strings.Repeat("1", 41), // ranges
		strings.Repeat("[", 513) + strings.Repeat("]", 513), // too deep
		"\"\xff\"", // invalid UTF-8
	} {
		if text, ok := checkVerbatim(t, testVerbatim, in); ok {
			t.Errorf("%.60q: kept as %q", in, text)
		}
	}
	// Many keys: the duplicate check switches to a map.
	var sb strings.Builder
	sb.WriteString("{")
	for i := 0; i < 3*dupMapAt; i++ {
		sb.WriteString(`"k` + strings.Repeat("x", i) + `":1,`)
	}
	if _, ok := checkVerbatim(t, testVerbatim, sb.String()+`"z":1}`); !ok {
		t.Errorf("an object of %d distinct keys was refused", 3*dupMapAt+1)
	}
	if _, ok := checkVerbatim(t, testVerbatim, sb.String()+`"kxxxxx":2}`); ok {
		t.Errorf("a duplicate key after %d keys was not found", 3*dupMapAt)
	}
}

func TestVerbatimOnFixtures(t *testing.T) {
	kept := 0
	for _, s := range append(jsonscantest.FixtureStates(t), jsonscantest.LaneCases()...) {
		if _, ok := checkVerbatim(t, testVerbatim, strings.ToValidUTF8(s, "\uFFFD")); ok {
			kept++
		}
	}
	if kept < 1000 {
		t.Fatalf("only %d texts kept verbatim", kept)
	}
}

// FuzzVerbatim: on any text, Verbatim keeps only what decodes to the same
// value, and measures its encoding exactly.
func FuzzVerbatim(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,2.5e3,"x<y>&z"],"b":{"c":null}}`, `{"inputs":{"q":1}}`, `"\ud83d\ude00\u2029"`,
		`[1e21, 1e20, 1e-6, 1e-7, 0.000001, 123456789012345678901, -0.0]`, `{"api_key":1}`, `{"a":1,"a":1}`,
		`"\u00"`, `[` + strings.Repeat(`"é",`, 10) + `1]`,
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, unwrap bool) {
		vb := testVerbatim
		if unwrap {
			vb.Unwrap = "inputs"
		}
		checkVerbatim(t, vb, s)
	})
}

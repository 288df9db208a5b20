package agentrun

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// checkRawScan holds rawScanner to what it promises: whatever it accepts,
// the parse path decodes to the same value (after the same unwrap), and the
// length it measured is len(json.Marshal(value)). Whatever the parse path
// cannot decode, it refuses.
func checkRawScan(t *testing.T, s, unwrap string, red *redactor) (string, bool) {
	t.Helper()
	sc := rawScanner{s: s, red: red, unwrap: unwrap}
	text, encLen, ok := sc.scan()
	want, err := decodeJSON(s)
	if err != nil {
		if ok {
			t.Fatalf("scanner accepted %q, decodeJSON: %v", s, err)
		}
		return "", false
	}
	if !ok {
		return "", false
	}
	if m, isMap := want.(map[string]any); isMap && unwrap != "" {
		if inner, has := m[unwrap]; has {
			want = inner
		}
	}
	got, err := decodeJSON(text)
	if err != nil {
		t.Fatalf("kept text %q of %q does not decode: %v", text, s, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("kept text %q of %q decodes to %#v, the parse path to %#v", text, s, got, want)
	}
	enc, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("accepted %q that does not encode: %v", s, err)
	}
	if encLen != len(enc) {
		t.Fatalf("%q: measured %d bytes, json.Marshal gives %d (%s)", s, encLen, len(enc), enc)
	}
	if red.value(want) {
		t.Fatalf("accepted %q although redaction changes it", s)
	}
	return text, true
}

func TestRawScannerAcceptsWhatItCanKeep(t *testing.T) {
	red := newRedactor([]string{"api_key", "password"})
	for _, tc := range []struct {
		in, unwrap, text string
	}{
		{in: ` {"b": 1, "a": [true, false, null]}  `, text: `{"b": 1, "a": [true, false, null]}`},
		{in: "\n[ 1.50 , -0, 1e2, 2E-7, 123456789012345678, 0.1 ]", text: "[ 1.50 , -0, 1e2, 2E-7, 123456789012345678, 0.1 ]"},
		{in: `"<b>&amp;</b> \u2028 \u00e9 \ud83d\ude00 \/ \b\f\n\r\t \u0000 \u001f"`, text: `"<b>&amp;</b> \u2028 \u00e9 \ud83d\ude00 \/ \b\f\n\r\t \u0000 \u001f"`},
		{in: `{"k\u00e9y":"é€😀 ","x":1}`, text: `{"k\u00e9y":"é€😀 ","x":1}`},
		{in: `{"inputs": {"q": "x"}, "other": 2}`, unwrap: "inputs", text: `{"q": "x"}`},
		{in: `{"inputz": 1}`, unwrap: "inputs", text: `{"inputz": 1}`},
		{in: `[{"inputs": 1}]`, unwrap: "inputs", text: `[{"inputs": 1}]`},
		{in: `42`, text: `42`},
		{in: `1.5e-300`, text: `1.5e-300`},
		{in: strings.Repeat("[", rawMaxDepth) + strings.Repeat("]", rawMaxDepth), text: strings.Repeat("[", rawMaxDepth) + strings.Repeat("]", rawMaxDepth)},
	} {
		text, ok := checkRawScan(t, tc.in, tc.unwrap, red)
		if !ok || text != tc.text {
			t.Errorf("%q: kept %q (%v), want %q", tc.in, text, ok, tc.text)
		}
	}
}

func TestRawScannerRefusesWhatItCannotKeep(t *testing.T) {
	red := newRedactor([]string{"api_key", "password"})
	for _, in := range []string{
		``, `{`, `{"a":1,}`, `[1 2]`, `{"a" 1}`, `01`, `1.`, `.5`, `+1`, `1e`, `"a`, "\"\x01\"", `"\x"`, `"\u12"`,
		`NaN`, `Infinity`, `-Infinity`, `{"a":NaN}`, `nul`, `{} {}`, `'a'`, `{a:1}`,
		`{"a":1,"a":2}`, `{"a":{"b":1},"\u0061":2}`, // duplicate keys: the parse path keeps the last
		`{"API-Key":"x"}`, `[{"user_password":"p"}]`, `{"p\u0061ssword":1}`, // keys to redact
		`"\ud800"`, `"\udc00\ud800"`, `"\ud800\u0041"`, `"\ud800x"`, // lone surrogates
		`1e400`, `-1e309`, `1e-400`, `1e-1001`, `0e99999`, strings.Repeat("1", 41), // ranges
		strings.Repeat("[", rawMaxDepth+1) + strings.Repeat("]", rawMaxDepth+1), // too deep for text
		"\"\xff\"", // invalid UTF-8 (the mapping cleans text first)
	} {
		if text, ok := checkRawScan(t, in, "", red); ok {
			t.Errorf("%q: kept as %q", truncate(in), text)
		}
	}
	// Many keys: the duplicate check switches to a map.
	var sb strings.Builder
	sb.WriteString("{")
	for i := 0; i < 3*rawDupMapAt; i++ {
		sb.WriteString(`"k` + strings.Repeat("x", i) + `":1,`)
	}
	unique := sb.String() + `"z":1}`
	if _, ok := checkRawScan(t, unique, "", red); !ok {
		t.Errorf("an object of %d distinct keys was refused", 3*rawDupMapAt+1)
	}
	if _, ok := checkRawScan(t, sb.String()+`"kxxxxx":2}`, "", red); ok {
		t.Errorf("a duplicate key after %d keys was not found", 3*rawDupMapAt)
	}
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// FuzzRawScanner: on any text, rawScanner keeps only what the parse path
// stores as the same value, and measures its encoding exactly.
func FuzzRawScanner(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,2.5e3,"x<y>&z"],"b":{"c":null}}`, `{"inputs":{"q":1}}`, `"\ud83d\ude00\u2029"`,
		`[1e21, 1e20, 1e-6, 1e-7, 0.000001, 123456789012345678901, -0.0]`, `{"api_key":1}`, `{"a":1,"a":1}`,
		`"\u00"`, `[` + strings.Repeat(`"é",`, 10) + `1]`,
	} {
		f.Add(s, false)
	}
	red := newRedactor([]string{"api_key", "token"})
	f.Fuzz(func(t *testing.T, s string, unwrap bool) {
		u := ""
		if unwrap {
			u = "inputs"
		}
		checkRawScan(t, clean(s), u, red)
	})
}

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

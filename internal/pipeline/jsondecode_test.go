package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// jsonCases: valid and invalid JSON on every branch of the decoder:
// escapes, surrogate pairs and lone halves, invalid UTF-8, control bytes,
// number grammar and range, literals, nesting at and past the limit,
// trailing data, repeated keys.
var jsonCases = []string{
	``, ` `, `{}`, `[]`, ` {"a" : [1, 2.5, -0, 1e3, 1E-3, -12.5e+2, true, false, null]} `, `"plain"`, `"é ü 日本"`,
	`{"a":1,"a":2}`, `{"":""}`, `[[[]]]`, `[{}, {"x": {"y": []}}]`, `0`, `-0`, `1.0`, `123456789012345678901234567890`,
	`"\" \\ \/ \b \f \n \r \t"`, `"\u0041\u00e9\u65e5"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00"`, `"\ud83d\u0041"`,
	`"\ud83dx"`, `"\ud83d\ud83d\ude00"`, `"\ud83d\"`, `"\u12"`, `"\uZZZZ"`, `"\ud800\uZZZZ"`, `"\x"`, `"\'"`, `"a` + "\x01" + `"`,
	"\"\xff\xfe ok\"", "\"a\xc3\"", "\"\xed\xa0\x80\"", "{\"\xff\":1}", "[\"a\tb\"]", "\xef\xbb\xbf{}",
	`1e400`, `-1e400`, `1e-400`, `[1e309]`, `01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `1.5e3.2`, `NaN`, `Infinity`,
	`tru`, `true1`, `nul`, `nulll`, `falsey`, `[1,]`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{a:1}`, `{'a':1}`, `[1 2]`, `{"a":1 "b":2}`,
	`{} {}`, `[] x`, `"a" "b"`, `{"a":[}`, `[`, `{`, `{"a"`, `{"a":`, `{"a":1`, `[1`, `"abc`, `"abc\`, "[1,\n2,\r\n3\t]",
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
	strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
	strings.Repeat("[", 20000),
}

// laneCases puts each byte that matters to the 8-byte string scan at every
// position of strings 1 to 19 bytes long, so every lane and the tail loop
// meet it: the bytes it stops at, their neighbours, bytes >= 0x80 whose low
// bits equal '"' or '\\', and valid and invalid UTF-8.
func laneCases() []string {
	var out []string
	for _, special := range []string{`"`, `\\`, `\n`, `\u00e9`, `\"`, "\x00", "\x1f", " ", "!", "#", "[", "]", "\x7f",
		"\xa2", "\xdc", "\x80", "\xff", "é", "日", "\xc3", "\xe6\x97"} {
		for n := 1; n < 20; n++ {
			for at := 0; at < n; at++ {
				out = append(out, `["`+strings.Repeat("a", at)+special+strings.Repeat("b", n-at-1)+`"]`)
			}
		}
	}
	return out
}

func checkDecodeJSON(t *testing.T, s string) {
	t.Helper()
	var want any
	werr := json.Unmarshal([]byte(s), &want)
	got, gerr := decodeJSON(s)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("decodeJSON(%.200q): error %v, encoding/json: %v", s, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeJSON(%.200q) = %#v, encoding/json: %#v", s, got, want)
	}
	// The mapping's path skips the UTF-8 check for text it cleaned; on
	// valid text it must decode the same. The decoder without the check is
	// also held to encoding/json on text made valid.
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
		want = nil
		werr = json.Unmarshal([]byte(s), &want)
	}
	got, gerr = decodeJSONText(s, true)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("decodeJSONText(%.200q, true): error %v, encoding/json: %v", s, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeJSONText(%.200q, true) = %#v, encoding/json: %#v", s, got, want)
	}
}

func TestDecodeJSONSameAsEncodingJSON(t *testing.T) {
	for _, s := range jsonCases {
		checkDecodeJSON(t, s)
	}
	for _, s := range laneCases() {
		checkDecodeJSON(t, s)
	}
	// The states of the shared fixtures, as the mapping meets them.
	for _, s := range fixtureStates(t) {
		checkDecodeJSON(t, s)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range jsonCases {
		if len(s) < 1000 {
			f.Add(s)
		}
	}
	f.Fuzz(checkDecodeJSON)
}

// fixtureStates: every string attribute of the shared OTLP fixtures and
// the hostile corpus that starts like JSON (states, messages, tool
// arguments, deeply nested and malformed states).
func fixtureStates(t *testing.T) []string {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "otlp", "*.json"))
	hostile, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "hostile", "*.json"))
	paths = append(paths, hostile...)
	if len(paths) < 10 {
		t.Fatalf("fixtures not found: %v", paths)
	}
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var u ptrace.JSONUnmarshaler
		td, err := u.UnmarshalTraces(b)
		if err != nil {
			continue // a fixture of broken OTLP on purpose
		}
		for span := range Spans(td) {
			span.Attributes().Range(func(_ string, v pcommon.Value) bool {
				if v.Type() == pcommon.ValueTypeStr && (looksLikeJSON(v.Str()) || mayBeJSONScalar(v.Str())) {
					out = append(out, v.Str())
				}
				return true
			})
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d JSON-like attributes in the fixtures", len(out))
	}
	return out
}

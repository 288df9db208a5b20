package agentrun

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

// fieldCases exercise decodeFields: exact and case-folded keys (Kelvin
// sign and long s fold to ASCII), repeated keys, values of every type,
// numbers out of range in known and unknown keys, non-objects.
var fieldCases = []string{
	`{"langgraph_node":"n","langgraph_step":3,"langgraph_triggers":["a"],"langgraph_path":["p","n"],"langgraph_checkpoint_ns":"n:1","thread_id":"t"}`,
	`{"LangGraph_Node":"n","THREAD_ID":7}`, `{"langgraph_node":"a","LANGGRAPH_NODE":"b"}`, `{"langgraph_node":"a","langgraph_node":null}`,
	"{\"langgraph_\u017ftep\":2,\"thread_id\":\"\u212a\"}", "{\"\u212angraph_node\":1}", "{\"langgraph_node\u0000\":1}",
	`{"langgraph_node":{"x":[1,{"y":null}]},"thread_id":true}`, `{"x":1e400,"langgraph_node":"n"}`, `{"langgraph_node":1e400}`,
	`{"x":[1e999,{"y":-1e999}],"thread_id":"t"}`, `{"x":01}`, `{"langgraph_step":"3"}`, `null`, ` null `, `null x`, `nul`,
	`[]`, `["langgraph_node"]`, `"langgraph_node"`, `3`, `true`, `{}`, `{"thread_id":"t"} x`, `{"thread_id":"t",}`,
	`{"thread_id":}`, `{"thread_id" "t"}`, `{"thread_id":"t"`, `{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
	`{"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
}

// laneCases puts each byte that matters to the string scan at every
// position of strings 1 to 39 bytes long, so every 8-byte lane, the tail
// loop and the IndexByte path past 16 bytes meet it, also after earlier
// strings: the bytes it stops at, their neighbours, bytes >= 0x80 whose
// low bits equal '"' or '\\', and valid and invalid UTF-8.
func laneCases() []string {
	var out []string
	for _, special := range []string{`"`, `\\`, `\n`, `\u00e9`, `\"`, "\x00", "\x1f", " ", "!", "#", "[", "]", "\x7f",
		"\xa2", "\xdc", "\x80", "\xff", "é", "日", "\xc3", "\xe6\x97"} {
		for n := 1; n < 40; n++ {
			for at := 0; at < n; at++ {
				out = append(out, `["`+strings.Repeat("a", at)+special+strings.Repeat("b", n-at-1)+`"]`)
			}
			// After a long string whose search for '"' and '\\' looked
			// ahead into this one, and with a second stop further on.
			out = append(out, `["`+strings.Repeat("a", 20)+`","`+strings.Repeat("b", n)+special+strings.Repeat("c", 20)+`\n"]`,
				`{"`+strings.Repeat("k", n)+`":"`+strings.Repeat("d", 17)+special+`x","z":"\"`+strings.Repeat("e", n)+`"}`)
		}
	}
	return out
}

func checkDecodeJSON(t *testing.T, s string) {
	t.Helper()
	checkDecodeFields(t, s)
	checkParseValue(t, s)
	if _, err := decodeJSONText(s, utf8Strict); err == nil && !utf8.ValidString(s) {
		t.Fatalf("decodeJSONText(%.200q, utf8Strict) accepted invalid UTF-8", s)
	}
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
	checkDecodeFields(t, s)
	for _, mode := range []utf8Mode{utf8Valid, utf8Strict} {
		got, gerr = decodeJSONText(s, mode)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("decodeJSONText(%.200q, %d): error %v, encoding/json: %v", s, mode, gerr, werr)
		}
		if werr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeJSONText(%.200q, %d) = %#v, encoding/json: %#v", s, mode, got, want)
		}
	}
}

// checkParseValue: parseState's strict first try gives what the full path
// (clean, then parseJSONText) gives, value, malformed flag and depth,
// whatever the text and mime type.
func checkParseValue(t *testing.T, s string) {
	t.Helper()
	for _, mime := range []string{"", "application/json", "text/plain"} {
		got, gm := parseState(pcommon.NewValueStr(s), mime)
		want, wm := parseJSONText(clean(s), mime)
		if gm != wm || !reflect.DeepEqual(got, want) {
			t.Fatalf("parseValue(%.200q, %q) = %#v %v, full path %#v %v", s, mime, got, gm, want, wm)
		}
	}
}

// checkDecodeFields holds decodeFields to json.Unmarshal into oiMetadata,
// the struct it replaces.
func checkDecodeFields(t *testing.T, s string) {
	t.Helper()
	var want oiMetadata
	werr := json.Unmarshal([]byte(s), &want)
	var f [len(oiMetadataFields)]any
	gerr := decodeFields(s, oiMetadataFields[:], f[:])
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("decodeFields(%.200q): error %v, encoding/json: %v", s, gerr, werr)
	}
	got := oiMetadata{Node: f[0], Step: f[1], Triggers: f[2], Path: f[3], CheckpointNS: f[4], ThreadID: f[5]}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeFields(%.200q) = %#v, encoding/json: %#v", s, got, want)
	}
	gmd, gok := readOIMetadata(s)
	wmd, wok := parseOIMetadata(s)
	if gok != wok || !reflect.DeepEqual(gmd, wmd) {
		t.Fatalf("readOIMetadata(%.200q) = %#v %v, parseOIMetadata: %#v %v", s, gmd, gok, wmd, wok)
	}
}

func TestDecodeJSONSameAsEncodingJSON(t *testing.T) {
	for _, s := range fieldCases {
		checkDecodeJSON(t, s)
	}
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

// A decode that fails inside open arrays returns its stack to the pool
// holding no values (they would stay reachable until the stack is reused).
func TestDecodeStackPooledClear(t *testing.T) {
	big := `[[1,[2,"` + strings.Repeat("x", 100) + `",[3,4],{"a":[5,6]}],7],[8,9,`
	for range 3 {
		if _, err := decodeJSONText(big, utf8Check); err == nil {
			t.Fatal("truncated input decoded")
		}
		sp := decodeStacks.Get().(*[]any)
		st := (*sp)[:cap(*sp)]
		for i, v := range st {
			if v != nil {
				t.Fatalf("pooled stack holds %#v at %d", v, i)
			}
		}
		decodeStacks.Put(sp)
	}
	if v, err := decodeJSONText(`[[1,[2,3],4],[5],[],[[6]]]`, utf8Check); err != nil || !reflect.DeepEqual(v,
		[]any{[]any{1.0, []any{2.0, 3.0}, 4.0}, []any{5.0}, []any{}, []any{[]any{6.0}}}) {
		t.Fatalf("nested arrays = %#v, %v", v, err)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range append(fieldCases, jsonCases...) {
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

// BenchmarkParseValue compares parseValue (a strict decode first) with the
// full path it short-cuts (clean, then parseJSONText) on a state of ASCII
// prose and one of CJK text, where the strict decode checks every rune.
func BenchmarkParseValue(b *testing.B) {
	for _, tc := range []struct{ name, word string }{{"ascii", "refund policy "}, {"cjk", "返金ポリシー "}} {
		msg := strings.Repeat(tc.word, 300)
		s := `{"messages":[{"role":"user","content":"` + msg + `"},{"role":"assistant","content":"` + msg +
			`\n"}],"step":3,"documents":["` + msg + `"]}`
		v := pcommon.NewValueStr(s)
		b.Run(tc.name+"/full", func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				parseJSONText(clean(v.Str()), "")
			}
		})
		b.Run(tc.name+"/parseValue", func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				parseValue(v, "")
			}
		})
	}
}

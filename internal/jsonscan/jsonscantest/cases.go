// Package jsonscantest holds the JSON texts the scans of jsonscan are held
// to encoding/json on, shared by the tests of jsonscan and of its callers.
package jsonscantest

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// maxDepth is encoding/json's nesting limit (jsonscan.MaxDepth).
const maxDepth = 10000

// Cases: valid and invalid JSON on every branch of the grammar:
// escapes, surrogate pairs and lone halves, invalid UTF-8, control bytes,
// number grammar and range, literals, nesting at and past the limit,
// trailing data, repeated keys.
var Cases = []string{
	``, ` `, `{}`, `[]`, ` {"a" : [1, 2.5, -0, 1e3, 1E-3, -12.5e+2, true, false, null]} `, `"plain"`, `"é ü 日本"`,
	`{"a":1,"a":2}`, `{"":""}`, `[[[]]]`, `[{}, {"x": {"y": []}}]`, `0`, `-0`, `1.0`, `123456789012345678901234567890`,
	`"\" \\ \/ \b \f \n \r \t"`, `"\u0041\u00e9\u65e5"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00"`, `"\ud83d\u0041"`,
	`"\ud83dx"`, `"\ud83d\ud83d\ude00"`, `"\ud83d\"`, `"\u12"`, `"\u123"`, `"\u"`, `"\uZZZZ"`, `"\ud800\uZZZZ"`, `"\x"`, `"\'"`,
	`"a` + "\x01" + `"`, "\"\xff\xfe ok\"", "\"a\xc3\"", "\"\xed\xa0\x80\"", "{\"\xff\":1}", "[\"a\tb\"]", "\xef\xbb\xbf{}", "\"\x7f\"",
	`1e400`, `-1e400`, `1e-400`, `[1e309]`, `01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `1.5e3.2`, `NaN`, `Infinity`,
	`tru`, `true1`, `nul`, `nulll`, `falsey`, `[1,]`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{a:1}`, `{'a':1}`, `[1 2]`, `{"a":1 "b":2}`,
	`{} {}`, `[] x`, `"a" "b"`, `{"a":[}`, `[}`, `{]`, `[`, `{`, `{"a"`, `{"a":`, `{"a":1`, `[1`, `"abc`, `"abc\`, "[1,\n2,\r\n3\t]",
	`{"a":"[[[[","b":[{"c":"\"]}"}]}`, `"\u0000"`, `"\u`, `"\u00`,
	strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth),
	strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	strings.Repeat(`{"a":`, maxDepth) + "1" + strings.Repeat("}", maxDepth),
	strings.Repeat(`{"a":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1),
	strings.Repeat("[", 2*maxDepth),
}

// FieldCases exercise DecodeFields: exact and case-folded keys (Kelvin
// sign and long s fold to ASCII), repeated keys, values of every type,
// numbers out of range in known and unknown keys, non-objects.
var FieldCases = []string{
	`{"langgraph_node":"n","langgraph_step":3,"langgraph_triggers":["a"],"langgraph_path":["p","n"],"langgraph_checkpoint_ns":"n:1","thread_id":"t"}`,
	`{"LangGraph_Node":"n","THREAD_ID":7}`, `{"langgraph_node":"a","LANGGRAPH_NODE":"b"}`, `{"langgraph_node":"a","langgraph_node":null}`,
	"{\"langgraph_\u017ftep\":2,\"thread_id\":\"\u212a\"}", "{\"\u212angraph_node\":1}", "{\"langgraph_node\u0000\":1}",
	`{"langgraph_node":{"x":[1,{"y":null}]},"thread_id":true}`, `{"x":1e400,"langgraph_node":"n"}`, `{"langgraph_node":1e400}`,
	`{"x":[1e999,{"y":-1e999}],"thread_id":"t"}`, `{"x":01}`, `{"langgraph_step":"3"}`, `null`, ` null `, `null x`, `nul`,
	`[]`, `["langgraph_node"]`, `"langgraph_node"`, `3`, `true`, `{}`, `{"thread_id":"t"} x`, `{"thread_id":"t",}`,
	`{"thread_id":}`, `{"thread_id" "t"}`, `{"thread_id":"t"`, `{"x":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`,
	`{"x":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + `}`,
}

// LaneCases puts each byte that matters to the string scans at every
// position of strings 1 to 39 bytes long, so every 8-byte lane, the tail
// loop and the IndexByte path past 16 bytes meet it, also after earlier
// strings: the bytes they stop at, their neighbours, bytes >= 0x80 whose
// low bits equal '"' or '\\', and valid and invalid UTF-8.
func LaneCases() []string {
	var out []string
	for _, special := range []string{`"`, `\\`, `\n`, `\u00e9`, `\"`, "\x00", "\x1f", " ", "!", "#", "[", "]", "\x7f",
		"<", ">", "&", "\xa2", "\xdc", "\x80", "\xff", "é", "日", "\u2028", "\xc3", "\xe6\x97"} {
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

// FixtureStates: every string attribute of the shared OTLP fixtures and
// the hostile corpus that starts like JSON (states, messages, tool
// arguments, deeply nested and malformed states), as the scans meet them.
func FixtureStates(t testing.TB) []string {
	root := moduleRoot()
	paths, _ := filepath.Glob(filepath.Join(root, "testdata", "otlp", "*.json"))
	hostile, _ := filepath.Glob(filepath.Join(root, "testdata", "hostile", "*.json"))
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
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, span := range ss.Spans().All() {
					for _, v := range span.Attributes().All() {
						if s := v.Str(); v.Type() == pcommon.ValueTypeStr && strings.TrimLeft(s, " \t\r\n") != "" &&
							strings.ContainsRune(`{["-0123456789tfn"`, rune(strings.TrimLeft(s, " \t\r\n")[0])) {
							out = append(out, s)
						}
					}
				}
			}
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d JSON-like attributes in the fixtures", len(out))
	}
	return out
}

// moduleRoot is the repository root, found from this file's path: the
// package cannot use testutil, which imports agentrun, whose tests import
// this package.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// All is every text above: Cases, FieldCases, LaneCases and FixtureStates.
func All(t testing.TB) []string {
	out := append(append([]string(nil), Cases...), FieldCases...)
	out = append(out, LaneCases()...)
	return append(out, FixtureStates(t)...)
}

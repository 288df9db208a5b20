package store

import (
	"encoding/json"
	"strings"
	"testing"
)

// scanCases: valid and invalid JSON on every branch of scanJSON.
var scanCases = []string{
	``, ` `, `{}`, `[]`, ` {"a" : [1, 2.5, -0, 1e3, 1E-3, -12.5e+2, true, false, null]} `, `"plain"`, `"é"`,
	`{"a":1,"a":2}`, `{"":""}`, `[[[]]]`, `[{}, {"x": {"y": []}}]`, `0`, `-0`, `1.0`, `123456789012345678901234567890`, `1e400`,
	`"\" \\ \/ \b \f \n \r \t"`, `"\u0041\u00e9"`, `"\ud83d"`, `"\u0000"`, `"\u12"`, `"\u123"`, `"\uZZZZ"`, `"\x"`, `"\'"`,
	`"a` + "\x01" + `"`, "\"\xff\xfe\"", "{\"\xff\":1}", "[\"a\tb\"]", "\xef\xbb\xbf{}", "\"\x7f\"",
	`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `1.5e3.2`, `NaN`, `tru`, `true1`, `nul`, `falsey`,
	`[1,]`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{a:1}`, `[1 2]`, `{"a":1 "b":2}`, `{} {}`, `"a" "b"`, `{"a":[}`, `[}`, `{]`,
	`[`, `{`, `{"a"`, `{"a":`, `{"a":1`, `[1`, `"abc`, `"abc\`, `"\u`, "[1,\n2,\r\n3\t]", `{"a":"[[[[","b":[{"c":"\"]}"}]}`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
	strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
	strings.Repeat("[", 20000),
}

func checkScanJSON(t *testing.T, raw string) {
	t.Helper()
	depth, ok := scanJSON([]byte(raw))
	if want := json.Valid([]byte(raw)); ok != want {
		t.Fatalf("scanJSON(%.200q) valid = %v, json.Valid = %v", raw, ok, want)
	}
	if ok {
		if want := jsonDepth([]byte(raw)); depth != want {
			t.Fatalf("scanJSON(%.200q) depth = %d, jsonDepth = %d", raw, depth, want)
		}
	}
}

func TestScanJSONSameAsEncodingJSON(t *testing.T) {
	for _, raw := range scanCases {
		checkScanJSON(t, raw)
	}
}

func FuzzScanJSON(f *testing.F) {
	for _, raw := range scanCases {
		if len(raw) < 1000 {
			f.Add(raw)
		}
	}
	f.Fuzz(checkScanJSON)
}

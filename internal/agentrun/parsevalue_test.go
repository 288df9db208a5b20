package agentrun

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/jsonscan/jsonscantest"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// checkParsing: parseValue, the mapping's reading of a state attribute,
// and readOIMetadata, of the OpenInference metadata, give what the
// encoding/json paths they replace give (jsonscan holds its decoder to
// encoding/json itself).
func checkParsing(t *testing.T, s string) {
	t.Helper()
	checkParseValue(t, s)
	checkReadOIMetadata(t, s)
	if !utf8.ValidString(s) {
		checkReadOIMetadata(t, strings.ToValidUTF8(s, "\uFFFD"))
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

// checkReadOIMetadata holds readOIMetadata to parseOIMetadata, the
// encoding/json decode it replaces.
func checkReadOIMetadata(t *testing.T, s string) {
	t.Helper()
	gmd, gok := readOIMetadata(s)
	wmd, wok := parseOIMetadata(s)
	if gok != wok || !reflect.DeepEqual(gmd, wmd) {
		t.Fatalf("readOIMetadata(%.200q) = %#v %v, parseOIMetadata: %#v %v", s, gmd, gok, wmd, wok)
	}
}

func TestParsingSameAsEncodingJSON(t *testing.T) {
	for _, s := range jsonscantest.All(t) {
		checkParsing(t, s)
	}
}

func FuzzParseValue(f *testing.F) {
	for _, s := range append(jsonscantest.FieldCases, jsonscantest.Cases...) {
		if len(s) < 1000 {
			f.Add(s)
		}
	}
	f.Fuzz(checkParsing)
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

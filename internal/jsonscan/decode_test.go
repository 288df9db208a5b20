package jsonscan

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/jsonscan/jsonscantest"
)

// fieldsStruct is what DecodeFields stands in for: a struct of any fields.
type fieldsStruct struct {
	Node         any `json:"langgraph_node"`
	Step         any `json:"langgraph_step"`
	Triggers     any `json:"langgraph_triggers"`
	Path         any `json:"langgraph_path"`
	CheckpointNS any `json:"langgraph_checkpoint_ns"`
	ThreadID     any `json:"thread_id"`
}

var fieldNames = []string{"langgraph_node", "langgraph_step", "langgraph_triggers", "langgraph_path", "langgraph_checkpoint_ns", "thread_id"}

// checkDecode holds Decode, in every UTF-8 mode, and DecodeFields to
// encoding/json.
func checkDecode(t *testing.T, s string) {
	t.Helper()
	checkDecodeFields(t, s)
	if _, err := Decode(s, UTF8Strict); err == nil && !utf8.ValidString(s) {
		t.Fatalf("Decode(%.200q, UTF8Strict) accepted invalid UTF-8", s)
	}
	var want any
	werr := json.Unmarshal([]byte(s), &want)
	got, gerr := Decode(s, UTF8Replace)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("Decode(%.200q): error %v, encoding/json: %v", s, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode(%.200q) = %#v, encoding/json: %#v", s, got, want)
	}
	// On valid text every mode decodes the same.
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
		want = nil
		werr = json.Unmarshal([]byte(s), &want)
	}
	checkDecodeFields(t, s)
	for _, mode := range []UTF8Mode{UTF8Valid, UTF8Strict} {
		got, gerr = Decode(s, mode)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("Decode(%.200q, %d): error %v, encoding/json: %v", s, mode, gerr, werr)
		}
		if werr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode(%.200q, %d) = %#v, encoding/json: %#v", s, mode, got, want)
		}
	}
}

// checkDecodeFields holds DecodeFields to json.Unmarshal into the struct
// it replaces.
func checkDecodeFields(t *testing.T, s string) {
	t.Helper()
	var want fieldsStruct
	werr := json.Unmarshal([]byte(s), &want)
	f := make([]any, len(fieldNames))
	gerr := DecodeFields(s, fieldNames, f)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("DecodeFields(%.200q): error %v, encoding/json: %v", s, gerr, werr)
	}
	got := fieldsStruct{Node: f[0], Step: f[1], Triggers: f[2], Path: f[3], CheckpointNS: f[4], ThreadID: f[5]}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeFields(%.200q) = %#v, encoding/json: %#v", s, got, want)
	}
}

func TestDecodeSameAsEncodingJSON(t *testing.T) {
	for _, s := range jsonscantest.All(t) {
		checkDecode(t, s)
	}
}

// A decode that fails inside open arrays returns its stack to the pool
// holding no values (they would stay reachable until the stack is reused).
func TestDecodeStackPooledClear(t *testing.T) {
	big := `[[1,[2,"` + strings.Repeat("x", 100) + `",[3,4],{"a":[5,6]}],7],[8,9,`
	for range 3 {
		if _, err := Decode(big, UTF8Replace); err == nil {
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
	if v, err := Decode(`[[1,[2,3],4],[5],[],[[6]]]`, UTF8Replace); err != nil || !reflect.DeepEqual(v,
		[]any{[]any{1.0, []any{2.0, 3.0}, 4.0}, []any{5.0}, []any{}, []any{[]any{6.0}}}) {
		t.Fatalf("nested arrays = %#v, %v", v, err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range append(jsonscantest.FieldCases, jsonscantest.Cases...) {
		if len(s) < 1000 {
			f.Add(s)
		}
	}
	f.Fuzz(checkDecode)
}

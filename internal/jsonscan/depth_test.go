package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/jsonscan/jsonscantest"
)

// checkDepth: Depth gives encoding/json's verdict wherever it has one (up
// to MaxDepth), and the depth the other scans measure.
func checkDepth(t *testing.T, s string) {
	t.Helper()
	depth, ok := Depth(s)
	vdepth, vok := Valid(s)
	if vok {
		if !ok || depth != vdepth {
			t.Fatalf("Depth(%.200q) = %d %v, Valid = %d %v", s, depth, ok, vdepth, vok)
		}
		return
	}
	if ok && depth <= MaxDepth {
		t.Fatalf("Depth(%.200q) accepted what json.Valid refuses (depth %d)", s, depth)
	}
}

func TestDepthSameAsValid(t *testing.T) {
	for _, s := range jsonscantest.All(t) {
		checkDepth(t, s)
	}
	for _, s := range []string{`{,}`, `]`, `{"a":1}}`, `{1:2}`, `[[],[[]]]`, `{"k":{"k":{}}}`, `{"a":1,"b":[2,{"c":3}]}x`} {
		checkDepth(t, s)
	}
	if d, ok := Depth(`[[],[[{"a":[]}]]]`); !ok || d != 5 {
		t.Errorf("depth %d ok %v, want 5", d, ok)
	}
	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	if d, ok := Depth(deep); !ok || d != 100_000 {
		t.Errorf("100000 deep: depth %d ok %v", d, ok)
	}
	if json.Valid([]byte(deep)) {
		t.Fatal("encoding/json accepts 100000 levels now: the test no longer covers the gap")
	}
	if _, ok := Depth(deep[:len(deep)-1]); ok {
		t.Error("one bracket short is not valid")
	}
	obj := strings.Repeat(`{"a":`, 20_000) + "1" + strings.Repeat("}", 20_000)
	if d, ok := Depth(obj); !ok || d != 20_000 {
		t.Errorf("20000 deep objects: depth %d ok %v", d, ok)
	}
}

func FuzzDepth(f *testing.F) {
	for _, s := range jsonscantest.Cases {
		if len(s) < 1000 {
			f.Add(s)
		}
	}
	f.Fuzz(checkDepth)
}

package detect

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadSignaturesErrors(t *testing.T) {
	dir := filepath.Join("testdata", "signatures")
	p := func(name string) string { return filepath.Join(dir, name) }
	for _, tc := range []struct {
		name  string
		files []string
		want  []string
	}{
		{"duplicate across files", []string{p("valid.yaml"), p("duplicate_across.yaml")},
			[]string{p("duplicate_across.yaml") + `: signatures[0] (id "kb-unavailable"): duplicate id, first defined in ` + p("valid.yaml")}},
		{"invalid entries", []string{p("invalid_entries.yaml")}, []string{
			p("invalid_entries.yaml") + ": signatures[0]: id is empty",
			`signatures[1] (id "bad-kind"): unknown match kind "glob"`,
			`signatures[2] (id "bad-severity"): severity "fatal" is not info, warning or critical`,
			`signatures[3] (id "bad-regex"): bad regex`,
			`signatures[4] (id "no-pattern"): pattern is empty`,
			`signatures[6] (id "twice"): duplicate id, first defined in ` + p("invalid_entries.yaml") + `: signatures[5]`,
		}},
		{"unknown field", []string{p("unknown_field.yaml")}, []string{p("unknown_field.yaml"), "patern"}},
		{"malformed yaml", []string{p("malformed.yaml")}, []string{p("malformed.yaml"), "line"}},
		{"malformed json", []string{p("malformed.json")}, []string{p("malformed.json")}},
		{"no list", []string{p("no_list.yaml")}, []string{p("no_list.yaml")}},
		{"empty file", []string{p("empty.yaml")}, []string{p("empty.yaml"), "file is empty"}},
		{"missing file", []string{p("nope.yaml")}, []string{"nope.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sigs, err := LoadSignatures(tc.files...)
			if err == nil {
				t.Fatalf("want an error, got %d signatures", len(sigs))
			}
			if sigs != nil {
				t.Errorf("signatures returned alongside an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestCompileSignatures(t *testing.T) {
	set, err := CompileSignatures([]Signature{
		{ID: "a", Match: "EXACT", Pattern: " done "},
		{ID: "b", Match: "regex", Pattern: `(?i)^error \d+`},
	})
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 2 {
		t.Fatalf("len = %d", set.Len())
	}
	if got := set.Matches("  done\n"); len(got) != 1 || got[0] != "a" {
		t.Errorf("exact match on trimmed text: %v", got)
	}
	if got := set.Matches("ERROR 42: boom"); len(got) != 1 || got[0] != "b" {
		t.Errorf("regex: %v", got)
	}
	if got := set.Matches("all done"); len(got) != 0 {
		t.Errorf("exact must not match a substring: %v", got)
	}
	_, err = CompileSignatures([]Signature{{ID: "x", Match: "contains", Pattern: "p"}, {ID: "x", Match: "regex", Pattern: "[", Severity: "loud"}, {Match: "fuzzy"}})
	for _, w := range []string{`signatures[1] (id "x"): severity "loud"`, `signatures[2]: id is empty`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not contain %q", err, w)
		}
	}
	var nilSet *SignatureSet
	if nilSet.Len() != 0 || nilSet.Matches("x") != nil {
		t.Error("nil set must match nothing")
	}
}

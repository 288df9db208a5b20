package detect

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestEveryRuleHasItsFile keeps a rule one hop from its id: rule
// "<layer>.<name>" is registered, with the type of its check, by the file
// <layer>_<name>.go and by no other, and every such file holds one rule.
func TestEveryRuleHasItsFile(t *testing.T) {
	files, consts := parsePackage(t, false)
	registeredIn := map[string][]string{} // rule id -> files registering it
	for p, f := range files {
		types := map[string]bool{} // types declared in the file
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				types[ts.Name.Name] = true
			}
			return true
		})
		callsTo(f, "register", func(call *ast.CallExpr) {
			id := ""
			for _, e := range call.Args[0].(*ast.CompositeLit).Elts {
				kv := e.(*ast.KeyValueExpr)
				if kv.Key.(*ast.Ident).Name != "ID" {
					continue
				}
				switch v := kv.Value.(type) {
				case *ast.BasicLit:
					id, _ = strconv.Unquote(v.Value)
				case *ast.Ident:
					id = consts[v.Name]
				}
			}
			registeredIn[id] = append(registeredIn[id], p)
			check, ok := call.Args[1].(*ast.CompositeLit)
			if typ, isIdent := check.Type.(*ast.Ident); !ok || !isIdent || !types[typ.Name] {
				t.Errorf("%s: the check of %q is not a type declared in that file", p, id)
			}
		})
	}
	for _, id := range RuleIDs() {
		want := strings.Replace(id, ".", "_", 1) + ".go"
		if got := registeredIn[id]; !slices.Equal(got, []string{want}) {
			t.Errorf("rule %s is registered in %v, want in %s alone", id, got, want)
		}
	}
	noFileNamedLikeARule(t, files, ".go")
}

// noFileNamedLikeARule reports each of files named <layer>_<name> + suffix
// when no rule <layer>.<name> is registered.
func noFileNamedLikeARule(t *testing.T, files map[string]*ast.File, suffix string) {
	ruleFile := regexp.MustCompile(`^(structural|semantic|behavioral|statistical)_[a-z_]+` + regexp.QuoteMeta(suffix) + `$`)
	for p := range files {
		if !ruleFile.MatchString(p) {
			continue
		}
		id := strings.Replace(strings.TrimSuffix(p, suffix), "_", ".", 1)
		if _, ok := Rules[id]; !ok {
			t.Errorf("%s is named like a rule's file, but no rule %s is registered", p, id)
		}
	}
}

// parsePackage parses the package's files (its tests too when withTests)
// and collects the string constants of its code, the rule ids among them.
func parsePackage(t *testing.T, withTests bool) (files map[string]*ast.File, consts map[string]string) {
	fset := token.NewFileSet()
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	files, consts = map[string]*ast.File{}, map[string]string{}
	for _, p := range paths {
		test := strings.HasSuffix(p, "_test.go")
		if test && !withTests {
			continue
		}
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, p, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = f
		if test {
			continue
		}
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
				for _, s := range g.Specs {
					vs := s.(*ast.ValueSpec)
					for k, name := range vs.Names {
						if k < len(vs.Values) {
							if lit, ok := vs.Values[k].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								consts[name.Name], _ = strconv.Unquote(lit.Value)
							}
						}
					}
				}
			}
		}
	}
	return files, consts
}

// callsTo calls fn with each call of the package function name (two
// arguments: a rule and its check, or a rule id and its look-alikes) in f.
func callsTo(f *ast.File, name string, fn func(call *ast.CallExpr)) {
	ast.Inspect(f, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok && len(call.Args) == 2 {
			if id, ok := call.Fun.(*ast.Ident); ok && id.Name == name {
				fn(call)
			}
		}
		return true
	})
}

// TestEveryRuleHasItsTestFile keeps a rule's tests one hop from its id too:
// rule "<layer>.<name>" adds its healthy look-alikes, next to its other
// tests, in <layer>_<name>_test.go and in no other file, and every test
// file named like a rule's is one.
func TestEveryRuleHasItsTestFile(t *testing.T) {
	files, consts := parsePackage(t, true)
	addedIn := map[string][]string{} // rule id -> files adding its look-alikes
	for p, f := range files {
		if !strings.HasSuffix(p, "_test.go") {
			continue
		}
		callsTo(f, "addLookAlikes", func(call *ast.CallExpr) {
			id := ""
			if arg, ok := call.Args[0].(*ast.Ident); ok {
				id = consts[arg.Name]
			}
			if id == "" {
				t.Errorf("%s: addLookAlikes is called with no rule id constant", p)
			}
			addedIn[id] = append(addedIn[id], p)
		})
	}
	for _, id := range RuleIDs() {
		want := strings.Replace(id, ".", "_", 1) + "_test.go"
		if got := addedIn[id]; !slices.Equal(got, []string{want}) {
			t.Errorf("the look-alikes of rule %s are added in %v, want in %s alone, with its other tests", id, got, want)
		}
	}
	noFileNamedLikeARule(t, files, "_test.go")
}

package detect

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// The pattern gates of the placeholder and refusal rules
// (placeholder_scan.go, refusal_scan.go) against their references.

// refFindPlaceholder and refFindRefusal are the pattern gates as they were
// (on strings.ToLower of the whole head) before they became one pass.
func refFindPlaceholder(s string) (name, match string, ok bool) {
	lower := strings.ToLower(s)
	for _, p := range placeholderPatterns {
		if !strings.Contains(lower, p.literal) {
			continue
		}
		if m, ok := p.match(s); ok {
			return p.name, m, true
		}
	}
	return "", "", false
}

func refFindRefusal(s string) (string, bool) {
	lower := clipBytes(strings.ToLower(s), 1024)
	if !strings.Contains(lower, "as an ai") && !strings.Contains(lower, "sorry") && !strings.Contains(lower, "i can") &&
		!strings.Contains(lower, "i am") && !strings.Contains(lower, "i\u2019m") && !strings.Contains(lower, "i'm") &&
		!strings.Contains(lower, "i must") && !strings.Contains(lower, "i won") {
		return "", false
	}
	head := quoteFolder.Replace(clipBytes(s, 1024))
	loc := refusalRe.FindStringIndex(head)
	if loc == nil {
		return "", false
	}
	if loc[0] > 80 && utf8.RuneCountInString(s) > 300 {
		return "", false
	}
	return strings.TrimRight(head[loc[0]:loc[1]], " ,"), true
}

func checkPatterns(t *testing.T, s string) {
	t.Helper()
	gn, gm, gok := findPlaceholder(s)
	wn, wm, wok := refFindPlaceholder(s)
	if gn != wn || gm != wm || gok != wok {
		t.Fatalf("findPlaceholder(%q) = %q %q %v, want %q %q %v", s, gn, gm, gok, wn, wm, wok)
	}
	gp, gok := findRefusal(s)
	wp, wok := refFindRefusal(s)
	if gp != wp || gok != wok {
		t.Fatalf("findRefusal(%q) = %q %v, want %q %v", s, gp, gok, wp, wok)
	}
}

// patternCases: every placeholder and refusal in the rule's tests, in other
// cases and with the runes whose lowercase is ASCII (U+0130 -> i,
// U+212A -> k) or that fold to ASCII in (?i) regexps (U+017F -> s), and
// lowercasing that changes byte lengths (U+023A, 2 -> 3 bytes; invalid
// bytes -> U+FFFD) in front of a refusal near the 1024-byte cut.
func patternCases(rng *rand.Rand) []string {
	base := []string{
		"PLACEHOLDER", "[placeholder]", "{ Placeholder }", "<YOUR_NAME>", "<your api key>", "YOUR_API_KEY", "{{ name }}", "<<VAR>>",
		"TODO", "a todo list", "TBD", "Lorem ipsum dolor", "[INSERT name here]", "[insert]", "XXXX", "xxx",
		"As an AI language model, I cannot", "I'm sorry, but I cannot help", "I\u2019m sorry, but I can't", "i am unable to help",
		"I must decline.", "I won't be able to help", "I can't assist with that",
		"[\u0130nsert name]", "lorem \u0130psum", "[in\u017fert name]", "lorem ip\u017fum", "\u0130 am sorry, but I cannot",
		"\u212a", "\u0130NSERT", "[\u0130NSERT x] and [insert y]", "\u0130nsert [in\u017fert x]",
	}
	out := append([]string(nil), base...)
	for range 600 {
		var b strings.Builder
		b.WriteString(llmProse(rng, rng.IntN(1500)))
		for range rng.IntN(4) {
			p := []rune(base[rng.IntN(len(base))])
			for i := range p { // random case, sometimes the special runes
				switch rng.IntN(8) {
				case 0:
					p[i] = unicode.ToUpper(p[i])
				case 1:
					p[i] = unicode.ToLower(p[i])
				case 2:
					if p[i] == 'i' || p[i] == 'I' {
						p[i] = '\u0130'
					} else if p[i] == 's' {
						p[i] = '\u017f'
					}
				}
			}
			pad := rng.IntN(1100)
			filler := []string{"\u023a", "\xff", "a", "\u0130"}[rng.IntN(4)]
			b.WriteString(strings.Repeat(filler, pad/len(filler)))
			b.WriteString(string(p))
			b.WriteString(" ")
			b.WriteString(llmProse(rng, rng.IntN(300)))
		}
		out = append(out, b.String())
	}
	return out
}

func TestPatternGatesSameAsBefore(t *testing.T) {
	hits := 0
	for _, s := range patternCases(rand.New(rand.NewPCG(9, 10))) {
		checkPatterns(t, s)
		if _, _, ok := refFindPlaceholder(s); ok {
			hits++
		}
		if _, ok := refFindRefusal(s); ok {
			hits++
		}
	}
	if hits < 200 {
		t.Fatalf("only %d cases matched a pattern: the cases no longer exercise the rules", hits)
	}
}

func FuzzPatternGates(f *testing.F) {
	for _, s := range patternCases(rand.New(rand.NewPCG(1, 1)))[:40] {
		f.Add(s)
	}
	f.Fuzz(checkPatterns)
}

// The cue scan tests 8 positions at a time and the last 10 bytes one by
// one: every pattern, in several cases, at every offset around those
// bounds, in ASCII and non-ASCII surroundings, gives what the gate of
// strings.ToLower gave.
func TestPlaceholderCuesAtEveryOffset(t *testing.T) {
	names := []string{"PLACEHOLDER", "<YOUR_...>", "{{var}}", "<<VAR>>", "TODO", "TBD", "lorem ipsum", "[INSERT ...]", "XXX"}
	for i, p := range placeholderPatterns {
		if p.name != names[i] {
			t.Fatalf("placeholderPatterns[%d] is %q, the ph constants expect %q", i, p.name, names[i])
		}
	}
	cases := []string{"PLACEHOLDER", "[placeholder]", "{ Placeholder }", "<YOUR_NAME>", "<your api key>", "YOUR_API_KEY",
		"{{ name }}", "<<VAR>>", "TODO", "TBD", "Lorem ipsum", "LOREM IPSUM", "lorem Ip\u017fum", "[INSERT name]", "[ insert x]",
		"XXXX", "XXX", "[\u0130nsert x]", "lorem \u0130psum", "m ip", "TOD", "TB", "XX", "{x}{", "<", "[", "{"}
	hits := 0
	for _, c := range cases {
		for _, pad := range []string{"a", " ", "\u00e9", "Z"} {
			for before := range 20 {
				for after := range 12 {
					s := strings.Repeat(pad, before) + c + strings.Repeat(pad, after)
					checkPatterns(t, s)
					if _, _, ok := refFindPlaceholder(s); ok {
						hits++
					}
				}
			}
		}
	}
	if hits < 5000 {
		t.Fatalf("only %d cases matched a placeholder", hits)
	}
}

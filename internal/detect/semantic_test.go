package detect

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func semantic(run *agentrun.Run) []Finding { return Semantic(run, cfgWith(nil)) }

// textRun is a two-step run whose second step ("write") outputs out.
func textRun(out any) *agentrun.Run {
	return newRun(
		stepSpec{Node: "plan", In: j(`{"topic":"refunds"}`), Out: j(`{"outline":"intro, policy, contact"}`)},
		stepSpec{Node: "write", In: j(`{"outline":"intro, policy, contact"}`), Out: out},
	)
}

func TestPlaceholder(t *testing.T) {
	for _, tc := range []struct{ text, pattern string }{
		{"Dear <YOUR_NAME>, thanks for your order.", "<YOUR_...>"},
		{"Call us at YOUR_PHONE_NUMBER today.", "<YOUR_...>"},
		{"Hello {{customer_name}}, your refund is on its way.", "{{var}}"},
		{"Signed, <<AGENT_NAME>>", "<<VAR>>"},
		{"TODO: write the conclusion", "TODO"},
		{"Summary:\n- TODO\n- Refunds within 30 days.", "TODO"},
		{"// TODO answer the customer", "TODO"},
		{"Release date: TBD", "TBD"},
		{"Lorem ipsum dolor sit amet.", "lorem ipsum"},
		{"Contact [INSERT COMPANY NAME] for details.", "[INSERT ...]"},
		{"Your account number is XXX.", "XXX"},
		{"PLACEHOLDER", "PLACEHOLDER"},
		{"See the [placeholder] section.", "PLACEHOLDER"},
	} {
		t.Run(tc.pattern+"/"+tc.text, func(t *testing.T) {
			fs := semantic(textRun(map[string]any{"body": tc.text}))
			f := one(t, fs, rulePlaceholder)
			expect(t, f, 1, SeverityWarning, map[string]any{"field": "body", "path": "$.body", "pattern": tc.pattern, "node": "write"})
		})
	}
	t.Run("nested path, once per path", func(t *testing.T) {
		fs := semantic(textRun(j(`{"sections":[{"title":"Intro","body":"TODO TODO TODO"},{"title":"Policy","body":"Refunds within 30 days."},{"title":"TBD","body":"x"}]}`)))
		got := byRule(fs, rulePlaceholder)
		if len(got) != 2 {
			t.Fatalf("want 2 placeholder findings, got:\n%s", dump(fs))
		}
		expect(t, got[0], 1, SeverityWarning, map[string]any{"field": "sections", "path": "$.sections[0].body", "pattern": "TODO"})
		expect(t, got[1], 1, SeverityWarning, map[string]any{"field": "sections", "path": "$.sections[2].title", "pattern": "TBD"})
		if got[0].ID == got[1].ID {
			t.Error("findings at two paths must have distinct ids")
		}
	})
	t.Run("clean", func(t *testing.T) {
		for _, text := range []string{
			"I built a todo list app with a to-do view.",
			"The placeholder text in the form was unclear, so we rewrote it.",
			"Format the greeting as {name} in Python.",
			"Sizes: S, M, L, XL, XXL.",
			"The release date is still to be determined.",
			"[1] Smith et al. describe the method.",
			"x << 2 >> 1 shifts bits.",
			// TODO and TBD as words the answer talks about (recorded SDK runs)
			"The linter reports comments marked TODO or FIXME as warnings when strict mode is on.",
			`That is a known issue: invoices created before June 2 show "TODO" in the VAT field.`,
			"invoice VAT field TODO",
			"The launch date is TBD until legal signs off, so we cannot promise it.",
			"Comments tagged \u201cTODO\u201d are skipped.",
		} {
			none(t, semantic(textRun(map[string]any{"body": text})), rulePlaceholder)
		}
	})
}

func TestRefusal(t *testing.T) {
	for _, text := range []string{
		"I'm sorry, but I cannot help with that request.",
		"I’m sorry, but I can’t share that information.",
		"As an AI language model, I do not have personal opinions.",
		"Unfortunately I am unable to access your account details.",
		"I cannot assist with creating that content.",
	} {
		t.Run(text, func(t *testing.T) {
			f := one(t, semantic(textRun(map[string]any{"answer": text})), ruleRefusal)
			expect(t, f, 1, SeverityWarning, map[string]any{"field": "answer", "path": "$.answer"})
		})
	}
	t.Run("clean", func(t *testing.T) {
		long := "Refunds for annual plans are possible within 30 days of purchase. " + strings.Repeat("The policy applies to every region and every plan tier. ", 6) +
			"A customer once wrote: I am unable to find the refund button, so we added it to the billing page."
		for _, text := range []string{
			long,
			"As an AI researcher, I have studied retrieval systems for a decade.",
			"The sorry state of the docs is why we rewrote them.",
		} {
			none(t, semantic(textRun(map[string]any{"answer": text})), ruleRefusal)
		}
	})
}

func TestNullLikeAndWhitespace(t *testing.T) {
	fs := semantic(textRun(j(`{"answer":" N/A ","owner":"undefined","tags":["ok","[object Object]"],"summary":" \n\t ","nbsp":"\u00a0\u200b"}`)))
	nl := byRule(fs, ruleNullLike)
	if len(nl) != 3 {
		t.Fatalf("want 3 null_like, got:\n%s", dump(fs))
	}
	expect(t, nl[0], 1, SeverityWarning, map[string]any{"field": "answer", "path": "$.answer", "value": "n/a"})
	expect(t, nl[2], 1, SeverityWarning, map[string]any{"field": "tags", "path": "$.tags[1]", "value": "[object object]"})
	ws := byRule(fs, ruleWhitespace)
	if len(ws) != 2 {
		t.Fatalf("want 2 whitespace, got:\n%s", dump(fs))
	}
	expect(t, ws[1], 1, SeverityWarning, map[string]any{"field": "summary", "path": "$.summary"})
	t.Run("clean", func(t *testing.T) {
		fs := semantic(textRun(j(`{"answer":"None of the plans allow refunds after 30 days.","note":"","nullable":null,"count":0,"flag":false,"nil_reason":"not applicable here"}`)))
		none(t, fs, ruleNullLike, ruleWhitespace)
	})
}

const cutProse = "The committee reviewed the quarterly figures in detail. It agreed to extend the pilot for another season. " +
	"Members raised concerns about the budget, the staffing plan and the timeline for the second phase of the rollout, which the chair promised to addr"

func TestTruncated(t *testing.T) {
	t.Run("heuristic is info", func(t *testing.T) {
		f := one(t, semantic(textRun(map[string]any{"report": cutProse})), ruleTruncated)
		expect(t, f, 1, SeverityInfo, map[string]any{"field": "report", "heuristic": true})
		// A configured severity is honoured.
		fs := Semantic(textRun(map[string]any{"report": cutProse}), cfgWith(map[string]RuleConfig{ruleTruncated: {Severity: SeverityWarning}}))
		expect(t, one(t, fs, ruleTruncated), 1, SeverityWarning, nil)
	})
	t.Run("finish reason in metadata is a warning", func(t *testing.T) {
		run := textRun(map[string]any{"report": "Short but complete."})
		run.Steps[1].Metadata = map[string]any{"llm": map[string]any{"gen_ai.response.finish_reasons": []any{"length"}}}
		f := one(t, semantic(run), ruleTruncated)
		expect(t, f, 1, SeverityWarning, map[string]any{"finish_reason": "length", "path": `metadata.llm["gen_ai.response.finish_reasons"]`})
	})
	t.Run("finish reason in an LLM result", func(t *testing.T) {
		run := textRun(map[string]any{"report": "Short but complete."})
		run.Steps[1].Calls = []agentrun.Call{{SpanID: "l1", Name: "claude", Kind: "llm", Status: "ok",
			Result: `{"content":[{"type":"text","text":"Short but complete."}],"stop_reason":"max_tokens"}`}}
		expect(t, one(t, semantic(run), ruleTruncated), 1, SeverityWarning, map[string]any{"finish_reason": "max_tokens", "call": nil})
	})
	t.Run("finish reason in GenAI output messages", func(t *testing.T) {
		run := textRun(j(`[{"role":"assistant","parts":[{"type":"text","content":"Lisbon looks sunny"}],"finish_reason":"length"}]`))
		expect(t, one(t, semantic(run), ruleTruncated), 1, SeverityWarning, map[string]any{"finish_reason": "length", "path": "$[0].finish_reason"})
		// A message history passed on unchanged is not reported again.
		hist := j(`{"messages":[{"role":"assistant","content":"Part one","response_metadata":{"finish_reason":"length"}}]}`)
		run = newRun(
			stepSpec{Node: "agent", In: j(`{}`), Out: hist},
			stepSpec{Node: "router", In: j(`{}`), Out: j(`{"messages":[{"role":"assistant","content":"Part one","response_metadata":{"finish_reason":"length"}}],"route":"end"}`)},
		)
		got := byRule(semantic(run), ruleTruncated)
		if len(got) != 1 || got[0].Step != 0 {
			t.Fatalf("want the finish reason on the agent step only, got:\n%s", dump(got))
		}
	})
	t.Run("clean", func(t *testing.T) {
		base := strings.Repeat("The committee reviewed the quarterly figures in detail. ", 5)
		for name, text := range map[string]string{
			"punctuated":  base + "It adjourned at noon.",
			"url":         base + "More at https://example.org/reports/quarterly",
			"table":       base + "\n| quarter | revenue |\n| --- | --- |\n| Q1 | ten million",
			"list":        base + "\n- extend the pilot\n- review the budget",
			"code":        base + "\n```go\nfunc main() {\n\tfmt.Println(x)\n```\nand then",
			"short":       "It stopped mid wor",
			"identifier":  base + "\nThe value is stored in the field user_name",
			"no sentence": strings.Repeat("keyword ", 40) + "another",
		} {
			run := textRun(map[string]any{"report": text})
			run.Steps[1].Metadata = map[string]any{"finish_reason": "stop"}
			if fs := byRule(semantic(run), ruleTruncated); len(fs) > 0 {
				t.Errorf("%s: unexpected truncation finding:\n%s", name, dump(fs))
			}
		}
	})
}

func TestCorruptedJSON(t *testing.T) {
	t.Run("malformed output", func(t *testing.T) {
		run := textRun(`{"answer": "Refunds within 30 da`)
		run.Steps[1].OutputMalformed = true
		// One finding: the mapping's flag, explained by the text's problem.
		expect(t, one(t, semantic(run), ruleCorruptedJSON), 1, SeverityWarning, map[string]any{"path": "$", "field": "", "reason": "unterminated string"})
	})
	for _, tc := range []struct{ text, reason string }{
		{`{"name": "Ada", "skills": ["go", "sql"]`, "unclosed brace"},
		{`[{"id": 1}, {"id": 2}`, "unclosed bracket"},
		{"```json\n{\"a\": \"b\n```", "unterminated string"},
		{`{"a": 1,}`, "invalid JSON"},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			f := one(t, semantic(textRun(map[string]any{"payload": tc.text})), ruleCorruptedJSON)
			expect(t, f, 1, SeverityWarning, map[string]any{"field": "payload", "path": "$.payload"})
			if !strings.HasPrefix(fmt.Sprint(f.Details["reason"]), tc.reason) {
				t.Errorf("reason = %v, want %s", f.Details["reason"], tc.reason)
			}
		})
	}
	t.Run("clean", func(t *testing.T) {
		for _, text := range []string{
			`{"name": "Ada", "skills": ["go"]}`, "{name} is a template", "[1] Smith, 2020", "[INSERT]x",
			"{\"a\":1}\n{\"a\":2}\n", "```json\n{\"a\": 1}\n```", "{}", "[]", "{ not json at all }",
		} {
			none(t, semantic(textRun(map[string]any{"payload": text})), ruleCorruptedJSON)
		}
	})
}

func TestRepeatedFiller(t *testing.T) {
	t.Run("same sentence", func(t *testing.T) {
		text := strings.Repeat("Our product is the best on the market. ", 5)
		f := one(t, semantic(textRun(map[string]any{"answer": text})), ruleRepeatedFiller)
		expect(t, f, 1, SeverityWarning, map[string]any{"field": "answer", "repeats": 5})
	})
	t.Run("degenerate phrase loop", func(t *testing.T) {
		text := "The answer is that " + strings.Repeat("we go to the store and then ", 6) + "we stop"
		f := one(t, semantic(textRun(map[string]any{"answer": text})), ruleRepeatedFiller)
		expect(t, f, 1, SeverityWarning, map[string]any{"field": "answer"})
	})
	t.Run("threshold", func(t *testing.T) {
		text := strings.Repeat("Our product is the best on the market. ", 5)
		fs := Semantic(textRun(map[string]any{"answer": text}), cfgWith(map[string]RuleConfig{ruleRepeatedFiller: {Threshold: 6}}))
		none(t, fs, ruleRepeatedFiller)
	})
	t.Run("clean", func(t *testing.T) {
		for _, text := range []string{
			"Annual plans can be refunded within 30 days. Monthly plans cannot be refunded. Contact support for exceptions. Refunds go to the original payment method.",
			"Document 1 from the knowledge base: refunds take 5 days. Document 2 from the knowledge base: annual plans only. Document 3 from the knowledge base: contact billing for invoices and receipts.",
			"Thank you. We received your request and will answer within two business days. Thank you.",
			// a refrain that is a minor part of the text
			"Please contact support for help. Annual plans can be refunded within 30 days of purchase. Monthly plans renew on the first day of each month. " +
				"Please contact support for help. Invoices are emailed to the billing address on file within one hour. Enterprise contracts have custom terms negotiated by sales. " +
				"Please contact support for help. Gift cards never expire and can be combined with promotions at checkout.",
		} {
			none(t, semantic(textRun(map[string]any{"answer": text})), ruleRepeatedFiller)
		}
	})
}

func TestSignatures(t *testing.T) {
	sigs, err := LoadSignatures(filepath.Join("testdata", "signatures", "valid.yaml"), filepath.Join("testdata", "signatures", "valid.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != 5 {
		t.Fatalf("want 5 signatures, got %d", len(sigs))
	}
	cfg := cfgWith(nil)
	cfg.Signatures = sigs
	run := textRun(j(`{"answer":"Sorry, the knowledge base is unavailable right now.","ref":"see Internal Ticket #48213","status":"NO_ANSWER","intro":"  We apologize for the inconvenience caused."}`))
	fs := byRule(Semantic(run, cfg), ruleSignatureMatch)
	got := map[string]Finding{}
	for _, f := range fs {
		got[fmt.Sprint(f.Details["signature"])] = f
	}
	if len(got) != 4 {
		t.Fatalf("want 4 signature findings, got:\n%s", dump(fs))
	}
	expect(t, got["kb-unavailable"], 1, SeverityCritical, map[string]any{"field": "answer", "match": "contains"})
	if !strings.Contains(got["kb-unavailable"].Message, "the answer is made up") {
		t.Errorf("signature message not used: %q", got["kb-unavailable"].Message)
	}
	expect(t, got["ticket-id-leak"], 1, SeverityWarning, map[string]any{"field": "ref", "match": "regex"})
	expect(t, got["empty-answer-marker"], 1, SeverityInfo, map[string]any{"field": "status"})
	expect(t, got["canned-apology"], 1, SeverityWarning, map[string]any{"field": "intro", "match": "prefix"})

	t.Run("clean", func(t *testing.T) {
		run := textRun(j(`{"answer":"Refunds are possible within 30 days.","status":"NO_ANSWER yet","intro":"Hi! We apologize for the inconvenience"}`))
		none(t, Semantic(run, cfg), ruleSignatureMatch)
	})
	t.Run("invalid entries in the config are skipped, not fatal", func(t *testing.T) {
		cfg := cfgWith(nil)
		cfg.Signatures = []Signature{{ID: "bad", Match: "regex", Pattern: "("}, {ID: "ok", Match: "contains", Pattern: "30 days"}}
		fs := byRule(Semantic(textRun(map[string]any{"answer": "within 30 days"}), cfg), ruleSignatureMatch)
		if len(fs) != 1 || fs[0].Details["signature"] != "ok" {
			t.Fatalf("want the valid signature only, got:\n%s", dump(fs))
		}
	})
	t.Run("concurrent use compiles once and is race-free", func(t *testing.T) {
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if n := len(byRule(Semantic(run, cfg), ruleSignatureMatch)); n != 4 {
					t.Errorf("got %d signature findings", n)
				}
			}()
		}
		wg.Wait()
	})
}

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

func TestSemanticSkipsPassThroughAndDuplicates(t *testing.T) {
	run := newRun(
		stepSpec{Node: "draft", In: j(`{"topic":"t"}`), Out: j(`{"answer":"TODO: fill in"}`),
			Calls: []agentrun.Call{{SpanID: "l1", Name: "ChatOpenAI", Kind: "llm", Result: "TODO: fill in", Status: "ok"}}},
		// a full-state node passing the same answer on is a victim, not a new finding
		stepSpec{Node: "review", In: j(`{}`), Out: j(`{"answer":"TODO: fill in","approved":false}`)},
		stepSpec{Node: "polish", In: j(`{}`), Out: j(`{"answer":"Final text."}`),
			Calls: []agentrun.Call{{SpanID: "l2", Name: "ChatOpenAI", Kind: "llm", Result: "Sure! <YOUR_NAME> here.", Status: "ok"}}},
	)
	fs := byRule(semantic(run), rulePlaceholder)
	if len(fs) != 2 {
		t.Fatalf("want placeholder on draft (once) and on polish's LLM call, got:\n%s", dump(fs))
	}
	expect(t, fs[0], 0, SeverityWarning, map[string]any{"path": "$.answer"})
	expect(t, fs[1], 2, SeverityWarning, map[string]any{"path": "calls[0].result", "call": "ChatOpenAI", "field": ""})
}

func TestSemanticCapsAndConfig(t *testing.T) {
	items := make([]any, 50)
	for i := range items {
		items[i] = "N/A"
	}
	fs := byRule(semantic(textRun(map[string]any{"rows": items})), ruleNullLike)
	if len(fs) != maxFindingsPerRule {
		t.Fatalf("want %d findings (capped), got %d", maxFindingsPerRule, len(fs))
	}
	if fs[len(fs)-1].Details["more_matches"] != 30 {
		t.Errorf("last finding should count the rest: %v", fs[len(fs)-1].Details)
	}
	run := textRun(map[string]any{"a": "TODO", "b": "I'm sorry, but I cannot do that."})
	fs = Semantic(run, cfgWith(map[string]RuleConfig{rulePlaceholder: {Disabled: true}, ruleRefusal: {Severity: SeverityCritical}}))
	none(t, fs, rulePlaceholder)
	expect(t, one(t, fs, ruleRefusal), 1, SeverityCritical, nil)
}

func TestSemanticOddInputs(t *testing.T) {
	if Semantic(nil, nil) != nil || Semantic(&agentrun.Run{}, nil) != nil {
		t.Fatal("nil or empty run must give no findings")
	}
	deep := any("TODO")
	for range 500 {
		deep = []any{deep}
	}
	huge := strings.Repeat("lorem ipsum ", 1<<18) // 3 MiB
	bad := "\xff\xfe TODO \xc3"
	run := newRun(
		stepSpec{Node: "a", In: j(`{}`), Out: map[string]any{"deep": deep, "n": 1.5, "b": true, "nil": nil, "nested": []any{[]any{[]any{}}}}},
		stepSpec{Node: "b", In: j(`{}`), Out: map[string]any{"huge": huge, bad: bad, "json": "{" + strings.Repeat(`"a":[`, 10000)}},
		stepSpec{Node: "c", In: j(`{}`), Out: 42.0, Calls: []agentrun.Call{{Kind: "llm", Result: "\x00\xff{"}, {Kind: "LLM", Result: "null"}}},
		stepSpec{Node: "d", In: j(`{}`), Out: bad, Metadata: map[string]any{"finish_reason": []string{"stop", "length"}}},
	)
	fs := semantic(run)
	none(t, byRuleStep(fs, rulePlaceholder, 0), rulePlaceholder) // deeper than the walk bound
	if len(byRuleStep(fs, rulePlaceholder, 1)) == 0 {
		t.Errorf("placeholders in the huge string and the invalid UTF-8 key should be found:\n%s", dump(fs))
	}
	expect(t, one(t, byRuleStep(fs, ruleCorruptedJSON, 1), ruleCorruptedJSON), 1, SeverityWarning, map[string]any{"field": "json"})
	expect(t, one(t, byRuleStep(fs, ruleTruncated, 3), ruleTruncated), 3, SeverityWarning, map[string]any{"finish_reason": "length"})
	for _, f := range fs {
		if len(f.Message) > 1000 {
			t.Errorf("message of %s is %d bytes", f.Rule, len(f.Message))
		}
	}
}

func BenchmarkSemantic(b *testing.B) {
	run := ssBenchRun()
	cfg := cfgWith(nil)
	cfg.Signatures = []Signature{{ID: "s1", Match: "regex", Pattern: `(?i)internal ticket #\d+`}, {ID: "s2", Match: "contains", Pattern: "knowledge base is down"}}
	b.ReportAllocs()
	for b.Loop() {
		Semantic(run, cfg)
	}
}

// Analyze drops findings with equal ids, so two distinct findings of these
// layers must never share one.
func TestFindingIDsAreDistinct(t *testing.T) {
	runs := []*agentrun.Run{
		ragCrashRun(),
		textRun(j(`{"a":"TODO","b":"TODO","c":["N/A","N/A",{"d":"TODO"}],"e":"{\"x\": 1","f":" "}`)),
		textRun(`{"answer": "cut`),
	}
	runs[2].Steps[1].OutputMalformed = true
	for _, run := range ssCleanCorpus() {
		runs = append(runs, run)
	}
	for i, run := range runs {
		fs := append(Structural(run, cfgWith(nil)), Semantic(run, cfgWith(nil))...)
		ids := map[string]Finding{}
		for _, f := range fs {
			if prev, dup := ids[f.ID]; dup {
				t.Errorf("run %d: %s and %s share id %s", i, dump([]Finding{prev}), dump([]Finding{f}), f.ID)
			}
			ids[f.ID] = f
		}
	}
}

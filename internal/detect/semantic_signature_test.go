package detect

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func init() {
	addLookAlikes(ruleSignatureMatch, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a user quoting the error text the signature matches, the answer explaining it in other words",
			cfg: func() Config {
				return Config{Signatures: []Signature{{ID: "kb-down", Match: MatchContains, Pattern: "knowledge base unavailable"}}}
			},
			healthy: newRun(stepSpec{Node: "answer", In: j(`{"question":"The app said knowledge base unavailable, what now?"}`),
				Out: j(`{"answer":"That message appears while the search index is rebuilt; try again in a minute."}`)}),
			fault: newRun(stepSpec{Node: "answer", In: j(`{"question":"How do refunds work?"}`),
				Out: j(`{"answer":"Sorry, the knowledge base unavailable right now."}`)}),
		}}
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

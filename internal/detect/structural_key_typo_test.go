package detect

import (
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func init() {
	addLookAlikes(ruleKeyTypo, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a reranker writing the top document next to the documents list",
			healthy: newRun(
				stepSpec{Node: "retrieve", In: j(`{"query":"q"}`), Out: j(`{"documents":[{"id":1},{"id":2}]}`)},
				stepSpec{Node: "rerank", In: j(`{"documents":[{"id":1},{"id":2}]}`), Out: j(`{"document":{"id":2}}`)}),
			fault: newRun(
				stepSpec{Node: "retrieve", In: j(`{"query":"q","documents":[]}`), Out: j(`{"documnets":[{"id":1}]}`)},
				stepSpec{Node: "rerank", In: j(`{"documents":[]}`), Out: j(`{"ranked":true}`)}),
		}}
	})
}

func TestKeyTypo(t *testing.T) {
	t.Run("field left empty in state", func(t *testing.T) {
		fs := structural(newRun(
			stepSpec{Node: "retrieve", In: j(`{"query":"q","documents":[]}`), Out: j(`{"documnets":[{"id":1}]}`)},
			stepSpec{Node: "rerank", In: j(`{"documents":[]}`), Out: j(`{"ranked":true}`)},
		))
		f := one(t, fs, ruleKeyTypo)
		expect(t, f, 0, SeverityWarning, map[string]any{"field": "documents", "key": "documnets", "distance": 1})
		if !strings.Contains(f.Message, `"documnets"`) || !strings.Contains(f.Message, `"documents"`) {
			t.Errorf("message = %q", f.Message)
		}
	})
	t.Run("field a later crash needs", func(t *testing.T) {
		run := newRun(
			stepSpec{Node: "retrieve", In: j(`{"query":"q"}`), Out: j(`{"dokumentz":[{"id":1}]}`)},
			stepSpec{Node: "synthesize", In: j(`{"query":"q"}`), NoOutput: true, Status: agentrun.StatusError, Exceptions: keyError("documents")},
		)
		fs := structural(run)
		f := one(t, fs, ruleKeyTypo)
		expect(t, f, 0, SeverityWarning, map[string]any{"field": "documents", "key": "dokumentz", "distance": 2})
		// The crash is blamed on the misspelling step.
		cr := one(t, fs, ruleCrashMissingData)
		expect(t, cr, 1, SeverityCritical, map[string]any{"field": "documents", "producer_step": 0, "state": "typo", "typo_key": "dokumentz"})

		// Threshold 1: a distance-2 key is no longer a typo.
		fs = Structural(run, cfgWith(map[string]RuleConfig{ruleKeyTypo: {Threshold: 1}}))
		none(t, fs, ruleKeyTypo)
	})
	t.Run("contract field", func(t *testing.T) {
		cfg := cfgWith(nil)
		cfg.Contracts = map[string]FieldContract{"write": {Required: map[string]string{"summary": "string"}}}
		fs := Structural(newRun(stepSpec{Node: "write", In: j(`{"text":"t"}`), Out: j(`{"sumary":"s"}`)}), cfg)
		expect(t, one(t, fs, ruleKeyTypo), 0, SeverityWarning, map[string]any{"field": "summary", "key": "sumary"})
		expect(t, one(t, fs, ruleContractViolation), 0, SeverityCritical, map[string]any{"field": "summary", "actual": "missing"})
	})
	t.Run("clean", func(t *testing.T) {
		fs := structural(newRun(
			stepSpec{Node: "a", In: j(`{"doc":"","query":""}`), Out: j(`{"docs":["x"],"queries":["q1"]}`)},
			// "answer" near the filled "answers" is not a typo; "drafts" is
			// needed later but written by "c" before it is read.
			stepSpec{Node: "b", In: j(`{}`), Out: j(`{"answers":["1"],"draft":"d"}`)},
			stepSpec{Node: "b2", In: j(`{}`), Out: j(`{"answer":"1"}`)},
			stepSpec{Node: "c", In: j(`{}`), Out: j(`{"drafts":["d"]}`)},
			stepSpec{Node: "d", In: j(`{"drafts":["d"]}`), Out: j(`{"final":"f"}`)},
			// two edits apart is too far for short names: "task" is not "rank"
			stepSpec{Node: "e", In: j(`{}`), Out: j(`{"rank":null}`)},
			stepSpec{Node: "f", In: j(`{}`), Out: j(`{"task":"t"}`)},
		))
		none(t, fs, ruleKeyTypo)
	})
	t.Run("parallel siblings write look-alike keys", func(t *testing.T) {
		// web_search and kb_lookup run in one superstep; "kb_results" is
		// two edits from "web_results", which the sibling wrote.
		fs := structural(newRun(
			stepSpec{Node: "supervisor", LG: 1, In: j(`{"question":"q"}`), Out: j(`{"tasks":["web","kb"]}`)},
			stepSpec{Node: "web_search", LG: 2, In: j(`{"question":"q"}`), Out: j(`{"web_results":[{"url":"u"}]}`)},
			stepSpec{Node: "kb_lookup", LG: 2, Parallel: true, In: j(`{"question":"q"}`), Out: j(`{"kb_results":[{"id":1}]}`)},
			stepSpec{Node: "merge", LG: 3, In: j(`{"web_results":[{"url":"u"}],"kb_results":[{"id":1}]}`), Out: j(`{"answer":"a"}`)},
		))
		none(t, fs, ruleKeyTypo)
	})
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"documents", "documents", 0}, {"documnets", "documents", 1}, {"documents", "document", 1},
		{"dokumentz", "documents", 2}, {"abc", "xyz", 3}, {"", "abc", 3}, {"héllo", "hello", 1},
	} {
		if got := editDistance(tc.a, tc.b, 5); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if got := editDistance("aaaaaaaaaa", "bbbbbbbbbb", 2); got != 3 {
		t.Errorf("early exit should return limit+1, got %d", got)
	}
}

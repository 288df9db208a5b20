package detect

import (
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func init() {
	addLookAlikes(ruleCrashMissingData, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a search over sparse data that finds nothing in a fifth of its runs, the answer node saying so",
			history: func(k int) *agentrun.Run { return sparseSearchRun(k%5 == 0, false) },
			healthy: sparseSearchRun(true, false),
			fault:   sparseSearchRun(true, true),
		}}
	})
}

func TestCrashThreeStepsLater(t *testing.T) {
	fs := structural(ragCrashRun())
	er := byRule(fs, ruleEmptyRetrieval)
	if len(er) != 1 {
		t.Fatalf("want one empty_retrieval (on retrieve only; rerank and format_context inherit it), got:\n%s", dump(fs))
	}
	expect(t, er[0], 1, SeverityWarning, map[string]any{"field": "documents", "node": "retrieve"})
	if !strings.Contains(er[0].Message, `retrieve returned an empty "documents" list`) {
		t.Errorf("message = %q", er[0].Message)
	}
	cr := one(t, fs, ruleCrashMissingData)
	expect(t, cr, 4, SeverityCritical, map[string]any{"field": "documents", "producer_step": 1, "producer_node": "retrieve", "state": "emptied", "last_writer_step": 2})
	if !strings.Contains(cr.Message, "synthesize") || !strings.Contains(cr.Message, "retrieve") {
		t.Errorf("message should name both nodes: %q", cr.Message)
	}
	none(t, fs, ruleDroppedField, ruleTypeChanged, ruleKeyTypo, ruleEmptyUpdate, ruleUnexpectedTransition)
}

func TestCrashMissingDataVariants(t *testing.T) {
	t.Run("JS undefined, never produced", func(t *testing.T) {
		fs := structural(newRun(
			stepSpec{Node: "plan", In: j(`{"q":"x"}`), Out: j(`{"query":"x"}`)},
			stepSpec{Node: "answer", In: j(`{"query":"x"}`), NoOutput: true, Status: agentrun.StatusError,
				Exceptions: []agentrun.Exception{{Type: "TypeError", Message: "Cannot read properties of undefined (reading 'sources')"}}},
		))
		expect(t, one(t, fs, ruleCrashMissingData), 1, SeverityCritical,
			map[string]any{"field": "sources", "producer_step": -1, "producer_node": "", "state": "missing"})
	})
	t.Run("plain words name a known field", func(t *testing.T) {
		fs := structural(newRun(
			stepSpec{Node: "load", In: j(`{"url":"u"}`), Out: j(`{"summary_input":"text","notes":[]}`)},
			stepSpec{Node: "summarize", In: j(`{}`), NoOutput: true, Status: agentrun.StatusError,
				StatusMessage: "ValueError: notes is empty, nothing to summarize"},
		))
		expect(t, one(t, fs, ruleCrashMissingData), 1, SeverityCritical,
			map[string]any{"field": "notes", "producer_step": 0, "producer_node": "load"})
	})
	t.Run("NoneType with the failing subscript in the stack trace", func(t *testing.T) {
		fs := structural(newRun(
			stepSpec{Node: "retrieve", In: j(`{"q":"x"}`), Out: j(`{"hits":null}`)},
			stepSpec{Node: "rank", In: j(`{}`), NoOutput: true, Status: agentrun.StatusError,
				Exceptions: []agentrun.Exception{{Type: "TypeError", Message: "'NoneType' object is not subscriptable",
					Stacktrace: "Traceback (most recent call last):\n  File \"g.py\", line 9, in rank\n    top = state[\"hits\"][0]\nTypeError: 'NoneType' object is not subscriptable"}}},
		))
		expect(t, one(t, fs, ruleCrashMissingData), 1, SeverityCritical, map[string]any{"field": "hits", "producer_step": 0})
	})
	t.Run("dropped by a full-state output", func(t *testing.T) {
		fs := structural(newRun(
			stepSpec{Node: "a", Convention: "plain", In: j(`{"q":"x","lang":"en","docs":["d"]}`), Out: j(`{"q":"x","lang":"en","docs":["d"],"n":1}`)},
			stepSpec{Node: "b", Convention: "plain", In: j(`{}`), Out: j(`{"q":"x","lang":"en","n":2}`)},
			stepSpec{Node: "c", Convention: "plain", In: j(`{}`), NoOutput: true, Status: agentrun.StatusError, Exceptions: keyError("docs")},
		))
		expect(t, one(t, fs, ruleDroppedField), 1, SeverityWarning, map[string]any{"field": "docs", "how": "missing"})
		expect(t, one(t, fs, ruleCrashMissingData), 2, SeverityCritical, map[string]any{"field": "docs", "producer_step": 1, "state": "dropped"})
	})
	t.Run("clean", func(t *testing.T) {
		fs := structural(newRun(
			stepSpec{Node: "retrieve", In: j(`{"q":"x"}`), Out: j(`{"documents":["d"]}`)},
			// unrelated crash
			stepSpec{Node: "call_api", In: j(`{}`), NoOutput: true, Status: agentrun.StatusError,
				Exceptions: []agentrun.Exception{{Type: "TimeoutError", Message: "upstream timed out after 30s"}}},
			// names a field that was there: the data was not the problem
			stepSpec{Node: "synthesize", In: j(`{}`), NoOutput: true, Status: agentrun.StatusError, Exceptions: keyError("documents")},
		))
		none(t, fs, ruleCrashMissingData)
		// Field names used as plain words in an unrelated error, and a field
		// the crashing step had in its own input.
		fs = structural(newRun(
			stepSpec{Node: "format", In: j(`{"q":"x"}`), Out: j(`{"context":""}`)},
			stepSpec{Node: "search_flights", In: j(`{"from":"BER","to":"LIS"}`), NoOutput: true, Status: agentrun.StatusError,
				StatusMessage: `flight search failed: context deadline exceeded`,
				Exceptions:    []agentrun.Exception{{Type: "*url.Error", Message: `Get "https://flights.example/api/search?from=BER&to=LIS": context deadline exceeded`}}},
			stepSpec{Node: "book", In: j(`{"flight":{"id":"LH1"}}`), NoOutput: true, Status: agentrun.StatusError, Exceptions: keyError("flight")},
		))
		none(t, fs, ruleCrashMissingData)
	})
}

// sparseSearchRun: search (empty when none), then answer, which crashes
// on the missing documents when crash is set.
func sparseSearchRun(none, crash bool) *agentrun.Run {
	docs := `{"documents":[{"id":"kb-1","text":"Refunds take 5 days."}]}`
	if none {
		docs = `{"documents":[]}`
	}
	answer := stepSpec{Node: "answer", In: j(`{"question":"q"}`), Out: j(`{"answer":"I found nothing on that; a colleague will follow up by email."}`)}
	if !none {
		answer.Out = j(`{"answer":"Refunds take 5 days."}`)
	}
	if crash {
		answer = stepSpec{Node: "answer", In: j(`{"question":"q"}`), NoOutput: true, Status: agentrun.StatusError, Exceptions: keyError("documents")}
	}
	return newRun(stepSpec{Node: "search", In: j(`{"question":"q"}`), Out: j(docs)}, answer)
}

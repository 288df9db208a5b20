package detect

import (
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func init() {
	addLookAlikes(ruleEmptyRetrieval, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a grader that filters out every document in a fifth of its runs, the graph then searching the web",
			history: func(k int) *agentrun.Run { return cragRun(k%5 == 0, false) },
			healthy: cragRun(true, false),
			fault:   cragRun(false, true),
		}}
	})
}

func TestEmptyRetrievalVariants(t *testing.T) {
	t.Run("retriever call returned nothing", func(t *testing.T) {
		fs := structural(newRun(stepSpec{Node: "search", In: j(`{"query":"q"}`), Out: j(`{"answer_hint":"x"}`),
			Calls: []agentrun.Call{{SpanID: "c1", Name: "vector_search", Kind: "retriever", Result: `{"documents": []}`, Status: "ok"}}}))
		f := one(t, fs, ruleEmptyRetrieval)
		expect(t, f, 0, SeverityWarning, map[string]any{"tool": "vector_search"})
	})
	t.Run("retriever node returned []", func(t *testing.T) {
		fs := structural(newRun(stepSpec{Node: "retrieval", Kind: "RETRIEVER", In: j(`{"query":"q"}`), Out: j(`[]`)}))
		one(t, fs, ruleEmptyRetrieval)
		none(t, fs, ruleEmptyUpdate)
	})
	t.Run("empty context string", func(t *testing.T) {
		fs := structural(newRun(stepSpec{Node: "fetch", In: j(`{"query":"q"}`), Out: j(`{"context":"   "}`)}))
		expect(t, one(t, fs, ruleEmptyRetrieval), 0, SeverityWarning, map[string]any{"field": "context"})
	})
	t.Run("the same node failing again in a loop is reported again", func(t *testing.T) {
		fs := structural(newRun(
			stepSpec{Node: "retrieve", LG: 1, In: j(`{"query":"q"}`), Out: j(`{"documents":[]}`)},
			stepSpec{Node: "rewrite", LG: 2, In: j(`{}`), Out: j(`{"query":"q2"}`)},
			stepSpec{Node: "retrieve", LG: 3, In: j(`{"query":"q2"}`), Out: j(`{"documents":[]}`)},
		))
		if got := byRule(fs, ruleEmptyRetrieval); len(got) != 2 || got[0].Step != 0 || got[1].Step != 2 {
			t.Fatalf("want empty_retrieval on steps 0 and 2, got:\n%s", dump(fs))
		}
	})
	t.Run("initial empty documents blame the retriever", func(t *testing.T) {
		fs := structural(newRun(stepSpec{Node: "retrieve", In: j(`{"query":"q","documents":[]}`), Out: j(`{"documents":[]}`)}))
		one(t, fs, ruleEmptyRetrieval)
	})
	t.Run("clean", func(t *testing.T) {
		fs := structural(newRun(
			stepSpec{Node: "search", In: j(`{"query":"q"}`), Out: j(`{"results":[{"id":1}]}`),
				// an absent result is unknown, not empty
				Calls: []agentrun.Call{{SpanID: "c1", Name: "kb", Kind: "retriever", Status: "ok"},
					{SpanID: "c2", Name: "kb2", Kind: "retriever", Result: `[{"id":1}]`, Status: "ok"}}},
			stepSpec{Node: "answer", In: j(`{}`), Out: j(`{"items_count":0,"hits":3}`)},
		))
		none(t, fs, ruleEmptyRetrieval)
	})
}

// cragRun: retrieve, then grade_documents (which filters every document
// out when irrelevant), then web_search filling the documents when the
// grader left none. brokenRetriever: retrieve itself returns nothing, and
// nothing makes up for it.
func cragRun(irrelevant, brokenRetriever bool) *agentrun.Run {
	found := `{"documents":[{"id":"kb-1"},{"id":"kb-2"}]}`
	if brokenRetriever {
		found = `{"documents":[]}`
	}
	graded := `{"documents":[{"id":"kb-1"}]}`
	if irrelevant || brokenRetriever {
		graded = `{"documents":[]}`
	}
	specs := []stepSpec{
		{Node: "retrieve", In: j(`{"question":"q"}`), Out: j(found)},
		{Node: "grade_documents", In: j(found), Out: j(graded)},
	}
	if irrelevant {
		specs = append(specs, stepSpec{Node: "web_search", In: j(`{"question":"q"}`), Out: j(`{"documents":[{"id":"web-1"}]}`)})
	}
	return newRun(append(specs, stepSpec{Node: "generate", In: j(`{"question":"q"}`), Out: j(`{"answer":"Refunds take 5 days."}`)})...)
}

package detect

import (
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func init() {
	addLookAlikes(ruleTypeChanged, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a format node that always turns the documents list into one text",
			history: func(int) *agentrun.Run { return formatRun(`"doc 1\ndoc 2"`) },
			healthy: formatRun(`"doc 1\ndoc 2"`),
			fault:   formatRun(`{"doc":1}`),
		}}
	})
}

func TestTypeChanged(t *testing.T) {
	run := newRun(
		stepSpec{Node: "retrieve", In: j(`{"query":"q"}`), Out: j(`{"documents":[{"id":1}],"score":1}`)},
		stepSpec{Node: "format", In: j(`{}`), Out: j(`{"documents":"doc 1","score":0.5}`)},
	)
	usual := newRun(
		stepSpec{Node: "retrieve", In: j(`{"query":"q"}`), Out: j(`{"documents":[{"id":1}],"score":1}`)},
		stepSpec{Node: "format", In: j(`{}`), Out: j(`{"documents":[{"id":1,"text":"doc 1"}],"score":0.5}`)},
	)
	f := one(t, structuralAfter(run, usual), ruleTypeChanged)
	expect(t, f, 1, SeverityWarning, map[string]any{"field": "documents", "from": "array", "to": "string", "node_history": "unusual"})
	expect(t, one(t, structural(run), ruleTypeChanged), 1, SeverityInfo, map[string]any{"node_history": "too little history"})
	// A node that always writes the field as text (it formats the list by
	// design) changes nothing unusual.
	none(t, structuralAfter(run, run), ruleTypeChanged)

	t.Run("clean", func(t *testing.T) {
		fs := structural(newRun(
			stepSpec{Node: "a", In: j(`{"answer":null,"n":1,"messages":[{"role":"user","content":"hi"}]}`), Out: j(`{"answer":"x","n":2.5}`)},
			// add_messages reducer: one message appended to a list channel
			stepSpec{Node: "b", In: j(`{}`), Out: j(`{"messages":{"role":"assistant","content":"hello"}}`)},
			stepSpec{Node: "c", In: j(`{}`), Out: map[string]any{"n": int64(3), "answer": "y"}},
		))
		none(t, fs, ruleTypeChanged)
	})
}

// formatRun: retrieve writes documents as a list, format writes them as
// value (a JSON literal).
func formatRun(value string) *agentrun.Run {
	return newRun(
		stepSpec{Node: "retrieve", In: j(`{"query":"q"}`), Out: j(`{"documents":[{"id":1},{"id":2}]}`)},
		stepSpec{Node: "format", In: j(`{"documents":[{"id":1},{"id":2}]}`), Out: j(`{"documents":` + value + `}`)},
	)
}

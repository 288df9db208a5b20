package detect

import (
	"fmt"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func init() {
	addLookAlikes(ruleDroppedField, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a node that always nulls an optional field",
			history: func(k int) *agentrun.Run { return feedbackRun(k, nil) },
			healthy: feedbackRun(99, nil),
			fault:   feedbackRun(99, "summary"),
		}}
	})
}

func TestDroppedField(t *testing.T) {
	t.Run("emptied", func(t *testing.T) {
		run := newRun(
			stepSpec{Node: "retrieve", In: j(`{"query":"q"}`), Out: j(`{"documents":[{"id":1}]}`)},
			stepSpec{Node: "rerank", In: j(`{"documents":[{"id":1}]}`), Out: j(`{"documents":null}`)},
		)
		usual := newRun(
			stepSpec{Node: "retrieve", In: j(`{"query":"q"}`), Out: j(`{"documents":[{"id":1}]}`)},
			stepSpec{Node: "rerank", In: j(`{"documents":[{"id":1}]}`), Out: j(`{"documents":[{"id":1}]}`)},
		)
		f := one(t, structuralAfter(run, usual), ruleDroppedField)
		expect(t, f, 1, SeverityWarning, map[string]any{"field": "documents", "how": "emptied", "previous_type": "array", "node_history": "unusual"})
		expect(t, one(t, structural(run), ruleDroppedField), 1, SeverityInfo, map[string]any{"node_history": "too little history"})
		// A node that always nulls the field does nothing unusual.
		none(t, structuralAfter(run, run), ruleDroppedField)
	})
	t.Run("full state output leaves a key out", func(t *testing.T) {
		run := newRun(
			stepSpec{Node: "a", Convention: "openllmetry", In: j(`{"question":"q","lang":"en","user":"u1"}`), Out: j(`{"question":"q","lang":"en","user":"u1","draft":"d"}`)},
			stepSpec{Node: "b", Convention: "openllmetry", In: j(`{"question":"q","lang":"en","user":"u1","draft":"d"}`), Out: j(`{"question":"q","lang":"en","draft":"d2"}`)},
		)
		usual := newRun(
			stepSpec{Node: "a", Convention: "openllmetry", In: j(`{"question":"q","lang":"en","user":"u1"}`), Out: j(`{"question":"q","lang":"en","user":"u1","draft":"d"}`)},
			stepSpec{Node: "b", Convention: "openllmetry", In: j(`{"question":"q","lang":"en","user":"u1","draft":"d"}`), Out: j(`{"question":"q","lang":"en","user":"u1","draft":"d2"}`)},
		)
		f := one(t, structuralAfter(run, usual), ruleDroppedField)
		expect(t, f, 1, SeverityWarning, map[string]any{"field": "user", "how": "missing"})
		// A node that never writes the key: its earlier outputs may have been
		// partial updates, which say nothing of it. Info.
		expect(t, one(t, structuralAfter(run, run), ruleDroppedField), 1, SeverityInfo, map[string]any{"node_history": "too little history"})
	})
	t.Run("harm", func(t *testing.T) {
		// No history, but a later step crashes on the emptied field.
		run := newRun(
			stepSpec{Node: "retrieve", In: j(`{"query":"q"}`), Out: j(`{"documents":[{"id":1}]}`)},
			stepSpec{Node: "rerank", In: j(`{"documents":[{"id":1}]}`), Out: j(`{"documents":null}`)},
			stepSpec{Node: "answer", In: j(`{"query":"q"}`), NoOutput: true, Status: agentrun.StatusError, Exceptions: keyError("documents")},
		)
		expect(t, one(t, structural(run), ruleDroppedField), 1, SeverityWarning, map[string]any{"harms_later": true})
	})
	t.Run("clean", func(t *testing.T) {
		fs := structural(newRun(
			// OpenInference outputs are partial updates: leaving keys out is normal.
			stepSpec{Node: "a", In: j(`{"question":"q","lang":"en","user":"u1"}`), Out: j(`{"question":"q2","lang":"en"}`)},
			// clearing a transient error signal is recovery
			stepSpec{Node: "b", In: j(`{}`), Out: j(`{"error":"boom","draft":"x"}`)},
			stepSpec{Node: "c", In: j(`{}`), Out: j(`{"error":null,"draft":"y"}`)},
			// a partial update of one key on a full-state convention is not a full state
			stepSpec{Node: "d", Convention: "openllmetry", In: j(`{}`), Out: j(`{"summary":"s"}`)},
		))
		none(t, fs, ruleDroppedField)
		// On a full-state convention, an update of a minority of the keys, or
		// of most keys with every value new, is still a partial update.
		fs = structural(newRun(
			stepSpec{Node: "a", Convention: "openllmetry", In: j(`{"question":"q","lang":"en","user":"u1","draft":"d"}`), Out: j(`{"question":"q","draft":"d2"}`)},
			stepSpec{Node: "b", Convention: "openllmetry", In: j(`{}`), Out: j(`{"question":"q3","lang":"fr","user":"u2"}`)},
		))
		none(t, fs, ruleDroppedField)
	})
}

// feedbackRun: draft writes a summary; review always sets "feedback" to
// null (an optional field) and, for the fault, empties what it names.
func feedbackRun(k int, emptied any) *agentrun.Run {
	review := map[string]any{"approved": true, "feedback": nil}
	if f, ok := emptied.(string); ok {
		review[f] = ""
	}
	return newRun(
		stepSpec{Node: "draft", In: j(`{"topic":"refunds"}`), Out: map[string]any{"summary": fmt.Sprintf("Refund summary %d.", k), "feedback": "too short"}},
		stepSpec{Node: "review", In: map[string]any{"summary": "s", "feedback": "too short"}, Out: review},
	)
}

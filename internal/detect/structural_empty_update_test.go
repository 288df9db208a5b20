package detect

import (
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func init() {
	addLookAlikes(ruleEmptyUpdate, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a router (validate) returning {} to pick the next edge, from its first run on",
			healthy: routerRun(`{"facts":["f"]}`, false),
			fault:   routerRun(`{}`, true), // without history, only the harm tells
		}, {
			pattern: "the same router after 30 runs of history",
			history: func(int) *agentrun.Run { return routerRun(`{"facts":["f"]}`, false) },
			healthy: routerRun(`{"facts":["f"]}`, false),
			fault:   routerRun(`{}`, false), // enrich always writes facts
		}}
	})
}

func TestEmptyUpdate(t *testing.T) {
	run := newRun(
		stepSpec{Node: "plan", In: j(`{"question":"q?"}`), Out: j(`{"query":"q"}`)},
		stepSpec{Node: "enrich", In: j(`{"query":"q"}`), Out: j(`{}`)},
		stepSpec{Node: "lookup", In: j(`{"query":"q"}`), Out: nil},
	)
	usual := newRun(
		stepSpec{Node: "plan", In: j(`{"question":"q?"}`), Out: j(`{"query":"q"}`)},
		stepSpec{Node: "enrich", In: j(`{"query":"q"}`), Out: j(`{"facts":["f"]}`)},
		stepSpec{Node: "lookup", In: j(`{"query":"q"}`), Out: j(`{"record":{"id":1}}`)},
	)
	// Nodes that usually write something: a warning.
	fs := structuralAfter(run, usual)
	got := byRule(fs, ruleEmptyUpdate)
	if len(got) != 2 {
		t.Fatalf("want 2 empty_update, got:\n%s", dump(fs))
	}
	expect(t, got[0], 1, SeverityWarning, map[string]any{"output": "{}", "node": "enrich", "node_history": "unusual"})
	expect(t, got[1], 2, SeverityWarning, map[string]any{"output": "null"})

	// No history yet: info at most.
	got = byRule(structural(run), ruleEmptyUpdate)
	if len(got) != 2 {
		t.Fatalf("want 2 empty_update without history, got:\n%s", dump(got))
	}
	expect(t, got[0], 1, SeverityInfo, map[string]any{"node_history": "too little history"})
	if !strings.HasSuffix(got[0].Message, "(too little history of this node to call it unusual)") {
		t.Errorf("message = %q", got[0].Message)
	}

	// Nodes that return {} by design (a router, a notifier): nothing.
	none(t, structuralAfter(run, run), ruleEmptyUpdate)

	// The harm: a later step crashes on what the node did not write. With
	// no history, any field; with history, a field the node usually writes.
	crash := newRun(
		stepSpec{Node: "plan", In: j(`{"question":"q?"}`), Out: j(`{"query":"q"}`)},
		stepSpec{Node: "enrich", In: j(`{"query":"q"}`), Out: j(`{}`)},
		stepSpec{Node: "answer", In: j(`{"query":"q"}`), NoOutput: true, Status: agentrun.StatusError, Exceptions: keyError("facts")},
	)
	expect(t, one(t, structural(crash), ruleEmptyUpdate), 1, SeverityWarning, map[string]any{"harms_later": true, "node_history": "too little history"})
	router := newRun(
		stepSpec{Node: "plan", In: j(`{"question":"q?"}`), Out: j(`{"query":"q"}`)},
		stepSpec{Node: "enrich", In: j(`{"query":"q"}`), Out: j(`{}`)},
	)
	none(t, structuralAfter(crash, router), ruleEmptyUpdate) // enrich never writes facts: not its fault

	t.Run("clean", func(t *testing.T) {
		fs := structural(newRun(
			stepSpec{Node: "__start__", In: j(`{"question":"q?"}`), Out: j(`{}`)},
			stepSpec{Node: "plan", In: j(`{"question":"q?"}`), Out: j(`{"query":"q"}`)},
			// threw: behavioral's business, and there is no output
			stepSpec{Node: "crashy", In: j(`{"query":"q"}`), NoOutput: true, Status: agentrun.StatusError},
			// errored but still recorded {}: still behavioral's
			stepSpec{Node: "errored", In: j(`{"query":"q"}`), Out: j(`{}`), Status: agentrun.StatusError},
		))
		none(t, fs, ruleEmptyUpdate)
		// Empty in, empty out is no loss.
		none(t, structural(newRun(stepSpec{Node: "noop", In: j(`{}`), Out: j(`{}`)})), ruleEmptyUpdate)
	})
}

// routerRun: synthesize, validate returning {} (a router), enrich writing
// enriched and, when crash is set, answer crashing on the missing facts.
func routerRun(enriched string, crash bool) *agentrun.Run {
	specs := []stepSpec{
		{Node: "synthesize", In: j(`{"question":"q"}`), Out: j(`{"answer":"Refunds take 5 days."}`)},
		{Node: "validate", In: j(`{"question":"q","answer":"Refunds take 5 days."}`), Out: j(`{}`)},
		{Node: "enrich", In: j(`{"answer":"Refunds take 5 days."}`), Out: j(enriched)},
	}
	if crash {
		specs = append(specs, stepSpec{Node: "cite", In: j(`{"answer":"a"}`), NoOutput: true, Status: agentrun.StatusError, Exceptions: keyError("facts")})
	}
	return newRun(specs...)
}

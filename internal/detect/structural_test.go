package detect

import (
	"fmt"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

func structural(run *agentrun.Run) []Finding { return Structural(run, cfgWith(nil)) }

// structuralAfter runs the structural layer against baselines that
// observed each history run 30 times: its nodes have a history long enough
// to call a behaviour they never showed unusual.
func structuralAfter(run *agentrun.Run, history ...*agentrun.Run) []Finding {
	base := NewBaselines(0, 0)
	for range 30 {
		for _, h := range history {
			base.Observe(h)
		}
	}
	return layerOnly(run, cfgWith(nil), base, LayerStructural)
}

// ragCrashRun is the product's signature failure: retrieve silently returns
// no documents, two nodes pass that on, synthesize crashes three steps later.
func ragCrashRun() *agentrun.Run {
	return newRun(
		stepSpec{Node: "plan", LG: 1, In: j(`{"question":"refund window?"}`), Out: j(`{"query":"refund window annual plan"}`)},
		stepSpec{Node: "retrieve", LG: 2, In: j(`{"question":"refund window?","query":"refund window annual plan"}`), Out: j(`{"documents":[]}`),
			Calls: []agentrun.Call{{SpanID: "c1", Name: "kb_search", Kind: "retriever", Tool: "kb_search", Status: "ok"}}},
		stepSpec{Node: "rerank", LG: 3, In: j(`{"documents":[]}`), Out: j(`{"documents":[]}`)},
		stepSpec{Node: "format_context", LG: 4, In: j(`{"documents":[]}`), Out: j(`{"context":""}`)},
		stepSpec{Node: "synthesize", LG: 5, In: j(`{"question":"refund window?","context":""}`), NoOutput: true,
			Status: agentrun.StatusError, StatusMessage: "'documents'", Exceptions: keyError("documents")},
	)
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

func TestStructuralBoundsOnWideStates(t *testing.T) {
	state := map[string]any{"keep": "k"}
	for i := range 50 {
		state[fmt.Sprintf("field_%02d", i)] = "v"
	}
	// A plain-span node that keeps 27 of the 52 keys returns a full state
	// and drops the other 25.
	kept := map[string]any{}
	for i := range 27 {
		kept[fmt.Sprintf("field_%02d", i)] = "v"
	}
	wide := map[string]any{}
	for i := range 1000 {
		wide[fmt.Sprintf("doc_%04d", i)] = i
	}
	wide["documnets"] = []any{"d"}
	fs := structural(newRun(
		stepSpec{Node: "load", Convention: "plain", In: state, Out: j(`{"loaded":true}`)},
		stepSpec{Node: "trim", Convention: "plain", In: j(`{}`), Out: kept},
	))
	got := byRule(fs, ruleDroppedField)
	if len(got) != maxDroppedPerStep {
		t.Fatalf("want %d dropped_field findings, got %d", maxDroppedPerStep, len(got))
	}
	expect(t, got[len(got)-1], 1, SeverityInfo, map[string]any{"more_fields": 5, "node_history": "too little history"})
	// 1000 keys are data, not a schema: no typo hunting there.
	none(t, structural(newRun(stepSpec{Node: "index", In: j(`{"documents":[]}`), Out: wide})), ruleKeyTypo)
	one(t, structural(newRun(stepSpec{Node: "index", In: j(`{"documents":[]}`), Out: map[string]any{"documnets": []any{"d"}}})), ruleKeyTypo)
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

func TestContractViolation(t *testing.T) {
	cfg := cfgWith(nil)
	cfg.Contracts = map[string]FieldContract{"synthesize": {Required: map[string]string{"answer": "string", "citations": "array", "meta": "any"}}}
	fs := Structural(newRun(
		stepSpec{Node: "retrieve", In: j(`{"q":"x"}`), Out: j(`{"meta":{"k":1}}`)},
		stepSpec{Node: "synthesize", In: j(`{}`), Out: j(`{"answer":42}`)},
	), cfg)
	got := byRule(fs, ruleContractViolation)
	if len(got) != 2 {
		t.Fatalf("want 2 contract violations, got:\n%s", dump(fs))
	}
	expect(t, got[0], 1, SeverityCritical, map[string]any{"field": "answer", "expected": "string", "actual": "number"})
	expect(t, got[1], 1, SeverityCritical, map[string]any{"field": "citations", "expected": "array", "actual": "missing"})
	if got[0].ID == got[1].ID {
		t.Error("two fields must give two ids")
	}

	t.Run("clean", func(t *testing.T) {
		fs := Structural(newRun(
			stepSpec{Node: "retrieve", In: j(`{"q":"x"}`), Out: j(`{"meta":null}`)},
			// meta "any" is satisfied by an earlier writer: the contract is on the state after.
			stepSpec{Node: "retrieve2", In: j(`{}`), Out: j(`{"meta":"m"}`)},
			stepSpec{Node: "synthesize", In: j(`{}`), Out: j(`{"answer":"a","citations":[]}`)},
			// a crashed run of the node is reported elsewhere
			stepSpec{Node: "synthesize", In: j(`{}`), NoOutput: true, Status: agentrun.StatusError},
		), cfg)
		none(t, fs, ruleContractViolation)
	})
}

func TestUnexpectedTransition(t *testing.T) {
	linear := []agentrun.Edge{{From: "__start__", To: "plan"}, {From: "plan", To: "retrieve"}, {From: "retrieve", To: "synthesize"}, {From: "synthesize", To: "__end__"}}
	run := newRun(
		stepSpec{Node: "plan", LG: 1, In: j(`{"q":"x"}`), Out: j(`{"query":"x"}`)},
		stepSpec{Node: "synthesize", LG: 2, In: j(`{}`), Out: j(`{"answer":"a"}`)},
	)
	run.Edges = linear
	fs := structural(run)
	f := one(t, fs, ruleUnexpectedTransition)
	expect(t, f, 1, SeverityWarning, map[string]any{"predecessors": []string{"plan"}, "declared_sources": []string{"retrieve"}})

	t.Run("cfg edges count too", func(t *testing.T) {
		run := newRun(
			stepSpec{Node: "plan", In: j(`{"q":"x"}`), Out: j(`{"query":"x"}`)},
			stepSpec{Node: "rogue", In: j(`{}`), Out: j(`{"answer":"a"}`)},
		)
		cfg := cfgWith(nil)
		cfg.Edges = []string{"__start__ -> plan", "plan -> synthesize"}
		expect(t, one(t, Structural(run, cfg), ruleUnexpectedTransition), 1, SeverityWarning, map[string]any{"predecessors": []string{"plan"}})
		none(t, structural(run), ruleUnexpectedTransition) // no declared graph, no opinion
	})
	t.Run("first step", func(t *testing.T) {
		run := newRun(stepSpec{Node: "retrieve", In: j(`{"q":"x"}`), Out: j(`{"documents":["d"]}`)})
		run.Edges = linear
		expect(t, one(t, structural(run), ruleUnexpectedTransition), 0, SeverityWarning, map[string]any{"predecessors": []string{"__start__"}})
	})
	t.Run("clean: fan-out, fan-in, loops, conditional routing", func(t *testing.T) {
		run := newRun(
			stepSpec{Node: "plan", LG: 1, In: j(`{"q":"x"}`), Out: j(`{"query":"x"}`)},
			stepSpec{Node: "web", LG: 2, In: j(`{}`), Out: j(`{"web":["w"]}`)},
			stepSpec{Node: "kb", LG: 2, Parallel: true, In: j(`{}`), Out: j(`{"kb":["k"]}`)},
			stepSpec{Node: "merge", LG: 3, In: j(`{}`), Out: j(`{"documents":["w","k"]}`)},
			stepSpec{Node: "agent", LG: 4, In: j(`{}`), Out: j(`{"answer":"draft"}`)},
			// "agent" routes by a conditional edge that is not declared
			stepSpec{Node: "tools", LG: 5, In: j(`{}`), Out: j(`{"tool_out":"t"}`)},
			stepSpec{Node: "agent", LG: 6, In: j(`{}`), Out: j(`{"answer":"final"}`)},
		)
		run.Edges = []agentrun.Edge{{From: "__start__", To: "plan"}, {From: "plan", To: "web"}, {From: "plan", To: "kb"},
			{From: "web", To: "merge"}, {From: "kb", To: "merge"}, {From: "merge", To: "agent"}, {From: "tools", To: "agent"}}
		none(t, structural(run), ruleUnexpectedTransition)
	})
	t.Run("clean: plain spans overlapping in time are parallel", func(t *testing.T) {
		run := newRun(
			stepSpec{Node: "split", Convention: "plain", In: j(`{"q":"x"}`), Out: j(`{"parts":["a","b"]}`)},
			stepSpec{Node: "worker_a", Convention: "plain", In: j(`{}`), Out: j(`{"a":"1"}`)},
			stepSpec{Node: "worker_b", Convention: "plain", Parallel: true, In: j(`{}`), Out: j(`{"b":"2"}`)},
			stepSpec{Node: "join", Convention: "plain", In: j(`{}`), Out: j(`{"result":"12"}`)},
		)
		run.Edges = []agentrun.Edge{{From: "__start__", To: "split"}, {From: "split", To: "worker_a"}, {From: "split", To: "worker_b"},
			{From: "worker_a", To: "join"}, {From: "worker_b", To: "join"}}
		none(t, structural(run), ruleUnexpectedTransition)
	})
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

func TestStructuralConfigOverrides(t *testing.T) {
	run := ragCrashRun()
	fs := Structural(run, cfgWith(map[string]RuleConfig{
		ruleCrashMissingData: {Disabled: true},
		ruleEmptyRetrieval:   {Severity: SeverityCritical},
	}))
	none(t, fs, ruleCrashMissingData)
	expect(t, one(t, fs, ruleEmptyRetrieval), 1, SeverityCritical, nil)
	// Ids are deterministic.
	a, b := structural(run), structural(run)
	if len(a) != len(b) {
		t.Fatal("non-deterministic findings")
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Message != b[i].Message {
			t.Fatalf("finding %d differs between runs: %v / %v", i, a[i], b[i])
		}
	}
}

func TestStructuralOddInputs(t *testing.T) {
	if Structural(nil, nil) != nil || Structural(&agentrun.Run{}, nil) != nil {
		t.Fatal("nil or empty run must give no findings")
	}
	huge := strings.Repeat("x", 1<<20)
	bad := "\xff\xfe bad \xc3"
	run := newRun(
		stepSpec{Node: "a", In: "just a string", Out: j(`[1,[2,[3,[]]],{"a":null}]`)},
		stepSpec{Node: "b", In: nil, NoInput: true, Out: map[string]any{"big": huge, bad: bad, "n": 1e308, "nested": []any{[]any{[]any{}}}}},
		stepSpec{Node: "c", In: j(`{"x":1}`), Out: map[string]any{"_argus_truncated": true, "original_bytes": 99999999, "preview": "{"}},
		stepSpec{Node: "d", In: j(`{}`), Out: 42.0},
		stepSpec{Node: bad, In: j(`{}`), NoOutput: true, Status: agentrun.StatusError,
			StatusMessage: bad + strings.Repeat("KeyError: '"+bad+"' ", 2000),
			Exceptions:    []agentrun.Exception{{Type: bad, Message: huge, Stacktrace: huge}}},
		stepSpec{Node: "", In: j(`{}`), Out: j(`{}`)},
	)
	run.Edges = []agentrun.Edge{{From: "a", To: "b"}, {From: "", To: ""}}
	cfg := cfgWith(nil)
	cfg.Contracts = map[string]FieldContract{"c": {Required: map[string]string{"x": "number"}}, "d": {Required: map[string]string{"y": ""}}}
	cfg.Edges = []string{"not an edge"}
	fs := Structural(run, cfg)
	// The truncation marker is not a state: c's contract is unknown, not violated.
	for _, f := range byRule(fs, ruleContractViolation) {
		if f.Step == 2 {
			t.Errorf("truncated output judged against its contract: %s", f.Message)
		}
	}
	expect(t, one(t, byRuleStep(fs, ruleContractViolation, 3), ruleContractViolation), 3, SeverityCritical, map[string]any{"field": "y", "actual": "missing"})
	for _, f := range fs {
		if len(f.Message) > 2000 {
			t.Errorf("message of %s is %d bytes", f.Rule, len(f.Message))
		}
	}
}

func byRuleStep(fs []Finding, rule string, step int) []Finding {
	var out []Finding
	for _, f := range byRule(fs, rule) {
		if f.Step == step {
			out = append(out, f)
		}
	}
	return out
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

// ssCleanCorpus is a set of healthy runs of realistic shapes. Neither layer
// may raise a warning or critical finding on any of them.
func ssCleanCorpus() map[string]*agentrun.Run {
	docs := `[{"id":"kb-12","text":"Annual plans can be refunded within 30 days of purchase."},{"id":"kb-40","text":"Refunds are issued to the original payment method."}]`
	corpus := map[string]*agentrun.Run{}

	corpus["linear rag"] = newRun(
		stepSpec{Node: "plan", LG: 1, In: j(`{"question":"What is the refund window for annual plans?"}`), Out: j(`{"query":"refund window annual plan"}`),
			Calls: []agentrun.Call{{SpanID: "l1", Name: "ChatOpenAI", Kind: "llm", Model: "gpt-4o-mini", Result: "refund window annual plan", Status: "ok"}}},
		stepSpec{Node: "retrieve", LG: 2, In: j(`{"question":"What is the refund window for annual plans?","query":"refund window annual plan"}`), Out: j(`{"documents":` + docs + `}`),
			Calls: []agentrun.Call{{SpanID: "r1", Name: "kb_search", Kind: "retriever", Tool: "kb_search", Status: "ok", Result: docs}}},
		stepSpec{Node: "rerank", LG: 3, In: j(`{"documents":` + docs + `}`), Out: j(`{"documents":[{"id":"kb-12","text":"Annual plans can be refunded within 30 days of purchase."}]}`)},
		stepSpec{Node: "format_context", LG: 4, In: j(`{}`), Out: j(`{"context":"[kb-12] Annual plans can be refunded within 30 days of purchase."}`)},
		stepSpec{Node: "synthesize", LG: 5, In: j(`{}`), Out: j(`{"answer":"You can get a refund within 30 days of buying an annual plan.","citations":["kb-12"]}`),
			Calls:    []agentrun.Call{{SpanID: "l2", Name: "ChatOpenAI", Kind: "llm", Result: "You can get a refund within 30 days of buying an annual plan.", Status: "ok"}},
			Metadata: map[string]any{"llm.finish_reason": "stop"}},
	)
	corpus["linear rag"].Edges = []agentrun.Edge{{From: "__start__", To: "plan"}, {From: "plan", To: "retrieve"}, {From: "retrieve", To: "rerank"},
		{From: "rerank", To: "format_context"}, {From: "format_context", To: "synthesize"}, {From: "synthesize", To: "__end__"}}

	corpus["fan-out"] = newRun(
		stepSpec{Node: "plan", LG: 1, In: j(`{"topic":"solar panels"}`), Out: j(`{"queries":["solar panel efficiency","solar panel cost"]}`)},
		stepSpec{Node: "search_web", LG: 2, In: j(`{}`), Out: j(`{"web_results":[{"url":"https://example.org/solar","snippet":"Efficiency reached 23% in 2024."}]}`)},
		stepSpec{Node: "search_papers", LG: 2, Parallel: true, In: j(`{}`), Out: j(`{"paper_results":[{"title":"Perovskite cells","year":2025}]}`)},
		stepSpec{Node: "search_news", LG: 2, Parallel: true, In: j(`{}`), Out: j(`{"news_results":[{"headline":"Panel prices fall again"}]}`)},
		stepSpec{Node: "merge", LG: 3, In: j(`{}`), Out: j(`{"report":"Solar panels are getting cheaper and more efficient. Perovskite cells look promising."}`)},
	)
	corpus["fan-out"].Edges = []agentrun.Edge{{From: "__start__", To: "plan"}, {From: "plan", To: "search_web"}, {From: "plan", To: "search_papers"},
		{From: "plan", To: "search_news"}, {From: "search_web", To: "merge"}, {From: "search_papers", To: "merge"}, {From: "search_news", To: "merge"}}

	loop := []stepSpec{{Node: "init", LG: 1, In: j(`{"task":"compute 2^10 then add 24"}`), Out: j(`{"messages":[{"role":"user","content":"compute 2^10 then add 24"}],"iterations":0}`)}}
	outputs := []string{
		`{"messages":[{"role":"assistant","content":"I will compute 2^10 first."}],"iterations":1,"scratch":"step 1"}`,
		`{"messages":[{"role":"assistant","content":"2^10 is 1024. Now I add 24."}],"iterations":2,"scratch":"step 2"}`,
		`{"messages":[{"role":"assistant","content":"1024 + 24 = 1048."}],"iterations":3,"scratch":"step 3"}`,
		`{"messages":[{"role":"assistant","content":"The result is 1048."}],"iterations":4,"scratch":"done","final_answer":"1048"}`,
	}
	for k, o := range outputs {
		loop = append(loop, stepSpec{Node: "agent", LG: k + 2, In: j(`{}`), Out: j(o)})
	}
	corpus["agent loop"] = newRun(loop...)

	corpus["tool use"] = newRun(
		stepSpec{Node: "agent", LG: 1, In: j(`{"question":"Weather in Paris?"}`), Out: j(`{"tool_calls":[{"name":"get_weather","args":{"city":"Paris"}}]}`),
			Calls: []agentrun.Call{{SpanID: "l1", Name: "ChatOpenAI", Kind: "llm", Result: `{"role":"assistant","tool_calls":[{"name":"get_weather"}]}`, Status: "ok"}}},
		stepSpec{Node: "tools", LG: 2, In: j(`{}`), Out: j(`{"tool_results":[{"name":"get_weather","content":"{\"temp_c\": 18, \"sky\": \"cloudy\"}"}],"tool_calls":[]}`),
			Calls: []agentrun.Call{{SpanID: "t1", Name: "get_weather", Kind: "tool", Tool: "get_weather", Arguments: `{"city":"Paris"}`, Result: `{"temp_c": 18, "sky": "cloudy"}`, Status: "ok"}}},
		stepSpec{Node: "agent", LG: 3, In: j(`{}`), Out: j(`{"answer":"It is 18 °C and cloudy in Paris right now."}`)},
	)

	corpus["partial updates"] = newRun(
		stepSpec{Node: "classify", LG: 1, In: j(`{"ticket":"My invoice is wrong","priority":null,"category":null,"reply":""}`), Out: j(`{"category":"billing"}`)},
		stepSpec{Node: "prioritize", LG: 2, In: j(`{}`), Out: j(`{"priority":2}`)},
		stepSpec{Node: "draft", LG: 3, In: j(`{}`), Out: j(`{"reply":"Thanks for reaching out! I have forwarded your invoice to our billing team, who will correct it within two business days."}`)},
		stepSpec{Node: "review", LG: 4, In: j(`{}`), Out: j(`{"approved":true}`)},
	)
	return corpus
}

func TestCleanCorpus(t *testing.T) {
	for name, run := range ssCleanCorpus() {
		t.Run(name, func(t *testing.T) {
			cfg := cfgWith(nil)
			noAlarms(t, Structural(run, cfg))
			noAlarms(t, Semantic(run, cfg))
		})
	}
}

// ssBenchRun is a 30-step run whose states are about 10 KiB each.
func ssBenchRun() *agentrun.Run {
	para := "The committee reviewed the quarterly figures and agreed to extend the pilot program for another season. "
	var specs []stepSpec
	state := map[string]any{"question": "q"}
	for i := range 30 {
		docs := make([]any, 0, 10)
		for d := range 10 {
			docs = append(docs, map[string]any{"id": fmt.Sprintf("doc-%d-%d", i, d), "text": para, "score": float64(d) / 10})
		}
		out := map[string]any{fmt.Sprintf("field_%d", i%7): docs, "summary": strings.Repeat(para, 2)}
		specs = append(specs, stepSpec{Node: fmt.Sprintf("node_%d", i%5), LG: i + 1, In: state, Out: out})
		next := map[string]any{}
		for k, v := range state {
			next[k] = v
		}
		for k, v := range out {
			next[k] = v
		}
		state = next
	}
	return newRun(specs...)
}

func BenchmarkStructural(b *testing.B) {
	run := ssBenchRun()
	cfg := cfgWith(nil)
	b.ReportAllocs()
	for b.Loop() {
		Structural(run, cfg)
	}
}

// TestMappedFixtures runs both layers over the shared OTLP fixtures as the
// real mapping turns them into runs: the RAG failure is caught where it
// starts and where it crashes, the healthy fixtures raise nothing.
func TestMappedFixtures(t *testing.T) {
	layers := func(run *agentrun.Run) []Finding {
		return append(Structural(run, cfgWith(nil)), Semantic(run, cfgWith(nil))...)
	}
	load := func(name string) *agentrun.Run {
		runs := agentrun.MapTraces(testutil.LoadTraces(t, name), agentrun.Options{})
		if len(runs) != 1 {
			t.Fatalf("%s: %d runs", name, len(runs))
		}
		return runs[0]
	}

	fs := layers(load("rag_silent_failure.json"))
	expect(t, one(t, fs, ruleEmptyRetrieval), 1, SeverityWarning, map[string]any{"node": "retrieve", "field": "documents"})
	expect(t, one(t, fs, ruleCrashMissingData), 4, SeverityCritical, map[string]any{"node": "synthesize", "field": "documents", "producer_node": "retrieve"})

	for _, name := range []string{"rag_clean.json", "openinference_langgraph.json", "openllmetry_langgraph.json", "langsmith_langgraph.json",
		"genai_agent.json", "plain_spans.json", "no_root.json", "duplicate_ids.json", "parent_cycle.json"} {
		t.Run(name, func(t *testing.T) {
			// genai_agent's flight search times out: a behavioral finding,
			// not missing data, so these two layers stay quiet.
			for _, f := range layers(load(name)) {
				if f.Severity != SeverityInfo {
					t.Errorf("unexpected finding:\n%s", dump([]Finding{f}))
				}
			}
		})
	}
	fs = layers(load("malformed_states.json"))
	if got := byRule(fs, ruleCorruptedJSON); len(got) == 0 {
		t.Errorf("malformed outputs not reported:\n%s", dump(fs))
	}
}

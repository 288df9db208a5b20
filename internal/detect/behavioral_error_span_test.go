package detect

import (
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

func init() {
	addLookAlikes(ruleErrorSpan, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: "a coding assistant explaining an exception, its spans all fine",
			healthy: newRun(stepSpec{Node: "answer", In: j(`{"question":"What does KeyError: 'documents' mean?"}`),
				Out: j(`{"answer":"A KeyError: 'documents' is raised when the state has no documents key; check the retriever's output."}`)}),
			fault: newRun(stepSpec{Node: "answer", In: j(`{"question":"What does KeyError: 'documents' mean?"}`), NoOutput: true,
				Status: agentrun.StatusError, Exceptions: []agentrun.Exception{{Type: "openai.APITimeoutError", Message: "Request timed out."}}}),
		}}
	})
}

func TestErrorSpanNode(t *testing.T) {
	s := bhStep(t, "synthesize", `{"question":"q"}`, ``)
	s.Status = agentrun.StatusError
	s.StatusMessage = "KeyError: 'documents'"
	s.Exceptions = []agentrun.Exception{{Type: "KeyError", Message: "'documents'", Stacktrace: "Traceback ..."}}
	run := bhRun("rag", bhStep(t, "retrieve", `{}`, `{"docs":[]}`), s)
	f := one(t, Behavioral(run, cfgWith(nil)), ruleErrorSpan)
	if f.Severity != SeverityCritical || f.Step != 1 || f.Details["exception_type"] != "KeyError" ||
		f.Details["exception_message"] != "'documents'" || f.Message != `node "synthesize" failed: KeyError: 'documents'` {
		t.Fatalf("finding = %+v", f)
	}
}

func TestErrorSpanExceptionWithoutMessage(t *testing.T) {
	s := bhStep(t, "load", `{}`, ``)
	s.Exceptions = []agentrun.Exception{{Type: "StopIteration"}}
	f := one(t, Behavioral(bhRun("p", s), cfgWith(nil)), ruleErrorSpan)
	if f.Message != `node "load" failed: StopIteration` {
		t.Fatalf("message = %q", f.Message)
	}
}

func TestErrorSpanNestedCallOnce(t *testing.T) {
	bad := bhTool("sql", `{"q":"select"}`, ``)
	bad.Status = agentrun.StatusError
	bad.StatusMessage = "connection reset"
	bad2 := bad
	bad2.Tool = "sql2"
	run := bhRun("p", withCalls(bhStep(t, "query", `{}`, `{"rows":[1]}`), bad, bad2))
	f := one(t, Behavioral(run, cfgWith(nil)), ruleErrorSpan) // one per step
	if f.Details["call"] != "execute_tool sql" || f.Details["tool"] != "sql" || f.Details["call_status_message"] != "connection reset" {
		t.Fatalf("finding = %+v", f)
	}
	if !strings.Contains(f.Message, `tool call "sql" failed: connection reset`) {
		t.Fatalf("message = %q", f.Message)
	}
}

func TestErrorSpanQuietAndConfig(t *testing.T) {
	run := bhRun("p", withCalls(bhStep(t, "a", `{}`, `{"x":1}`), bhTool("t", `{}`, `{"y":2}`)))
	none(t, Behavioral(run, cfgWith(nil)), ruleErrorSpan)
	s := bhStep(t, "a", `{}`, ``)
	s.Status = agentrun.StatusError
	run = bhRun("p", s)
	none(t, Behavioral(run, cfgWith(map[string]RuleConfig{ruleErrorSpan: {Disabled: true}})), ruleErrorSpan)
	f := one(t, Behavioral(run, cfgWith(map[string]RuleConfig{ruleErrorSpan: {Severity: SeverityWarning}})), ruleErrorSpan)
	if f.Severity != SeverityWarning || f.Message != `node "a" failed` {
		t.Fatalf("finding = %+v", f)
	}
}

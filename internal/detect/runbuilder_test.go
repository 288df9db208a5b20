package detect

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// Small builders (bh*) for the behavioral and statistical tests, and their
// finding checks. Values go through a JSON round trip, as the mapping hands
// them over (map[string]any, float64).

var bhEpoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// bhJSON parses a JSON literal; a test with a broken literal fails at once.
func bhJSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON literal %q: %v", s, err)
	}
	return v
}

// bhStep is a successful step of node with the given input and output JSON
// ("" = absent).
func bhStep(t testing.TB, node, in, out string) agentrun.Step {
	t.Helper()
	s := agentrun.Step{Node: node, Status: agentrun.StatusOK, LangGraphStep: -1, Kind: "CHAIN"}
	if in != "" {
		s.Input, s.HasInput = bhJSON(t, in), true
	}
	if out != "" {
		s.Output, s.HasOutput = bhJSON(t, out), true
	}
	return s
}

// bhText is a step whose input and output are plain texts.
func bhText(node, in, out string) agentrun.Step {
	return agentrun.Step{Node: node, Status: agentrun.StatusOK, LangGraphStep: -1,
		Input: in, HasInput: true, Output: out, HasOutput: true}
}

func bhTool(tool, args, result string) agentrun.Call {
	return agentrun.Call{Name: "execute_tool " + tool, Kind: "tool", Tool: tool, Arguments: args, Result: result, Status: agentrun.StatusOK}
}

func bhLLM(args, result string, tokens int64) agentrun.Call {
	return agentrun.Call{Name: "chat gpt-4o", Kind: "llm", Model: "gpt-4o", Arguments: args, Result: result,
		InputTokens: tokens * 4 / 5, OutputTokens: tokens - tokens*4/5, TotalTokens: tokens, Status: agentrun.StatusOK}
}

// bhRun numbers the steps, gives them ids and, where unset, consecutive
// 100 ms time slots.
func bhRun(pipelineName string, steps ...agentrun.Step) *agentrun.Run {
	run := &agentrun.Run{TraceID: "0123456789abcdef0123456789abcdef", PipelineName: pipelineName, Steps: steps}
	at := bhEpoch
	for i := range run.Steps {
		s := &run.Steps[i]
		s.Number = i + 1
		s.SpanID = fmt.Sprintf("%016x", i+1)
		s.ID = agentrun.StepID(run.TraceID, s.SpanID)
		if s.Start.IsZero() {
			s.Start, s.End = at, at.Add(100*time.Millisecond)
		}
		if s.Status == agentrun.StatusError {
			run.Failed = true
		}
		at = s.End
	}
	run.Start = bhEpoch
	run.End = at
	return run
}

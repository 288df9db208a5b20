// Package sdks holds what the recordings of real SDKs (testdata/sdks/<sdk>/,
// made by `make record-sdks`) must show once mapped and analyzed: one Case
// per SDK. The replay test here and the end-to-end test through the built
// collector (test/e2e) check the same cases.
package sdks

import (
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

// Case is what one SDK's recordings must show.
type Case struct {
	SDK      string // folder under testdata/sdks
	Pipeline string // the app's own name for the workflow
	// Nodes every healthy run's steps are named from (never positions).
	Nodes []string
	// MinHealthy: how many healthy_* runs the folder must hold.
	MinHealthy int
	Faults     map[string]Fault // run name -> what must be found
	// Missed: injected faults no rule can see in what the SDK sends, with
	// the reason; the test fails when one starts to be found.
	Missed map[string]string
	// NoOutput: healthy runs where a step's output is in nothing the SDK
	// sends (run -> node); the reason is given where the case is defined.
	NoOutput map[string]string
}

// Fault is what an injected fault must produce.
type Fault struct {
	Rules []string // at least one of these fires (warning or critical)
	Root  string   // the node forensics names as the root cause
}

// Cases are the recorded SDKs, in the order of the README's table.
func Cases() []Case {
	return []Case{
		openInferenceLangGraph(), openLLMetryLangGraph(), langSmithLangGraph(),
		openInferenceOpenAI(), openLLMetryOpenAI(), goGenAI(), goGenAIEvents(),
		vercelAIOpenTelemetry(), vercelAILegacy(), mastra(), openAIAgents(),
	}
}

// Recording is one recorded run file, as sent and as mapped.
type Recording struct {
	Name   string // healthy_* or fault_*
	Traces ptrace.Traces
	Run    *agentrun.Run
}

// Healthy reports a healthy_* run.
func (r *Recording) Healthy() bool { return strings.HasPrefix(r.Name, "healthy_") }

// Load reads and maps every recording of sdk, in file name order.
func Load(t testing.TB, sdk string) []Recording {
	t.Helper()
	var out []Recording
	for _, rec := range testutil.LoadRecordings(t, sdk) {
		if !strings.HasPrefix(rec.Name, "healthy_") && !strings.HasPrefix(rec.Name, "fault_") {
			t.Fatalf("%s: a recording is named healthy_* or fault_*", rec.Name)
		}
		runs := agentrun.MapTraces(rec.Traces, agentrun.Options{})
		if len(runs) != 1 {
			t.Fatalf("%s: %d runs in one recording, want 1", rec.Name, len(runs))
		}
		out = append(out, Recording{Name: rec.Name, Traces: rec.Traces, Run: runs[0]})
	}
	return out
}

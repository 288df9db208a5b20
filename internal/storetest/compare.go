// Package storetest compares runs as the store holds them, for the tests
// that store the same spans two ways (sent at once, or slowly as a long
// run) and require the same rows.
package storetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/store"
)

// RunIDs are the trace ids of the runs td maps to (none for spans without
// a trace id).
func RunIDs(td ptrace.Traces) []string {
	agent, other := splitRuns(td)
	return append(agent, other...)
}

// AgentRunIDs splits RunIDs into the agent runs (an AI convention the
// mapping recognises: what the default runs.keep stores) and the others.
func AgentRunIDs(td ptrace.Traces) (agent, other []string) { return splitRuns(td) }

func splitRuns(td ptrace.Traces) (agent, other []string) {
	for _, r := range agentrun.MapTraces(td, agentrun.Options{}) {
		switch {
		case r.TraceID == "":
		case r.IsAgentRun():
			agent = append(agent, r.TraceID)
		default:
			other = append(other, r.TraceID)
		}
	}
	return agent, other
}

// Stored reads run id without what legitimately differs between a run
// stored once and one stored in progress first: the analysis state and the
// batch keys the store keeps for retries. JSON columns are re-encoded
// canonically (SQLite keeps the text, PostgreSQL its own encoding).
func Stored(t testing.TB, st store.Store, id string) *store.Full {
	t.Helper()
	full, err := st.GetTrace(context.Background(), id)
	require.NoError(t, err, "run %s", id)
	var md map[string]any
	require.NoError(t, json.Unmarshal(full.Trace.Metadata, &md))
	delete(md, "analysis")
	delete(md, "_argus_batches")
	full.Trace.Metadata = canonical(mustJSON(t, md))
	for i := range full.Steps {
		s := &full.Steps[i]
		s.InputState, s.OutputState, s.Metadata = canonical(s.InputState), canonical(s.OutputState), canonical(s.Metadata)
	}
	for i := range full.Detections {
		full.Detections[i].Details = canonical(full.Detections[i].Details)
	}
	for i := range full.Forensics {
		f := &full.Forensics[i]
		f.CausalChain, f.DetectionIDs = canonical(f.CausalChain), canonical(f.DetectionIDs)
	}
	return full
}

// RequireSameRun fails the test when two stored runs differ in their trace
// row, steps (ids, numbers, nodes, states, metadata), detections or
// forensics.
func RequireSameRun(t testing.TB, what string, want, got *store.Full) {
	t.Helper()
	assert.Equal(t, want.Trace, got.Trace, "%s: trace row", what)
	require.Equal(t, len(want.Steps), len(got.Steps), "%s: steps", what)
	for i := range want.Steps {
		assert.Equal(t, want.Steps[i], got.Steps[i], "%s: step %d", what, i+1)
	}
	assert.Equal(t, want.Detections, got.Detections, "%s: detections", what)
	assert.Equal(t, want.Forensics, got.Forensics, "%s: forensics", what)
}

func canonical(raw json.RawMessage) json.RawMessage {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return raw
	}
	b, _ := json.Marshal(v)
	return b
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

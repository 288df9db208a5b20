package argusapi

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/report"
	"github.com/arguslabs/argus-otel/store"
)

// A run that has started but not completed is listed and served with
// "in_progress": true and its steps so far; a completed one with false.
func TestRunsInProgress(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		s.seedRun("done", "rag", "ok", t0, 1, "")
		require.NoError(t, s.store.WriteBatch(context.Background(), store.TraceBatch{
			Traces: []store.TraceUpdate{{Trace: store.Trace{ID: "going", CreatedAt: t0, PipelineName: "rag",
				Status: "ok", Metadata: json.RawMessage(`{"analysis":"in_progress"}`)}}},
			Steps: []store.Step{{ID: "going-s0", TraceID: "going", StepNumber: 1, NodeName: "plan", Timestamp: t0,
				InputState: json.RawMessage(`{}`), OutputState: json.RawMessage(`{}`), Metadata: json.RawMessage(`{}`)}},
		}))

		var list struct {
			Traces []report.Trace `json:"traces"`
		}
		s.getJSON("/api/traces", &list)
		got := map[string]report.Trace{}
		for _, tr := range list.Traces {
			got[tr.ID] = tr
		}
		assert.True(t, got["going"].InProgress)
		assert.Equal(t, "in_progress", got["going"].Analysis)
		assert.False(t, got["done"].InProgress)
		assert.Equal(t, "final", got["done"].Analysis)

		var one report.Report
		s.getJSON("/api/traces/going", &one)
		assert.True(t, one.Trace.InProgress)
		assert.Len(t, one.Steps, 1, "its steps so far")
	})
}

package loadgen

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// Varied runs map, through the collector's mapping, to the steps counted,
// under the three agents' names; every fault lands on its node, and the
// same seed gives the same runs.
func TestVariedRunsMapAndCarryTheirFaults(t *testing.T) {
	g, err := NewGenerator(DefaultShape(), 5, 1)
	require.NoError(t, err)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pipelines := map[string]int{}
	nodes := map[string]bool{}
	for i := range 200 {
		td, spans := g.NewRequest()
		id, c := g.AddVariedRun(spans, at.Add(time.Duration(i)*time.Minute), "")
		runs := agentrun.MapTraces(td, agentrun.Options{})
		require.Len(t, runs, 1)
		r := runs[0]
		require.Equal(t, id, r.TraceID)
		require.Equal(t, int(c.NodeSpans), len(r.Steps))
		require.EqualValues(t, td.SpanCount(), c.Spans)
		require.False(t, r.Failed, "healthy runs do not fail")
		pipelines[r.PipelineName]++
		for _, s := range r.Steps {
			nodes[s.Node] = true
			require.True(t, s.HasInput && s.HasOutput, "%s/%s keeps its content", r.PipelineName, s.Node)
			for _, c := range s.Calls {
				if c.Kind == "llm" {
					require.True(t, c.Arguments != "" && c.Result != "", "%s/%s: the model call keeps its request and response", r.PipelineName, s.Node)
				}
			}
		}
	}
	require.Len(t, pipelines, 3, "three agents: %v", pipelines)
	for _, n := range []string{"validate", "route", "grade_documents", "web_search", "tools", "notify"} {
		require.True(t, nodes[n], "no %s step in 200 runs", n)
	}

	for _, f := range Faults() {
		td, spans := g.NewRequest()
		_, c := g.AddVariedRun(spans, at, f)
		r := agentrun.MapTraces(td, agentrun.Options{})[0]
		found := false
		for _, s := range r.Steps {
			found = found || s.Node == FaultNodes[f]
		}
		require.True(t, found, "%s: no %s step", f, FaultNodes[f])
		crashes := f == FaultEmptyRetrievalCrash || f == FaultKeyTypo // a later node throws on the missing documents
		require.Equal(t, crashes, c.FailingTraces == 1, "%s", f)
	}

	gen := func() string {
		g, err := NewGenerator(DefaultShape(), 9, 1)
		require.NoError(t, err)
		td, spans := g.NewRequest()
		for i := range 5 {
			g.AddVariedRun(spans, at, Faults()[i])
		}
		return fmt.Sprint(agentrun.MapTraces(td, agentrun.Options{})[4].Steps[0].Output)
	}
	require.Equal(t, gen(), gen())
}

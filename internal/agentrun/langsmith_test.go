package agentrun_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

// TestRootEndsRun: only LangSmith JS's graph root, ended by LangGraph's
// __start__ run, does not end its run; every other fixture's and recording's
// root does (a wrong false would hold that run until max_run_duration).
func TestRootEndsRun(t *testing.T) {
	check := func(name string, td ptrace.Traces, want bool) {
		for span := range agentrun.Spans(td) {
			if span.ParentSpanID().IsEmpty() {
				assert.Equal(t, want, agentrun.RootEndsRun(span), "%s: root %s", name, span.Name())
			}
		}
	}
	for _, name := range testutil.FixtureNames(t) {
		check(name, testutil.LoadTraces(t, name), true)
	}
	dirs, err := os.ReadDir(filepath.Join(testutil.ModuleRoot(t), "testdata", "sdks"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		for _, rec := range testutil.LoadRecordings(t, d.Name()) {
			check(d.Name()+"/"+rec.Name, rec.Traces, d.Name() != "langsmith-langgraph")
		}
	}
}

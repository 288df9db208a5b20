package agentrun_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// oneRun maps td and requires exactly one run, checking its invariants.
func oneRun(t testing.TB, td ptrace.Traces, opts agentrun.Options) *agentrun.Run {
	t.Helper()
	runs := agentrun.MapTraces(td, opts)
	if len(runs) != 1 {
		t.Fatalf("got %d runs, want 1", len(runs))
	}
	checkRun(t, runs[0])
	return runs[0]
}

func fixtureRun(t testing.TB, name string) *agentrun.Run {
	t.Helper()
	return oneRun(t, testutil.LoadTraces(t, name), agentrun.Options{})
}

// checkRun asserts what must hold for every mapped run, whatever the input.
func checkRun(t testing.TB, r *agentrun.Run) {
	t.Helper()
	if len(r.TraceID) != 32 || strings.ToLower(r.TraceID) != r.TraceID {
		t.Errorf("trace id %q is not 32 lowercase hex chars", r.TraceID)
	}
	if r.DurationMs() < 0 {
		t.Errorf("negative run duration")
	}
	seen := map[string]bool{}
	for i := range r.Steps {
		s := &r.Steps[i]
		if s.Number != i+1 {
			t.Errorf("step %d has Number %d", i, s.Number)
		}
		if s.ID != agentrun.StepID(r.TraceID, s.SpanID) {
			t.Errorf("step id %q does not match trace/span", s.ID)
		}
		if seen[s.SpanID] {
			t.Errorf("span %s is two steps", s.SpanID)
		}
		seen[s.SpanID] = true
		if s.DurationMs() < 0 {
			t.Errorf("step %s negative duration", s.Node)
		}
		for _, c := range s.Calls {
			if seen[c.SpanID] {
				t.Errorf("span %s mapped twice", c.SpanID)
			}
			seen[c.SpanID] = true
			if c.DurationMs() < 0 {
				t.Errorf("call %s negative duration", c.Name)
			}
			for _, str := range []string{c.Name, c.Kind, c.Model, c.Provider, c.Tool, c.Arguments, c.Result, c.StatusMessage} {
				mustValid(t, str)
			}
		}
		for _, str := range []string{s.Node, s.StatusMessage, s.Kind, s.Convention} {
			mustValid(t, str)
		}
		for _, e := range s.Exceptions {
			mustValid(t, e.Type+e.Message+e.Stacktrace)
		}
		walkValid(t, s.Input)
		walkValid(t, s.Output)
		walkValid(t, s.Metadata)
	}
	mustValid(t, r.PipelineName)
	walkValid(t, r.Metadata)
	if _, err := json.Marshal(r.Metadata); err != nil {
		t.Errorf("run metadata does not encode: %v", err)
	}
}

// mustValid and walkValid skip t.Helper: they run per string of 100k-span runs.
func mustValid(t testing.TB, s string) {
	if !utf8.ValidString(s) {
		t.Errorf("invalid UTF-8: %q", s)
	}
}

func walkValid(t testing.TB, v any) {
	switch x := v.(type) {
	case string:
		mustValid(t, x)
	case map[string]any:
		for k, e := range x {
			mustValid(t, k)
			walkValid(t, e)
		}
	case []any:
		for _, e := range x {
			walkValid(t, e)
		}
	}
}

func nodes(r *agentrun.Run) []string {
	out := make([]string, len(r.Steps))
	for i := range r.Steps {
		out[i] = r.Steps[i].Node
	}
	return out
}

func eq(t testing.TB, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// js decodes a JSON literal for comparisons with parsed states.
func js(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON literal: %v", err)
	}
	return v
}

const trace1 = "0102030405060708090a0b0c0d0e0f10"

// sid makes a span id from a small number.
func sid(n int) string { return fmt.Sprintf("%016x", n+1) }

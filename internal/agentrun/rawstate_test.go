package agentrun_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

var rawOpts = []agentrun.Options{
	{},
	{RedactKeys: []string{"api_key", "token", "q"}, MaxFieldBytes: 64},
	{RedactKeys: []string{"api_key", "password"}, MaxFieldBytes: 1 << 20},
	{MaxFieldBytes: 200},
}

// checkRawStates maps td with and without Options.RawStates and checks the
// two agree: the same runs in everything but how states are held, and every
// state stores the same JSON value (the raw text decodes to what the parse
// path encodes). It returns how many states were kept as text.
func checkRawStates(t *testing.T, td ptrace.Traces, opts agentrun.Options) (kept int) {
	t.Helper()
	parsed := agentrun.MapTraces(td, opts)
	opts.RawStates = true
	raw := agentrun.MapTraces(td, opts)
	if len(parsed) != len(raw) {
		t.Fatalf("%d runs parsed, %d raw", len(parsed), len(raw))
	}
	for i := range parsed {
		p, r := *parsed[i], *raw[i]
		p.Steps, r.Steps = append([]agentrun.Step(nil), p.Steps...), append([]agentrun.Step(nil), r.Steps...)
		for j := range p.Steps {
			ps, rs := &p.Steps[j], &r.Steps[j]
			for _, st := range []struct {
				what       string
				pv, rv     any
				penc, renc json.RawMessage
			}{{"input", ps.Input, rs.Input, ps.InputJSON, rs.InputJSON}, {"output", ps.Output, rs.Output, ps.OutputJSON, rs.OutputJSON}} {
				want, got := st.penc, st.renc
				if want == nil {
					want = agentrun.JSON(st.pv)
				}
				if got == nil {
					got = agentrun.JSON(st.rv)
				}
				if st.rv == nil && st.renc != nil && st.pv != nil {
					kept++
					if !sameJSON(t, got, want) {
						t.Fatalf("%+v step %s %s: kept text %s, the parse path stores %s", opts, ps.Node, st.what, got, want)
					}
					continue
				}
				// Not kept as text: exactly the parse path.
				if string(got) != string(want) || !reflect.DeepEqual(st.rv, st.pv) {
					t.Fatalf("%+v step %s %s: raw mapping %s, parse path %s", opts, ps.Node, st.what, got, want)
				}
			}
			ps.Input, ps.Output, ps.InputJSON, ps.OutputJSON = nil, nil, nil, nil
			rs.Input, rs.Output, rs.InputJSON, rs.OutputJSON = nil, nil, nil, nil
		}
		if !reflect.DeepEqual(p, r) {
			t.Fatalf("%+v: runs differ besides their states:\nparsed %+v\nraw    %+v", opts, p, r)
		}
	}
	return kept
}

// sameJSON compares two JSON texts as decoded values.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func TestRawStatesMatchParsedOnFixtures(t *testing.T) {
	for _, name := range []string{"openinference_langgraph.json", "openllmetry_langgraph.json", "genai_agent.json",
		"malformed_states.json", "rag_silent_failure.json", "plain_spans.json"} {
		td := testutil.LoadTraces(t, name)
		kept := 0
		for _, opts := range rawOpts {
			kept += checkRawStates(t, td, opts)
		}
		if kept == 0 && name != "plain_spans.json" { // plain spans carry no states
			t.Errorf("%s: no state was kept as text", name)
		}
	}
}

func TestRawStatesEdgeCases(t *testing.T) {
	for _, s := range []string{
		`{"question": "q?",   "docs": ["<a href=\"x\">&</a>"], "n": 1.0}`, // kept: other spacing, escapes, number text
		`{"a": 1, "a": 2}`,       // duplicate key: parsed, last wins
		`{"api_key": "sk-1"}`,    // redacted
		`{"x": "\ud800"}`,        // lone surrogate: U+FFFD
		`{"x": 1e400}`,           // out of range: kept as a string
		`NaN`, `{"a": Infinity}`, // not JSON
		"{\"bad\": \"\xff\xfe\"}",                           // invalid UTF-8: cleaned
		`{"inputs": {"q": 1}}`,                              // traceloop envelope
		strings.Repeat("[", 600) + strings.Repeat("]", 600), // deeper than rawMaxDepth
		`{"big": "` + strings.Repeat("x", 300) + `"}`,       // over MaxFieldBytes 64 / 200
	} {
		for _, opts := range rawOpts {
			checkRawStates(t, attrTrace(s), opts)
		}
	}
}

// FuzzRawStates: on any state text, the exporter's mapping (RawStates) and
// the processor's agree on every value stored.
func FuzzRawStates(f *testing.F) {
	f.Add(`{"a":[1,2.5e3,"x<y>&z"],"b":{"c":null}}`)
	f.Add(`{"inputs":{"q":1},"outputs":[1]}`)
	f.Add(`{"token":"t","x":[{"api_key":1}]}`)
	f.Add(`{"a":1,"a":1}`)
	f.Add(` [1e21, 1e-7, -0.0, "\u2028"] `)
	f.Fuzz(func(t *testing.T, s string) {
		td := attrTrace(s)
		for _, opts := range rawOpts {
			checkRawStates(t, td, opts)
		}
	})
}

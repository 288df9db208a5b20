package argusexporter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/store"
)

// stateCase is one input.value the exporter stores; same says the stored
// value is the source's JSON value (valid, nothing to redact, small).
type stateCase struct {
	name, text, mime string
	same             bool
}

func stateCases() []stateCase {
	deep := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	return []stateCase{
		{name: "pretty", same: true, text: "{\n  \"question\": \"What is <b>the</b> policy & why?\",\n  \"docs\": [\"é€😀\", \"\\u2028\\t\"],\n  \"n\": 1.50, \"big\": 12345678901234567890, \"ok\": true, \"none\": null\n}"},
		{name: "scalar", same: true, text: ` 42 `},
		{name: "string", same: true, text: `"just \"a\" string"`},
		{name: "nested-array", same: true, text: `[[1,[2,[3,{"k":"v"}]]],{"z":[]}]`},
		{name: "nul-escape", text: `{"x":"a\u0000b"}`}, // the store turns \u0000 into U+FFFD
		{name: "duplicate-key", text: `{"a":1,"b":2,"a":3}`},
		{name: "redacted", text: `{"user":"ada","auth":{"api_key":"sk-123","token":"t"}}`},
		{name: "invalid", text: `{"a": [1, 2`},
		{name: "nan", text: `{"score": NaN}`},
		{name: "text-plain", text: `{"a":1}`, mime: "text/plain"},
		{name: "invalid-utf8", text: "{\"a\":\"\xff\xfeok\"}"},
		{name: "lone-surrogate", text: `{"a":"\ud800x"}`},
		{name: "out-of-range", text: `[1e400]`},
		{name: "deep-600", text: deep(600)},                                                 // kept as JSON, parsed (deeper than the raw path takes)
		{name: "deep-950", text: deep(950)},                                                 // stored as text (store.MaxJSONDepth)
		{name: "deep-10001", text: strings.Repeat("[", 10001) + strings.Repeat("]", 10001)}, // beyond encoding/json: a string
		{name: "huge", text: `{"doc":"` + strings.Repeat("lorem ipsum ", 8000) + `"}`},      // over 64 KiB: marker
	}
}

// TestStoredStatesMatchParsePath writes the same traces with the exporter's
// mapping (states as their JSON text) and with the parse path (what the
// exporter stored before), into two databases of each kind, and compares
// every stored step; valid states must also equal their source.
func TestStoredStatesMatchParsePath(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		cases := stateCases()
		nodes := make([]node, len(cases))
		for i, c := range cases {
			nodes[i] = node{name: c.name, input: map[string]any{}, output: map[string]any{"i": i}}
		}
		run := langGraphRun("raw-states", time.Now().Add(-time.Minute), nodes)
		for i, c := range cases {
			a := run.nodes[i].Attributes()
			a.PutStr("input.value", c.text)
			if c.mime != "" {
				a.PutStr("input.mime_type", c.mime)
			}
		}

		read := func(raw bool) (map[string][2]string, *db) {
			cfg := be.config(t)
			e, err := newExporter(cfg, exportertestSettings())
			require.NoError(t, err)
			require.True(t, e.mapOpt.RawStates, "the exporter maps states as text")
			e.mapOpt.RawStates = raw
			require.NoError(t, e.start(ctx, nil))
			require.NoError(t, e.pushTraces(ctx, run.td))
			require.NoError(t, e.shutdown(ctx))
			d := be.open(t, cfg)
			rows, err := d.Query(d.rebind(`SELECT node_name, input_state, output_state FROM trace_steps WHERE trace_id = ?`), run.traceID)
			require.NoError(t, err)
			defer rows.Close()
			out := map[string][2]string{}
			for rows.Next() {
				var name, in, outState string
				require.NoError(t, rows.Scan(&name, &in, &outState))
				out[name] = [2]string{in, outState}
			}
			require.NoError(t, rows.Err())
			return out, d
		}
		got, gotDB := read(true)
		want, _ := read(false)
		require.Len(t, got, len(cases))
		require.Len(t, want, len(cases))

		for _, c := range cases {
			g, w := got[c.name], want[c.name]
			assert.Equal(t, jsonOf(t, w[0]), jsonOf(t, g[0]), "%s input_state", c.name)
			assert.Equal(t, jsonOf(t, w[1]), jsonOf(t, g[1]), "%s output_state", c.name)
			if c.same {
				assert.Equal(t, jsonOf(t, c.text), jsonOf(t, g[0]), "%s: stored state is not the source's value", c.name)
				if be.name == "sqlite" { // TEXT keeps the bytes: the source's own text, not a re-encoding
					assert.Equal(t, strings.TrimSpace(c.text), g[0], "%s", c.name)
				}
			}
		}
		// What "before" meant for the edge cases, so a regression of the
		// parse path cannot hide behind the comparison.
		in := func(name string) any { return jsonOf(t, got[name][0]) }
		assert.Equal(t, map[string]any{"a": 3.0, "b": 2.0}, in("duplicate-key"))
		assert.Equal(t, map[string]any{"user": "ada", "auth": map[string]any{"api_key": agentrun.Redacted, "token": agentrun.Redacted}}, in("redacted"))
		assert.Equal(t, `{"a": [1, 2`, in("invalid"))
		assert.Equal(t, `{"score": NaN}`, in("nan"))
		assert.Equal(t, `{"a":1}`, in("text-plain"))
		assert.Equal(t, map[string]any{"a": "\uFFFDok"}, in("invalid-utf8"))
		assert.Equal(t, map[string]any{"a": "\uFFFDx"}, in("lone-surrogate"))
		assert.Equal(t, map[string]any{"x": "a\uFFFDb"}, in("nul-escape"))
		assert.Equal(t, `[1e400]`, in("out-of-range"))
		assert.IsType(t, map[string]any{}, in("deep-600"))
		assert.Equal(t, strings.Repeat(`{"a":`, 950)+"1"+strings.Repeat("}", 950), in("deep-950"))
		assert.Equal(t, strings.Repeat("[", 10001)+strings.Repeat("]", 10001), in("deep-10001"))
		huge, _ := in("huge").(map[string]any)
		assert.Equal(t, true, huge[agentrun.TruncatedKey], "huge state: %v", huge)

		// The database's own JSON functions read the kept text.
		q := `SELECT json_extract(input_state, '$.question') FROM trace_steps WHERE trace_id = ? AND node_name = 'pretty'`
		if be.name == "postgres" {
			q = `SELECT input_state->>'question' FROM trace_steps WHERE trace_id = ? AND node_name = 'pretty'`
		}
		var question string
		gotDB.row(q, []any{run.traceID}, &question)
		assert.Equal(t, "What is <b>the</b> policy & why?", question)
	})
}

// States are kept as text up to a depth below the store's MaxJSONDepth,
// past which the store keeps them as text of their encoding.
func TestRawDepthBelowStoreLimit(t *testing.T) {
	const depth = 512 // agentrun.rawMaxDepth
	require.Less(t, depth, store.MaxJSONDepth)
	for _, n := range []int{depth, depth + 1} {
		s := strings.Repeat("[", n) + strings.Repeat("]", n)
		meta := `{"langgraph_node":"retrieve","langgraph_step":1}`
		runs := agentrun.MapTraces(fuzzTrace(s, meta, "ok", `{}`, `[]`, false), agentrun.Options{RawStates: true})
		require.Len(t, runs, 1)
		require.Len(t, runs[0].Steps, 1)
		st := runs[0].Steps[0]
		if n == depth {
			assert.Nil(t, st.Input, "depth %d is kept as text", n)
			assert.Equal(t, s, string(st.InputJSON))
		} else {
			assert.NotNil(t, st.Input, "depth %d is parsed", n)
		}
	}
}

// A step whose states are kept as text tells the store they are checked; a
// state that went the parse path (here: truncated) leaves the check to it.
func TestStepRowStatesChecked(t *testing.T) {
	meta := `{"langgraph_node":"retrieve","langgraph_step":1}`
	opt := rowOptions{maxFieldBytes: 64}
	for _, tc := range []struct {
		in, out string
		want    bool
	}{
		{`{"q":"short"}`, `{"docs":[1,2]}`, true},
		{`{"q":"` + strings.Repeat("x", 200) + `"}`, `{"docs":[1,2]}`, false},
		{`{"q":"short"}`, `[` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `]`, false},
	} {
		td := fuzzTrace(tc.in, meta, "ok", tc.out, `[]`, false)
		runs := agentrun.MapTraces(td, agentrun.Options{RawStates: true, MaxFieldBytes: 64 * 1024})
		if len(tc.in) > 100 {
			runs = agentrun.MapTraces(td, agentrun.Options{RawStates: true, MaxFieldBytes: opt.maxFieldBytes})
		}
		rows := buildRows(td, runs, opt, time.Unix(1735689600, 0))
		require.Len(t, rows.batch.Steps, 1)
		assert.Equal(t, tc.want, rows.batch.Steps[0].StatesChecked, "in %.40s out %.40s", tc.in, tc.out)
	}
}

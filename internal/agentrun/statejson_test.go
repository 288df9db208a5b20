package agentrun_test

import (
	"bytes"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

// The encoding the mapping keeps for the exporter is exactly JSON(state),
// after redaction, and is only kept for states that were not truncated.
func TestStateJSONIsTheStateEncoding(t *testing.T) {
	for _, name := range []string{"openinference_langgraph.json", "openllmetry_langgraph.json", "genai_agent.json",
		"malformed_states.json", "rag_silent_failure.json", "plain_spans.json"} {
		td := testutil.LoadTraces(t, name)
		for _, opts := range []agentrun.Options{{}, {MaxFieldBytes: 1 << 20, RedactKeys: []string{"api_key", "query"}}, {MaxFieldBytes: 200}} {
			kept, truncated := 0, 0
			for _, run := range agentrun.MapTraces(td, opts) {
				for i := range run.Steps {
					s := &run.Steps[i]
					for _, st := range []struct {
						v   any
						enc []byte
						has bool
					}{{s.Input, s.InputJSON, s.HasInput}, {s.Output, s.OutputJSON, s.HasOutput}} {
						m, isMap := st.v.(map[string]any)
						switch {
						case opts.MaxFieldBytes == 0 || !st.has:
							if st.enc != nil {
								t.Fatalf("%s %+v: step %s has an encoding it did not need", name, opts, s.Node)
							}
						case isMap && m[agentrun.TruncatedKey] == true:
							truncated++
							if st.enc != nil {
								t.Fatalf("%s: truncated state of %s kept the encoding of the original", name, s.Node)
							}
						default:
							kept++
							if !bytes.Equal(st.enc, agentrun.JSON(st.v)) {
								t.Fatalf("%s %+v: step %s encoding %s, JSON(state) %s", name, opts, s.Node, st.enc, agentrun.JSON(st.v))
							}
						}
					}
				}
			}
			if opts.MaxFieldBytes > 0 && kept == 0 && name != "plain_spans.json" { // plain spans carry no states
				t.Fatalf("%s %+v: no state kept its encoding", name, opts)
			}
			if opts.MaxFieldBytes == 200 && truncated == 0 && name == "openinference_langgraph.json" {
				t.Fatalf("%s: no state was truncated at 200 bytes", name)
			}
		}
	}
}

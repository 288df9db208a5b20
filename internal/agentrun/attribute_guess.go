package agentrun

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// A step of an SDK that no convention here knows still keeps its content:
// when nothing was read for it, its input and output are the attributes
// whose names say so: the key, or its last part after a '.' or '_', is one
// of these (myframework.step.input, tool_result). Earlier names win:
// "input" over "query".
var guessNames = func() map[string]guessRank {
	m := map[string]guessRank{}
	for i, n := range []string{"input", "inputs", "arguments", "args", "parameters", "params", "prompt", "request", "query", "question"} {
		m[n] = guessRank{output: false, rank: i}
	}
	for i, n := range []string{"output", "outputs", "result", "results", "response", "completion", "answer"} {
		m[n] = guessRank{output: true, rank: i}
	}
	return m
}()

type guessRank struct {
	output bool
	rank   int
}

// guessStates fills a step's input and output from attributes named like
// them (text, maps and lists only: a count is no content), in one pass.
func (b *traceBuild) guessStates(s *Step, sp ptrace.Span) {
	const none = 1 << 30
	var in, out pcommon.Value
	inRank, outRank := none, none
	for k, v := range sp.Attributes().All() {
		switch v.Type() {
		case pcommon.ValueTypeStr, pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		default:
			continue
		}
		g, ok := guessNames[k[strings.LastIndexAny(k, "._")+1:]]
		switch {
		case !ok:
		case g.output && g.rank < outRank:
			out, outRank = v, g.rank
		case !g.output && g.rank < inRank:
			in, inRank = v, g.rank
		}
	}
	if inRank != none {
		s.HasInput, s.InputMalformed, s.Input, s.InputJSON = b.stateOf(in)
	}
	if outRank != none {
		s.HasOutput, s.OutputMalformed, s.Output, s.OutputJSON = b.stateOf(out)
	}
}

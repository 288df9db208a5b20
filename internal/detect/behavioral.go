package detect

import (
	"strings"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The behavioral layer looks at what a run did rather than at single
// values: repeated work (stalls, retry storms, runaway loops), errors
// reported by tools and spans (output_signals.go), and outputs that
// contradict themselves. Its rules are the files behavioral_*.go.

// Bounds that keep the layer linear in the size of a run, whatever it holds.
const (
	maxValueDepth    = 8    // nesting walked inside one JSON value
	maxObjectVisits  = 4096 // containers walked inside one JSON value
	maxGramBytes     = 32 << 10
	maxStallClusters = 16 // output clusters remembered per node for stall detection
	nearIdentical    = 0.95
	shortTextBytes   = 2048 // longer texts are prose, not error messages
)

func isToolCall(c *agentrun.Call) bool { return c.Kind == "tool" || c.Tool != "" }

// isToolStep: the node span is itself a tool execution (GenAI execute_tool,
// OpenInference TOOL), so its input is the arguments and its output the result.
func isToolStep(s *agentrun.Step) bool {
	switch strings.ToLower(s.Kind) {
	case "execute_tool", "tool":
		return true
	}
	return false
}

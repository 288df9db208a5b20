package detect

import (
	"regexp"
	"strings"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// What a crashed step's error says: its text, the failing frame of its
// stack trace, and the field names they mention.

var (
	// Error shapes that name the field they failed on, in Python and JS.
	fieldPatterns = []*regexp.Regexp{
		regexp.MustCompile(`KeyError:?\s*['"]([^'"\n]{1,128})['"]`),
		regexp.MustCompile(`reading ['"]([^'"\n]{1,128})['"]`),
		regexp.MustCompile(`(?i)missing (?:required )?(?:field|key|property|value|input)s?\s*[:=]?\s*['"` + "`" + `]?([A-Za-z_][A-Za-z0-9_.-]{0,127})`),
		regexp.MustCompile(`(?i)(?:field|key|property)\s+['"` + "`" + `]([^'"` + "`" + `\n]{1,128})['"` + "`" + `]\s+(?:is\s+)?(?:missing|required|not found|empty|undefined|null|none)`),
		// code, matched in the stack trace only:
		regexp.MustCompile(`\[\s*['"]([^'"\n]{1,128})['"]\s*\]`),
		regexp.MustCompile(`\.get\(\s*['"]([^'"\n]{1,128})['"]`),
	}
	// A bare quoted message is Python's repr of the missing key.
	bareKeyRe = regexp.MustCompile(`^\s*['"]([^'"\n]{1,128})['"]\s*$`)
)

// namedFields extracts field names from error text, plus subscripts and
// .get() calls in the last lines of the stack trace (the failing frame).
func namedFields(text, stackTail string) []string {
	var out []string
	text = clipBytes(text, 8192)
	for _, re := range fieldPatterns[:4] {
		for _, m := range re.FindAllStringSubmatch(text, 8) {
			out = append(out, strings.TrimSpace(m[1]))
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if m := bareKeyRe.FindStringSubmatch(line); m != nil {
			out = append(out, m[1])
		}
	}
	for _, re := range fieldPatterns[4:] {
		for _, m := range re.FindAllStringSubmatch(stackTail, 4) {
			out = append(out, m[1])
		}
	}
	return out
}

// crashText joins the node's own error facts: "Type: message" of every
// exception and the status message.
func crashText(s *agentrun.Step) string {
	var b strings.Builder
	statusSeen := false
	lines := map[string]bool{}
	for _, e := range s.Exceptions {
		line := e.Message
		if e.Type != "" {
			line = e.Type + ": " + e.Message
		}
		if lines[line] || len(lines) >= 8 {
			continue // SDKs often record the same exception twice
		}
		lines[line] = true
		b.WriteString(line)
		b.WriteByte('\n')
		statusSeen = statusSeen || e.Message == s.StatusMessage || line == s.StatusMessage
	}
	if s.StatusMessage != "" && !statusSeen {
		b.WriteString(s.StatusMessage)
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}

// crashStackTail is the last lines of the first stack trace: the frame
// that failed, e.g. `docs = state["documents"]`.
func crashStackTail(s *agentrun.Step) string {
	for _, e := range s.Exceptions {
		if e.Stacktrace == "" {
			continue
		}
		lines := strings.Split(strings.TrimSpace(clipTail(e.Stacktrace, 4096)), "\n")
		if len(lines) > 4 {
			lines = lines[len(lines)-4:]
		}
		return strings.Join(lines, "\n")
	}
	return ""
}

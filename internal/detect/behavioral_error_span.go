package detect

import (
	"cmp"
	"fmt"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

const ruleErrorSpan = "behavioral.error_span"

// errorSpan: the node span, or a call nested under it, ended with status
// ERROR or recorded an exception.
type errorSpan struct{}

func init() {
	register(Rule{ID: ruleErrorSpan, Layer: LayerBehavioral, Severity: SeverityCritical,
		Description: "The node span, or a call nested under it, ended with status ERROR or recorded an exception."}, errorSpan{})
}

func (errorSpan) check(a *analysis) {
	for i := range a.run.Steps {
		if a.run.Steps[i].Failed() {
			checkErrorSpan(a, i)
		}
	}
}

func checkErrorSpan(a *analysis, i int) {
	s := &a.run.Steps[i]
	d := map[string]any{}
	msg := fmt.Sprintf("node %q failed", s.Node)
	if s.StatusMessage != "" {
		d["status_message"] = preview(s.StatusMessage)
	}
	exc := firstException(s.Exceptions)
	if s.Status != agentrun.StatusError && len(s.Exceptions) == 0 {
		// Only a nested call failed: name it, it is where the error happened.
		for j := range s.Calls {
			c := &s.Calls[j]
			if c.Status != agentrun.StatusError {
				continue
			}
			d["call"] = c.Name
			d["call_kind"] = c.Kind
			if c.Tool != "" {
				d["tool"] = c.Tool
			}
			if c.StatusMessage != "" {
				d["call_status_message"] = preview(c.StatusMessage)
			}
			exc = firstException(c.Exceptions)
			msg = fmt.Sprintf("node %q: %s call %q failed", s.Node, cmp.Or(c.Kind, "nested"), cmp.Or(c.Tool, c.Name))
			break
		}
	}
	if exc != nil {
		d["exception_type"] = exc.Type
		d["exception_message"] = preview(exc.Message)
		if text := joinNonEmpty(": ", exc.Type, exc.Message); text != "" {
			msg += ": " + preview(text)
		}
	} else if m, ok := d["status_message"].(string); ok {
		msg += ": " + m
	} else if m, ok := d["call_status_message"].(string); ok {
		msg += ": " + m
	}
	a.emit(ruleErrorSpan, i, msg, d)
}

func firstException(es []agentrun.Exception) *agentrun.Exception {
	if len(es) == 0 {
		return nil
	}
	return &es[0]
}

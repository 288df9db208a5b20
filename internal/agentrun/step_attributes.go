package agentrun

import (
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Custom instrumentation names its steps with attributes of its own. The
// processor's step_attributes config says which ones (StepAttributes), and
// Apply marks the spans that carry them with the argus.step.* attributes
// below before anything else sees the spans; the mapping reads only those,
// so the processor and the exporter map the same steps without sharing the
// config. A user's instrumentation may also set them itself.
const (
	// AttrStepName on a span makes it a step with this node name.
	AttrStepName = "argus.step.name"
	// AttrStepInputAttribute / AttrStepOutputAttribute name the attributes
	// of the span that hold the step's input and output.
	AttrStepInputAttribute  = "argus.step.input_attribute"
	AttrStepOutputAttribute = "argus.step.output_attribute"
)

// StepAttributes is the step_attributes config: the attribute keys that hold
// a step's name, input and output, each list tried in order.
type StepAttributes struct {
	Name   []string `mapstructure:"name"`
	Input  []string `mapstructure:"input"`
	Output []string `mapstructure:"output"`
}

// maxStepAttributeKeys bounds each list: Apply looks every key up on every span.
const maxStepAttributeKeys = 16

// Validate reports every problem: empty or duplicate keys, the argus.*
// namespace (the processor's own), lists that are too long.
func (c StepAttributes) Validate() error {
	var errs []error
	seen := map[string]string{}
	for _, l := range [...]struct {
		name string
		keys []string
	}{{"name", c.Name}, {"input", c.Input}, {"output", c.Output}} {
		if len(l.keys) > maxStepAttributeKeys {
			errs = append(errs, fmt.Errorf("step_attributes.%s: %d keys, at most %d", l.name, len(l.keys), maxStepAttributeKeys))
		}
		for i, k := range l.keys {
			switch {
			case strings.TrimSpace(k) == "":
				errs = append(errs, fmt.Errorf("step_attributes.%s[%d]: empty attribute key", l.name, i))
			case strings.HasPrefix(k, "argus."):
				errs = append(errs, fmt.Errorf("step_attributes.%s[%d]: %q is in the processor's own argus.* namespace", l.name, i, k))
			case seen[k] != "":
				errs = append(errs, fmt.Errorf("step_attributes.%s[%d]: %q is already listed under step_attributes.%s", l.name, i, k, seen[k]))
			default:
				seen[k] = l.name
			}
		}
	}
	return errors.Join(errs...)
}

// Empty reports whether nothing is configured (Apply does nothing).
func (c StepAttributes) Empty() bool {
	return len(c.Name) == 0 && len(c.Input) == 0 && len(c.Output) == 0
}

// Apply marks every span that carries a configured attribute as a step: its
// name is the first configured name attribute present (else the span name),
// and the first configured input and output attributes present are named in
// argus.step.input_attribute / output_attribute. Applying twice is the same
// as once.
func (c StepAttributes) Apply(td ptrace.Traces) {
	if c.Empty() {
		return
	}
	first := func(sp ptrace.Span, keys []string) (key, val string) {
		at := sp.Attributes()
		for _, k := range keys {
			if v, ok := at.Get(k); ok {
				return k, v.AsString()
			}
		}
		return "", ""
	}
	for sp := range Spans(td) {
		nameKey, name := first(sp, c.Name)
		in, _ := first(sp, c.Input)
		out, _ := first(sp, c.Output)
		if nameKey == "" && in == "" && out == "" {
			continue
		}
		if strings.TrimSpace(name) == "" {
			name = sp.Name()
		}
		at := sp.Attributes()
		at.PutStr(AttrStepName, name)
		if in != "" {
			at.PutStr(AttrStepInputAttribute, in)
		}
		if out != "" {
			at.PutStr(AttrStepOutputAttribute, out)
		}
	}
}

// markCustom: every span named by argus.step.name is a step (spans under
// it that are not are its calls; a named span under another is a nested
// step).
func (b *traceBuild) markCustom() {
	for i := range b.recs {
		if b.recs[i].mask&(1<<aStepName) != 0 {
			b.recs[i].role = roleStep
		}
	}
}

// customStates reads the input and output of a step from the attributes its
// argus.step.*_attribute name, over what the conventions read.
func (b *traceBuild) customStates(s *Step, sp ptrace.Span) {
	at := sp.Attributes()
	if k := attrText(sp, AttrStepInputAttribute); k != "" {
		if v, ok := at.Get(k); ok {
			s.HasInput, s.InputMalformed, s.Input, s.InputJSON = b.stateOf(v)
		}
	}
	if k := attrText(sp, AttrStepOutputAttribute); k != "" {
		if v, ok := at.Get(k); ok {
			s.HasOutput, s.OutputMalformed, s.Output, s.OutputJSON = b.stateOf(v)
		}
	}
}

package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// RuleConfig overrides one rule.
type RuleConfig struct {
	Disabled  bool    `mapstructure:"disabled"`
	Severity  string  `mapstructure:"severity"`  // "" = default
	Threshold float64 `mapstructure:"threshold"` // 0 = default
}

// FieldContract declares what a node must output.
type FieldContract struct {
	// Required output fields and their JSON types
	// (string | number | boolean | object | array | any).
	Required map[string]string `mapstructure:"required"`
}

// Signature is a user-declared text pattern that marks a bad output.
type Signature struct {
	ID       string `mapstructure:"id" yaml:"id"`
	Match    string `mapstructure:"match" yaml:"match"` // exact | contains | prefix | regex
	Pattern  string `mapstructure:"pattern" yaml:"pattern"`
	Severity string `mapstructure:"severity" yaml:"severity"`
	Message  string `mapstructure:"message" yaml:"message"`
}

// StatisticalConfig tunes the statistical layer.
type StatisticalConfig struct {
	ZThreshold float64 `mapstructure:"z_threshold"` // default 2.5
	MinSamples int     `mapstructure:"min_samples"` // default 5
	// A deviation must also be this large, relative to the baseline median
	// (0.5 = 50%), and at least MinAbsoluteMs / MinAbsoluteTokens /
	// MinAbsoluteBytes in absolute terms, so jitter never raises a warning.
	MinRelativeChange float64 `mapstructure:"min_relative_change"`
	MinAbsoluteMs     float64 `mapstructure:"min_absolute_ms"`
	MinAbsoluteTokens float64 `mapstructure:"min_absolute_tokens"`
	MinAbsoluteBytes  float64 `mapstructure:"min_absolute_bytes"`
	// MinFactor: a value must be at least this many times the baseline
	// median (or at most the median divided by it), so ordinary variation
	// between kinds of request (1.5-2x) is never a blow-up. Default 3.
	MinFactor float64 `mapstructure:"min_factor"`
	// MinSpikeMs: a latency spike must add at least this much time. A
	// paused process, a GC or a provider's retry-after wait adds up to about
	// a second to a step whatever its usual duration, which a factor cannot
	// tell from a slow step when the step is short. Default 1000.
	MinSpikeMs float64 `mapstructure:"min_spike_ms"`
	// MaxKeys bounds the number of (pipeline, node) baselines held.
	MaxKeys int `mapstructure:"max_keys"`
}

// Config is the detection configuration. The zero value plus Defaults() is
// a working configuration.
type Config struct {
	Rules map[string]RuleConfig `mapstructure:"rules"`
	// Contracts per node name.
	Contracts map[string]FieldContract `mapstructure:"contracts"`
	// Edges of the declared graph ("src -> dst"), in addition to the ones the
	// spans declare in gen_ai.workflow.edges.
	Edges       []string          `mapstructure:"edges"`
	Signatures  []Signature       `mapstructure:"-"` // loaded from signature files
	Statistical StatisticalConfig `mapstructure:"statistical"`
}

// WithDefaults returns c with zero values replaced by defaults.
func (c Config) WithDefaults() Config {
	s := &c.Statistical
	if s.ZThreshold == 0 {
		s.ZThreshold = 2.5
	}
	if s.MinSamples == 0 {
		s.MinSamples = 5
	}
	if s.MinRelativeChange == 0 {
		s.MinRelativeChange = 0.5
	}
	if s.MinAbsoluteMs == 0 {
		s.MinAbsoluteMs = 250
	}
	if s.MinAbsoluteTokens == 0 {
		s.MinAbsoluteTokens = 200
	}
	if s.MinAbsoluteBytes == 0 {
		s.MinAbsoluteBytes = 2048
	}
	if s.MinFactor == 0 {
		s.MinFactor = 3
	}
	if s.MinSpikeMs == 0 {
		s.MinSpikeMs = 1000
	}
	if s.MaxKeys == 0 {
		s.MaxKeys = 10000
	}
	return c
}

// Validate checks rule ids, severities and thresholds.
func (c Config) Validate() error {
	var errs []string
	for id, rc := range c.Rules {
		if _, ok := Rules[id]; !ok {
			errs = append(errs, fmt.Sprintf("rules: unknown rule id %q", id))
			continue
		}
		if rc.Severity != "" && !validSeverity(rc.Severity) {
			errs = append(errs, fmt.Sprintf("rules.%s.severity: %q is not info, warning or critical", id, rc.Severity))
		}
		if rc.Threshold < 0 {
			errs = append(errs, fmt.Sprintf("rules.%s.threshold: must not be negative", id))
		}
	}
	for node, fc := range c.Contracts {
		for f, typ := range fc.Required {
			switch typ {
			case "string", "number", "boolean", "object", "array", "any", "":
			default:
				errs = append(errs, fmt.Sprintf("contracts.%s.required.%s: unknown type %q", node, f, typ))
			}
		}
	}
	for _, e := range c.Edges {
		if _, ok := ParseEdge(e); !ok {
			errs = append(errs, fmt.Sprintf("edges: %q is not \"src -> dst\"", e))
		}
	}
	if st := c.Statistical; st.ZThreshold < 0 || st.MinSamples < 0 || st.MinRelativeChange < 0 || st.MinSpikeMs < 0 {
		errs = append(errs, "statistical: thresholds must not be negative")
	}
	if f := c.Statistical.MinFactor; f != 0 && f < 1 {
		errs = append(errs, fmt.Sprintf("statistical.min_factor: %g is below 1", f))
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func validSeverity(s string) bool {
	return s == SeverityInfo || s == SeverityWarning || s == SeverityCritical
}

// ParseEdge parses "src -> dst".
func ParseEdge(s string) (agentrun.Edge, bool) {
	a, b, ok := strings.Cut(s, "->")
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if !ok || a == "" || b == "" {
		return agentrun.Edge{}, false
	}
	return agentrun.Edge{From: a, To: b}, true
}

// enabled reports whether a rule runs.
func (c *Config) enabled(rule string) bool {
	return !c.Rules[rule].Disabled
}

// threshold returns the configured threshold of a rule, or its default.
func (c *Config) threshold(rule string) float64 {
	if t := c.Rules[rule].Threshold; t > 0 {
		return t
	}
	return Rules[rule].Threshold
}

// finding builds a Finding for a registered rule, applying the configured
// severity. It returns ok=false when the rule is disabled, so a layer writes:
//
//	if f, ok := cfg.finding(run, "semantic.placeholder", i, msg, details); ok { out = append(out, f) }
func (c *Config) finding(run *agentrun.Run, rule string, step int, msg string, details map[string]any) (Finding, bool) {
	r, known := Rules[rule]
	if !known {
		panic("detect: unregistered rule " + rule)
	}
	if !c.enabled(rule) {
		return Finding{}, false
	}
	sev := r.Severity
	if s := c.Rules[rule].Severity; s != "" {
		sev = s
	}
	if details == nil {
		details = map[string]any{}
	}
	details["rule"] = rule
	node := ""
	if step >= 0 && step < len(run.Steps) {
		node = run.Steps[step].Node
		details["node"] = node
		details["step_number"] = run.Steps[step].Number
	}
	return Finding{
		ID:       findingID(run.TraceID, rule, step, details),
		Rule:     rule,
		Layer:    r.Layer,
		Severity: sev,
		Step:     step,
		Node:     node,
		Message:  msg,
		Details:  details,
	}, true
}

// findingID is deterministic: same trace, rule, step and key detail give the
// same id, so re-detection and retries never duplicate rows.
func findingID(traceID, rule string, step int, details map[string]any) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|%d", traceID, rule, step)
	for _, k := range []string{"field", "key", "path", "tool", "pattern", "signature", "metric", "value"} {
		if v, ok := details[k]; ok {
			fmt.Fprintf(h, "|%s=%v", k, v)
		}
	}
	return "det_" + hex.EncodeToString(h.Sum(nil))[:24]
}

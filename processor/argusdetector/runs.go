package argusdetector

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/annotation"
)

// Values of runs.keep.
const (
	KeepAgentRuns = "agent_runs"
	KeepAll       = "all"
)

// RunsConfig decides which traces are runs: analysed, and stored by the
// argus exporter. A service that sends all its telemetry (HTTP requests,
// database calls) must not fill the store with web requests.
type RunsConfig struct {
	// Keep: agent_runs (default) keeps a trace when a span of it carries an
	// AI convention the mapping recognises (agentrun.Run.Conventions) or it
	// matches a rule of Match; any other trace is forwarded unanalysed,
	// its resources marked argus.skipped, and the argus exporter does not
	// store it. all keeps every trace.
	Keep string `mapstructure:"keep"`
	// Match: rules for pipelines without AI conventions (custom
	// instrumentation). A trace matches a rule when every field the rule
	// sets matches; it is kept when it matches any rule.
	Match []RunMatch `mapstructure:"match"`
}

// RunMatch is one rule. Each value is a regular expression (RE2) that must
// match the whole text: "orders-api" is exact, "billing-.*" a pattern.
type RunMatch struct {
	// ServiceName: the service.name of a resource of the trace.
	ServiceName string `mapstructure:"service_name"`
	// RootSpanName: the name of a span without parent.
	RootSpanName string `mapstructure:"root_span_name"`
	// ScopeName: the instrumentation scope of a span of the trace.
	ScopeName string `mapstructure:"scope_name"`
	// Attribute: an attribute of a span of the trace or of its resource.
	Attribute *AttributeMatch `mapstructure:"attribute"`
}

// AttributeMatch matches an attribute by key, and by value when Value is
// set (against the value as text: true, 42, ...).
type AttributeMatch struct {
	Key   string `mapstructure:"key"`
	Value string `mapstructure:"value"`
}

// validate reports every problem of the runs section.
func (c RunsConfig) validate() error {
	_, err := c.selector()
	return err
}

// runSelector is RunsConfig compiled: what the shards ask at release.
type runSelector struct {
	all   bool
	rules []runRule
}

// runRule is a RunMatch with its expressions compiled; nil: not set.
type runRule struct {
	service, root, scope, attrValue *regexp.Regexp
	attrKey                         string
}

func (c RunsConfig) selector() (*runSelector, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	s := &runSelector{all: c.Keep == KeepAll}
	switch c.Keep {
	case KeepAgentRuns, KeepAll:
	default:
		bad("runs.keep: must be %s or %s, got %q", KeepAgentRuns, KeepAll, c.Keep)
	}
	if s.all && len(c.Match) > 0 {
		bad("runs.match: has no effect with runs.keep: %s (every trace is kept); remove one of them", KeepAll)
	}
	compile := func(i int, key, expr string) *regexp.Regexp {
		if expr == "" {
			return nil
		}
		re, err := regexp.Compile(`^(?:` + expr + `)$`)
		if err != nil {
			bad("runs.match[%d].%s: %v", i, key, err)
		}
		return re
	}
	for i, m := range c.Match {
		r := runRule{
			service: compile(i, "service_name", m.ServiceName),
			root:    compile(i, "root_span_name", m.RootSpanName),
			scope:   compile(i, "scope_name", m.ScopeName),
		}
		if a := m.Attribute; a != nil {
			if a.Key == "" {
				bad("runs.match[%d].attribute.key: empty", i)
			}
			r.attrKey = a.Key
			r.attrValue = compile(i, "attribute.value", a.Value)
		}
		if m.ServiceName == "" && m.RootSpanName == "" && m.ScopeName == "" && m.Attribute == nil {
			bad("runs.match[%d]: sets none of service_name, root_span_name, scope_name, attribute", i)
		}
		s.rules = append(s.rules, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// keep reports whether the trace td, mapped to runs, is kept. The mapping
// decides what is an AI convention; the rules are read only for traces
// without one.
func (s *runSelector) keep(td ptrace.Traces, runs []*agentrun.Run) bool {
	if s.all {
		return true
	}
	for _, r := range runs {
		if r != nil && r.IsAgentRun() {
			return true
		}
	}
	for i := range s.rules {
		if s.rules[i].matches(td) {
			return true
		}
	}
	return false
}

// matches reports whether every field the rule sets matches somewhere in td.
func (r *runRule) matches(td ptrace.Traces) bool {
	service, root, scope, attr := r.service == nil, r.root == nil, r.scope == nil, r.attrKey == ""
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		if !service {
			if v, ok := res.Get("service.name"); ok && r.service.MatchString(v.AsString()) {
				service = true
			}
		}
		if !attr {
			attr = r.attrMatches(res)
		}
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			if !scope && r.scope.MatchString(ss.Scope().Name()) {
				scope = true
			}
			if root && attr {
				continue
			}
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				if !root && sp.ParentSpanID().IsEmpty() && r.root.MatchString(sp.Name()) {
					root = true
				}
				if !attr {
					attr = r.attrMatches(sp.Attributes())
				}
			}
		}
	}
	return service && root && scope && attr
}

func (r *runRule) attrMatches(m pcommon.Map) bool {
	v, ok := m.Get(r.attrKey)
	return ok && (r.attrValue == nil || r.attrValue.MatchString(v.AsString()))
}

// keptSoFar reports whether the spans td, part of a run still going,
// already make it a run to keep. Only such runs are shown in progress: the
// evidence only grows (a convention or a rule found stays found), so they
// are kept at completion too. A rule whose fields match in different parts
// of a run shows it only when it completes. A panic of the mapping counts
// as kept, as in detectSafely.
func (p *argusProcessor) keptSoFar(td ptrace.Traces) (kept bool) {
	if p.runs.all {
		return true
	}
	defer func() {
		if recover() != nil {
			kept = true
		}
	}()
	return p.runs.keep(td, p.mapRuns(td, agentrun.Options{}))
}

// skipReason is the attribute set of traces_skipped for the one reason.
var skipReason = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", annotation.SkipNotAgentRun)))

// skip forwards td unanalysed: marked, so the argus exporter does not
// store it, counted, and told about in the log now and then.
func (p *argusProcessor) skip(td ptrace.Traces) {
	annotation.MarkSkipped(td, annotation.SkipNotAgentRun)
	p.tel.TracesSkipped.Add(context.Background(), 1, skipReason)
	p.skipLog.note(td)
}

// skipLogEvery spaces the log lines about skipped traces: the first one is
// logged at once (a new user sees why nothing is stored), then one an hour
// with the count since.
const skipLogEvery = time.Hour

// skipLog writes the rate-limited line about skipped traces.
type skipLog struct {
	logger  *zap.Logger
	mu      sync.Mutex
	last    time.Time
	pending int64
}

func (l *skipLog) note(td ptrace.Traces) {
	l.mu.Lock()
	l.pending++
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < skipLogEvery {
		l.mu.Unlock()
		return
	}
	n := l.pending
	l.last, l.pending = now, 0
	l.mu.Unlock()
	service, root := describeTrace(td)
	l.logger.Info("Traces without an AI convention are forwarded unanalysed and not stored as runs. "+
		"To keep them, add a rule under argusdetector's runs.match (service_name, root_span_name, scope_name "+
		"or attribute), or set runs.keep: all.",
		zap.Int64("traces_skipped", n), zap.String("example_service", service), zap.String("example_root_span", root))
}

// describeTrace names a trace for the log: its service and root span.
func describeTrace(td ptrace.Traces) (service, root string) {
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		if v, ok := rs.Resource().Attributes().Get("service.name"); ok && service == "" {
			service = v.AsString()
		}
	}
	for sp := range agentrun.Spans(td) {
		if sp.ParentSpanID().IsEmpty() {
			return service, sp.Name()
		}
	}
	return service, ""
}

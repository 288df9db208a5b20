package agentrun

import (
	"encoding/json"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/jsonscan"
)

// LangSmith JS in its OTel mode (LANGSMITH_TRACING_MODE=otel), as recorded
// in testdata/sdks/langsmith-langgraph: only traceable() opens spans, and
// every LangChain run inside one (retriever, tool, chat model) writes its
// attributes onto that span, the first to end ending it. So a node span
// carries its first call's run: a tool's output {"output": <result>}, a
// chat model's {"generations": [[{text, generationInfo}]]} with its usage in
// langsmith.usage_metadata; a node without calls carries traceable's own
// input {"args": [<state>, <config>]}. langSmithStep reads those forms.
const (
	lsUsageMetadata = "langsmith.usage_metadata"
	lsTraceName     = "langsmith.trace.name" // aLSTraceName (conventions.go): the run that wrote the span last
)

// RootEndsRun reports whether a root span ended with its run, so that its
// arrival says the run is complete but for stragglers (the processor's
// root_quiet_period). LangSmith JS's graph root does not: its OTel
// translator (lib/experimental/otel/translator.js, createSpanForRun and
// finishSpanSetup) writes each LangChain run onto the active traceable()
// span and ends that span at the run's end_time, so the root ends with
// LangGraph's __start__ run, before any node ran, and the graph's own end
// is never sent. Such a run is complete only by max_run_duration.
func RootEndsRun(span ptrace.Span) bool {
	v, ok := span.Attributes().Get(lsTraceName)
	return !ok || v.Type() != pcommon.ValueTypeStr || !isBookkeepingNode(v.Str())
}

// langSmithStep fills what the generic reading of a LangSmith span missed:
// token usage, finish reasons, and the states inside LangChain's envelopes.
func (b *traceBuild) langSmithStep(s *Step, r *spanRec) {
	a := b.m.attrs(r)
	if s.TotalTokens == 0 {
		s.InputTokens, s.OutputTokens, s.TotalTokens = langSmithUsage(attrText(r.span, lsUsageMetadata))
	}
	if in := readState(a, inputSources[:]); in.has && !in.malformed {
		if v, ok := langSmithInput(in.value); ok {
			s.Input, s.InputJSON = b.finishState(state{value: v, has: true})
		}
	}
	if out := readState(a, outputSources[:]); out.has && !out.malformed {
		if v, reasons, ok := langSmithOutput(out.value); ok {
			s.Output, s.OutputJSON = b.finishState(state{value: v, has: true})
			if len(s.FinishReasons) == 0 {
				s.FinishReasons = reasons
			}
		}
	}
}

// langSmithUsage reads LangChain's usage_metadata JSON.
func langSmithUsage(text string) (in, out, total int64) {
	if text == "" {
		return 0, 0, 0
	}
	v, err := jsonscan.Decode(text, jsonscan.UTF8Replace)
	m, ok := v.(map[string]any)
	if err != nil || !ok {
		return 0, 0, 0
	}
	num := func(k string) int64 {
		if f, ok := m[k].(float64); ok && f >= 0 && f <= maxTokens {
			return int64(f)
		}
		return 0
	}
	in, out, total = num("input_tokens"), num("output_tokens"), num("total_tokens")
	if total == 0 {
		total = in + out
	}
	return in, out, total
}

// langSmithInput unwraps traceable's {"args": [<first argument>, ...]}: a
// node's first argument is the state it was handed (the second is
// LangGraph's config, callbacks and all).
func langSmithInput(v any) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil, false
	}
	args, ok := m["args"].([]any)
	if !ok || len(args) == 0 {
		return nil, false
	}
	return args[0], true
}

// langSmithOutput unwraps a tool run's {"output": <result>} (a result text
// holding JSON is that JSON) and a chat model run's generations (the
// answer's text, and the finish reasons of generationInfo).
func langSmithOutput(v any) (any, []string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, false
	}
	out, ok := m["output"] // a LangChain tool run's
	if !ok {
		out, ok = m["outputs"] // traceable's, when a function returns no object
	}
	if ok && len(m) == 1 {
		if s, ok := out.(string); ok && looksLikeJSON(s) {
			if inner, err := jsonscan.Decode(s, jsonscan.UTF8Replace); err == nil {
				return inner, nil, true
			}
		}
		return out, nil, true
	}
	gens, ok := m["generations"].([]any)
	if !ok {
		return nil, nil, false
	}
	var texts []any
	var reasons []string
	for _, g := range gens {
		list, _ := g.([]any)
		for _, gen := range list {
			gm, _ := gen.(map[string]any)
			if t, ok := gm["text"].(string); ok {
				texts = append(texts, t)
			}
			info, _ := gm["generationInfo"].(map[string]any)
			if r, ok := info["finish_reason"].(string); ok && r != "" && len(reasons) < maxFinishReasons {
				reasons = append(reasons, capText(clean(r), 64))
			}
		}
	}
	if len(texts) == 0 {
		return nil, reasons, false
	}
	if len(texts) == 1 {
		return texts[0], reasons, true
	}
	return texts, reasons, true
}

// langSmithCallsOutput: a node span ended by its first call carries that
// call's output; when the node's calls are spans of their own (an app that
// wraps its tool in traceable), the last call's result is the node's.
func (b *traceBuild) langSmithCallsOutput(s *Step, r *spanRec) {
	if len(s.Calls) < 2 || b.m.attrs(r).str(aLSTraceName) == s.Node {
		return
	}
	last := s.Calls[len(s.Calls)-1]
	if last.Result == "" {
		return
	}
	v, p := parseJSONText(clean(last.Result), "")
	s.Output, s.OutputJSON = b.finishState(state{value: v, has: true, malformed: p.malformed})
	s.HasOutput, s.OutputMalformed = true, p.malformed
}

// langSmithText is a LangSmith call's argument or result text out of
// traceable's envelope ({"args": [...]}, {"outputs": ...}): the inner value
// as text, a string as itself.
func langSmithText(r *spanRec, text string) string {
	if r.conv != ConvLangSmith || !looksLikeJSON(text) {
		return text
	}
	v, err := jsonscan.Decode(text, jsonscan.UTF8Replace)
	if err != nil {
		return text
	}
	inner, ok := langSmithInput(v)
	if m, isMap := v.(map[string]any); !ok && isMap && len(m) == 1 {
		inner, ok = m["outputs"]
	}
	if !ok {
		return text
	}
	if s, ok := inner.(string); ok {
		return s
	}
	b, err := json.Marshal(inner)
	if err != nil {
		return text
	}
	return string(b)
}

package agentrun

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// run assembles the Run once every span is classified.
func (b *traceBuild) run() *Run {
	tid := traceHex(b.tb.id)
	run := &Run{TraceID: tid, SpanCount: len(b.recs)}
	if b.root >= 0 {
		run.RootSpanID = spanHex(b.recs[b.root].id)
	}
	errorSpans := 0
	var start, end uint64
	for i := range b.recs {
		r := &b.recs[i]
		if r.span.Status().Code() == ptrace.StatusCodeError {
			errorSpans++
		}
		if s := r.start; s != 0 && s <= math.MaxInt64 && (start == 0 || s < start) {
			start = s
		}
		if e := r.end; e != 0 && e <= math.MaxInt64 && e > end {
			end = e
		}
		if c := r.convention(); c != "" && !slices.Contains(run.Conventions, c) {
			run.Conventions = append(run.Conventions, c)
		}
	}
	run.Failed = errorSpans > 0
	run.Start, run.End = ts(start), ts(end)

	order := b.stepOrder()
	slot := make(map[int32]int, len(order))
	for i, v := range order {
		slot[v] = i
	}
	callsOf := make([][]int32, len(order))
	for i := range b.recs {
		if b.recs[i].role == roleCall {
			s := slot[b.recs[i].owner]
			callsOf[s] = append(callsOf[s], int32(i))
		}
	}
	run.Steps = make([]Step, len(order))
	for i, v := range order {
		s := &run.Steps[i]
		b.fillStep(s, tid, v, i+1)
		calls := callsOf[i]
		slices.SortFunc(calls, func(x, y int32) int {
			if c := cmpUint(b.recs[x].start, b.recs[y].start); c != 0 {
				return c
			}
			return int(x - y)
		})
		if len(calls) > 0 {
			s.Calls = make([]Call, len(calls))
			for j, c := range calls {
				b.fillCall(&s.Calls[j], &b.recs[c])
			}
		}
		if b.recs[v].conv == ConvLangSmith {
			b.langSmithCallsOutput(s, &b.recs[v]) // langsmith.go
		}
		s.Metadata = b.stepMetadata(s, &b.recs[v])
	}

	b.toolStatesFromConversation(run, order)
	run.PipelineName = b.pipelineName()
	run.Edges = b.edges()
	run.Metadata = b.runMetadata(errorSpans)
	return run
}

func (b *traceBuild) fillStep(s *Step, tid string, v int32, num int) {
	r := &b.recs[v]
	a := b.m.attrs(r)
	max := b.m.opts.MaxFieldBytes
	*s = Step{
		ID:            StepID(tid, spanHex(r.id)),
		SpanID:        spanHex(r.id),
		ParentSpanID:  parentHex(r.span),
		Number:        num,
		Node:          nodeName(r, a),
		LangGraphStep: -1,
		SpanKind:      spanKindOf(r.span),
		Kind:          r.kind,
		Start:         ts(r.start),
		End:           ts(r.end),
		Status:        statusOf(r.span),
		StatusMessage: capText(clean(r.span.Status().Message()), max),
		Exceptions:    exceptionsOf(r.span, max),
	}
	switch {
	case b.mode == ConvCustom:
		s.Convention = ConvCustom
	case r.mark != nil:
		s.LangGraphStep = r.mark.step
		s.Convention = r.mark.conv
	case b.mode == ConvPlain:
		s.Convention = ConvPlain
	case r.conv != "":
		s.Convention = r.conv
	default:
		s.Convention = ConvGenAI
	}
	s.InputTokens, s.OutputTokens, s.TotalTokens = tokensOf(a)
	s.FinishReasons = finishReasonsOf(a)
	if r.conv == ConvVercelAI {
		b.vercelAIStates(s, r.span)
	} else {
		var in, out state
		in, s.Input, s.InputJSON = b.state(a, inputSources[:])
		out, s.Output, s.OutputJSON = b.state(a, outputSources[:])
		s.HasInput, s.InputMalformed, s.InputTooDeep = in.has, in.malformed, in.tooDeep
		s.HasOutput, s.OutputMalformed, s.OutputTooDeep = out.has, out.malformed, out.tooDeep
	}
	if !s.HasInput {
		b.mastraInput(s, r)
	}
	if r.mask&(1<<aStepName) != 0 {
		b.customStates(s, r.span)
	}
	if isOpenInferenceLLMStep(r) {
		b.messageStates(s, r)
	}
	if r.conv == ConvLangSmith {
		b.langSmithStep(s, r) // langsmith.go
	}
	if (!s.HasInput || !s.HasOutput) && r.span.Events().Len() > 0 {
		b.eventStates(s, r)
	}
	if !s.HasInput && !s.HasOutput {
		b.guessStates(s, r.span)
	}
}

// messageStates makes an OpenInference LLM step's states its conversation:
// the messages in and out (openinference.go).
func (b *traceBuild) messageStates(s *Step, r *spanRec) {
	attrs := r.span.Attributes()
	if msgs := openInferenceMessages(attrs, oiInputMessages); msgs != nil {
		s.HasInput, s.InputMalformed = true, false
		s.Input, s.InputJSON = b.finishState(state{value: msgs, has: true})
	}
	if msgs := openInferenceMessages(attrs, oiOutputMessages); msgs != nil {
		s.HasOutput, s.OutputMalformed = true, false
		s.Output, s.OutputJSON = b.finishState(state{value: msgs, has: true})
	}
}

// state reads one state of a step: as its own JSON text when Options.RawStates
// allows, else parsed, redacted and bounded. st tells what was found (its
// value is the one returned).
func (b *traceBuild) state(a spanAttrs, sources []stateSource) (st state, v any, enc json.RawMessage) {
	if b.m.opts.RawStates {
		if text, ok := b.readRawState(a, sources); ok {
			return state{has: true}, nil, json.RawMessage(text)
		}
	}
	st = readState(a, sources)
	v, enc = b.finishState(st)
	return st, v, enc
}

// finishState applies redaction, then the size bound, so a preview never
// shows a secret. It also returns the state's JSON encoding when measuring
// it made one.
func (b *traceBuild) finishState(st state) (any, json.RawMessage) {
	b.m.red.value(st.value)
	v, enc := truncateState(st.value, b.m.opts.MaxFieldBytes)
	if !st.has {
		enc = nil
	}
	return v, enc
}

// nodeName: LangGraph node, entity name, agent, tool, else the span name.
func nodeName(r *spanRec, a spanAttrs) string {
	if n := a.str(aStepName); n != "" {
		return n
	}
	if r.mark != nil {
		return r.mark.node
	}
	if r.conv == ConvVercelAI {
		if n := vercelAINode(r.span); n != "" {
			return n
		}
	}
	if n := a.str(aTLEntityName); n != "" {
		return n
	}
	// A model or tool call is named for itself, not for the agent it runs
	// in (OpenLLMetry puts gen_ai.agent.name on every span inside withAgent).
	if k := callKind(r.op); k != "llm" && k != "tool" {
		if n := a.str(aAgentName); n != "" {
			return n
		}
	}
	if n := a.str(aGenAIToolName, aToolName); n != "" {
		return n
	}
	return stripOpPrefix(r.name)
}

func (b *traceBuild) fillCall(c *Call, r *spanRec) {
	a := b.m.attrs(r)
	max := b.m.opts.MaxFieldBytes
	red := b.m.red
	*c = Call{
		SpanID:        spanHex(r.id),
		ParentSpanID:  parentHex(r.span),
		Name:          r.name,
		Kind:          callKindOf(a),
		Model:         a.str(aLLMModel, aReqModel, aRespModel),
		Provider:      a.str(aLLMProvider, aProviderName, aGenAISystem, aLLMSystem),
		Tool:          a.str(aToolName, aGenAIToolName),
		Arguments:     capText(red.text(langSmithText(r, callText(a, aToolParams, aToolArgs, aInputValue, aTLEntityInput, aPrompt, aInputMessages))), max),
		Result:        capText(red.text(langSmithText(r, callText(a, aToolResult, aOutputValue, aTLEntityOutput, aCompletion, aOutputMessages))), max),
		Start:         ts(r.start),
		End:           ts(r.end),
		Status:        statusOf(r.span),
		StatusMessage: capText(clean(r.span.Status().Message()), max),
		Exceptions:    exceptionsOf(r.span, max),
	}
	if c.Tool == "" && c.Kind == "tool" {
		if c.Tool = a.str(aTLEntityName); c.Tool == "" {
			c.Tool = stripOpPrefix(r.name)
		}
	}
	c.InputTokens, c.OutputTokens, c.TotalTokens = tokensOf(a)
	c.FinishReasons = finishReasonsOf(a)
}

// maxFinishReasons bounds what one span's finish reasons list may hold.
const maxFinishReasons = 16

// finishReasonsOf reads gen_ai.response.finish_reasons (a string list, or
// a JSON array string) and OpenInference's llm.finish_reason.
func finishReasonsOf(a spanAttrs) []string {
	var out []string
	if v, ok := a.get(aFinishReasons); ok {
		for _, r := range stringList(v) {
			if r = clean(strings.TrimSpace(r)); r != "" && len(out) < maxFinishReasons {
				out = append(out, capText(r, 64))
			}
		}
	}
	if r := a.str(aLLMFinishReason); r != "" && len(out) == 0 {
		out = append(out, capText(r, 64))
	}
	return out
}

// callText is the first non-empty of keys as text; a traceloop entity
// envelope is unwrapped (traceloop.go).
func callText(a spanAttrs, keys ...attrKey) string {
	for _, k := range keys {
		if s := a.str(k); s != "" {
			if k == aTLEntityInput || k == aTLEntityOutput {
				return traceloopText(s)
			}
			return s
		}
	}
	return ""
}

// callKindOf classifies a nested span, conventions in the documented order;
// a GenAI operation is more precise than traceloop's kind (the JS LangChain
// instrumentation marks tools execute_tool and traceloop kind task).
func callKindOf(a spanAttrs) string {
	if k := a.str(aOIKind); k != "" {
		return callKind(openInferenceOp(k))
	}
	if k := a.str(aOp); k != "" {
		return callKind(genAIOp(k))
	}
	if k := a.str(aTLKind); k != "" {
		return callKind(traceloopOp(k))
	}
	if k := a.str(aLSKind); k != "" {
		return callKind(langSmithOp(k))
	}
	switch {
	case a.has(aLLMModel) || a.has(aReqModel) || a.has(aRespModel):
		return "llm"
	case a.has(aToolName) || a.has(aGenAIToolName):
		return "tool"
	}
	return "other"
}

// maxTokens keeps absurd token counts from overflowing sums.
const maxTokens = 1 << 50

// tokensOf reads token usage; total is input+output when not reported.
func tokensOf(a spanAttrs) (in, out, total int64) {
	in = a.count(aTokPrompt, aUsageIn, aUsagePrompt)
	out = a.count(aTokCompletion, aUsageOut, aUsageCompletion)
	total = a.count(aTokTotal, aLLMUsageTotal, aUsageTotal)
	if total == 0 {
		total = in + out
	}
	return in, out, total
}

// count reads the first non-negative integer among keys (int, double or
// numeric string), bounded by maxTokens.
func (a spanAttrs) count(keys ...attrKey) int64 {
	for _, k := range keys {
		v, ok := a.get(k)
		if !ok {
			continue
		}
		var n int64
		switch v.Type() {
		case pcommon.ValueTypeInt:
			n = v.Int()
		case pcommon.ValueTypeDouble:
			f := v.Double()
			if math.IsNaN(f) || f < 0 || f > maxTokens {
				continue
			}
			n = int64(f)
		case pcommon.ValueTypeStr:
			p, err := strconv.ParseInt(strings.TrimSpace(v.Str()), 10, 64)
			if err != nil {
				continue
			}
			n = p
		default:
			continue
		}
		if n >= 0 && n <= maxTokens {
			return n
		}
	}
	return 0
}

// stepMetadata is what the store keeps about a node span besides its states:
// provenance, LangGraph metadata, and a compact summary of its calls.
func (b *traceBuild) stepMetadata(s *Step, r *spanRec) map[string]any {
	a := b.m.attrs(r)
	// A map literal, not a size hint: plain spans stay within a small
	// map's eight keys, and a hint of 16 cost them 35% more time
	// (BenchmarkMapTraces/plain 1.0 -> 1.4 ms) for no gain on LangGraph
	// spans, whose maps grow once.
	md := map[string]any{
		"span_id":    s.SpanID,
		"span_kind":  s.SpanKind,
		"status":     s.Status,
		"convention": s.Convention,
		"call_count": len(s.Calls),
	}
	if s.ParentSpanID != "" {
		md["parent_span_id"] = s.ParentSpanID
	}
	if s.StatusMessage != "" {
		md["status_message"] = s.StatusMessage
	}
	if len(s.Exceptions) > 0 {
		md["exceptions"] = s.Exceptions
	}
	if s.Kind != "" {
		md["kind"] = s.Kind
	}
	if mk := r.mark; mk != nil {
		if mk.step >= 0 {
			md["langgraph_step"] = mk.step
		}
		if mk.triggers != nil {
			md["langgraph_triggers"] = mk.triggers
		}
		if mk.path != nil {
			md["langgraph_path"] = mk.path
		}
		if mk.ns != "" {
			md["langgraph_checkpoint_ns"] = mk.ns
		}
	}
	if v, ok := a.get(aTags); ok {
		md["tags"], _ = parseValue(v, "")
	} else if v, ok := a.get(aLSTags); ok {
		md["tags"], _ = parseValue(v, "")
	}
	// User-supplied values (tags may be objects) go through redaction too;
	// the keys the mapping writes itself are never redacted.
	for _, k := range [...]string{"tags", "langgraph_triggers", "langgraph_path"} {
		if v, ok := md[k]; ok {
			b.m.red.value(v)
		}
	}

	// The step span itself may be the model call (GenAI chat steps).
	var models []any
	addModel := func(m string) {
		if m != "" && !slices.Contains(models, any(m)) {
			models = append(models, m)
		}
	}
	addModel(a.str(aLLMModel, aReqModel, aRespModel))
	for i := range s.Calls {
		addModel(s.Calls[i].Model)
	}
	in, out, total := s.Tokens()
	if len(s.FinishReasons) > 0 {
		md["finish_reasons"] = anyStrings(s.FinishReasons)
	}
	if len(models) > 0 {
		md["model"] = models[0]
		md["models"] = models
	}
	if in != 0 || out != 0 || total != 0 {
		md["input_tokens"], md["output_tokens"], md["total_tokens"] = in, out, total
	}
	if len(s.Calls) > 0 {
		n := min(len(s.Calls), maxCallsInMetadata)
		calls := make([]any, 0, n)
		for i := 0; i < n; i++ {
			c := &s.Calls[i]
			e := map[string]any{
				"name":        c.Name,
				"kind":        c.Kind,
				"status":      c.Status,
				"duration_ms": c.DurationMs(),
			}
			if c.Model != "" {
				e["model"] = c.Model
			}
			if c.Tool != "" {
				e["tool"] = c.Tool
			}
			if c.TotalTokens != 0 {
				e["input_tokens"], e["output_tokens"], e["total_tokens"] = c.InputTokens, c.OutputTokens, c.TotalTokens
			}
			if len(c.FinishReasons) > 0 {
				e["finish_reasons"] = anyStrings(c.FinishReasons)
			}
			calls = append(calls, e)
		}
		md["calls"] = calls
		if len(s.Calls) > n {
			md["calls_truncated"] = len(s.Calls) - n
		}
	}
	return md
}

// shallowest returns the value of key on the span closest to the top of the
// trace (the root first), so a sub-agent never names the whole run.
func (b *traceBuild) shallowest(k attrKey) string {
	best, val := int32(-1), ""
	for i := range b.recs {
		r := &b.recs[i]
		if r.mask&(1<<k) == 0 || (best >= 0 && r.depth >= b.recs[best].depth) {
			continue
		}
		if s := b.m.attrs(r).str(k); s != "" {
			best, val = int32(i), s
		}
	}
	return val
}

// pipelineName: the workflow or agent name the instrumentation gave, else
// the name of the run's top AI span (the root, or in a mixed trace the
// agent under the HTTP request that is the root: "LangGraph", not
// "POST /chat"), else the root's name.
func (b *traceBuild) pipelineName() string {
	for _, k := range [...]attrKey{aWorkflowName, aAgentName, aTLWorkflowName, aLSTraceName} {
		// LangSmith JS names its root span by the LangGraph run that ended
		// it (__start__, langsmith.go): plumbing is never the app's name.
		if s := b.shallowest(k); s != "" && !isBookkeepingNode(s) {
			return s
		}
	}
	if s := b.vercelAIPipeline(); s != "" {
		return s
	}
	if s := b.openAIAgentsPipeline(); s != "" {
		return s
	}
	if top := b.topAISpan(); top >= 0 {
		return b.recs[top].name
	}
	if b.root >= 0 {
		return b.recs[b.root].name
	}
	if len(b.recs) > 0 {
		return b.recs[0].name
	}
	return ""
}

// topAISpan is the shallowest span of an AI convention (the earliest of
// those at that depth), -1 when there is none.
func (b *traceBuild) topAISpan() int32 {
	best := int32(-1)
	for i := range b.recs {
		r := &b.recs[i]
		if r.convention() == "" {
			continue
		}
		if best < 0 || r.depth < b.recs[best].depth ||
			(r.depth == b.recs[best].depth && startsBefore(r, &b.recs[best])) {
			best = int32(i)
		}
	}
	return best
}

// edges reads gen_ai.workflow.edges ("src -> dst"), a string slice or a JSON
// array string, from the shallowest span that has it.
func (b *traceBuild) edges() []Edge {
	best := int32(-1)
	for i := range b.recs {
		if b.recs[i].mask&(1<<aWorkflowEdges) != 0 && (best < 0 || b.recs[i].depth < b.recs[best].depth) {
			best = int32(i)
		}
	}
	if best < 0 {
		return nil
	}
	v, _ := b.m.attrs(&b.recs[best]).get(aWorkflowEdges)
	var out []Edge
	for _, item := range stringList(v) {
		from, to, ok := strings.Cut(item, "->")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || to == "" {
			continue
		}
		e := Edge{From: from, To: to}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
		if len(out) >= maxEdges {
			break
		}
	}
	return out
}

// stringList reads a string slice attribute, a JSON array string, or a
// comma-separated string.
func stringList(v pcommon.Value) []string {
	var out []string
	switch v.Type() {
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		for i := 0; i < s.Len() && i < maxEdges; i++ {
			out = append(out, valueText(s.At(i)))
		}
	case pcommon.ValueTypeStr:
		str := clean(v.Str())
		if looksLikeJSON(str) {
			var items []any
			if json.Unmarshal([]byte(str), &items) == nil {
				for _, it := range items {
					if s, ok := it.(string); ok {
						out = append(out, s)
					}
				}
				return out
			}
		}
		for _, it := range strings.Split(str, ",") {
			if it = strings.TrimSpace(it); it != "" {
				out = append(out, it)
			}
		}
	}
	return out
}

func (b *traceBuild) runMetadata(errorSpans int) map[string]any {
	red := b.m.red
	md := map[string]any{
		"convention":            b.mode,
		"span_count":            len(b.recs),
		"error_span_count":      errorSpans,
		"root_missing":          b.root < 0,
		"duplicate_span_count":  b.duplicates,
		"orphan_span_count":     b.orphans,
		"extra_root_count":      b.extraRoots,
		"cycle_break_count":     b.cycleBreaks,
		"unattached_span_count": b.unattached,
		"internal_span_count":   b.internalSpans,
		"wrapper_span_count":    b.wrappers,
	}
	if b.tb.id.IsEmpty() {
		md["zero_trace_id"] = true
		md["zero_trace_id_span_count"] = len(b.recs) + b.duplicates
	}
	scopes := make([]any, 0, len(b.tb.scopes))
	for _, s := range b.tb.scopes {
		scopes = append(scopes, s)
	}
	md["scopes"] = scopes

	if len(b.recs) > 0 {
		top := &b.recs[0]
		if b.root >= 0 {
			top = &b.recs[b.root]
		}
		res := map[string]any{}
		dropped := 0
		attrs := b.m.td.ResourceSpans().At(int(top.res)).Resource().Attributes()
		for k, v := range attrs.All() {
			if len(res) >= maxResourceAttrs {
				dropped++
				continue
			}
			k = clean(k)
			if red.match(k) {
				res[k] = Redacted
			} else {
				res[k] = capText(valueText(v), maxResourceValue)
			}
		}
		md["resource"] = res
		if dropped > 0 {
			md["resource_attributes_dropped"] = dropped
		}
		if sn, ok := res["service.name"].(string); ok && sn != "" {
			md["service_name"] = sn
		}
	}

	session := ""
	for _, k := range [...]attrKey{aSessionID, aConversationID, aLSThreadID} {
		if session = b.shallowest(k); session != "" {
			break
		}
	}
	if session == "" {
		best := int32(-1)
		for i := range b.recs {
			if b.recs[i].threadID != "" && (best < 0 || b.recs[i].depth < b.recs[best].depth) {
				best = int32(i)
			}
		}
		if best >= 0 {
			session = b.recs[best].threadID
		}
	}
	if session != "" {
		md["session_id"] = redactIf(red, "session_id", session)
	}
	if user := b.shallowest(aUserID); user != "" {
		md["user_id"] = redactIf(red, "user_id", user)
	}
	if v, ok := b.firstAttr(aWorkflowNodes); ok {
		nodes := []any{}
		for _, n := range stringList(v) {
			nodes = append(nodes, n)
		}
		md["workflow_nodes"] = nodes
	}
	return md
}

// anyStrings is ss as a JSON-like list, the shape metadata values have.
func anyStrings(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (b *traceBuild) firstAttr(k attrKey) (pcommon.Value, bool) {
	for i := range b.recs {
		if b.recs[i].mask&(1<<k) != 0 {
			return b.m.attrs(&b.recs[i]).get(k)
		}
	}
	return pcommon.Value{}, false
}

func redactIf(r *redactor, key, val string) string {
	if r.match(key) {
		return Redacted
	}
	return val
}

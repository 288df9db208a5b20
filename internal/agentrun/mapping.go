package agentrun

import (
	"bytes"
	"encoding/hex"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/jsonscan"
)

// Bounds on what one run carries besides its steps.
const (
	maxCallsInMetadata   = 50
	maxExceptionsPerSpan = 32
	maxResourceAttrs     = 64
	maxResourceValue     = 1024
	maxScopes            = 32
	maxEdges             = 1000
)

// MapTraces maps every trace in td to a Run, one per trace id, in order of
// first appearance. It never fails: broken input (missing roots, cycles,
// duplicate ids, malformed JSON, invalid UTF-8) is mapped as far as it makes
// sense and counted in Run.Metadata.
func MapTraces(td ptrace.Traces, opts Options) []*Run {
	m := &mapper{
		td:     td,
		opts:   opts,
		red:    newRedactor(opts.RedactKeys),
		traces: map[pcommon.TraceID]*traceBuf{},
	}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			scope := clean(ss.Scope().Name())
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				m.add(spans.At(k), int32(i), scope)
			}
		}
	}
	runs := make([]*Run, 0, len(m.order))
	for _, tb := range m.order {
		runs = append(runs, m.build(tb))
	}
	return runs
}

// mapper holds the state of one MapTraces call; it is not shared.
type mapper struct {
	td     ptrace.Traces
	opts   Options
	red    *redactor
	kvs    []attrKV // known attributes of all spans, sliced per span
	traces map[pcommon.TraceID]*traceBuf
	order  []*traceBuf
	last   *traceBuf // spans of one trace usually arrive together
}

type attrKV struct {
	key attrKey
	val pcommon.Value
}

// spanAttrs is the view of one span's known attributes.
type spanAttrs struct {
	kvs  []attrKV
	mask uint64
}

func (a spanAttrs) has(k attrKey) bool { return a.mask&(1<<k) != 0 }

func (a spanAttrs) get(k attrKey) (pcommon.Value, bool) {
	if !a.has(k) {
		return pcommon.Value{}, false
	}
	for _, kv := range a.kvs {
		if kv.key == k {
			return kv.val, true
		}
	}
	return pcommon.Value{}, false
}

// str returns the first non-empty text value among keys.
func (a spanAttrs) str(keys ...attrKey) string {
	for _, k := range keys {
		if v, ok := a.get(k); ok {
			if s := valueText(v); s != "" {
				return s
			}
		}
	}
	return ""
}

// Span roles after classification.
const (
	roleNone     uint8 = iota // not under any step: root, wrappers, bookkeeping
	roleStep                  // a node execution
	roleCall                  // nested under a step
	roleInternal              // LangGraph plumbing under a step
)

type spanRec struct {
	span       ptrace.Span
	id         pcommon.SpanID
	name       string
	res        int32
	start, end uint64
	attrLo     int32
	attrHi     int32
	mask       uint64
	mark       *marker // LangGraph node identity, nil when none
	op         string  // normalised GenAI operation, "" when none
	conv       string  // convention of the span's AI attributes
	kind       string  // raw convention kind attribute
	threadID   string  // thread_id from OpenInference metadata
	parent     int32
	owner      int32 // nearest enclosing step
	depth      int32
	role       uint8
}

// convention is the AI convention the span belongs to: its kind
// attribute's (readOp), its LangGraph marker's, else its convention-only
// keys'; "" for a span of no AI convention (HTTP, database, plain spans).
// Run.Conventions, and so what the processor counts as an agent run, is
// built on it: a new convention reader that sets conv is recognised there.
func (r *spanRec) convention() string {
	switch {
	case r.conv != "":
		return r.conv
	case r.mark != nil:
		return r.mark.conv
	}
	return maskConvention(r.mask)
}

type traceBuf struct {
	id     pcommon.TraceID
	recs   []spanRec
	scopes []string // sorted, the maxScopes smallest names
}

// addScope keeps the scope names of the trace sorted, and the maxScopes
// smallest of them, so the list does not depend on the order spans came in.
func (tb *traceBuf) addScope(scope string) {
	i, found := slices.BinarySearch(tb.scopes, scope)
	switch {
	case found:
	case len(tb.scopes) < maxScopes:
		tb.scopes = slices.Insert(tb.scopes, i, scope)
	case i < maxScopes:
		tb.scopes = slices.Insert(tb.scopes[:maxScopes-1], i, scope)
	}
}

func (m *mapper) attrs(r *spanRec) spanAttrs {
	return spanAttrs{kvs: m.kvs[r.attrLo:r.attrHi], mask: r.mask}
}

// add records one span: its known attributes (one scan), its LangGraph
// marker and its GenAI operation.
func (m *mapper) add(sp ptrace.Span, res int32, scope string) {
	tid := sp.TraceID()
	tb := m.last
	if tb == nil || tb.id != tid {
		tb = m.traces[tid]
		if tb == nil {
			tb = &traceBuf{id: tid}
			m.traces[tid] = tb
			m.order = append(m.order, tb)
		}
		m.last = tb
	}
	tb.addScope(scope)
	r := spanRec{
		span:   sp,
		id:     sp.SpanID(),
		name:   clean(sp.Name()),
		res:    res,
		start:  uint64(sp.StartTimestamp()),
		end:    uint64(sp.EndTimestamp()),
		attrLo: int32(len(m.kvs)),
		parent: -1,
		owner:  -1,
	}
	for k, v := range sp.Attributes().All() {
		if key, ok := attrKeys[k]; ok && r.mask&(1<<key) == 0 {
			r.mask |= 1 << key
			m.kvs = append(m.kvs, attrKV{key, v})
		}
	}
	r.attrHi = int32(len(m.kvs))
	if isTraceloopLangChainChain(m.attrs(&r)) {
		r.mask &^= 1 << aTLWorkflowName // a class name, not the app's workflow
	}
	a := m.attrs(&r)
	r.mark, r.threadID = readMarker(a)
	r.op, r.conv, r.kind = readOp(a)
	if scope == openAIAgentsScope {
		r.op = openAIAgentsOp(r.op)
	}
	tb.recs = append(tb.recs, r)
}

// readMarker finds the LangGraph node identity in the convention order:
// OpenInference metadata, OpenLLMetry association properties, LangSmith
// metadata.
func readMarker(a spanAttrs) (*marker, string) {
	thread := ""
	if v, ok := a.get(aOIMetadata); ok {
		var md oiMetadata
		found := false
		switch v.Type() {
		case pcommon.ValueTypeStr:
			md, found = readOIMetadata(clean(v.Str()))
		case pcommon.ValueTypeMap:
			md, found = oiMetadataFromMap(v.Map()), true
		}
		if found {
			thread = anyText(md.ThreadID)
			if node := anyText(md.Node); node != "" {
				return &marker{
					node:     node,
					ns:       anyText(md.CheckpointNS),
					step:     anyStep(md.Step),
					conv:     ConvOpenInference,
					triggers: md.Triggers,
					path:     md.Path,
				}, thread
			}
		}
	}
	if node := a.str(aTLNode); node != "" {
		return &marker{node: node, step: attrStep(a, aTLStep), conv: ConvOpenLLMetry}, thread
	}
	if node := a.str(aLSNode); node != "" {
		mk := &marker{node: node, step: attrStep(a, aLSStep), ns: a.str(aLSCheckpointNS), conv: ConvLangSmith}
		if v, ok := a.get(aLSTriggers); ok {
			mk.triggers, _ = parseValue(v, "")
		}
		if v, ok := a.get(aLSPath); ok {
			mk.path, _ = parseValue(v, "")
		}
		return mk, thread
	}
	return nil, thread
}

// oiMetadataFields are the json tags of oiMetadata, in field order.
var oiMetadataFields = [...]string{"langgraph_node", "langgraph_step", "langgraph_triggers", "langgraph_path",
	"langgraph_checkpoint_ns", "thread_id"}

// readOIMetadata is parseOIMetadata without encoding/json's reflection,
// which cost the mapping a quarter of its time on metadata-heavy traffic:
// it decodes the same fields, and fails where it fails
// (TestReadOIMetadataSameAsParse, FuzzParseValue).
func readOIMetadata(s string) (oiMetadata, bool) {
	if !strings.Contains(s, "langgraph_node") && !strings.Contains(s, "thread_id") {
		return oiMetadata{}, false
	}
	var f [len(oiMetadataFields)]any
	if err := jsonscan.DecodeFields(s, oiMetadataFields[:], f[:]); err != nil {
		return oiMetadata{}, false
	}
	return oiMetadata{Node: f[0], Step: f[1], Triggers: f[2], Path: f[3], CheckpointNS: f[4], ThreadID: f[5]}, true
}

func oiMetadataFromMap(m pcommon.Map) oiMetadata {
	get := func(k string) any {
		if v, ok := m.Get(k); ok {
			return valueAny(v, 0)
		}
		return nil
	}
	return oiMetadata{
		Node:         get("langgraph_node"),
		Step:         get("langgraph_step"),
		Triggers:     get("langgraph_triggers"),
		Path:         get("langgraph_path"),
		CheckpointNS: get("langgraph_checkpoint_ns"),
		ThreadID:     get("thread_id"),
	}
}

func attrStep(a spanAttrs, k attrKey) int {
	v, ok := a.get(k)
	if !ok {
		return -1
	}
	switch v.Type() {
	case pcommon.ValueTypeInt:
		if n := v.Int(); n >= 0 && n < math.MaxInt32 {
			return int(n)
		}
	case pcommon.ValueTypeDouble:
		return anyStep(v.Double())
	case pcommon.ValueTypeStr:
		if n, ok := atoiNonNeg(v.Str()); ok {
			return n
		}
	}
	return -1
}

// readOp normalises the span's AI convention kind to a GenAI operation and
// names the convention it came from.
func readOp(a spanAttrs) (op, conv, kind string) {
	if a.has(aAIOperationID) {
		if op := vercelAIOp(a.str(aAIOperationID)); op != "" {
			return op, ConvVercelAI, op
		}
	}
	oi, tl, ls, gen := a.str(aOIKind), a.str(aTLKind), a.str(aLSKind), genAIOp(a.str(aOp))
	switch {
	case tl != "" || a.has(aTLEntityName) || a.has(aTLNode):
		conv = ConvOpenLLMetry
	case oi != "":
		conv = ConvOpenInference
	case ls != "":
		conv = ConvLangSmith
	case gen != "":
		conv = ConvGenAI
	}
	switch {
	case gen != "":
		op = gen
	case tl != "":
		op = traceloopOp(tl)
	case oi != "":
		op = openInferenceOp(oi)
	case ls != "":
		op = langSmithOp(ls)
	}
	if op == "" && (tl != "" || oi != "" || ls != "") {
		op = opOther
	}
	for _, k := range [...]string{oi, tl, ls, gen} {
		if k != "" {
			kind = k
			break
		}
	}
	return op, conv, kind
}

// internal reports spans that are LangGraph plumbing: never steps, never calls.
func (m *mapper) internal(r *spanRec) bool {
	return isInternalName(r.name) ||
		(r.mark != nil && isBookkeepingNode(r.mark.node)) ||
		r.mask&(1<<aGotoNode) != 0
}

// build turns the spans of one trace into a Run.
func (m *mapper) build(tb *traceBuf) *Run {
	b := &traceBuild{m: m, tb: tb, root: -1}
	if order := byCanonicalOrder(tb.recs); !sort.IsSorted(order) {
		sort.Stable(order)
	}
	b.dedupe()
	b.link()
	b.breakCycles()
	b.attachTops()
	b.buildChildren()
	b.classify()
	b.own()
	return b.run()
}

// traceBuild is the per-trace working state.
type traceBuild struct {
	m    *mapper
	tb   *traceBuf
	recs []spanRec
	root int32
	tops []int32 // forest tops after attaching: [root], or every parentless span
	off  []int32 // children of i: kids[off[i]:off[i+1]]
	kids []int32
	mode string // convention that recognised the steps

	duplicates, orphans, extraRoots, cycleBreaks, wrappers int
	internalSpans, unattached                              int
}

func (b *traceBuild) children(i int32) []int32 { return b.kids[b.off[i]:b.off[i+1]] }

// byCanonicalOrder sorts a trace's spans by start time (unknown last),
// then span id (an empty, invalid one last), end time and name. Every later step breaks ties by
// position, so the same spans map to the same run in whatever order they
// arrived: in one request or in many over minutes, a child before its
// parent, a node span after its LLM calls. Sorting is stable: of two
// copies of one span id, the one that arrived first stays first (and is
// kept by dedupe).
type byCanonicalOrder []spanRec

func (o byCanonicalOrder) Len() int      { return len(o) }
func (o byCanonicalOrder) Swap(i, j int) { o[i], o[j] = o[j], o[i] }
func (o byCanonicalOrder) Less(i, j int) bool {
	a, b := &o[i], &o[j]
	if startsBefore(a, b) != startsBefore(b, a) {
		return startsBefore(a, b)
	}
	if a.id.IsEmpty() != b.id.IsEmpty() {
		return b.id.IsEmpty()
	}
	if c := bytes.Compare(a.id[:], b.id[:]); c != 0 {
		return c < 0
	}
	if a.end != b.end {
		return a.end < b.end
	}
	return a.name < b.name
}

// dedupe keeps the first span of every span id.
func (b *traceBuild) dedupe() {
	recs := b.tb.recs
	seen := make(map[pcommon.SpanID]struct{}, len(recs))
	kept := recs[:0]
	for _, r := range recs {
		if _, dup := seen[r.id]; dup {
			b.duplicates++
			continue
		}
		seen[r.id] = struct{}{}
		kept = append(kept, r)
	}
	b.recs = kept
	b.tb.recs = nil
}

// link resolves parent span ids and picks the root: the earliest span without
// a parent span id. Parents that are unknown make orphans (forest tops).
func (b *traceBuild) link() {
	idx := make(map[pcommon.SpanID]int32, len(b.recs))
	for i := range b.recs {
		idx[b.recs[i].id] = int32(i)
	}
	for i := range b.recs {
		r := &b.recs[i]
		pid := r.span.ParentSpanID()
		if pid.IsEmpty() {
			if b.root < 0 || startsBefore(r, &b.recs[b.root]) {
				b.root = int32(i)
			}
			continue
		}
		if p, ok := idx[pid]; ok {
			r.parent = p
		} else {
			b.orphans++
		}
	}
	for i := range b.recs {
		if b.recs[i].parent < 0 && b.recs[i].span.ParentSpanID().IsEmpty() && int32(i) != b.root {
			b.extraRoots++
		}
	}
}

// startsBefore orders by start time, zero timestamps last.
func startsBefore(a, b *spanRec) bool {
	as, bs := a.start, b.start
	if as == 0 {
		as = math.MaxUint64
	}
	if bs == 0 {
		bs = math.MaxUint64
	}
	return as < bs
}

// breakCycles finds parent chains that never reach a top and cuts each cycle
// at the first span seen twice, which then becomes a top. Each span is walked
// a bounded number of times, so this is linear.
func (b *traceBuild) breakCycles() {
	const done = -1
	mark := make([]int32, len(b.recs)) // 0 unknown, walk id, or done
	for u := range b.recs {
		if mark[u] == done {
			continue
		}
		walk := int32(u) + 1
		for v := int32(u); v >= 0 && mark[v] != done; v = b.recs[v].parent {
			if mark[v] == walk {
				b.recs[v].parent = -1
				b.cycleBreaks++
				break
			}
			mark[v] = walk
		}
		for v := int32(u); v >= 0 && mark[v] != done; v = b.recs[v].parent {
			mark[v] = done
		}
	}
}

// attachTops hangs every other top (extra roots, orphans, cut cycles) under
// the root, so a trace with a root is one tree.
func (b *traceBuild) attachTops() {
	for i := range b.recs {
		if b.recs[i].parent < 0 && int32(i) != b.root {
			if b.root >= 0 {
				b.recs[i].parent = b.root
			} else {
				b.tops = append(b.tops, int32(i))
			}
		}
	}
	if b.root >= 0 {
		b.tops = []int32{b.root}
	}
}

// buildChildren lays out child lists (CSR), each sorted by start time.
func (b *traceBuild) buildChildren() {
	n := len(b.recs)
	b.off = make([]int32, n+1)
	for i := range b.recs {
		if p := b.recs[i].parent; p >= 0 {
			b.off[p+1]++
		}
	}
	for i := 0; i < n; i++ {
		b.off[i+1] += b.off[i]
	}
	b.kids = make([]int32, b.off[n])
	next := slices.Clone(b.off[:n])
	for i := range b.recs {
		if p := b.recs[i].parent; p >= 0 {
			b.kids[next[p]] = int32(i)
			next[p]++
		}
	}
	byStart := func(x, y int32) int {
		if c := cmpUint(b.recs[x].start, b.recs[y].start); c != 0 {
			return c
		}
		return int(x - y)
	}
	for i := 0; i < n; i++ {
		if seg := b.kids[b.off[i]:b.off[i+1]]; len(seg) > 1 {
			slices.SortFunc(seg, byStart)
		}
	}
	slices.SortFunc(b.tops, byStart)
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// classify marks the step spans: LangGraph markers first, then GenAI
// operations, then plain structure.
func (b *traceBuild) classify() {
	anyMarker, anyAI, anyCustom := false, false, false
	for i := range b.recs {
		r := &b.recs[i]
		anyCustom = anyCustom || r.mask&(1<<aStepName) != 0
		if r.mark != nil && !isBookkeepingNode(r.mark.node) {
			if !anyMarker {
				b.mode = r.mark.conv
			}
			anyMarker = true
		}
		if r.op != "" {
			anyAI = true
		}
	}
	switch {
	case anyCustom:
		b.mode = ConvCustom
		b.markCustom()
	case anyMarker:
		b.markLangGraph()
	case anyAI && b.markGenAI() > 0:
		b.mode = ConvGenAI
	default:
		b.mode = ConvPlain
		b.wrappers = 0 // a failed GenAI pass may have counted some
		b.markPlain()
	}
}

// markLangGraph: a marked span is a step unless its nearest marked ancestor
// is the same node execution (nested LLM / tool spans inherit the node's
// metadata, so they are calls of that step).
func (b *traceBuild) markLangGraph() {
	type frame struct{ v, ctx int32 }
	stack := make([]frame, 0, 64)
	for i := len(b.tops) - 1; i >= 0; i-- {
		stack = append(stack, frame{b.tops[i], -1})
	}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		r := &b.recs[f.v]
		ctx := f.ctx
		if r.mark != nil {
			if !b.m.internal(r) && (ctx < 0 || !sameExec(b.recs[ctx].mark, r.mark)) {
				r.role = roleStep
			}
			ctx = f.v
		}
		kids := b.children(f.v)
		for i := len(kids) - 1; i >= 0; i-- {
			stack = append(stack, frame{kids[i], ctx})
		}
	}
}

// markGenAI makes the top-most GenAI operations under the root steps,
// looking through workflow wrappers, and through a lone agent span that
// wraps the whole run. It returns the number of steps.
func (b *traceBuild) markGenAI() int {
	starts := b.tops
	if b.root >= 0 {
		starts = b.children(b.root)
	}
	cands := b.topmostOps(starts)
	for len(cands) == 1 && isAgentOp(b.recs[cands[0]].op) {
		next := b.topmostOps(b.children(cands[0]))
		if len(next) == 0 {
			break
		}
		b.wrappers++
		cands = next
	}
	for _, v := range cands {
		b.recs[v].role = roleStep
		if callKind(b.recs[v].op) == "llm" {
			b.markNestedTools(v)
		}
	}
	return len(cands)
}

// markNestedTools makes the tool executions under a model-call step steps
// of their own (nested steps): the Vercel AI SDK's legacy spans put each
// ai.toolCall under the model call that asked for it, and a tool is work of
// its own, with its own arguments, result and failures.
func (b *traceBuild) markNestedTools(llm int32) {
	stack := slices.Clone(b.children(llm))
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if b.recs[v].op == opExecuteTool {
			b.recs[v].role = roleStep
			continue
		}
		stack = append(stack, b.children(v)...)
	}
}

func (b *traceBuild) topmostOps(starts []int32) []int32 {
	var out []int32
	stack := slices.Clone(starts)
	slices.Reverse(stack)
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		r := &b.recs[v]
		if b.m.internal(r) {
			continue
		}
		if r.op != "" && !isWrapperOp(r.op) {
			out = append(out, v)
			continue
		}
		if isWrapperOp(r.op) {
			b.wrappers++
		}
		kids := b.children(v)
		for i := len(kids) - 1; i >= 0; i-- {
			stack = append(stack, kids[i])
		}
	}
	return out
}

// markPlain: the root's children are steps (looking through one lone
// wrapper child); without a root, the forest tops are.
func (b *traceBuild) markPlain() {
	level := b.tops
	if b.root >= 0 {
		level = b.children(b.root)
		if len(level) == 1 && len(b.children(level[0])) > 0 {
			b.wrappers++
			level = b.children(level[0])
		}
	}
	for _, v := range level {
		if !b.m.internal(&b.recs[v]) {
			b.recs[v].role = roleStep
		}
	}
}

// own assigns every span its nearest enclosing step and depth, and turns the
// spans under a step into calls.
func (b *traceBuild) own() {
	type frame struct{ v, owner, depth int32 }
	stack := make([]frame, 0, 64)
	for i := len(b.tops) - 1; i >= 0; i-- {
		stack = append(stack, frame{b.tops[i], -1, 0})
	}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		r := &b.recs[f.v]
		r.owner, r.depth = f.owner, f.depth
		childOwner := f.owner
		switch {
		case r.role == roleStep:
			childOwner = f.v
		case f.owner >= 0 && b.m.internal(r):
			r.role = roleInternal
			b.internalSpans++
		case f.owner >= 0:
			r.role = roleCall
		default:
			b.unattached++
		}
		kids := b.children(f.v)
		for i := len(kids) - 1; i >= 0; i-- {
			stack = append(stack, frame{kids[i], childOwner, f.depth + 1})
		}
	}
}

// stepOrder returns step spans in execution order: sibling steps (same
// enclosing step) by langgraph_step when all carry one, then start time,
// then span id; nested steps (subgraph nodes) follow their enclosing step.
func (b *traceBuild) stepOrder() []int32 {
	groups := map[int32][]int32{}
	for i := range b.recs {
		if b.recs[i].role == roleStep {
			groups[b.recs[i].owner] = append(groups[b.recs[i].owner], int32(i))
		}
	}
	for _, g := range groups {
		b.sortSteps(g)
	}
	var order []int32
	stack := []int32{}
	push := func(g []int32) {
		for i := len(g) - 1; i >= 0; i-- {
			stack = append(stack, g[i])
		}
	}
	push(groups[-1])
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		order = append(order, v)
		push(groups[v])
	}
	return order
}

func (b *traceBuild) sortSteps(g []int32) {
	allLG := true
	for _, v := range g {
		if b.recs[v].mark == nil || b.recs[v].mark.step < 0 {
			allLG = false
			break
		}
	}
	slices.SortFunc(g, func(x, y int32) int {
		rx, ry := &b.recs[x], &b.recs[y]
		if allLG && rx.mark.step != ry.mark.step {
			return rx.mark.step - ry.mark.step
		}
		if c := cmpUint(rx.start, ry.start); c != 0 {
			return c
		}
		if c := strings.Compare(string(rx.id[:]), string(ry.id[:])); c != 0 {
			return c
		}
		return int(x - y)
	})
}

// ts converts an OTLP timestamp; zero and out-of-range values are "unknown".
func ts(t uint64) time.Time {
	if t == 0 || t > math.MaxInt64 {
		return time.Time{}
	}
	return time.Unix(0, int64(t)).UTC()
}

func traceHex(id pcommon.TraceID) string { return hex.EncodeToString(id[:]) }
func spanHex(id pcommon.SpanID) string   { return hex.EncodeToString(id[:]) }

func parentHex(sp ptrace.Span) string {
	if p := sp.ParentSpanID(); !p.IsEmpty() {
		return spanHex(p)
	}
	return ""
}

func statusOf(sp ptrace.Span) string {
	switch sp.Status().Code() {
	case ptrace.StatusCodeError:
		return StatusError
	case ptrace.StatusCodeOk:
		return StatusOK
	}
	return StatusUnset
}

func spanKindOf(sp ptrace.Span) string {
	switch sp.Kind() {
	case ptrace.SpanKindInternal:
		return "internal"
	case ptrace.SpanKindServer:
		return "server"
	case ptrace.SpanKindClient:
		return "client"
	case ptrace.SpanKindProducer:
		return "producer"
	case ptrace.SpanKindConsumer:
		return "consumer"
	}
	return "unspecified"
}

// exceptionsOf reads the `exception` events of a span (bounded).
func exceptionsOf(sp ptrace.Span, maxBytes int) []Exception {
	evs := sp.Events()
	var out []Exception
	for i := 0; i < evs.Len() && len(out) < maxExceptionsPerSpan; i++ {
		ev := evs.At(i)
		if ev.Name() != "exception" {
			continue
		}
		at := ev.Attributes()
		get := func(k string) string {
			if v, ok := at.Get(k); ok {
				return capText(valueText(v), maxBytes)
			}
			return ""
		}
		out = append(out, Exception{
			Type:       get("exception.type"),
			Message:    get("exception.message"),
			Stacktrace: get("exception.stacktrace"),
		})
	}
	return out
}

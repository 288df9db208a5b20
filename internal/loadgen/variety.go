package loadgen

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Varied traffic: healthy runs of three LangGraph agents (OpenInference
// spans, like the load traffic) full of look-alikes of faults, and, on
// request, one injected fault with the node it starts at. The
// detection-quality measurement (test/quality) replays it.
//
//   - docs_rag: plan, retrieve (its cache answers a third of the queries
//     in milliseconds), grade_documents (always writes notes: null, and
//     filters every document out in a fifth of the runs, which web_search
//     then fills; the search API answers 429 once in a quarter of those,
//     waited out), generate (two kinds of question, 1.7x the tokens apart;
//     a yes/no answer in a fifth of the runs; answers quoting "TODO" or
//     "N/A"), validate (a validator returning {} or, once in four runs,
//     feedback that sends the draft back) and route (a router, always {}).
//   - support_agent: agent and tools in a loop: an order lookup, a refund
//     status polled with the same arguments until it is approved, an
//     inventory API that answers 429 once and is called again, a
//     knowledge-base search.
//   - triage: classify (a one-word label), notify (a notifier returning {})
//     and respond.
//
// Model calls carry their request and response in input.value and
// output.value as the LangChain instrumentation records them (the shape of
// testdata/sdks/openinference-langgraph); knowledge-base chunks are a few
// paragraphs long, search results and snippets a few sentences.

// Fault is a fault injected into a varied run ("" for none).
type Fault string

// The faults AddVariedRun injects, each at the node named in FaultNodes.
const (
	FaultEmptyRetrievalCrash Fault = "empty_retrieval_crash" // retrieve finds nothing, generate crashes on documents
	FaultPlaceholder         Fault = "placeholder_answer"    // generate answers with a {{template}} variable
	FaultRefusal             Fault = "refusal"               // generate refuses
	FaultTruncated           Fault = "truncated_length"      // generate stops at its token limit
	FaultTokenBlowup         Fault = "token_blowup"          // generate uses 25x its tokens
	FaultLatencySpike        Fault = "latency_spike"         // retrieve takes 20-40 s
	FaultEmptyUpdate         Fault = "empty_update"          // plan returns {}
	FaultTypeChanged         Fault = "type_changed"          // grade_documents writes documents as one text
	FaultToolError           Fault = "tool_error_payload"    // lookup_order returns an error payload
	FaultRetryStorm          Fault = "retry_storm"           // lookup_order called 5 times, same arguments, same result
	FaultClaimedSuccess      Fault = "claimed_success_empty" // search_kb reports success with no results
	FaultNullLike            Fault = "null_like_answer"      // generate answers "N/A"
	FaultFiller              Fault = "repeated_filler"       // generate repeats one sentence
	FaultWhitespace          Fault = "whitespace_answer"     // generate answers only white space
	FaultSkippedPlan         Fault = "skipped_plan"          // plan returns in 1 ms: it did not call its model
	FaultLostToolResult      Fault = "lost_tool_result"      // tools empties the messages the agent wrote
	FaultRunaway             Fault = "runaway_loop"          // the agent looks up 30 orders one by one
	FaultInputEcho           Fault = "input_echo"            // generate's model answers with its own prompt
	FaultRateLimited         Fault = "rate_limited"          // check_inventory answers 429 to the call and its retry; the agent gives up
	FaultOutputCollapse      Fault = "output_collapse"       // retrieve's chunks lose their text (ids and scores only)
	FaultKeyTypo             Fault = "key_typo"              // retrieve writes documnets; grade_documents then misses documents
	FaultUnexpectedHop       Fault = "unexpected_transition" // generate runs straight after retrieve, a jump the graph does not declare
	FaultContract            Fault = "contract_violation"    // classify writes label as a list of labels
	FaultSignature           Fault = "signature_match"       // generate's answer leaks the system prompt (a user signature)
	FaultDeepState           Fault = "deep_state"            // web_search returns a page parsed into a DOM tree nested 950 deep
)

// FaultNodes is the node each fault is injected at: the root cause.
var FaultNodes = map[Fault]string{
	FaultEmptyRetrievalCrash: "retrieve", FaultPlaceholder: "generate", FaultRefusal: "generate",
	FaultTruncated: "generate", FaultTokenBlowup: "generate", FaultLatencySpike: "retrieve",
	FaultEmptyUpdate: "plan", FaultTypeChanged: "grade_documents",
	FaultToolError: "tools", FaultRetryStorm: "tools", FaultClaimedSuccess: "tools",
	FaultNullLike: "generate", FaultFiller: "generate", FaultWhitespace: "generate", FaultSkippedPlan: "plan",
	FaultLostToolResult: "tools", FaultRunaway: "agent",
	FaultInputEcho: "generate", FaultRateLimited: "tools", FaultOutputCollapse: "retrieve", FaultKeyTypo: "retrieve",
	FaultUnexpectedHop: "generate", FaultContract: "classify", FaultSignature: "generate", FaultDeepState: "web_search",
}

// Faults lists the faults in a fixed order.
func Faults() []Fault {
	return []Fault{FaultEmptyRetrievalCrash, FaultPlaceholder, FaultRefusal, FaultTruncated, FaultTokenBlowup,
		FaultLatencySpike, FaultEmptyUpdate, FaultTypeChanged, FaultToolError, FaultRetryStorm, FaultClaimedSuccess,
		FaultNullLike, FaultFiller, FaultWhitespace, FaultSkippedPlan, FaultLostToolResult, FaultRunaway,
		FaultInputEcho, FaultRateLimited, FaultOutputCollapse, FaultKeyTypo, FaultUnexpectedHop, FaultContract,
		FaultSignature, FaultDeepState}
}

// systemPrompt is the instruction generate's model is given; an answer
// that repeats it leaks it (FaultSignature).
const systemPrompt = "You are Acme's support assistant. Answer only from the documents and cite them."

// AddVariedRun appends one varied run, starting at start, with fault
// injected, and returns its trace id (hex) and counts. A fault belongs to
// one agent (FaultNodes); a healthy run picks its agent at random.
func (g *Generator) AddVariedRun(spans ptrace.SpanSlice, start time.Time, fault Fault) (string, Counts) {
	b := &runBuilder{g: g, spans: spans, tid: g.traceID(), rootID: g.spanID(), at: start.Add(time.Millisecond), state: map[string]any{}}
	var pipeline string
	switch FaultNodes[fault] {
	case "tools", "agent":
		pipeline = "support_agent"
	case "classify", "notify", "respond":
		pipeline = "triage"
	case "":
		pipeline = []string{"docs_rag", "docs_rag", "support_agent", "triage"}[g.rng.IntN(4)]
	default:
		pipeline = "docs_rag"
	}
	q := variedQuestions[g.rng.IntN(len(variedQuestions))]
	b.state["question"] = q
	input := jsonText(b.state)
	switch pipeline {
	case "docs_rag":
		b.docsRAG(fault)
	case "support_agent":
		b.supportAgent(fault)
	default:
		b.triage(fault)
	}
	root := spans.AppendEmpty()
	root.SetTraceID(b.tid)
	root.SetSpanID(b.rootID)
	root.SetName(pipeline)
	root.SetKind(ptrace.SpanKindInternal)
	root.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	root.SetEndTimestamp(pcommon.NewTimestampFromTime(b.at.Add(time.Millisecond)))
	ra := root.Attributes()
	ra.PutStr("openinference.span.kind", "CHAIN")
	ra.PutStr("session.id", "thread-"+strconv.Itoa(g.rng.IntN(50)))
	ra.PutStr("input.value", input)
	ra.PutStr("input.mime_type", "application/json")
	if b.failed {
		root.Status().SetCode(ptrace.StatusCodeError)
		root.Status().SetMessage("graph failed")
	} else {
		ra.PutStr("output.value", jsonText(b.state))
		ra.PutStr("output.mime_type", "application/json")
	}
	c := Counts{Traces: 1, Spans: b.spans64 + 1, NodeSpans: b.nodes}
	if b.failed {
		c.FailingTraces = 1
	}
	return b.tid.String(), c
}

var variedQuestions = []string{
	"How do I rotate an API key without downtime?", "Can I get a refund for an annual plan?",
	"Who can manage billing in a team?", "How do I export my data as CSV?",
	"Why does my invoice show a VAT number?", "How long do refunds take to reach my card?",
	"Does the Business plan include SAML single sign-on?", "How do I enable two factor authentication?",
}

// runBuilder appends the node spans of one run, one superstep each, and
// keeps the graph state they are handed.
type runBuilder struct {
	g       *Generator
	spans   ptrace.SpanSlice
	tid     pcommon.TraceID
	rootID  pcommon.SpanID
	at      time.Time
	step    int
	state   map[string]any
	nodes   int64
	spans64 int64
	failed  bool
}

// call is a nested span of a node: an LLM, tool or retriever call. An
// LLM call's args is its user message, system its system message.
type call struct {
	kind, name, args, result string
	system                   string
	prompt, completion       int
	finish                   string
}

// node appends a node span that took took and returned update (nil: the
// node threw, with crash as its KeyError field).
func (b *runBuilder) node(name string, took time.Duration, update map[string]any, crash string, calls ...call) {
	b.step++
	start, end := b.at, b.at.Add(took)
	meta := b.g.metadata(name, b.step)
	in := jsonText(b.state)
	sp := b.g.child(b.spans, b.tid, b.rootID, name, start, end, func(a pcommon.Map) {
		a.PutStr("openinference.span.kind", "CHAIN")
		a.PutStr("metadata", meta)
		a.PutStr("input.value", in)
		a.PutStr("input.mime_type", "application/json")
		if update != nil {
			a.PutStr("output.value", jsonText(update))
			a.PutStr("output.mime_type", "application/json")
		}
	})
	b.nodes++
	b.spans64++
	if crash != "" {
		b.failed = true
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage("KeyError: '" + crash + "'")
		ev := sp.Events().AppendEmpty()
		ev.SetName("exception")
		ev.SetTimestamp(pcommon.NewTimestampFromTime(end))
		ev.Attributes().PutStr("exception.type", "KeyError")
		ev.Attributes().PutStr("exception.message", "'"+crash+"'")
		ev.Attributes().PutStr("exception.stacktrace", "Traceback (most recent call last):\n  File \"graph.py\", line 41, in "+name+"\n    docs = state[\""+crash+"\"][0]\nKeyError: '"+crash+"'")
	}
	// Calls share the node's time, one after the other.
	slot := took / time.Duration(len(calls)+1)
	for k, c := range calls {
		cs := start.Add(time.Duration(k)*slot + time.Millisecond)
		b.call(sp.SpanID(), meta, c, cs, cs.Add(slot-time.Millisecond))
	}
	maps.Copy(b.state, update)
	b.at = end.Add(time.Millisecond)
}

func (b *runBuilder) call(parent pcommon.SpanID, meta string, c call, start, end time.Time) {
	b.spans64++
	b.g.child(b.spans, b.tid, parent, c.name, start, end, func(a pcommon.Map) {
		a.PutStr("metadata", meta)
		switch c.kind {
		case "LLM":
			a.PutStr("openinference.span.kind", "LLM")
			a.PutStr("llm.model_name", "gpt-4o-mini")
			a.PutStr("llm.provider", "openai")
			a.PutInt("llm.token_count.prompt", int64(c.prompt))
			a.PutInt("llm.token_count.completion", int64(c.completion))
			a.PutInt("llm.token_count.total", int64(c.prompt+c.completion))
			msgs := []any{lcMessage("HumanMessage", c.args)}
			n := 0
			if c.system != "" {
				msgs = append([]any{lcMessage("SystemMessage", c.system)}, msgs...)
				a.PutStr("llm.input_messages.0.message.role", "system")
				a.PutStr("llm.input_messages.0.message.content", c.system)
				n++
			}
			a.PutStr("llm.input_messages."+strconv.Itoa(n)+".message.role", "user")
			a.PutStr("llm.input_messages."+strconv.Itoa(n)+".message.content", c.args)
			a.PutStr("llm.output_messages.0.message.role", "assistant")
			a.PutStr("llm.output_messages.0.message.content", c.result)
			a.PutStr("llm.finish_reason", c.finish)
			// The whole request and response, as the LangChain
			// instrumentation records them (testdata/sdks/openinference-langgraph).
			a.PutStr("input.value", jsonText(map[string]any{"messages": []any{msgs}}))
			a.PutStr("input.mime_type", "application/json")
			a.PutStr("output.value", jsonText(map[string]any{"generations": []any{[]any{map[string]any{
				"text": c.result, "message": lcMessage("AIMessage", c.result), "generationInfo": map[string]any{"finish_reason": c.finish}}}}}))
			a.PutStr("output.mime_type", "application/json")
		default: // TOOL, RETRIEVER
			a.PutStr("openinference.span.kind", c.kind)
			a.PutStr("tool.name", c.name)
			a.PutStr("input.value", c.args)
			a.PutStr("output.value", c.result)
		}
	})
}

// lcMessage is a LangChain message as its serializer writes it.
func lcMessage(class, content string) map[string]any {
	return map[string]any{"lc": 1, "type": "constructor", "id": []any{"langchain_core", "messages", class},
		"kwargs": map[string]any{"content": content, "additional_kwargs": map[string]any{}, "response_metadata": map[string]any{}}}
}

func (b *runBuilder) ms(lo, hi int) time.Duration {
	return time.Duration(b.g.between(lo, hi)) * time.Millisecond
}

func (b *runBuilder) llm(prompt string, tokens int, answer, finish string) call {
	completion := max(tokens/5, 1)
	return call{kind: "LLM", name: "ChatOpenAI", args: prompt, result: answer, prompt: tokens - completion, completion: completion, finish: finish}
}

// docs are n documents of lo to hi bytes of text each.
func (b *runBuilder) docs(n int, prefix string, lo, hi int) []any {
	out := make([]any, n)
	for k := range out {
		out[k] = map[string]any{"id": prefix + "-" + strconv.Itoa(b.g.rng.IntN(900)+100), "text": b.text(b.g.between(lo, hi)),
			"score": float64(b.g.between(50, 99)) / 100}
	}
	return out
}

// Document sizes: knowledge-base chunks of a few paragraphs; search
// results and snippets.
const (
	chunkMin, chunkMax     = 600, 1500
	snippetMin, snippetMax = 120, 400
)

// domTree is a web page with levels unclosed <div>s, as an HTML parser
// turns it into a tree: each one nests the rest of the page (two JSON
// levels per div).
func domTree(levels int, text string) map[string]any {
	node := map[string]any{"tag": "p", "text": text}
	for range levels {
		node = map[string]any{"tag": "div", "children": []any{node}}
	}
	return node
}

func (b *runBuilder) docsRAG(fault Fault) {
	g := b.g
	q := b.state["question"].(string)
	query := strings.ToLower(strings.TrimSuffix(q, "?"))
	switch fault {
	case FaultEmptyUpdate:
		b.node("plan", b.ms(300, 500), map[string]any{}, "", b.llm(q, g.between(280, 330), "{}", "stop"))
	case FaultSkippedPlan:
		b.node("plan", time.Millisecond, map[string]any{"query": query}, "")
	default:
		b.node("plan", b.ms(300, 500), map[string]any{"query": query}, "", b.llm(q, g.between(280, 330), query, "stop"))
	}

	// retrieve: a third of the queries come from its cache.
	took := b.ms(250, 400)
	if g.rng.IntN(3) == 0 {
		took = b.ms(4, 15)
	}
	found := b.docs(g.between(3, 5), "kb", chunkMin, chunkMax)
	key := "documents"
	switch fault {
	case FaultEmptyRetrievalCrash:
		found = []any{}
	case FaultLatencySpike:
		took = b.ms(20000, 40000)
	case FaultOutputCollapse: // the vector store was asked for metadata only
		for _, d := range found {
			delete(d.(map[string]any), "text")
		}
	case FaultKeyTypo:
		key = "documnets"
	}
	b.node("retrieve", took, map[string]any{key: found}, "",
		call{kind: "RETRIEVER", name: "kb_search", args: jsonText(map[string]any{"query": query, "k": 5}), result: jsonText(map[string]any{"documents": found})})
	switch fault {
	case FaultKeyTypo: // documents = state["documents"]
		b.node("grade_documents", b.ms(2, 8), nil, "documents")
		return
	case FaultUnexpectedHop: // a shortcut to generate that the declared graph does not have
		b.generate(q, "")
		b.node("validate", b.ms(150, 250), map[string]any{}, "", b.llm("Check the draft", g.between(600, 650), "OK", "stop"))
		b.node("route", b.ms(1, 3), map[string]any{}, "")
		return
	}

	// grade_documents: notes is always null; a fifth of the time nothing is
	// relevant and web_search fills the documents.
	graded := found
	irrelevant := (fault == "" && g.rng.IntN(5) == 0) || fault == FaultDeepState
	if len(found) > 1 {
		graded = found[:g.between(1, len(found)-1)]
	}
	if irrelevant {
		graded = []any{}
	}
	var gradedValue any = graded
	if fault == FaultTypeChanged {
		gradedValue = b.text(300)
	}
	b.node("grade_documents", b.ms(200, 350), map[string]any{"documents": gradedValue, "notes": nil}, "",
		b.llm("Grade the documents for: "+q, g.between(900, 1000), fmt.Sprintf("%d relevant", len(graded)), "stop"))
	if irrelevant {
		web := b.docs(g.between(2, 3), "web", snippetMin, snippetMax)
		if fault == FaultDeepState { // a page of 475 unclosed <div>s, parsed
			web[0].(map[string]any)["dom"] = domTree(475, web[0].(map[string]any)["text"].(string))
		}
		args := jsonText(map[string]any{"query": query, "top_k": 3})
		calls := []call{{kind: "TOOL", name: "web_search", args: args, result: jsonText(map[string]any{"status": "ok", "results": web})}}
		if g.rng.IntN(4) == 0 { // the search API answers 429 once; the node waits and retries
			calls = append([]call{{kind: "TOOL", name: "web_search", args: args,
				result: `{"status":429,"error":"Too Many Requests","retry_after_ms":200}`}}, calls...)
		}
		b.node("web_search", b.ms(300, 600), map[string]any{"documents": web}, "", calls...)
	}

	if fault == FaultEmptyRetrievalCrash {
		b.node("generate", b.ms(5, 20), nil, "documents")
		return
	}
	b.generate(q, fault)
	// validate: {} when the draft is fine; once in four, feedback that
	// sends it back to generate, which validate then accepts.
	if fault == "" && g.rng.IntN(4) == 0 {
		b.node("validate", b.ms(150, 250), map[string]any{"feedback": "Cite the source document of each sentence."}, "",
			b.llm("Check the draft", g.between(600, 650), "Cite the sources.", "stop"))
		b.generate(q, "")
	}
	b.node("validate", b.ms(150, 250), map[string]any{}, "", b.llm("Check the draft", g.between(600, 650), "OK", "stop"))
	b.node("route", b.ms(1, 3), map[string]any{}, "")
}

// generate: two kinds of question (1.7x the tokens apart), a yes/no answer
// in a fifth of the runs, answers that quote "TODO" or "N/A" as content.
func (b *runBuilder) generate(q string, fault Fault) {
	g := b.g
	tokens := g.between(800, 950)
	if g.rng.IntN(3) == 0 {
		tokens = g.between(1350, 1600)
	}
	answer := b.text(g.between(900, 1900))
	switch r := g.rng.IntN(20); {
	case r < 4:
		answer = "Yes, you can."
	case r == 4:
		answer = `Invoices created before June 2 show "TODO" in the VAT field; download the invoice again and the VAT number appears.`
	case r == 5:
		answer = `The tracking number reads "N/A" until the parcel is handed to the carrier.`
	}
	finish := "stop"
	switch fault {
	case FaultPlaceholder:
		answer = "Hello {{customer_name}}, " + answer
	case FaultRefusal:
		answer = "I'm sorry, but I can't help with that request."
	case FaultTruncated:
		answer, finish = b.text(1500)+" The refund for annual plans is", "length"
	case FaultTokenBlowup:
		tokens *= 25
	case FaultNullLike:
		answer = "N/A"
	case FaultFiller:
		answer = strings.Repeat("I will look into this for you. ", 6)
	case FaultWhitespace:
		answer = " \n\t "
	}
	prompt := "Question: " + q + "\n\nDocuments:"
	if docs, ok := b.state["documents"].([]any); ok {
		for _, d := range docs {
			d := d.(map[string]any)
			prompt += fmt.Sprintf("\n[%s] %v", d["id"], d["text"])
		}
	}
	switch fault {
	case FaultInputEcho:
		answer = prompt
	case FaultSignature:
		answer = systemPrompt + " " + answer
	}
	c := b.llm(prompt, tokens, answer, finish)
	c.system = systemPrompt
	b.node("generate", b.ms(700, 1400), map[string]any{"answer": answer}, "", c)
}

func (b *runBuilder) supportAgent(fault Fault) {
	g := b.g
	order := "A-" + strconv.Itoa(g.between(1000, 9999))
	var plan []call // one tool call per turn
	lookup := call{kind: "TOOL", name: "lookup_order", args: jsonText(map[string]any{"order_id": order}),
		result: jsonText(map[string]any{"order_id": order, "status": "shipped", "carrier": "DHL", "items": g.between(1, 4)})}
	switch fault {
	case FaultToolError:
		lookup.result = `{"error":"order service unavailable: upstream timed out after 3000 ms"}`
		plan = []call{lookup}
	case FaultRetryStorm:
		plan = []call{lookup, lookup, lookup, lookup, lookup}
	case FaultClaimedSuccess:
		plan = []call{{kind: "TOOL", name: "search_kb", args: jsonText(map[string]any{"query": "refund policy"}),
			result: `{"status":"success","results":[]}`}}
	case FaultRateLimited: // the retry is rate limited too; the agent gives up
		args := jsonText(map[string]any{"sku": "BTL-750"})
		limited := call{kind: "TOOL", name: "check_inventory", args: args, result: `{"error":"Too Many Requests","status":429}`}
		plan = []call{limited, limited}
	case FaultRunaway:
		for k := range 30 {
			id := "A-" + strconv.Itoa(1000+k)
			plan = append(plan, call{kind: "TOOL", name: "lookup_order", args: jsonText(map[string]any{"order_id": id}),
				result: jsonText(map[string]any{"order_id": id, "status": "shipped", "note": b.text(120)})})
		}
	default:
		switch g.rng.IntN(4) {
		case 0: // a refund status polled until it is approved
			for k, st := range []string{"pending", "processing", "approved"} {
				plan = append(plan, call{kind: "TOOL", name: "get_refund_status", args: `{"refund_id":"R-` + order[2:] + `"}`,
					result: jsonText(map[string]any{"refund_id": "R-" + order[2:], "status": st, "checked_at": fmt.Sprintf("12:%02d", k)})})
			}
		case 1: // the inventory API answers 429 once; the agent calls it again
			args := jsonText(map[string]any{"sku": "BTL-750"})
			plan = []call{{kind: "TOOL", name: "check_inventory", args: args, result: `{"error":"Too Many Requests","status":429}`},
				{kind: "TOOL", name: "check_inventory", args: args, result: `{"sku":"BTL-750","in_stock":12}`}}
		case 2:
			plan = []call{{kind: "TOOL", name: "search_kb", args: jsonText(map[string]any{"query": "refund policy"}),
				result: jsonText(map[string]any{"status": "success", "results": b.docs(2, "kb", snippetMin, snippetMax)})}}
		default:
			plan = []call{lookup}
		}
	}
	messages := []any{map[string]any{"role": "user", "content": b.state["question"]}}
	for _, c := range plan {
		msg := map[string]any{"role": "assistant", "tool_calls": []any{map[string]any{"name": c.name, "args": json.RawMessage(c.args)}}}
		b.node("agent", b.ms(400, 900), map[string]any{"messages": []any{msg}}, "", b.llm("turn", g.between(500, 560), "", "tool_calls"))
		toolMsgs := []any{map[string]any{"role": "tool", "content": c.result}}
		if fault == FaultLostToolResult {
			toolMsgs = []any{}
		}
		b.node("tools", b.ms(20, 120), map[string]any{"messages": toolMsgs}, "", c)
		messages = append(messages, msg)
	}
	answer := "Your order " + order + " is on its way with DHL."
	if g.rng.IntN(5) == 0 {
		answer = `Order ` + order + ` is still processing, so the tracking number reads "N/A" until it ships.`
	}
	if fault == FaultRateLimited {
		answer = "I could not check the stock of that bottle right now. Please try again later."
	}
	b.node("agent", b.ms(500, 1000), map[string]any{"messages": []any{map[string]any{"role": "assistant", "content": answer}}}, "",
		b.llm("answer", g.between(600, 700), answer, "stop"))
}

func (b *runBuilder) triage(fault Fault) {
	g := b.g
	label := []string{"billing", "account", "shipping"}[g.rng.IntN(3)]
	var labelValue any = label
	said := label
	if fault == FaultContract { // the model was asked for every label that fits
		labelValue = []any{label, "other"}
		said = jsonText(labelValue)
	}
	b.node("classify", b.ms(200, 300), map[string]any{"label": labelValue}, "", b.llm("Classify", g.between(150, 180), said, "stop"))
	b.node("notify", b.ms(30, 60), map[string]any{}, "",
		call{kind: "TOOL", name: "post_message", args: jsonText(map[string]any{"channel": "#" + label, "text": "New " + label + " request"}), result: `{"ok":true,"ts":"1717.0001"}`})
	answer := b.text(g.between(300, 900))
	b.node("respond", b.ms(600, 1100), map[string]any{"answer": answer}, "", b.llm("Respond", g.between(700, 800), answer, "stop"))
}

// kbSentences are what documents and answers of the varied runs say.
var kbSentences = []string{
	"Annual plans can be refunded within 30 days of purchase.", "Monthly plans are refunded pro rata after the first month.",
	"Shipping costs are not refundable unless the item arrived damaged.", "Refunds reach the card within 3 to 5 business days.",
	"Owners manage billing; admins manage members and API keys.", "Create a second API key, deploy it, then revoke the old one.",
	"Both keys work during the overlap, so nothing goes down.", "Exports are delivered as CSV or JSON files by email.",
	"Invoices are issued monthly and are due within fourteen days.", "The VAT number appears on invoices created after June 2.",
	"SAML single sign-on is available on the Business plan.", "Two factor authentication is enabled under Settings, Security.",
	"Orders ship within two business days from the EU warehouse.", "The tracking number is sent by email once the parcel ships.",
	"Premium members get free returns on every order.", "Agents cite the source document of every answer.",
	"Failed webhook deliveries are retried for up to 24 hours.", "Seats can be added by workspace owners at any time.",
	"Passwords are reset from the sign-in page.", "Data is kept for 30 days after an account is closed.",
	"The API allows 600 requests per minute per workspace.", "Usage above the plan's limit is billed at the end of the month.",
	"Gift cards are delivered by email within minutes and never expire.", "A refund for a gift card goes back to the buyer.",
	"Damaged items are replaced free of charge within 60 days.", "Returns are free for orders above 50 euros.",
	"The mobile app supports the same exports as the web app.", "Audit logs are kept for one year on the Enterprise plan.",
	"Team invitations expire after seven days.", "A workspace can have at most five owners.",
	"Scheduled reports are sent every Monday at 9:00 UTC.", "Webhooks are signed with the workspace's secret.",
	"Deleted projects can be restored for 14 days.", "Custom domains need a CNAME record pointing to our edge.",
	"The status page lists every incident of the last 90 days.", "Support answers within one business day.",
}

// text is up to n bytes of whole sentences, each at most once.
func (b *runBuilder) text(n int) string {
	order := b.g.rng.Perm(len(kbSentences))
	var sb strings.Builder
	for _, k := range order {
		if sb.Len() > 0 && sb.Len()+len(kbSentences[k]) >= n {
			break
		}
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(kbSentences[k])
	}
	return sb.String()
}

// jsonText encodes a state or value (map keys sorted).
func jsonText(v any) string {
	out, err := json.Marshal(v)
	if err != nil {
		panic(err) // only values built here
	}
	return string(out)
}

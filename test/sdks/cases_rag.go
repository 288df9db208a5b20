package sdks

// The docs RAG graph on LangGraph.js (scenarios/rag.mjs, rag_graph.mjs):
// retrieve -> search_api -> rerank -> synthesize -> validate, the same runs
// and faults under every LangGraph SDK.
var ragNodes = []string{"retrieve", "search_api", "rerank", "synthesize", "validate"}

func ragFaults() map[string]Fault {
	return map[string]Fault{
		"fault_tool_error_payload":           {[]string{"behavioral.tool_error"}, "search_api"},
		"fault_placeholder_answer":           {[]string{"semantic.placeholder"}, "synthesize"},
		"fault_refusal":                      {[]string{"semantic.refusal"}, "synthesize"},
		"fault_retry_storm":                  {[]string{"behavioral.retry_storm"}, "search_api"},
		"fault_empty_result_claimed_success": {[]string{"behavioral.claimed_success_empty"}, "search_api"},
		"fault_tool_throws":                  {[]string{"behavioral.error_span"}, "search_api"},
		"fault_truncated_length":             {[]string{"semantic.truncated"}, "synthesize"},
		"fault_token_blowup":                 {[]string{"statistical.token_blowup"}, "synthesize"},
		"fault_empty_retrieval_crash":        {[]string{"structural.crash_missing_data", "structural.empty_retrieval"}, "retrieve"},
	}
}

// OpenInference's LangChain instrumentation: a span per node, the
// conditional edge's RunnableLambda a call of validate.
func openInferenceLangGraph() Case {
	return Case{SDK: "openinference-langgraph", Pipeline: "docs_rag", Nodes: ragNodes, MinHealthy: 30,
		Faults: ragFaults()}
}

// OpenLLMetry JS: the graph runs inside traceloop.withWorkflow and each node
// inside withTask, as Traceloop documents; its LangChain instrumentation
// alone makes one trace per span and names chains by their class.
func openLLMetryLangGraph() Case {
	f := ragFaults()
	// When a node throws, withTask never ends its span (0.27.0 ends it only
	// on success), so search_api's task span is not sent: the failing
	// tool's own span is the step, named by the tool's LangChain class as
	// this instrumentation names every tool.
	f["fault_tool_throws"] = Fault{f["fault_tool_throws"].Rules, "DynamicStructuredTool"}
	return Case{SDK: "openllmetry-langgraph", Pipeline: "docs_rag", Nodes: ragNodes, MinHealthy: 30,
		Faults: f}
}

// LangSmith JS in its OTel mode (LANGSMITH_TRACING_MODE=otel): the graph and
// each node wrapped in traceable(), the only runs it opens spans for.
func langSmithLangGraph() Case {
	return Case{SDK: "langsmith-langgraph", Pipeline: "docs_rag", Nodes: ragNodes, MinHealthy: 30,
		Faults: ragFaults()}
}

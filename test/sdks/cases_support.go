package sdks

// The customer-support agent (scenarios/support.mjs): a model loop over five
// tools, the same runs and faults under every SDK. llm is the node name an
// SDK gives a model call.
var supportTools = []string{"lookup_order", "get_refund_status", "search_kb", "create_ticket", "check_inventory"}

func supportFaults(llm string) map[string]Fault {
	return map[string]Fault{
		"fault_tool_error_payload":           {[]string{"behavioral.tool_error"}, "lookup_order"},
		"fault_placeholder_answer":           {[]string{"semantic.placeholder"}, llm},
		"fault_refusal":                      {[]string{"semantic.refusal"}, llm},
		"fault_retry_storm":                  {[]string{"behavioral.retry_storm"}, "lookup_order"},
		"fault_empty_result_claimed_success": {[]string{"behavioral.claimed_success_empty"}, "search_kb"},
		"fault_tool_throws":                  {[]string{"behavioral.error_span"}, "create_ticket"},
		"fault_truncated_length":             {[]string{"semantic.truncated"}, llm},
		"fault_token_blowup":                 {[]string{"statistical.token_blowup"}, llm},
	}
}

func supportCase(sdk, llm string) Case {
	return Case{SDK: sdk, Pipeline: "support_agent", Nodes: append([]string{llm}, supportTools...), MinHealthy: 24,
		Faults: supportFaults(llm)}
}

// OpenInference: its OpenAI instrumentation, traceAgent / traceTool.
func openInferenceOpenAI() Case {
	return supportCase("openinference-openai", "OpenAI Chat Completions")
}

// OpenLLMetry JS: withAgent / withTool and its OpenAI instrumentation.
func openLLMetryOpenAI() Case {
	c := supportCase("openllmetry-openai", "chat mock-gpt-4o-mini")
	delete(c.Faults, "fault_tool_throws")
	// withTool (0.27.0) ends a span only when its function returns: the
	// throwing tool's span is never sent, and the error reaches the trace
	// only as a tool message in the next chat's input.
	c.Missed = map[string]string{"fault_tool_throws": "the SDK drops the span of a tool that throws"}
	return c
}

// The Go OTel SDK with the GenAI conventions: the chat span *is* the model
// call (its own token usage makes the step's), tools are execute_tool spans.
func goGenAI() Case { return supportCase("go-genai", "chat mock-gpt-4o-mini") }

// The same Go agent in the older span-event form: content only in
// per-message span events, tool spans without arguments or result.
func goGenAIEvents() Case {
	c := supportCase("go-genai-events", "chat mock-gpt-4o-mini")
	// A tool retried after a 429 keeps its call id; only the last try's
	// result is in the conversation, the only place this form keeps tool
	// results: the 429 itself is in no span.
	c.NoOutput = map[string]string{"healthy_07_tool_429_retried": "check_inventory", "healthy_18_tool_429_retried": "check_inventory"}
	return c
}

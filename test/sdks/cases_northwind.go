package sdks

// The Northwind support agent (test/sdks/northwind-support): a model loop
// over six tools, the same runs and faults on the Vercel AI SDK (both
// @ai-sdk/otel integrations), Mastra and the OpenAI Agents SDK. llm is the
// node name an SDK gives a model call.
var northwindTools = []string{"lookup_order", "check_shipment", "issue_refund", "search_kb", "get_customer", "escalate_ticket"}

func northwindFaults(llm string) map[string]Fault {
	return map[string]Fault{
		"fault_tool_error_payload":           {[]string{"behavioral.tool_error"}, "lookup_order"},
		"fault_placeholder_answer":           {[]string{"semantic.placeholder"}, llm},
		"fault_refusal":                      {[]string{"semantic.refusal"}, llm},
		"fault_retry_storm":                  {[]string{"behavioral.retry_storm", "behavioral.loop_stall"}, "check_shipment"},
		"fault_empty_result_claimed_success": {[]string{"behavioral.claimed_success_empty", "structural.empty_retrieval"}, "search_kb"},
		"fault_tool_throws":                  {[]string{"behavioral.error_span"}, "issue_refund"},
		"fault_truncated_length":             {[]string{"semantic.truncated"}, llm},
		"fault_token_blowup":                 {[]string{"statistical.token_blowup"}, llm},
	}
}

func northwindCase(sdk, pipeline, llm string) Case {
	return Case{SDK: sdk, Pipeline: pipeline, Nodes: append([]string{llm}, northwindTools...), MinHealthy: 28,
		Faults: northwindFaults(llm)}
}

// The Vercel AI SDK v7 with @ai-sdk/otel's OpenTelemetry integration (GenAI
// conventions): "step N" spans wrap one turn's chat and execute_tool spans.
func vercelAIOpenTelemetry() Case {
	llm := "chat support-model-1"
	return northwindCase("vercel-ai-otel", "support-agent", llm)
}

// The same agent with LegacyOpenTelemetry: ai.generateText, its
// ai.generateText.doGenerate model calls and the ai.toolCall spans under them.
func vercelAILegacy() Case {
	llm := "ai.generateText.doGenerate"
	return northwindCase("vercel-ai-legacy", "support-agent", llm)
}

// Mastra through @mastra/otel-exporter: chat spans and execute_tool spans
// under the agent_step / model_generation wrappers; the pipeline is the
// agent's name. A model call is named for itself ("chat <model>"), not for
// the agent Mastra also writes on it in gen_ai.agent.name.
func mastra() Case {
	llm := "chat support-model-1"
	return northwindCase("mastra", "Support Agent", llm)
}

// The OpenAI Agents SDK JS through OpenInference's OTel bridge: generation
// (LLM) and function (TOOL) spans under the agent's turns; the run keeps the
// SDK's default workflow name, so the pipeline is the agent's name.
func openAIAgents() Case {
	llm := "generation"
	return northwindCase("openai-agents", "Support Agent", llm)
}

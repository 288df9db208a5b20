package agentrun

// The OpenAI Agents SDK JS has no OpenTelemetry exporter of its own; its
// TracingProcessor reaches OTel through OpenInference's bridge
// (@arizeai/openinference-instrumentation-openai-agents), recorded in
// testdata/sdks/openai-agents:
//
//	Agent workflow        AGENT, the trace (its name is RunConfig.workflowName)
//	  Agent workflow      CHAIN
//	    <agent name>      AGENT
//	      turn            CHAIN, one per model call
//	        generation    LLM: input.value (messages), output.value (the raw response), llm.token_count.*
//	        <tool name>   TOOL: input.value (arguments), output.value (result)
//
// The CHAIN spans only group the work; the model calls and tools are the steps.
const (
	openAIAgentsScope = "@arizeai/openinference-instrumentation-openai-agents"
	// openAIAgentsDefaultWorkflow is the SDK's name for a run whose app
	// gave it no workflowName.
	openAIAgentsDefaultWorkflow = "Agent workflow"
)

// openAIAgentsOp: the SDK's CHAIN spans are wrappers.
func openAIAgentsOp(op string) string {
	if op == opExecuteTask {
		return opWorkflow
	}
	return op
}

// openAIAgentsPipeline names a run that kept the SDK's default workflow name
// after its first agent, the app's own name for the work.
func (b *traceBuild) openAIAgentsPipeline() string {
	if b.root < 0 {
		return ""
	}
	root := &b.recs[b.root]
	if root.name != openAIAgentsDefaultWorkflow || root.conv != ConvOpenInference {
		return ""
	}
	best := int32(-1)
	for i := range b.recs {
		r := &b.recs[i]
		if int32(i) == b.root || r.op != opInvokeAgent || r.name == openAIAgentsDefaultWorkflow {
			continue
		}
		if best < 0 || r.depth < b.recs[best].depth {
			best = int32(i)
		}
	}
	if best < 0 {
		return ""
	}
	return b.recs[best].name
}

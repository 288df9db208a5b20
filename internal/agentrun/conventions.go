package agentrun

import (
	"encoding/json"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// Convention names, as stored in Step.Convention and the run metadata.
const (
	ConvOpenInference = "openinference"
	ConvOpenLLMetry   = "openllmetry"
	ConvLangSmith     = "langsmith"
	ConvGenAI         = "genai"
	ConvVercelAI      = "vercel_ai" // convention_vercel_ai.go
	ConvCustom        = "custom"    // argus.step.* (step_attributes.go)
	ConvPlain         = "plain"
)

// attrKey numbers the span attributes the mapping reads. Each span's
// attributes are scanned once; the known ones are kept as (key, value) pairs
// so later passes never search the full attribute list again.
type attrKey uint8

const (
	aOIMetadata attrKey = iota // OpenInference `metadata` JSON
	aOIKind
	aInputValue
	aInputMime
	aOutputValue
	aOutputMime
	aTLKind
	aTLEntityName
	aTLEntityInput
	aTLEntityOutput
	aTLWorkflowName
	aTLNode
	aTLStep
	aLSKind
	aLSNode
	aLSStep
	aLSTriggers
	aLSPath
	aLSCheckpointNS
	aLSTraceName
	aLSThreadID
	aLSTags
	aOp
	aAgentName
	aGenAIToolName
	aWorkflowName
	aWorkflowNodes
	aWorkflowEdges
	aConversationID
	aTaskInput
	aTaskOutput
	aPrompt
	aCompletion
	aInputMessages
	aOutputMessages
	aToolArgs
	aToolResult
	aLLMModel
	aReqModel
	aRespModel
	aLLMProvider
	aProviderName
	aGenAISystem
	aLLMSystem
	aToolName
	aToolParams
	aTokPrompt
	aTokCompletion
	aTokTotal
	aUsageIn
	aUsageOut
	aUsagePrompt
	aUsageCompletion
	aLLMUsageTotal
	aUsageTotal
	aSessionID
	aUserID
	aTags
	aGotoNode
	aFinishReasons
	aLLMFinishReason
	aAIOperationID
	aStepName
	aToolCallID
	numAttrKeys
)

// Every key must fit the per-span presence bit mask (compile-time check).
var _ [64 - numAttrKeys]struct{}

var attrKeys = map[string]attrKey{
	"metadata":                aOIMetadata,
	"openinference.span.kind": aOIKind,
	"input.value":             aInputValue,
	"input.mime_type":         aInputMime,
	"output.value":            aOutputValue,
	"output.mime_type":        aOutputMime,
	"traceloop.span.kind":     aTLKind,
	"traceloop.entity.name":   aTLEntityName,
	"traceloop.entity.input":  aTLEntityInput,
	"traceloop.entity.output": aTLEntityOutput,
	"traceloop.workflow.name": aTLWorkflowName,
	"traceloop.association.properties.langgraph_node": aTLNode,
	"traceloop.association.properties.langgraph_step": aTLStep,
	"langsmith.span.kind":                             aLSKind,
	"langsmith.metadata.langgraph_node":               aLSNode,
	"langsmith.metadata.langgraph_step":               aLSStep,
	"langsmith.metadata.langgraph_triggers":           aLSTriggers,
	"langsmith.metadata.langgraph_path":               aLSPath,
	"langsmith.metadata.langgraph_checkpoint_ns":      aLSCheckpointNS,
	"langsmith.trace.name":                            aLSTraceName,
	"langsmith.metadata.thread_id":                    aLSThreadID,
	"langsmith.span.tags":                             aLSTags,
	"gen_ai.operation.name":                           aOp,
	"gen_ai.agent.name":                               aAgentName,
	"gen_ai.tool.name":                                aGenAIToolName,
	"gen_ai.workflow.name":                            aWorkflowName,
	"gen_ai.workflow.nodes":                           aWorkflowNodes,
	"gen_ai.workflow.edges":                           aWorkflowEdges,
	"gen_ai.conversation.id":                          aConversationID,
	"gen_ai.task.input":                               aTaskInput,
	"gen_ai.task.output":                              aTaskOutput,
	"gen_ai.prompt":                                   aPrompt,
	"gen_ai.completion":                               aCompletion,
	"gen_ai.input.messages":                           aInputMessages,
	"gen_ai.output.messages":                          aOutputMessages,
	"gen_ai.tool.call.arguments":                      aToolArgs,
	"gen_ai.tool.call.result":                         aToolResult,
	"llm.model_name":                                  aLLMModel,
	"gen_ai.request.model":                            aReqModel,
	"gen_ai.response.model":                           aRespModel,
	"llm.provider":                                    aLLMProvider,
	"gen_ai.provider.name":                            aProviderName,
	"gen_ai.system":                                   aGenAISystem,
	"llm.system":                                      aLLMSystem,
	"tool.name":                                       aToolName,
	"tool.parameters":                                 aToolParams,
	"llm.token_count.prompt":                          aTokPrompt,
	"llm.token_count.completion":                      aTokCompletion,
	"llm.token_count.total":                           aTokTotal,
	"gen_ai.usage.input_tokens":                       aUsageIn,
	"gen_ai.usage.output_tokens":                      aUsageOut,
	"gen_ai.usage.prompt_tokens":                      aUsagePrompt,
	"gen_ai.usage.completion_tokens":                  aUsageCompletion,
	"llm.usage.total_tokens":                          aLLMUsageTotal,
	"gen_ai.usage.total_tokens":                       aUsageTotal,
	"session.id":                                      aSessionID,
	"user.id":                                         aUserID,
	"tag.tags":                                        aTags,
	"langgraph.command.goto_node":                     aGotoNode,
	"gen_ai.response.finish_reasons":                  aFinishReasons,
	"llm.finish_reason":                               aLLMFinishReason,
	vercelOperationID:                                 aAIOperationID,
	AttrStepName:                                      aStepName,
	"gen_ai.tool.call.id":                             aToolCallID,
}

// conventionPrefixes name the AI convention of the attribute keys the
// mapping reads, by prefix. Keys without one (metadata, input.value,
// tool.name, session.id, user.id, tag.tags) are not evidence of an AI
// span: HTTP handlers and custom instrumentation write such keys too.
// argus.step.name is: the user (or step_attributes) declared a step.
var conventionPrefixes = [...]struct{ prefix, conv string }{
	{"openinference.", ConvOpenInference},
	{"llm.", ConvOpenInference},
	{"traceloop.", ConvOpenLLMetry},
	{"langgraph.", ConvOpenLLMetry},
	{"langsmith.", ConvLangSmith},
	{"gen_ai.", ConvGenAI},
	{"ai.", ConvVercelAI},
	{"argus.step.", ConvCustom},
}

// keyConvention is the convention of each attribute key ("" for none) and
// aiKeyMask the keys that have one: a span carrying such a key is an AI
// span even without a kind attribute (an LLM call instrumented with
// gen_ai.request.model and token usage but no gen_ai.operation.name).
var keyConvention, aiKeyMask = func() (conv [numAttrKeys]string, mask uint64) {
	for key, k := range attrKeys {
		for _, p := range conventionPrefixes {
			if strings.HasPrefix(key, p.prefix) {
				conv[k] = p.conv
				mask |= 1 << k
				break
			}
		}
	}
	return conv, mask
}()

// maskConvention is the convention of the lowest-numbered AI key in mask;
// "" when mask has none.
func maskConvention(mask uint64) string {
	if ai := mask & aiKeyMask; ai != 0 {
		return keyConvention[bits.TrailingZeros64(ai)]
	}
	return ""
}

// marker is the LangGraph node identity a span carries (inherited by every
// span a node runs, so it identifies a node *execution*, not a step span).
type marker struct {
	node     string
	ns       string // langgraph_checkpoint_ns, "" when absent
	step     int    // langgraph_step, -1 when absent
	conv     string
	triggers any // langgraph_triggers, decoded
	path     any // langgraph_path, decoded
}

// sameExec reports whether two markers denote the same node execution. The
// checkpoint namespace is exact when both carry it; otherwise the superstep
// decides, and a missing superstep on either side means "same node".
func sameExec(a, b *marker) bool {
	if a.node != b.node {
		return false
	}
	if a.ns != "" && b.ns != "" {
		return a.ns == b.ns
	}
	return a.step < 0 || b.step < 0 || a.step == b.step
}

// oiMetadata is the subset of OpenInference's `metadata` JSON the mapping
// uses. Fields are untyped so one odd value never discards the others.
type oiMetadata struct {
	Node         any `json:"langgraph_node"`
	Step         any `json:"langgraph_step"`
	Triggers     any `json:"langgraph_triggers"`
	Path         any `json:"langgraph_path"`
	CheckpointNS any `json:"langgraph_checkpoint_ns"`
	ThreadID     any `json:"thread_id"`
}

// parseOIMetadata decodes the OpenInference metadata attribute, skipping the
// parse entirely when the text cannot hold anything the mapping needs.
func parseOIMetadata(s string) (md oiMetadata, ok bool) {
	if !strings.Contains(s, "langgraph_node") && !strings.Contains(s, "thread_id") {
		return md, false
	}
	if err := json.Unmarshal([]byte(s), &md); err != nil {
		return oiMetadata{}, false
	}
	return md, true
}

// anyStep reads a superstep number from a decoded JSON value; -1 when absent.
func anyStep(v any) int {
	switch x := v.(type) {
	case float64:
		if x >= 0 && x < math.MaxInt32 && x == math.Trunc(x) {
			return int(x)
		}
	case string:
		if n, ok := atoiNonNeg(x); ok {
			return n
		}
	}
	return -1
}

// anyText reads a decoded JSON string or number as text.
func anyText(v any) string {
	switch x := v.(type) {
	case string:
		return clean(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

func atoiNonNeg(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > math.MaxInt32 {
		return 0, false
	}
	return n, true
}

// isBookkeepingNode: LangGraph's entry/exit pseudo-nodes are never steps.
func isBookkeepingNode(node string) bool {
	return node == "__start__" || node == "__end__"
}

// isInternalName recognises LangGraph's plumbing runnables (channel writes
// and reads, branch routers) and bookkeeping nodes by span name.
func isInternalName(name string) bool {
	return isBookkeepingNode(name) ||
		strings.HasPrefix(name, "ChannelWrite") ||
		strings.HasPrefix(name, "ChannelRead") ||
		strings.HasPrefix(name, "Branch<")
}

// GenAI operations, normalised from the convention kinds.
const (
	opInvokeAgent  = "invoke_agent"
	opCreateAgent  = "create_agent"
	opExecuteTask  = "execute_task"
	opExecuteTool  = "execute_tool"
	opWorkflow     = "invoke_workflow"
	opRetrieval    = "retrieval"
	opEmbeddings   = "embeddings"
	opChat         = "chat"
	opRerank       = "rerank"
	opOther        = "other"
	opGenerate     = "generate_content"
	opTextComplete = "text_completion"
	// Custom operations of the Vercel AI SDK and Mastra.
	opAgentStep       = "agent_step"
	opModelGeneration = "model_generation"
)

// genAIOp normalises gen_ai.operation.name; "workflow" is what
// OpenLLMetry JS writes on LangChain chain spans (traceloop.go).
func genAIOp(op string) string {
	op = strings.ToLower(op)
	if op == "workflow" {
		return opWorkflow
	}
	return op
}

// traceloopOp maps traceloop.span.kind to a GenAI operation.
func traceloopOp(kind string) string {
	switch strings.ToLower(kind) {
	case "workflow":
		return opWorkflow
	case "task":
		return opExecuteTask
	case "agent":
		return opInvokeAgent
	case "tool":
		return opExecuteTool
	}
	return ""
}

// openInferenceOp maps openinference.span.kind to a GenAI operation.
func openInferenceOp(kind string) string {
	switch strings.ToUpper(kind) {
	case "AGENT":
		return opInvokeAgent
	case "CHAIN":
		return opExecuteTask
	case "LLM":
		return opChat
	case "TOOL":
		return opExecuteTool
	case "RETRIEVER":
		return opRetrieval
	case "EMBEDDING":
		return opEmbeddings
	case "RERANKER":
		return opRerank
	case "":
		return ""
	}
	return opOther
}

// langSmithOp maps langsmith.span.kind to a GenAI operation.
func langSmithOp(kind string) string {
	switch strings.ToLower(kind) {
	case "chain":
		return opExecuteTask
	case "llm":
		return opChat
	case "tool":
		return opExecuteTool
	case "retriever":
		return opRetrieval
	case "embedding":
		return opEmbeddings
	case "":
		return ""
	}
	return opOther
}

// callKind maps a GenAI operation to Call.Kind.
func callKind(op string) string {
	switch op {
	case opChat, opGenerate, opTextComplete:
		return "llm"
	case opExecuteTool:
		return "tool"
	case opRetrieval:
		return "retriever"
	case opEmbeddings:
		return "embedding"
	case opRerank:
		return "reranker"
	case opInvokeAgent, opCreateAgent:
		return "agent"
	case opExecuteTask, opWorkflow:
		return "chain"
	}
	return "other"
}

// isWrapperOp: spans that only wrap the real work and are never steps. The
// Vercel AI SDK's agent_step ("step 1", "step 2", ...) and Mastra's
// agent_step and model_generation hold the model call and the tool calls of
// one turn, which are the steps: positions are no node names.
func isWrapperOp(op string) bool {
	return op == opWorkflow || op == opAgentStep || op == opModelGeneration
}

// isAgentOp: an agent span that, when it is the only top-level operation,
// stands for the whole run (an HTTP handler wrapping one agent invocation).
func isAgentOp(op string) bool { return op == opInvokeAgent }

// stripOpPrefix turns "execute_task plan" into "plan" for node names.
func stripOpPrefix(name string) string {
	for _, p := range [...]string{"execute_task ", "invoke_agent ", "execute_tool ", "invoke_workflow "} {
		if strings.HasPrefix(name, p) && len(name) > len(p) {
			return name[len(p):]
		}
	}
	return name
}

// The docs RAG graph (../scenarios/rag_graph.mjs) on LangGraph.js, traced by
// OpenInference's LangChain instrumentation and exported over OTLP/HTTP to
// the capture endpoint, one file per run.
import { NodeTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-node";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { LangChainInstrumentation } from "@arizeai/openinference-instrumentation-langchain";
import * as CallbackManagerModule from "@langchain/core/callbacks/manager";
import * as langgraph from "@langchain/langgraph";
import * as retrievers from "@langchain/core/retrievers";
import * as documents from "@langchain/core/documents";
import * as tools from "@langchain/core/tools";
import * as chatModels from "@langchain/core/language_models/chat_models";
import * as messages from "@langchain/core/messages";
import { z } from "zod";
import { ragRuns } from "../scenarios/rag.mjs";
import { runRag } from "../scenarios/rag_graph.mjs";
import { captureURL, recordRuns } from "../scenarios/capture.mjs";

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ "service.name": "docs-rag", "deployment.environment": "recording" }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${captureURL()}/v1/traces` }))],
});
provider.register();
new LangChainInstrumentation({ tracerProvider: provider }).manuallyInstrument(CallbackManagerModule);

const lc = { langgraph, core: { retrievers, documents, tools, chatModels, messages }, z };
await recordRuns(ragRuns(), (run) => runRag(lc, run), () => provider.forceFlush());
await provider.shutdown();

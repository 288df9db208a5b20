// The docs RAG graph (../scenarios/rag_graph.mjs) on LangGraph.js, traced by
// LangSmith in its OpenTelemetry mode: LangChain's own LangSmith tracer hands
// its runs to langsmith's OTel translator, whose span processor and OTLP
// exporter (langsmith/experimental/otel) send them to the capture endpoint.
// No API key; the record script points LANGSMITH_ENDPOINT at a dead local
// port, and this agent refuses any fetch that is not to the capture endpoint,
// so nothing can reach LangSmith's own servers.
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { initializeOTEL } from "langsmith/experimental/otel/setup";
import { LangSmithOTLPSpanProcessor } from "langsmith/experimental/otel/processor";
import { LangSmithOTLPTraceExporter } from "langsmith/experimental/otel/exporter";
import { traceable } from "langsmith/traceable";
import { RunTree } from "langsmith/run_trees";
import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";
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

for (const v of ["LANGSMITH_TRACING", "LANGSMITH_TRACING_MODE"]) {
  if (!process.env[v]) throw new Error(`${v} is not set (run through ./record)`);
}
if (process.env.LANGSMITH_API_KEY || process.env.LANGCHAIN_API_KEY) throw new Error("unset the LangSmith API key: the recording is OTel-only");

const capture = captureURL();
const fetchOrig = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = String(input instanceof Request ? input.url : input);
  if (!url.startsWith(capture)) return Promise.reject(new Error(`recording is offline: refused fetch of ${url}`));
  return fetchOrig(input, init);
};

// LangSmith's documented "custom tracer provider" setup: the app's provider
// (with its service name) carries LangSmith's span processor and exporter.
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ "service.name": "docs-rag", "deployment.environment": "recording" }),
  spanProcessors: [new LangSmithOTLPSpanProcessor(new LangSmithOTLPTraceExporter({ url: `${capture}/v1/traces` }))],
});
provider.register();
initializeOTEL({ globalTracerProvider: provider, skipGlobalContextManagerSetup: true });

const lc = { langgraph, core: { retrievers, documents, tools, chatModels, messages }, z };
// LangChain's callbacks and LangSmith's run batches are background work:
// wait for LangChain's client (awaitAllCallbacks does) and traceable's
// shared one, then export the spans they ended.
const flush = async () => {
  await awaitAllCallbacks();
  await RunTree.getSharedClient().awaitPendingTraceBatches();
  await provider.forceFlush();
};
// LangSmith JS's OTel mode only exports runs that have an OTel span, and
// only traceable() opens one: LangChain's callback runs (the graph, its
// nodes, the retriever, tool and chat model) have none and, alone, send
// nothing. So, as with Traceloop, the app wraps the graph, its nodes and
// its tool's function (each call of it its own span).
const hooks = {
  around: (run, invoke) => traceable(invoke, { name: "docs_rag", run_type: "chain", metadata: { thread_id: `thread-${run.name}` } })(),
  wrapNode: (name, fn) => traceable(fn, { name, run_type: "chain" }),
  wrapTool: (name, fn) => traceable(fn, { name, run_type: "tool" }),
};
await recordRuns(ragRuns(), (run) => runRag(lc, run, hooks), flush);
await provider.shutdown();

// The docs RAG graph (../scenarios/rag_graph.mjs) on LangGraph.js, traced by
// OpenLLMetry (@traceloop/node-server-sdk with its LangChain
// instrumentation, the graph a workflow and its nodes tasks) and exported
// over OTLP/HTTP to the capture endpoint.
import * as traceloop from "@traceloop/node-server-sdk";
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

traceloop.initialize({
  appName: "docs-rag",
  baseUrl: captureURL(),
  apiKey: "recording",
  disableBatch: true,
  traceloopSyncEnabled: false,
  silenceInitializationMessage: true,
  instrumentModules: { langchain: true },
});

const lc = { langgraph, core: { retrievers, documents, tools, chatModels, messages }, z };
// As Traceloop's docs have it: the invocation is a workflow, each node a task.
const hooks = {
  around: (run, invoke) => traceloop.withWorkflow({ name: "docs_rag", associationProperties: { thread_id: `thread-${run.name}` } }, invoke),
  wrapNode: (name, fn) => (state) => traceloop.withTask({ name }, fn, state),
};
await recordRuns(ragRuns(), (run) => runRag(lc, run, hooks), () => traceloop.forceFlush());

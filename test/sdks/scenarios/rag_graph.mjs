// The docs RAG graph on LangGraph.js, shared by every LangGraph recording.
// The caller passes its own LangChain modules (`lc`), so the graph runs on
// the instance its instrumentation patched:
//   lc = { langgraph, core: { retrievers, documents, tools, chatModels, messages, outputs }, z }
// retrieve -> search_api -> rerank -> synthesize -> validate; validate
// returns {} and its conditional edge ends the run or sends it back to
// retrieve when the answer cites nothing.
import { sleep } from "./random.mjs";

export const GRAPH_NAME = "docs_rag";
export const MODEL = "mock-gpt-4o-mini";

const citeRe = /\[(kb|web)-\d+\]/g;

// hooks.wrapNode(name, fn) lets an SDK that traces by wrapping functions
// (Traceloop's withTask) wrap each node, hooks.wrapTool(name, fn) the web
// search tool's function; the defaults leave them as they are.
export function buildRagGraph(lc, run, hooks = {}) {
  const wrap = hooks.wrapNode ?? ((name, fn) => fn);
  const wrapTool = hooks.wrapTool ?? ((name, fn) => fn);
  const { StateGraph, Annotation, START, END } = lc.langgraph;
  const { BaseRetriever } = lc.core.retrievers;
  const { Document } = lc.core.documents;
  const { tool } = lc.core.tools;
  const { BaseChatModel } = lc.core.chatModels;
  const { AIMessage, SystemMessage, HumanMessage } = lc.core.messages;
  const z = lc.z;

  // the script of the pass the graph is in (validate may send it round again)
  let attempt = 0;
  const script = () => run.passes[Math.min(attempt, run.passes.length) - 1];

  class KnowledgeBaseRetriever extends BaseRetriever {
    lc_namespace = ["argus", "retrievers"];
    static lc_name() {
      return "KnowledgeBaseRetriever";
    }
    async _getRelevantDocuments(query) {
      const { documents, latency_ms } = script().retrieve;
      await sleep(latency_ms);
      return documents.map((d) => new Document({ pageContent: d.text, metadata: { id: d.id, title: d.title, score: d.score, query } }));
    }
  }

  let searchCall = 0;
  const webSearch = tool(
    wrapTool("web_search", async ({ query, top_k }) => {
      const call = script().search[Math.min(searchCall++, script().search.length - 1)];
      await sleep(call.latency_ms);
      if (call.throws) throw new Error(call.throws);
      const res = structuredClone(call.result);
      if (Array.isArray(res.results)) res.results = res.results.slice(0, top_k);
      return JSON.stringify({ query, ...res });
    }),
    {
      name: "web_search",
      description: "Searches the public web (community forum, status page, blog) for a query.",
      schema: z.object({ query: z.string(), top_k: z.number().int() }),
    },
  );

  class ScriptedChatModel extends BaseChatModel {
    static lc_name() {
      return "ScriptedChatModel";
    }
    _llmType() {
      return "scripted";
    }
    invocationParams() {
      return { model: MODEL, temperature: 0, max_tokens: 400 };
    }
    async _generate() {
      const s = script().synthesize;
      await sleep(s.latency_ms);
      const usage = { input_tokens: s.usage.input, output_tokens: s.usage.output, total_tokens: s.usage.input + s.usage.output };
      const message = new AIMessage({
        content: s.content,
        usage_metadata: usage,
        response_metadata: { model_name: MODEL, finish_reason: s.finish_reason },
      });
      return {
        generations: [{ text: s.content, message, generationInfo: { finish_reason: s.finish_reason } }],
        llmOutput: { tokenUsage: { promptTokens: usage.input_tokens, completionTokens: usage.output_tokens, totalTokens: usage.total_tokens } },
      };
    }
  }

  const retriever = new KnowledgeBaseRetriever();
  const model = new ScriptedChatModel({});

  const State = Annotation.Root({
    question: Annotation(),
    attempt: Annotation(),
    documents: Annotation(),
    search_results: Annotation(),
    answer: Annotation(),
    citations: Annotation(),
    followup: Annotation(),
  });

  async function retrieve(state) {
    attempt = (state.attempt ?? 0) + 1;
    searchCall = 0;
    const docs = await retriever.invoke(state.question);
    return {
      attempt,
      documents: docs.map((d) => ({ id: d.metadata.id, title: d.metadata.title, text: d.pageContent, score: d.metadata.score })),
    };
  }

  async function searchApi(state) {
    const ask = () => webSearch.invoke({ query: state.question, top_k: 3 }).then(JSON.parse);
    let res = await ask();
    // a 429 is waited out and retried; a warming index is retried (without
    // backoff, which is the fault the retry_storm run shows)
    for (let tries = 1; tries < 5 && (res.status === 429 || res.note === "index warming up"); tries++) {
      if (res.status === 429) await sleep(res.retry_after_ms ?? 50);
      res = await ask();
    }
    return { search_results: Array.isArray(res.results) ? res.results : [] };
  }

  async function rerank(state) {
    const keep = script().rerank.keep;
    const web = state.search_results.map((h) => ({ id: h.id, title: h.title, text: h.snippet, score: h.score * 0.9 }));
    const ranked = [...state.documents, ...web].sort((a, b) => b.score - a.score).slice(0, keep + 1);
    return { documents: ranked };
  }

  async function synthesize(state) {
    if (!state.documents?.length) {
      throw new Error("synthesize: missing required field 'documents': nothing was retrieved to ground the answer");
    }
    const context = state.documents.map((d) => `[${d.id}] ${d.title}: ${d.text}`).join("\n");
    const res = await model.invoke([
      new SystemMessage("Answer from the documents only and cite their ids in brackets."),
      new HumanMessage(`Question: ${state.question}\n\nDocuments:\n${context}`),
    ]);
    const answer = String(res.content);
    return { answer, citations: [...new Set(answer.match(citeRe) ?? [])], followup: null };
  }

  // validate is a router: it writes nothing and picks the next edge
  const validate = async () => ({});
  const route = (state) => (state.citations.length > 0 || state.attempt >= 2 ? END : "retrieve");

  return new StateGraph(State)
    .addNode("retrieve", wrap("retrieve", retrieve))
    .addNode("search_api", wrap("search_api", searchApi))
    .addNode("rerank", wrap("rerank", rerank))
    .addNode("synthesize", wrap("synthesize", synthesize))
    .addNode("validate", wrap("validate", validate))
    .addEdge(START, "retrieve")
    .addEdge("retrieve", "search_api")
    .addEdge("search_api", "rerank")
    .addEdge("rerank", "synthesize")
    .addEdge("synthesize", "validate")
    .addConditionalEdges("validate", route, ["retrieve", END])
    .compile({ name: GRAPH_NAME });
}

// runRag invokes the graph for one scripted run; a run whose graph throws
// (the injected crash faults) is recorded as it failed, not retried.
// hooks.around(run, invoke) lets an SDK wrap the whole invocation.
export async function runRag(lc, run, hooks = {}) {
  const graph = buildRagGraph(lc, run, hooks);
  const invoke = () => graph.invoke({ question: run.question, attempt: 0 }, { metadata: { thread_id: `thread-${run.name}` } });
  try {
    await (hooks.around ? hooks.around(run, invoke) : invoke());
  } catch (err) {
    if (!run.name.startsWith("fault_")) throw err;
  }
}

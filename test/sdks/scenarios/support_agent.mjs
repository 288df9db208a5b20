// The customer-support agent on the `openai` client, shared by the JS
// recordings that trace the client (OpenInference, OpenLLMetry). The client
// talks to a mock fetch that answers the scripted turns of a run
// (support.mjs), a 429 included where the run asks for one; the tools
// return the run's scripted results. hooks.wrapAgent / hooks.wrapTool let
// each SDK trace the agent and its tools its own documented way.
import { AGENT, MODEL, SYSTEM } from "./support.mjs";
import { sleep } from "./random.mjs";

const TOOLS = [
  ["lookup_order", "Looks up an order by id: status, carrier, expected delivery.", { order_id: { type: "string" } }],
  ["get_refund_status", "Returns the current status of a refund.", { refund_id: { type: "string" } }],
  ["search_kb", "Searches the help center articles.", { query: { type: "string" } }],
  ["create_ticket", "Opens a support ticket for the team.", { order_id: { type: "string" }, subject: { type: "string" }, priority: { type: "string" } }],
  ["check_inventory", "Returns stock for a product SKU.", { sku: { type: "string" } }],
].map(([name, description, properties]) => ({
  type: "function",
  function: { name, description, parameters: { type: "object", properties, required: Object.keys(properties) } },
}));

// mockFetch answers the chat completions of one run, turn by turn.
function mockFetch(run) {
  let k = 0;
  let throttled = !run.model_429_once;
  return async () => {
    if (!throttled) {
      throttled = true;
      return new Response(JSON.stringify({ error: { message: "Rate limit reached for requests", type: "requests", code: "rate_limit_exceeded" } }), {
        status: 429,
        headers: { "content-type": "application/json", "retry-after-ms": "15" },
      });
    }
    const t = run.turns[k];
    await sleep(t.latency_ms);
    const toolCalls = t.tool_calls?.map((c, i) => ({
      id: `call_${k}_${i}`,
      type: "function",
      function: { name: c.name, arguments: JSON.stringify(c.arguments) },
    }));
    const body = {
      id: `chatcmpl-${run.name}-${k}`,
      object: "chat.completion",
      created: 1749900000 + k,
      model: MODEL,
      choices: [{
        index: 0,
        message: { role: "assistant", content: t.content ?? null, ...(toolCalls ? { tool_calls: toolCalls } : {}), refusal: null },
        finish_reason: toolCalls ? "tool_calls" : t.finish_reason,
        logprobs: null,
      }],
      usage: { prompt_tokens: t.usage.input, completion_tokens: t.usage.output, total_tokens: t.usage.input + t.usage.output },
    };
    k++;
    return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
  };
}

export async function runSupport(OpenAI, run, hooks) {
  const client = new OpenAI({ apiKey: "sk-recording", baseURL: "http://api.invalid/v1", fetch: mockFetch(run), maxRetries: 2 });
  const next = {};
  const tools = Object.fromEntries(TOOLS.map(({ function: { name } }) => [name, hooks.wrapTool(name, async (args) => {
    const i = (next[name] = (next[name] ?? -1) + 1);
    const res = run.tools[name][i];
    await sleep(10 + (i % 3) * 7);
    if (res.throws) throw new Error(res.throws);
    return res;
  })]));

  const callTool = async (name, args) => {
    try {
      let res = await tools[name](args);
      // a 429 from a tool is waited out and the call repeated
      for (let tries = 1; res?.status === 429 && tries < 3; tries++) {
        await sleep(res.retry_after_ms ?? 50);
        res = await tools[name](args);
      }
      return JSON.stringify(res);
    } catch (err) {
      return JSON.stringify({ error: String(err.message) });
    }
  };

  const agent = hooks.wrapAgent(AGENT, async (question) => {
    const messages = [{ role: "system", content: SYSTEM }, { role: "user", content: question }];
    for (;;) {
      const completion = await client.chat.completions.create({ model: MODEL, messages, tools: TOOLS, temperature: 0 });
      const msg = completion.choices[0].message;
      messages.push(msg);
      if (!msg.tool_calls?.length) return msg.content;
      for (const tc of msg.tool_calls) {
        messages.push({ role: "tool", tool_call_id: tc.id, content: await callTool(tc.function.name, JSON.parse(tc.function.arguments)) });
      }
    }
  });
  return agent(run.user);
}

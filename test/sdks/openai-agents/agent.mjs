// The support agent on the OpenAI Agents SDK JS (Agent, tool(), run()), its
// model the SDK's own OpenAIChatCompletionsModel over an OpenAI client whose
// fetch answers from the scripted turns (no network). The SDK has no
// OpenTelemetry exporter of its own; its traces reach OTel through
// OpenInference's TracingProcessor (@arizeai/openinference-instrumentation-
// openai-agents), exported over OTLP/HTTP to the capture endpoint.
import * as agents from '@openai/agents';
import { OpenAIAgentsInstrumentation } from '@arizeai/openinference-instrumentation-openai-agents';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import OpenAI from 'openai';
import { z } from 'zod';

import { AGENT, TOOLS, backend } from '../northwind-support/backend.mjs';
import { Script, selectedScenarios } from '../northwind-support/script.mjs';
import { zodParams } from '../northwind-support/zod-params.mjs';
import { captureURL, recordRuns } from '../scenarios/capture.mjs';

const capture = captureURL();

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const processor = new BatchSpanProcessor(new OTLPTraceExporter({ url: `${capture}/v1/traces` }));
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'support-service', 'deployment.environment.name': 'recording' }),
  spanProcessors: [processor],
});
new OpenAIAgentsInstrumentation({ tracerProvider: provider }).manuallyInstrument(agents);

// scriptedFetch answers the Chat Completions API from the scenario's
// turns; the first call of a modelRateLimitOnce scenario gets a 429 that
// the OpenAI client retries.
function scriptedFetch(sc) {
  const script = new Script(sc);
  let n = 0;
  return async (url, init) => {
    if (script.shouldRateLimit()) {
      return new Response(JSON.stringify({ error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } }), {
        status: 429,
        headers: { 'content-type': 'application/json', 'retry-after-ms': '300' },
      });
    }
    const r = await script.next(init.body);
    n++;
    const message = r.calls
      ? { role: 'assistant', content: null, tool_calls: r.calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.args) } })) }
      : { role: 'assistant', content: r.text };
    const body = {
      id: `chatcmpl-${sc.name}-${n}`,
      object: 'chat.completion',
      created: 1778050000 + n,
      model: AGENT.model,
      choices: [{ index: 0, message, finish_reason: r.calls ? 'tool_calls' : r.finish }],
      usage: { prompt_tokens: r.usage.input, completion_tokens: r.usage.output, total_tokens: r.usage.input + r.usage.output },
    };
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  };
}

async function runScenario(sc) {
  const be = backend(sc);
  const client = new OpenAI({ apiKey: 'sk-recording', baseURL: 'https://models.example.invalid/v1', fetch: scriptedFetch(sc), maxRetries: 2 });
  const agent = new agents.Agent({
    name: AGENT.name,
    instructions: AGENT.instructions,
    model: new agents.OpenAIChatCompletionsModel(client, AGENT.model),
    tools: Object.entries(TOOLS).map(([name, t]) =>
      agents.tool({
        name,
        description: t.description,
        parameters: zodParams(z, t.params),
        execute: (args) => be.call(name, args),
      }),
    ),
  });
  const res = await agents.run(agent, sc.prompt, { maxTurns: 10 });
  return String(res.finalOutput ?? '');
}

await recordRuns(selectedScenarios(), runScenario, async () => {
  await agents.getGlobalTraceProvider().forceFlush();
  await processor.forceFlush();
});
await processor.shutdown();

// The support agent on the Vercel AI SDK v7 (ToolLoopAgent, tools, the SDK's
// MockLanguageModelV4 playing the scripted turns), traced by @ai-sdk/otel
// and exported over OTLP/HTTP to the capture endpoint, one named run per
// scenario.
//   node agent.mjs --integration otel     OpenTelemetry (GenAI conventions, v7's default)
//   node agent.mjs --integration legacy   LegacyOpenTelemetry (ai.* spans)
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { LegacyOpenTelemetry, OpenTelemetry } from '@ai-sdk/otel';
import { APICallError } from '@ai-sdk/provider';
import { registerTelemetry, tool, ToolLoopAgent } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { z } from 'zod';

import { AGENT, TOOLS, backend } from '../northwind-support/backend.mjs';
import { scriptedDoGenerate } from '../northwind-support/language-model-v4.mjs';
import { selectedScenarios } from '../northwind-support/script.mjs';

const integration = process.argv[process.argv.indexOf('--integration') + 1];
if (!['otel', 'legacy'].includes(integration)) {
  console.error('usage: node agent.mjs --integration otel|legacy');
  process.exit(2);
}
const capture = process.env.ARGUS_CAPTURE_URL;
if (!capture) {
  console.error('ARGUS_CAPTURE_URL is not set (run through test/sdks/record.sh)');
  process.exit(2);
}

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const processor = new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${capture}/v1/traces` }) });
trace.setGlobalTracerProvider(
  new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'support-service', 'deployment.environment.name': 'recording' }),
    spanProcessors: [processor],
  }),
);
registerTelemetry(integration === 'otel' ? new OpenTelemetry() : new LegacyOpenTelemetry());

const zodTypes = { string: () => z.string(), number: () => z.number() };

async function runScenario(sc) {
  const be = backend(sc);
  const tools = Object.fromEntries(
    Object.entries(TOOLS).map(([name, t]) => [
      name,
      tool({
        description: t.description,
        inputSchema: z.object(Object.fromEntries(Object.entries(t.params).map(([k, ty]) => [k, zodTypes[ty]()]))),
        execute: (args) => be.call(name, args),
      }),
    ]),
  );
  const agent = new ToolLoopAgent({
    model: new MockLanguageModelV4({ provider: 'northwind-mock', modelId: AGENT.model, doGenerate: scriptedDoGenerate(sc, APICallError) }),
    instructions: AGENT.instructions,
    tools,
    telemetry: { functionId: AGENT.id },
  });
  const res = await agent.generate({ prompt: sc.prompt });
  return res.text;
}

for (const sc of selectedScenarios()) {
  const named = await fetch(`${capture}/run?name=${sc.name}`, { method: 'POST' });
  if (!named.ok) throw new Error(`capture refused run ${sc.name}: ${named.status} ${await named.text()}`);
  const text = await runScenario(sc);
  await processor.forceFlush();
  console.log(`${sc.name}: ${text.slice(0, 70)}`);
}
await processor.shutdown();

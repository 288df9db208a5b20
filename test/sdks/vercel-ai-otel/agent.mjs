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
import { zodParams } from '../northwind-support/zod-params.mjs';
import { captureURL, recordRuns } from '../scenarios/capture.mjs';

const integration = process.argv[process.argv.indexOf('--integration') + 1];
if (!['otel', 'legacy'].includes(integration)) {
  console.error('usage: node agent.mjs --integration otel|legacy');
  process.exit(2);
}
const capture = captureURL();

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const processor = new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${capture}/v1/traces` }) });
trace.setGlobalTracerProvider(
  new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'support-service', 'deployment.environment.name': 'recording' }),
    spanProcessors: [processor],
  }),
);
registerTelemetry(integration === 'otel' ? new OpenTelemetry() : new LegacyOpenTelemetry());

async function runScenario(sc) {
  const be = backend(sc);
  const tools = Object.fromEntries(
    Object.entries(TOOLS).map(([name, t]) => [
      name,
      tool({
        description: t.description,
        inputSchema: zodParams(z, t.params),
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

await recordRuns(selectedScenarios(), runScenario, () => processor.forceFlush());
await processor.shutdown();

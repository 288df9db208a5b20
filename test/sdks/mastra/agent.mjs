// The support agent on Mastra (Agent with createTool tools; the model is the
// AI SDK's MockLanguageModelV4 playing the scripted turns, which Mastra
// accepts like any AI SDK model), traced by Mastra's own observability
// (@mastra/observability) and exported by @mastra/otel-exporter over
// OTLP/HTTP to the capture endpoint, one named run per scenario.
import { APICallError } from '@ai-sdk/provider';
import { Agent } from '@mastra/core/agent';
import { Mastra } from '@mastra/core/mastra';
import { createTool } from '@mastra/core/tools';
import { Observability } from '@mastra/observability';
import { OtelExporter } from '@mastra/otel-exporter';
import { MockLanguageModelV4 } from 'ai/test';
import { z } from 'zod';

import { AGENT, TOOLS, backend } from '../northwind-support/backend.mjs';
import { scriptedDoGenerate } from '../northwind-support/language-model-v4.mjs';
import { selectedScenarios } from '../northwind-support/script.mjs';
import { zodParams } from '../northwind-support/zod-params.mjs';
import { captureURL, recordRuns } from '../scenarios/capture.mjs';

const capture = captureURL();

const exporter = new OtelExporter({
  provider: { custom: { endpoint: `${capture}/v1/traces`, protocol: 'http/protobuf' } },
  resourceAttributes: { 'deployment.environment.name': 'recording' },
  signals: { logs: false },
});
const observability = new Observability({ configs: { otel: { serviceName: 'support-service', exporters: [exporter] } } });

// One Mastra app serves every run, as a deployed one would; the tools and
// the model answer for the run in progress (runs are sequential).
let current = null; // { backend, doGenerate } of the run in progress
const tools = Object.fromEntries(
  Object.entries(TOOLS).map(([name, t]) => [
    name,
    createTool({
      id: name,
      description: t.description,
      inputSchema: zodParams(z, t.params),
      execute: (args) => current.backend.call(name, args),
    }),
  ]),
);
const agent = new Agent({
  id: AGENT.id,
  name: AGENT.name,
  instructions: AGENT.instructions,
  model: new MockLanguageModelV4({ provider: 'northwind-mock', modelId: AGENT.model, doGenerate: (options) => current.doGenerate(options) }),
  tools,
  maxRetries: 2, // Mastra's default is 0; the AI SDK's is 2
});
const mastra = new Mastra({ agents: { support: agent }, observability, logger: false });

async function runScenario(sc) {
  current = { backend: backend(sc), doGenerate: scriptedDoGenerate(sc, APICallError) };
  const res = await mastra.getAgent('support').generate(sc.prompt, { maxSteps: 10 });
  return res.text;
}

await recordRuns(selectedScenarios(), runScenario, () => exporter.flush());
await observability.shutdown();

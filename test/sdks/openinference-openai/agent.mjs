// The support agent (../scenarios/support_agent.mjs) on the openai client,
// traced by OpenInference: its OpenAI instrumentation for the model calls,
// openinference-core's traceAgent / traceTool for the agent and its tools.
// Exported over OTLP/HTTP to the capture endpoint, one file per run.
import { NodeTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-node";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { OpenAIInstrumentation } from "@arizeai/openinference-instrumentation-openai";
import { traceAgent, traceTool } from "@arizeai/openinference-core";
import * as openaiModule from "openai";
import { supportRuns } from "../scenarios/support.mjs";
import { runSupport } from "../scenarios/support_agent.mjs";
import { captureURL, recordRuns } from "../scenarios/capture.mjs";

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ "service.name": "support-agent", "deployment.environment": "recording" }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${captureURL()}/v1/traces` }))],
});
provider.register();
// ESM modules are not patched on import: instrument the module by hand
new OpenAIInstrumentation({ tracerProvider: provider }).manuallyInstrument(openaiModule);

const hooks = {
  wrapAgent: (name, fn) => traceAgent(fn, { name }),
  wrapTool: (name, fn) => traceTool(fn, { name }),
};
await recordRuns(supportRuns(), (run) => runSupport(openaiModule.OpenAI, run, hooks), () => provider.forceFlush());
await provider.shutdown();

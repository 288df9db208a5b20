// The support agent (../scenarios/support_agent.mjs) on the openai client,
// traced by OpenLLMetry (@traceloop/node-server-sdk): its OpenAI
// instrumentation for the model calls, withAgent / withTool for the agent
// and its tools, as Traceloop documents. Exported over OTLP/HTTP to the
// capture endpoint, one file per run.
import * as traceloop from "@traceloop/node-server-sdk";
import OpenAI from "openai";
import { supportRuns } from "../scenarios/support.mjs";
import { runSupport } from "../scenarios/support_agent.mjs";
import { captureURL, recordRuns } from "../scenarios/capture.mjs";

traceloop.initialize({
  appName: "support-agent",
  baseUrl: captureURL(),
  apiKey: "recording",
  disableBatch: true,
  traceloopSyncEnabled: false,
  silenceInitializationMessage: true,
  // ESM modules are not patched on import: hand the module over
  instrumentModules: { openAI: OpenAI },
});

const hooks = {
  wrapAgent: (name, fn) => (question) => traceloop.withAgent({ name }, fn, question),
  wrapTool: (name, fn) => (args) => traceloop.withTool({ name }, fn, args),
};
await recordRuns(supportRuns(), (run) => runSupport(OpenAI, run, hooks), () => traceloop.forceFlush());

// The scripted model as an AI SDK LanguageModelV4 doGenerate, for SDKs that
// take AI SDK models (the Vercel AI SDK's MockLanguageModelV4, Mastra).
// APICallError is the provider package's class, passed in so the SDK's
// retry recognises the 429.
import { Script } from './script.mjs';

const finishReasons = { stop: 'stop', length: 'length', tool_calls: 'tool-calls' };

export function scriptedDoGenerate(scenario, APICallError) {
  const script = new Script(scenario);
  return async (options) => {
    if (script.shouldRateLimit()) {
      throw new APICallError({
        message: 'Too Many Requests',
        url: 'https://models.example.invalid/v1/chat/completions',
        requestBodyValues: {},
        statusCode: 429,
        responseHeaders: { 'retry-after-ms': '300' },
        isRetryable: true,
      });
    }
    const r = await script.next(JSON.stringify([options.prompt, options.tools ?? []]));
    const usage = {
      inputTokens: { total: r.usage.input, noCache: r.usage.input, cacheRead: undefined, cacheWrite: undefined },
      outputTokens: { total: r.usage.output, text: r.usage.output, reasoning: undefined },
    };
    if (r.calls) {
      return {
        content: r.calls.map((c) => ({ type: 'tool-call', toolCallId: c.id, toolName: c.name, input: JSON.stringify(c.args) })),
        finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
        usage,
        warnings: [],
      };
    }
    return {
      content: [{ type: 'text', text: r.text }],
      finishReason: { unified: finishReasons[r.finish], raw: r.finish },
      usage,
      warnings: [],
    };
  };
}

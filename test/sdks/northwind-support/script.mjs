// The scripted model behind every SDK's mock: it plays a scenario's turns in
// order and reports token usage measured on what the SDK really sent it, so
// counts vary with the conversation the way a real model's do.
import { readFileSync } from 'node:fs';
import { rng, seedOf, sleep } from './backend.mjs';

export const SCENARIOS = JSON.parse(readFileSync(new URL('./scenarios.json', import.meta.url), 'utf8')).scenarios;

// Selects runs by name prefix (ARGUS_RUNS=healthy_order,fault_) when set.
export function selectedScenarios() {
  const only = (process.env.ARGUS_RUNS ?? '').split(',').filter(Boolean);
  return only.length ? SCENARIOS.filter((s) => only.some((p) => s.name.startsWith(p))) : SCENARIOS;
}

// About four characters a token, as for English text and JSON.
export const tokens = (text) => Math.max(1, Math.ceil(text.length / 4));

export class Script {
  constructor(scenario) {
    this.scenario = scenario;
    this.turn = 0;
    this.rand = rng(seedOf(scenario.name));
    this.rateLimited = false;
  }

  // shouldRateLimit is true once, for the first model call of a scenario
  // with modelRateLimitOnce: the provider answers 429 and the SDK retries.
  shouldRateLimit() {
    if (this.scenario.modelRateLimitOnce && !this.rateLimited) {
      this.rateLimited = true;
      return true;
    }
    return false;
  }

  // next plays the next turn after a seeded model latency. promptText is
  // what the SDK sent (messages, instructions and tool definitions as
  // text); the result is { calls: [{id, name, args}] } or { text, finish },
  // with usage { input, output }.
  async next(promptText) {
    const t = this.scenario.turns[this.turn];
    if (!t) throw new Error(`${this.scenario.name}: the model was called ${this.turn + 1} times, the script has ${this.scenario.turns.length} turns`);
    const n = this.turn++;
    await sleep(40 + Math.floor(this.rand() * 120));
    const factor = t.tokenFactor ?? 1;
    if (t.call) {
      const calls = t.call.map(([name, args], k) => ({ id: `call_${n + 1}_${k + 1}`, name, args }));
      return { calls, usage: { input: tokens(promptText) * factor, output: tokens(JSON.stringify(t.call)) * factor } };
    }
    return { text: t.say, finish: t.finish ?? 'stop', usage: { input: tokens(promptText) * factor, output: tokens(t.say) * factor } };
  }
}

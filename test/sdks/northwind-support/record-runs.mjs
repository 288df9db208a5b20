// What every SDK's agent.mjs does around its SDK: find the capture endpoint
// (test/sdks/record.sh sets it), name each run before running it, flush the
// SDK's spans after it, and build the tools' parameter schemas.
import { selectedScenarios } from './script.mjs';

export function captureURL() {
  const url = process.env.ARGUS_CAPTURE_URL;
  if (!url) {
    console.error('ARGUS_CAPTURE_URL is not set (run through test/sdks/record.sh)');
    process.exit(2);
  }
  return url;
}

// recordRuns runs every selected scenario as its own named run: run(sc)
// returns the answer, flush() exports what the SDK still holds.
export async function recordRuns(capture, run, flush) {
  for (const sc of selectedScenarios()) {
    const named = await fetch(`${capture}/run?name=${sc.name}`, { method: 'POST' });
    if (!named.ok) throw new Error(`capture refused run ${sc.name}: ${named.status} ${await named.text()}`);
    const text = await run(sc);
    await flush();
    console.log(`${sc.name}: ${String(text).slice(0, 70)}`);
  }
}

// zodParams turns a tool's { name: 'string' | 'number' } parameters into
// the SDK's zod object schema (z is the SDK's own zod).
export function zodParams(z, params) {
  return z.object(Object.fromEntries(Object.entries(params).map(([k, ty]) => [k, ty === 'number' ? z.number() : z.string()])));
}

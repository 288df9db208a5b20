// The recording loop every JS agent shares (test/sdks/gocapture is the Go
// one): find the capture endpoint, name each run there, run it, flush the
// SDK's spans so the run's file holds exactly that run.

// captureURL is the capture endpoint test/sdks/record.sh started.
export function captureURL() {
  const url = process.env.ARGUS_CAPTURE_URL;
  if (!url) {
    console.error('ARGUS_CAPTURE_URL is not set (run through test/sdks/record.sh)');
    process.exit(2);
  }
  return url;
}

// recordRuns records each of runs (objects with a name) as its own named
// run: runOne(run) runs it (and may return the answer, printed shortened),
// flush() exports what the SDK still holds.
export async function recordRuns(runs, runOne, flush) {
  const base = captureURL();
  for (const run of runs) {
    const res = await fetch(`${base}/run?name=${encodeURIComponent(run.name)}`, { method: 'POST' });
    if (!res.ok) throw new Error(`capture refused run ${run.name}: ${res.status} ${await res.text()}`);
    const answer = await runOne(run);
    await flush();
    if (answer !== undefined) console.log(`${run.name}: ${String(answer).slice(0, 70)}`);
  }
  console.log(`recorded ${runs.length} runs`);
}

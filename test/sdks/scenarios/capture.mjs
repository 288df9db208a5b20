// The recording loop every JS agent shares: name each run at the capture
// endpoint, run it, flush the SDK's spans so the file holds exactly that run.
export async function recordRuns(runs, runOne, flush) {
  const base = process.env.ARGUS_CAPTURE_URL;
  if (!base) throw new Error("ARGUS_CAPTURE_URL is not set: run this through test/sdks/record.sh");
  for (const run of runs) {
    const res = await fetch(`${base}/run?name=${run.name}`, { method: "POST" });
    if (!res.ok) throw new Error(`capture /run ${run.name}: ${res.status} ${await res.text()}`);
    await runOne(run);
    await flush();
  }
  console.log(`recorded ${runs.length} runs`);
}

#!/usr/bin/env -S deno run -A
/**
 * `deno task bench demo`: `deno task demo` as a user runs it, default 5,000 postings, timed
 * from process start to exit (target <= 20 s), with the child's peak resident memory.
 * `BENCH_DEMO_POSTINGS` changes the count; a second figure replays the whole dataset
 * (`--postings all --mode sequential`).
 * @module
 */
import { report, watchRss } from "./_measure.ts";
import { start } from "./_process.ts";

const postings = Deno.env.get("BENCH_DEMO_POSTINGS") ?? "5000";
const dir = await Deno.makeTempDir({ prefix: "pinpipe-demo-bench-" });
const demo = new URL("../tasks/demo.ts", import.meta.url).pathname;

async function once(label: string, args: string[], target?: number): Promise<void> {
  const t0 = performance.now();
  const child = start(Deno.execPath(), ["run", "-A", demo, "--dir", dir, "--json", ...args]);
  const rss = watchRss(child.pid, 50);
  const out = await child.ended;
  const sec = (performance.now() - t0) / 1000;
  const peak = rss.stop();
  if (out.code !== 0) throw new Error(`demo ${args.join(" ")} exited ${out.code}`);
  const r = JSON.parse(child.stdout());
  console.log(`demo ${label}: ${r.postings} postings, ${r.lakeRecords} records landed`);
  report(
    `${label}: wall time, process start to exit`,
    sec,
    "s",
    target ? { max: target } : undefined,
  );
  for (const [stage, s] of Object.entries(r.timings as Record<string, number>)) {
    report(`${label}: stage ${stage}`, s, "s");
  }
  report(`${label}: peak RSS`, peak, "MiB");
}

try {
  await once(
    `--postings ${postings}`,
    ["--postings", postings],
    postings === "5000" ? 20 : undefined,
  );
  await once("--postings all --mode sequential", ["--postings", "all", "--mode", "sequential"]);
} finally {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

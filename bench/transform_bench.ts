#!/usr/bin/env -S deno run -A
/**
 * `deno task bench transform`: the transform (cleaning, Parquet, the eight questions, the
 * report) over two lakes of the synthetic dataset, run as `tasks/transform.ts` in a child
 * process whose wall time and peak resident memory are measured:
 *
 * - 1,000,000 postings (3,000,000 records), flush size 1000 (3,000 objects):
 *   target <= 30 s and <= 2 GB peak RSS;
 * - 10,000 postings written with flush size 1 (30,000 objects): target <= 10 s.
 *
 * The lakes are generated once into `.pinpipe/bench/` (git-ignored) and reused; delete the
 * folder to regenerate. `--small` runs the second lake only.
 * @module
 */
import { join, resolve } from "node:path";
import { createDataset } from "../lib/dataset.ts";
import { FileLake } from "../lib/lake.ts";
import { fmtInt, fmtSec } from "../lib/progress.ts";
import { writeLake } from "../lib/write_lake.ts";
import { mibToMB, report, timed, watchRss } from "./_measure.ts";

const ROOT = resolve(new URL("..", import.meta.url).pathname);
const CACHE = join(ROOT, ".pinpipe", "bench");

interface Case {
  name: string;
  postings: number;
  flushSize: number;
  maxSec: number;
  maxMB?: number;
}

const CASES: Case[] = [
  { name: "1m-flush1000", postings: 1_000_000, flushSize: 1000, maxSec: 30, maxMB: 2000 },
  { name: "10k-flush1", postings: 10_000, flushSize: 1, maxSec: 10 },
];

/** The cached lake for `c`, written on first use (a marker file says it is complete). */
async function lakeFor(c: Case): Promise<string> {
  const dir = join(CACHE, `lake-${c.name}`);
  const marker = join(dir, ".complete");
  try {
    await Deno.stat(marker);
    return dir;
  } catch {
    // not there yet
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  console.log(
    `  generating ${fmtInt(c.postings)} postings, flush size ${c.flushSize} into ${dir} (once)`,
  );
  const { result, sec } = await timed(() =>
    writeLake(new FileLake(dir), createDataset({ rows: c.postings }).postings(), {
      flushSize: c.flushSize,
      batchObjects: 1000,
    })
  );
  console.log(
    `  wrote ${fmtInt(result.objects)} objects, ${fmtInt(result.bytes)} bytes in ${fmtSec(sec)}`,
  );
  await Deno.writeTextFile(marker, new Date().toISOString());
  return dir;
}

async function measure(c: Case): Promise<void> {
  const lake = await lakeFor(c);
  const out = join(CACHE, `out-${c.name}`);
  console.log(`transform over ${fmtInt(c.postings * 3)} records, flush size ${c.flushSize}:`);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      join(ROOT, "tasks", "transform.ts"),
      "--lake",
      lake,
      "--out",
      out,
      "--json",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const rss = watchRss(child.pid, 50);
  const t0 = performance.now();
  const done = await child.output();
  const sec = (performance.now() - t0) / 1000;
  const peak = rss.stop();
  if (done.code !== 0) {
    throw new Error(
      `transform failed with exit code ${done.code}: ${new TextDecoder().decode(done.stderr)}`,
    );
  }
  const summary = JSON.parse(new TextDecoder().decode(done.stdout));
  if (summary.records !== c.postings * 3) {
    throw new Error(`transform read ${summary.records} records, expected ${c.postings * 3}`);
  }
  report("wall time (process start to exit)", sec, "s", { max: c.maxSec });
  report(
    "peak RSS of the transform process",
    mibToMB(peak),
    "MB",
    c.maxMB ? { max: c.maxMB } : undefined,
  );
  report("records per second", summary.records / sec, "records/s");
  for (const step of ["list", "download", "clean", "questions", "write"]) {
    report(`  of which ${step}`, summary.timings[step], "s");
  }
}

if (import.meta.main) {
  await Deno.mkdir(CACHE, { recursive: true });
  const cases = Deno.args.includes("--small") ? CASES.slice(1) : CASES;
  for (const c of cases) await measure(c);
}

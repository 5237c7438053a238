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
 * Then, in the same run, the Spark notebook (notebooks/transform.py on PySpark 3.5,
 * local[2], through tests/spark_notebook.py) over the same 1,000,000-posting lake, timed
 * beside the DuckDB transform: both wall times (Spark's with and without starting its JVM)
 * and the ratio, and whether the two engines' answers agree. It needs the engine venv
 * (tests/setup.ts); without it that part says so and is skipped. PINPIPE_SPARK_MEMORY sets
 * Spark's driver memory (default 4g).
 *
 * The lakes are generated once into `.pinpipe/bench/` (git-ignored) and reused; delete the
 * folder to regenerate. `--small` runs the second lake only; `--no-spark` leaves Spark out.
 * @module
 */
import { join, resolve } from "node:path";
import { createDataset } from "../lib/source/dataset.ts";
import { FileLake } from "../lib/lake/lake.ts";
import { fmtInt, fmtSec } from "../lib/shell/progress.ts";
import { writeLake } from "./_write_lake.ts";
import { venvBin } from "./_engines.ts";
import { start } from "./_process.ts";
import { mibToMB, report, rssMiB, timed, watchRss } from "./_measure.ts";

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

/** What one DuckDB transform run measured. */
interface Measured {
  sec: number;
  answers: { id: string; rows: unknown[] }[];
}

async function measure(c: Case): Promise<Measured> {
  const lake = await lakeFor(c);
  const out = join(CACHE, `out-${c.name}`);
  console.log(`transform over ${fmtInt(c.postings * 3)} records, flush size ${c.flushSize}:`);
  const child = start(Deno.execPath(), [
    "run",
    "-A",
    join(ROOT, "tasks", "transform.ts"),
    "--lake",
    lake,
    "--out",
    out,
    "--json",
  ]);
  const rss = watchRss(child.pid, 50);
  const t0 = performance.now();
  const done = await child.ended;
  const sec = (performance.now() - t0) / 1000;
  const peak = rss.stop();
  if (done.code !== 0) {
    throw new Error(`transform failed with exit code ${done.code}: ${child.stderr()}`);
  }
  const summary = JSON.parse(child.stdout());
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
  return { sec, answers: summary.answers };
}

/** The pids of `pid` and all its descendants (Linux /proc). */
function processTree(pid: number): number[] {
  const out = [pid];
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      const kids = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/children`).trim();
      for (const k of kids ? kids.split(/\s+/) : []) out.push(...processTree(Number(k)));
    }
  } catch {
    // gone meanwhile
  }
  return out;
}

/** The Spark notebook over the same lake as `c`, beside the DuckDB figures of `duck`. */
async function measureSpark(c: Case, duck: Measured): Promise<void> {
  const bin = await venvBin();
  console.log(`the Spark notebook over the same lake (PySpark 3.5, local[2]):`);
  if (!bin) {
    console.log("  skipped: the engine venv is not provisioned (deno task setup)");
    return;
  }
  const lake = await lakeFor(c);
  const out = join(CACHE, `out-spark-${c.name}`);
  const jobs = join(CACHE, "spark-jobs.json");
  await Deno.writeTextFile(jobs, JSON.stringify([{ lake, out }]));
  const child = start(join(bin, "python"), [join(ROOT, "tests", "spark_notebook.py"), jobs], {
    env: { PINPIPE_SPARK_MEMORY: Deno.env.get("PINPIPE_SPARK_MEMORY") ?? "4g" },
  });
  let peak = 0;
  const sampler = setInterval(() => {
    const total = processTree(child.pid).reduce((n, p) => n + rssMiB(p).rss, 0);
    peak = Math.max(peak, total);
  }, 200);
  const t0 = performance.now();
  const done = await child.ended;
  const sec = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const lines = child.stdout().trim().split("\n");
  const result = JSON.parse(lines.findLast((l) => l.startsWith("{")) ?? "{}");
  if (done.code !== 0 || !result.ok) {
    throw new Error(
      `the Spark notebook failed (exit code ${done.code}): ${result.error ?? ""}\n${
        child.stderr().slice(-3000)
      }`,
    );
  }
  const summaryDir = join(out, "summary");
  const part = [...Deno.readDirSync(summaryDir)].find((e) => e.name.startsWith("part-"))!;
  const summary = JSON.parse(await Deno.readTextFile(join(summaryDir, part.name)));
  if (summary.records !== c.postings * 3) {
    throw new Error(`the notebook read ${summary.records} records, expected ${c.postings * 3}`);
  }
  const same = duck.answers.every((a) =>
    JSON.stringify(
      summary.answers[a.id].map((r: Record<string, unknown>) =>
        Object.fromEntries(Object.keys(a.rows[0] ?? {}).map((k) => [k, r[k]]))
      ),
    ) === JSON.stringify(a.rows)
  );
  report("wall time, process start to exit (JVM start included)", sec, "s");
  report("  of which the notebook itself", result.sec, "s");
  report("peak RSS of the Python and JVM processes", mibToMB(peak), "MB");
  report("records per second", summary.records / sec, "records/s");
  console.log(
    `DuckDB against Spark on ${fmtInt(c.postings)} postings: ${fmtSec(duck.sec)} against ${
      fmtSec(sec)
    } (${fmtSec(result.sec)} without the JVM start): Spark takes ${
      (sec / duck.sec).toFixed(1)
    }x as long (${(result.sec / duck.sec).toFixed(1)}x); the nine answers ${
      same ? "agree" : "DIFFER"
    }`,
  );
  if (!same) throw new Error("DuckDB and Spark disagree on the answers");
}

if (import.meta.main) {
  await Deno.mkdir(CACHE, { recursive: true });
  const cases = Deno.args.includes("--small") ? CASES.slice(1) : CASES;
  const measured = new Map<Case, Measured>();
  for (const c of cases) measured.set(c, await measure(c));
  if (!Deno.args.includes("--no-spark") && measured.has(CASES[0])) {
    await measureSpark(CASES[0], measured.get(CASES[0])!);
  }
}

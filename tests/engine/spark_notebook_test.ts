/**
 * notebooks/transform.py on real Spark (PySpark 3.5, local[2], from the engine venv) over the
 * lakes the DuckDB transform reads: the demo's lake, a `--postings all --mode sequential`
 * lake, a flush-size-1 lake (all three made by the demo itself: broker, REST proxy, sink),
 * the hand-made dirty lake (tests/testdata/dirty_lake, plus a line over 16 MiB), a lake with
 * no geo topic read through a session that analyses lazily as Spark Connect does, a lake
 * where every line is malformed, one with nothing, and a mistyped lake URL. The notebook
 * file itself runs, once per lake, in one SparkSession (tests/spark_notebook.py: the
 * stand-ins are Databricks' widget API and table view); its cleaned tables, nine answers,
 * counts and quarantine must equal DuckDB's cell for cell. Then the same file runs under
 * spark-submit.
 */
import { ALL_POSTINGS } from "../../lib/ingest/emulate_job.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULT_ROWS, DEFAULT_SEED } from "../../lib/source/dataset.ts";
import { runDemo } from "../../lib/demo/demo.ts";
import { silentSink } from "../../lib/shell/progress.ts";
import { transform, type TransformResult } from "../../lib/analytics/transform.ts";
import { canonical, readCleanTables, TABLE_NAMES } from "../_clean_tables.ts";
import { venvBin } from "../_engines.ts";
import { envTest, ROOT, run } from "../_fixtures.ts";
import { answersFromClean, readLakeDir, referenceClean } from "../_reference.ts";
import { copyDirtyLake } from "../_dirty_lake.ts";

const RUNNER = join(ROOT, "tests", "spark_notebook.py");
const NOTEBOOK = join(ROOT, "notebooks", "transform.py");

/** What the notebook wrote to `<out>/summary`. */
interface SparkSummary {
  tables: Record<string, Record<string, unknown>>;
  records: number;
  quarantined: number;
  answers: Record<string, Record<string, unknown>[]>;
}

/** One lake, what DuckDB made of it and what the notebook did with it. */
interface Case {
  name: string;
  lake: string;
  duckOut: string;
  sparkOut: string;
  duck?: TransformResult;
  spark?: { ok: boolean; sec: number; error?: string; trace?: string };
}

let work: string | undefined;
let prepared: Promise<Record<string, Case>> | undefined;

globalThis.addEventListener("unload", () => {
  if (work) Deno.removeSync(work, { recursive: true });
});

/** The first text part file Spark wrote under `dir`. */
async function partFile(dir: string): Promise<string> {
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith("part-")) return await Deno.readTextFile(join(dir, e.name));
  }
  throw new Error(`Cannot find a part file in "${dir}"`);
}

/** Makes the lakes, runs DuckDB on each and the notebook on all of them (once per file). */
function prepare(): Promise<Record<string, Case>> {
  prepared ??= (async () => {
    work = await Deno.makeTempDir({ prefix: "pinpipe-spark-" });
    const cases: Record<string, Case> = {};
    const add = (name: string, lake: string) =>
      cases[name] = {
        name,
        lake,
        duckOut: join(work!, name, "duck"),
        sparkOut: join(work!, name, "spark"),
      };
    const demo = async (
      name: string,
      postings: number,
      mode: "random" | "sequential",
      flushSize: number,
    ) => {
      const r = await runDemo({
        dir: join(work!, name, "demo"),
        postings,
        mode,
        rows: DEFAULT_ROWS,
        seed: DEFAULT_SEED,
        prefix: "pinpipe",
        partitions: 3,
        flushSize,
        keep: false,
      }, { progress: silentSink });
      add(name, join(work!, name, "demo", "lake"));
      return r;
    };
    await demo("demo", 5000, "random", 1000);
    await demo("all-sequential", ALL_POSTINGS, "sequential", 1000);
    await demo("flush-size-1", 400, "random", 1);
    const dirty = add("dirty", join(work, "dirty", "lake"));
    await copyDirtyLake(dirty.lake);
    const bad = add("all-malformed", join(work, "all-malformed", "lake"));
    for (const t of TABLE_NAMES) {
      const dir = join(bad.lake, "topics", `pinpipe.${t}`, "partition=0");
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(join(dir, `pinpipe.${t}+0+0000000000.json`), "nope\n[1]\n{}\n");
    }
    add("empty", join(work, "empty", "lake"));
    await Deno.mkdir(join(work, "empty", "lake"), { recursive: true });
    add("mistyped", "s3:/bucket");
    // No geo topic yet, read through a session that analyses lazily (as Spark Connect does),
    // by the notebook and by a copy of it without the line that forces the analysis.
    const noGeo = add("no-geo", join(work, "no-geo", "lake"));
    await copyDirtyLake(noGeo.lake);
    await Deno.remove(join(noGeo.lake, "topics", "pinpipe.geo"), { recursive: true });
    add("no-geo-unguarded", noGeo.lake);
    const unguarded = join(work, "unguarded.py");
    const text = await Deno.readTextFile(NOTEBOOK);
    const forced = "        objects.schema\n";
    assert.ok(text.includes(forced), "the notebook forces the analysis inside its guard");
    await Deno.writeTextFile(unguarded, text.replace(forced, ""));

    for (const c of Object.values(cases)) {
      if (["all-malformed", "empty", "mistyped", "no-geo-unguarded"].includes(c.name)) continue;
      c.duck = await transform({
        lake: c.lake,
        prefix: "pinpipe",
        out: c.duckOut,
        threads: 2,
        report: false,
      });
    }

    const jobs = Object.values(cases).map((c) => ({
      lake: c.lake,
      out: c.sparkOut,
      ...(c.name.startsWith("no-geo") ? { lazy: true } : {}),
      ...(c.name === "no-geo-unguarded" ? { notebook: unguarded } : {}),
    }));
    const jobsFile = join(work, "jobs.json");
    await Deno.writeTextFile(jobsFile, JSON.stringify(jobs));
    const r = await run(join((await venvBin())!, "python"), [RUNNER, jobsFile]);
    assert.equal(r.code, 0, `the Spark runner failed:\n${r.stderr.slice(-4000)}`);
    const results = r.stdout.trim().split("\n").filter((l) => l.startsWith("{")).map((l) =>
      JSON.parse(l)
    );
    assert.equal(results.length, jobs.length, r.stdout.slice(-4000));
    Object.values(cases).forEach((c, i) => c.spark = results[i]);
    return cases;
  })();
  return prepared;
}

async function sparkSummary(c: Case): Promise<SparkSummary> {
  return JSON.parse(await partFile(join(c.sparkOut, "summary")));
}

/** The notebook's answer rows as DuckDB gives them (a median 999.0 is the number 999). */
function sameAnswers(c: Case, spark: SparkSummary): void {
  for (const a of c.duck!.answers) {
    const rows = spark.answers[a.id].map((r) =>
      Object.fromEntries(a.columns.map((col) => [col, r[col] ?? null]))
    );
    assert.deepEqual(rows, a.rows, `${c.name}: ${a.id}`);
  }
}

async function sameTables(c: Case): Promise<void> {
  const duck = await readCleanTables(c.duckOut);
  const spark = await readCleanTables(c.sparkOut);
  for (const t of TABLE_NAMES) {
    assert.deepEqual(
      spark[t].schema.map((s) => s.split(" ")[0]),
      duck[t].schema.map((s) => s.split(" ")[0]),
      `${c.name}: ${t} columns`,
    );
    assert.equal(spark[t].rows.length, duck[t].rows.length, `${c.name}: ${t} rows`);
    assert.deepEqual(spark[t].rows, duck[t].rows, `${c.name}: ${t}`);
  }
}

async function sameCounts(c: Case, spark: SparkSummary): Promise<void> {
  for (const t of TABLE_NAMES) {
    const { objects: _, ...duck } = c.duck!.tables[t];
    assert.deepEqual(spark.tables[t], duck, `${c.name}: ${t} counts`);
  }
  const lines = (await partFile(join(c.sparkOut, "quarantine"))).trim();
  const sparkQ = (lines ? lines.split("\n") : []).map((l) => JSON.parse(l)).map((q) => ({
    table: q.table,
    key: q.key,
    line: q.line,
    ...(q.element ? { element: q.element } : {}),
    reason: q.reason,
  }));
  const duckQ = c.duck!.quarantine.map(({ text: _, ...q }) => q);
  const order = (a: { table: string; key: string; line: number }, b: typeof a) =>
    a.table.localeCompare(b.table) || a.key.localeCompare(b.key) || a.line - b.line;
  assert.deepEqual(sparkQ.sort(order), duckQ.sort(order), `${c.name}: quarantine`);
}

for (
  const [name, what] of [
    ["demo", "the demo's lake"],
    ["all-sequential", "the lake of `demo --postings all --mode sequential`"],
    ["flush-size-1", "a lake at flush size 1"],
    ["dirty", "the hand-made dirty lake"],
    ["no-geo", "a lake with no geo topic yet, analysing lazily as Spark Connect does,"],
  ] as const
) {
  await envTest(
    `the Spark notebook cleans ${what} and answers exactly as the DuckDB transform does`,
    ["engines"],
    async () => {
      const c = (await prepare())[name];
      assert.ok(c.spark!.ok, `${name}: ${c.spark!.error}\n${c.spark!.trace}`);
      const spark = await sparkSummary(c);
      assert.ok(spark.records > 0);
      if (name === "no-geo") assert.equal(c.duck!.tables.geo.objects, 0);
      await sameTables(c);
      sameAnswers(c, spark);
      await sameCounts(c, spark);
      if (name === "dirty") {
        assert.equal(spark.quarantined, 23);
        assert.ok(c.duck!.answers.every((a) => a.rows.length > 0));
        // And straight against the plain reference, not only through DuckDB.
        const ref = referenceClean(await readLakeDir(c.lake));
        const expected = answersFromClean(ref.tables);
        for (const a of c.duck!.answers) {
          const rows = spark.answers[a.id].map((r) =>
            Object.fromEntries(a.columns.map((col) => [col, r[col] ?? null]))
          );
          assert.deepEqual(rows, expected[a.id], `reference: ${a.id}`);
        }
        const tables = await readCleanTables(c.sparkOut);
        for (const t of TABLE_NAMES) {
          assert.deepEqual(tables[t].rows, canonical(ref.tables[t]), `reference: ${t}`);
        }
      }
    },
  );
}

await envTest(
  "the Spark notebook fails a run in which every line is malformed and writes nothing",
  ["engines"],
  async () => {
    const c = (await prepare())["all-malformed"];
    assert.equal(c.spark!.ok, false);
    assert.match(
      c.spark!.error!,
      /all 9 lines of the topics pinpipe\.\{pin,geo,user\} were quarantined/,
    );
    await assert.rejects(Deno.stat(c.sparkOut));
  },
);

await envTest(
  "the Spark notebook reads a lake with no objects as empty and keeps the previous output",
  ["engines"],
  async () => {
    const c = (await prepare())["empty"];
    assert.ok(c.spark!.ok, String(c.spark!.error));
    await assert.rejects(Deno.stat(c.sparkOut), "nothing written");
  },
);

await envTest(
  "spark-submit runs notebooks/transform.py as a script with --lake and --out",
  ["engines"],
  async () => {
    const c = (await prepare())["dirty"];
    const bin = (await venvBin())!;
    const out = join(work!, "dirty", "submit");
    const r = await run(join(bin, "spark-submit"), [
      "--master",
      "local[2]",
      "--conf",
      "spark.ui.enabled=false",
      "--conf",
      "spark.sql.shuffle.partitions=4",
      NOTEBOOK,
      "--lake",
      c.lake,
      "--out",
      out,
    ], { cwd: work, env: { PATH: `${bin}:${Deno.env.get("PATH")}` } });
    // spark-submit passes the script's output through a thread it does not wait for, so
    // what the script printed last may be missing: the files are what is checked.
    assert.equal(r.code, 0, (r.stdout + r.stderr).slice(-3000));
    const submitted: SparkSummary = JSON.parse(await partFile(join(out, "summary")));
    assert.deepEqual(submitted.answers, (await sparkSummary(c)).answers);
    assert.deepEqual(
      (await readCleanTables(out)).geo.rows,
      (await readCleanTables(c.duckOut)).geo.rows,
    );
  },
);

await envTest(
  "the Spark notebook refuses a lake URL with one slash after the scheme",
  ["engines"],
  async () => {
    const c = (await prepare())["mistyped"];
    assert.equal(c.spark!.ok, false);
    assert.match(c.spark!.error!, /Invalid lake "s3:\/bucket": a URL needs two slashes/);
  },
);

await envTest(
  "without forcing the analysis inside its guard the notebook fails on a missing topic under Spark Connect's lazy analysis",
  ["engines"],
  async () => {
    const c = (await prepare())["no-geo-unguarded"];
    assert.equal(c.spark!.ok, false, "the guard is what makes the run go on");
    assert.match(c.spark!.error!, /PATH_NOT_FOUND|Path does not exist/);
  },
);

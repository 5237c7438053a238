/**
 * `deno task demo` end to end, as a user runs it: a subprocess with a small count, whose
 * answers must equal the eight answers computed independently (tests/_reference.ts, plain
 * TypeScript, no DuckDB) from the same postings the emulator drew; every acknowledged record
 * in the broker and in the lake; a second run fresh unless --keep.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createDataset } from "../../lib/source/dataset.ts";
import { keySequence } from "../../lib/ingest/emulator.ts";
import { objectKey, parseObjectKey } from "../../lib/lake/lake.ts";
import type { Row } from "../../lib/shell/table_format.ts";
import { referenceAnswers } from "../_reference.ts";
import { run, withTempDir } from "../_fixtures.ts";
import { startTask } from "../../bench/_process.ts";

const ROWS = 1500;
const POSTINGS = 600;
const SEED = 7;

interface DemoJson {
  postings: number;
  recordsAcknowledged: number;
  brokerRecords: number;
  lakeRecords: number;
  lakeObjects: number;
  duplicatesDropped: number;
  quarantined: number;
  report: string | null;
  timings: Record<string, number>;
  answers: Record<string, Row[]>;
}

async function demo(dir: string, ...extra: string[]): Promise<DemoJson> {
  const r = await run("deno", [
    "run",
    "-A",
    "tasks/demo.ts",
    "--dir",
    dir,
    "--rows",
    String(ROWS),
    "--postings",
    String(POSTINGS),
    "--seed",
    String(SEED),
    "--flush-size",
    "50",
    "--json",
    ...extra,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** The distinct keys the emulator draws for this run, as it draws them. */
function drawnKeys(): number[] {
  const keys: number[] = [];
  for (const k of keySequence("random", ROWS, SEED)) {
    keys.push(k);
    if (keys.length === POSTINGS) break;
  }
  return keys;
}

/** Every record line in the lake, by topic, after checking each object's name. */
async function lakeLines(lake: string): Promise<Map<string, number>> {
  const lines = new Map<string, number>();
  for (const t of ["pin", "geo", "user"]) {
    const topic = `pinpipe.${t}`;
    for (const part of Deno.readDirSync(join(lake, "topics", topic))) {
      const p = Number(/^partition=(\d+)$/.exec(part.name)![1]);
      for (const f of Deno.readDirSync(join(lake, "topics", topic, part.name))) {
        const key = `topics/${topic}/${part.name}/${f.name}`;
        const parsed = parseObjectKey(key);
        assert.ok(parsed, `object "${key}" is not in the S3 sink layout`);
        assert.equal(objectKey(topic, p, parsed.startOffset), key);
        const text = await Deno.readTextFile(join(lake, key));
        const n = text.split("\n").filter(Boolean).length;
        lines.set(topic, (lines.get(topic) ?? 0) + n);
      }
    }
  }
  return lines;
}

Deno.test({
  name: "demo runs the whole pipeline and its answers equal an independent computation",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withTempDir(async (dir) => {
      const keys = drawnKeys();
      const unique = [...new Set(keys)];
      assert.ok(unique.length < keys.length, "the random draws repeat keys, as the original's do");

      const first = await demo(dir);
      assert.equal(first.postings, POSTINGS);
      assert.equal(first.recordsAcknowledged, 3 * POSTINGS);
      assert.equal(first.brokerRecords, 3 * POSTINGS);
      assert.equal(first.lakeRecords, 3 * POSTINGS);
      assert.equal(first.quarantined, 0);
      assert.equal(first.duplicatesDropped, 3 * (keys.length - unique.length));
      for (const [topic, n] of await lakeLines(join(dir, "lake"))) {
        assert.equal(n, POSTINGS, `${topic} lines in the lake`);
      }
      for (
        const stage of ["broker", "topics", "rest-proxy", "emulate", "sink", "transform"]
      ) {
        assert.ok(stage in first.timings, `no timing for the ${stage} stage`);
      }

      const data = createDataset({ rows: ROWS, seed: SEED });
      const expected = referenceAnswers(unique.map((k) => data.posting(k)));
      assert.deepEqual(Object.keys(first.answers).sort(), Object.keys(expected).sort());
      for (const [id, rows] of Object.entries(expected)) {
        assert.ok(rows.length > 0, `${id} is empty`);
        assert.deepEqual(first.answers[id], rows, id);
      }
      assert.ok(first.report, "no report path");
      const html = await Deno.readTextFile(first.report!);
      assert.match(html, /<svg/);

      // A second run starts fresh: the same records again, not twice as many.
      const again = await demo(dir);
      assert.equal(again.brokerRecords, 3 * POSTINGS);
      assert.equal(again.lakeRecords, 3 * POSTINGS);
      assert.deepEqual(again.answers, first.answers);

      // With --keep the same draws are replayed on top: twice the records, the same answers.
      const kept = await demo(dir, "--keep");
      assert.equal(kept.brokerRecords, 3 * POSTINGS, "records this run added to the broker");
      assert.equal(kept.lakeRecords, 3 * POSTINGS, "records landed by this run");
      assert.equal(kept.duplicatesDropped, 3 * (2 * keys.length - unique.length));
      assert.deepEqual(kept.answers, first.answers);
    });
  },
});

Deno.test("demo refuses bad options together, before touching anything", async () => {
  await withTempDir(async (dir) => {
    const r = await run("deno", [
      "run",
      "-A",
      "tasks/demo.ts",
      "--dir",
      join(dir, "d"),
      "--postings",
      "lots",
      "--mode",
      "shuffled",
      "--group-timeout",
      "5s",
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--postings "lots"/);
    assert.match(r.stderr, /--mode "shuffled"/);
    // The wait for the sink's group is one of a user's Kafka only.
    assert.match(r.stderr, /--group-timeout only goes with --bootstrap/);
    await assert.rejects(Deno.stat(join(dir, "d")), Deno.errors.NotFound);
  });
});

/** The demo's output files and their bytes, to compare two moments. */
async function outputs(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(join(d, e.name));
      else files.set(join(d, e.name), await Deno.readTextFile(join(d, e.name)).catch(() => "?"));
    }
  };
  await walk(join(dir, "out"));
  return files;
}

function demoTask(dir: string, postings: number) {
  return startTask("demo.ts", [
    "--dir",
    dir,
    "--rows",
    String(ROWS),
    "--postings",
    String(postings),
    "--seed",
    String(SEED),
    "--json",
  ]);
}

Deno.test({
  name: "an interrupted demo exits 130 and the previous run's report and answers stay in place",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withTempDir(async (dir) => {
      await demo(dir);
      const before = await outputs(dir);
      assert.ok([...before.keys()].some((f) => f.endsWith("report.html")));
      // Enough postings that the emulation is still running when Ctrl-C comes.
      const task = demoTask(dir, 2_000_000);
      await task.waitForStderr(/^emulate: /m);
      task.kill("SIGINT");
      const end = await task.ended;
      assert.equal(end.code, 130, task.stderr());
      assert.equal(end.signal, null);
      assert.deepEqual(await outputs(dir), before, "the previous outputs are untouched");
      const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      assert.deepEqual(left, ["kafka", "lake", "out"], "no staging folder is left");
    });
  },
});

Deno.test({
  name:
    "a demo killed outright leaves the previous outputs, and the next run clears its staging folder",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withTempDir(async (dir) => {
      await demo(dir);
      const before = await outputs(dir);
      const task = demoTask(dir, 2_000_000);
      await task.waitForStderr(/^emulate: /m);
      task.kill("SIGKILL");
      await task.ended;
      assert.deepEqual(await outputs(dir), before);
      const staged = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith(".run-"));
      assert.equal(staged.length, 1, "the killed run's staging folder is there");
      const again = await demo(dir);
      assert.equal(again.lakeRecords, 3 * POSTINGS);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
        "kafka",
        "lake",
        "out",
      ]);
    });
  },
});

/** How many times the flush-size-1 demo runs in a row (PINPIPE_DEMO_RUNS; default 3). */
const RUNS = Number(Deno.env.get("PINPIPE_DEMO_RUNS") ?? 3);

Deno.test({
  name: `demo --postings 20000 --flush-size 1 succeeds in ${RUNS} runs in a row`,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    for (let i = 0; i < RUNS; i++) {
      await withTempDir(async (dir) => {
        const task = startTask("demo.ts", [
          "--dir",
          dir,
          "--postings",
          "20000",
          "--flush-size",
          "1",
          "--json",
        ]);
        // Bounded: a run that hangs fails the test instead of holding the suite.
        const timer = setTimeout(() => task.kill("SIGKILL"), 300_000);
        const end = await task.ended;
        clearTimeout(timer);
        assert.equal(end.code, 0, `run ${i + 1}: ${task.stderr().slice(-3000)}`);
        const r = JSON.parse(task.stdout());
        assert.equal(r.recordsAcknowledged, 60_000);
        assert.equal(r.lakeRecords, 60_000, `run ${i + 1}`);
        assert.equal(r.lakeObjects, 60_000, `run ${i + 1}`);
      });
    }
  },
});

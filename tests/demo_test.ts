/**
 * `deno task demo` end to end, as a user runs it: a subprocess with a small count, whose
 * answers must equal the eight answers computed independently (tests/_reference.ts, plain
 * TypeScript, no DuckDB) from the same postings the emulator drew; every acknowledged record
 * in the broker and in the lake; a second run fresh unless --keep.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createDataset } from "../lib/dataset.ts";
import { keySequence } from "../lib/emulator.ts";
import { objectKey, parseObjectKey } from "../lib/lake.ts";
import type { Row } from "../lib/table_format.ts";
import { referenceAnswers } from "./_reference.ts";
import { run, withTempDir } from "./_fixtures.ts";

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
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--postings "lots"/);
    assert.match(r.stderr, /--mode "shuffled"/);
    await assert.rejects(Deno.stat(join(dir, "d")), Deno.errors.NotFound);
  });
});

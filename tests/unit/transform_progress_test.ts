/**
 * The transform tells what it reads while it reads: the lake's objects are read in batches,
 * each batch reported (objects and lines) before the next is read, and the progress line
 * counts objects and lines against the lake's totals. Reading in batches changes nothing
 * in what comes out: the tables, counts, quarantine and answers are those of one read, also
 * over the dirty lake and with exact duplicates that fall into different batches.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanLake, type LakeFile, type TableName, TABLES } from "../../lib/analytics/clean.ts";
import { createDataset } from "../../lib/source/dataset.ts";
import { DuckDBInstance } from "../../lib/deps/duckdb.ts";
import { FileLake } from "../../lib/lake/lake.ts";
import type { ProgressSink } from "../../lib/shell/progress.ts";
import { transform, type TransformResult } from "../../lib/analytics/transform.ts";
import { writeLake } from "../../bench/_write_lake.ts";
import { readCleanTables } from "../_clean_tables.ts";
import { copyDirtyLake } from "../_dirty_lake.ts";
import { withTempDir } from "../_fixtures.ts";

/** A lake of `rows` postings sent once, then the first half again (exact duplicates). */
async function replayedLake(dir: string, rows = 120, flushSize = 10): Promise<void> {
  const ds = createDataset({ rows });
  const postings = [...ds.postings(), ...ds.postings(0, rows / 2)];
  await writeLake(new FileLake(dir), postings, { flushSize });
}

/** What must not depend on how the lake was read. */
function outcome(r: TransformResult) {
  return {
    objects: r.objects,
    lines: r.lines,
    records: r.records,
    duplicates: r.duplicates,
    quarantined: r.quarantined,
    tables: r.tables,
    quarantine: r.quarantine,
    answers: r.answers.map((a) => ({ id: a.id, rows: a.rows })),
  };
}

for (
  const [name, make] of [
    ["a lake with replays across objects", replayedLake],
    ["the dirty lake", copyDirtyLake],
  ] as const
) {
  Deno.test(`transform reads ${name} in batches of one object to the same tables and answers as in one read`, async () => {
    await withTempDir(async (dir) => {
      const lake = join(dir, "lake");
      await make(lake);
      const run = (out: string, readBatchObjects?: number) =>
        transform({
          lake,
          prefix: "pinpipe",
          out: join(dir, out),
          threads: 2,
          report: false,
          readBatchObjects,
        });
      const whole = await run("whole");
      const batched = await run("batched", 1);
      assert.ok(whole.objects > 3, "the lake has several objects per table");
      assert.deepEqual(outcome(batched), outcome(whole));
      assert.deepEqual(
        await readCleanTables(join(dir, "batched")),
        await readCleanTables(join(dir, "whole")),
      );
    });
  });
}

Deno.test("cleaning reports each batch of objects read, with its lines, before reading the next", async () => {
  await withTempDir(async (dir) => {
    const lake = join(dir, "lake");
    await replayedLake(lake, 100, 10);
    const fl = new FileLake(lake);
    const files = {} as Record<TableName, LakeFile[]>;
    for (const t of TABLES) {
      files[t] = [];
      for await (const o of fl.list(`topics/pinpipe.${t}/`)) {
        files[t].push({ key: o.key, path: fl.localPath!(o.key), size: o.size });
      }
      files[t].sort((a, b) => a.key < b.key ? -1 : 1);
    }
    const events: string[] = [];
    const instance = await DuckDBInstance.create(":memory:", { threads: "2" });
    const conn = await instance.connect();
    try {
      const r = await cleanLake(conn, files, dir, {
        batchObjects: 4,
        onStep: (s) => events.push(s),
        onRead: (table, objects, lines) =>
          events.push(`${table}: ${objects.map((o) => o.key.split("+").pop()).join(" ")} ${lines}`),
      });
      // 150 records a table in objects of 10 records (offsets 0, 10, …, 140): batches of 4.
      const batches = (t: string) => [
        `${t}: 0000000000.json 0000000010.json 0000000020.json 0000000030.json 40`,
        `${t}: 0000000040.json 0000000050.json 0000000060.json 0000000070.json 40`,
        `${t}: 0000000080.json 0000000090.json 0000000100.json 0000000110.json 40`,
        `${t}: 0000000120.json 0000000130.json 0000000140.json 30`,
      ];
      assert.deepEqual(events, [
        "reading pin (15 objects)",
        ...batches("pin"),
        "cleaning pin",
        "reading geo (15 objects)",
        ...batches("geo"),
        "cleaning geo",
        "reading user (15 objects)",
        ...batches("user"),
        "cleaning user",
      ]);
      for (const t of TABLES) {
        assert.equal(r.tables[t].lines, 150);
        assert.equal(r.tables[t].duplicates, 50);
      }
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
  });
});

Deno.test("transform's progress line counts each topic's objects and lines against the topic's own number", async () => {
  await withTempDir(async (dir) => {
    const lake = join(dir, "lake");
    await replayedLake(lake, 100, 10);
    let written = "";
    const tty: ProgressSink = {
      isTerminal: true,
      columns: () => 120,
      write: (t) => (written += t),
    };
    await transform(
      { lake, prefix: "pinpipe", out: join(dir, "out"), report: false, readBatchObjects: 4 },
      { progress: tty },
    );
    const frames = written.split("\r\x1b[K").filter(Boolean);
    // The lake holds 45 objects, 15 per topic: each topic is counted against its 15.
    for (const t of TABLES) {
      const done = frames.find((f) => f.includes(`reading ${t}: 15/15 objects`));
      assert.ok(done, `no line with every ${t} object read:\n${frames.join("\n")}`);
      assert.match(done, new RegExp(`reading ${t}: 15/15 objects, 150 lines$`));
    }
    // The bar goes over the whole lake (by bytes): full only once the last topic is read.
    assert.match(frames.find((f) => f.includes("reading user: 15/15"))!, /100% · /);
    assert.doesNotMatch(frames.find((f) => f.includes("reading geo: 15/15"))!, /100% · /);
    for (const f of frames) {
      assert.ok(!f.includes("\n") || f.endsWith("\n"), "a live line is one line");
      assert.doesNotMatch(f, /\/45 objects/, "no topic is counted against the lake's total");
      const m = /(\d+)\/15 objects, ([\d,]+) lines/.exec(f);
      if (m) assert.ok(Number(m[1]) <= 15 && Number(m[2].replace(",", "")) <= 150, f);
    }
    // Steps with nothing to count show no stale bar, rate or ETA.
    const cleaning = frames.find((f) => f.startsWith("transform: cleaning user"));
    assert.equal(cleaning, "transform: cleaning user");
  });
});

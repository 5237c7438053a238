/**
 * The transform over the synthetic dataset (lib/source/dataset.ts) written into a lake by
 * bench/_write_lake.ts: no placeholder survives cleaning, the columns are exactly SPEC's in
 * name, order and type, every parseable follower_count is the right integer, and the eight
 * answers equal those of an independent reference written here in plain TypeScript.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createDataset, PLACEHOLDERS, type Posting } from "../../lib/source/dataset.ts";
import { followers, referenceAnswers } from "../_reference.ts";
import { DuckDBInstance } from "../../lib/deps/duckdb.ts";
import { FileLake } from "../../lib/lake/lake.ts";
import type { Row } from "../../lib/shell/table_format.ts";
import { transform, type TransformResult } from "../../lib/analytics/transform.ts";
import { writeLake } from "../../bench/_write_lake.ts";
import { withTempDir } from "../_fixtures.ts";

const ROWS = 4000;
const REPLAYED = 150;

// --- the lake and the transform ------------------------------------------------------------

async function withDatasetLake(
  fn: (result: TransformResult, out: string, postings: Posting[]) => void | Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const data = createDataset({ rows: ROWS });
    const lake = new FileLake(join(dir, "lake"));
    // Flush size 1 for the first postings, 500 after, then a replay of the first ones.
    const a = await writeLake(lake, data.postings(0, 200), { flushSize: 1 });
    const b = await writeLake(lake, data.postings(200), {
      flushSize: 500,
      startOffset: a.nextOffset,
    });
    await writeLake(lake, data.postings(0, REPLAYED), {
      flushSize: 100,
      startOffset: b.nextOffset,
    });
    const out = join(dir, "out");
    const result = await transform({ lake: lake.url, prefix: "pinpipe", out, threads: 2 });
    await fn(result, out, [...data.postings()]);
  });
}

async function query(sql: string): Promise<Row[]> {
  const db = await DuckDBInstance.create(":memory:");
  const conn = await db.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJson() as Row[];
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

Deno.test("transform of the synthetic dataset: every record read once, replays dropped as duplicates", async () => {
  await withDatasetLake((result) => {
    for (const t of ["pin", "geo", "user"] as const) {
      assert.equal(result.tables[t].records, ROWS + REPLAYED, t);
      assert.equal(result.tables[t].duplicates, REPLAYED, t);
      assert.equal(result.tables[t].rows, ROWS, t);
      assert.equal(result.tables[t].quarantined, 0, t);
    }
    assert.equal(
      result.objects,
      3 * (200 + Math.ceil((ROWS - 200) / 500) + Math.ceil(REPLAYED / 100)),
    );
  });
});

Deno.test("transform of the synthetic dataset leaves no placeholder and SPEC's columns and types", async () => {
  await withDatasetLake(async (result, out, postings) => {
    const pin = join(out, "pin.parquet");
    const schema = async (t: string) =>
      (await query(`DESCRIBE SELECT * FROM read_parquet('${join(out, `${t}.parquet`)}')`))
        .map((r) => `${r.column_name} ${r.column_type}`);
    assert.deepEqual(await schema("pin"), [
      "ind INTEGER",
      "unique_id VARCHAR",
      "title VARCHAR",
      "description VARCHAR",
      "follower_count INTEGER",
      "poster_name VARCHAR",
      "tag_list VARCHAR",
      "is_image_or_video VARCHAR",
      "image_src VARCHAR",
      "save_location VARCHAR",
      "category VARCHAR",
    ]);
    assert.deepEqual(await schema("geo"), [
      "ind INTEGER",
      "country VARCHAR",
      "coordinates DOUBLE[]",
      "timestamp TIMESTAMP",
    ]);
    assert.deepEqual(await schema("user"), [
      "ind INTEGER",
      "user_name VARCHAR",
      "age INTEGER",
      "date_joined TIMESTAMP",
    ]);

    // The dataset does have placeholders; none is left, nor any empty string.
    const placeholders = [
      PLACEHOLDERS.title,
      ...PLACEHOLDERS.description,
      PLACEHOLDERS.poster_name,
      PLACEHOLDERS.tag_list,
      PLACEHOLDERS.image_src,
      "",
    ];
    const story = postings.filter((p) => p.pin.title === PLACEHOLDERS.title).length;
    assert.ok(story > 0, "the dataset has story-format rows");
    assert.equal(result.tables.pin.nulled.title, story);
    const list = placeholders.map((p) => `'${p.replaceAll("'", "''")}'`).join(", ");
    const left = await query(
      `SELECT count(*) AS n FROM read_parquet('${pin}') WHERE ` +
        ["title", "description", "poster_name", "tag_list", "image_src", "save_location"]
          .map((c) => `${c} IN (${list})`).join(" OR "),
    );
    assert.deepEqual(left, [{ n: "0" }]);
    const locations = await query(
      `SELECT count(*) AS n FROM read_parquet('${pin}') WHERE save_location NOT LIKE '/data/%'`,
    );
    assert.deepEqual(locations, [{ n: "0" }]);
  });
});

Deno.test("transform of the synthetic dataset gives every parseable follower_count as its integer", async () => {
  await withDatasetLake(async (result, out, postings) => {
    const rows = await query(
      `SELECT ind, follower_count FROM read_parquet('${join(out, "pin.parquet")}') ORDER BY ind`,
    );
    assert.equal(rows.length, postings.length);
    let parsed = 0;
    for (const [i, r] of rows.entries()) {
      const raw = postings[i].pin.follower_count;
      assert.equal(r.ind, postings[i].key);
      assert.equal(r.follower_count, followers(raw), `follower_count "${raw}" of posting ${r.ind}`);
      if (r.follower_count !== null) parsed++;
    }
    const unparseable = postings.filter((p) => followers(p.pin.follower_count) === null).length;
    assert.equal(result.tables.pin.nulled.follower_count, unparseable);
    assert.ok(parsed > postings.length * 0.9, `only ${parsed} follower counts parsed`);
    assert.ok(postings.some((p) => /k$/.test(p.pin.follower_count)), "the dataset has k counts");
    assert.ok(postings.some((p) => /M$/.test(p.pin.follower_count)), "the dataset has M counts");
  });
});

Deno.test("transform of the synthetic dataset answers the eight questions as the plain reference does", async () => {
  await withDatasetLake((result, _out, postings) => {
    const expected = referenceAnswers(postings);
    for (const a of result.answers) {
      assert.ok(a.rows.length > 0, `${a.id} is empty`);
      assert.deepEqual(a.rows, expected[a.id], a.id);
    }
  });
});

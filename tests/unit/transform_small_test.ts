/**
 * The transform over a small hand-made lake whose cleaned tables and eight answers are
 * written out by hand below. The lake covers every placeholder, empty strings, k/M/decimal
 * follower counts, values a producer wrote with other JSON types, both timestamp forms,
 * exact duplicates (one with its keys in another order), ties, ages on each group boundary
 * (and one under 18), years outside the windows, keys missing from one table, malformed
 * lines of three kinds, CRLF line ends, and objects of one record mixed with larger ones.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DuckDBInstance } from "../../lib/deps/duckdb.ts";
import { FileLake, objectKey } from "../../lib/lake/lake.ts";
import { type Row } from "../../lib/shell/table_format.ts";
import { transform, type TransformResult } from "../../lib/analytics/transform.ts";
import { withTempDir } from "../_fixtures.ts";

import { EXPECTED_ANSWERS, img, J, P, uuid, writeSmallLake } from "../_small_lake.ts";
// --- what the transform must produce ---------------------------------------------------
const cleanPin = (
  ind: number,
  category: string,
  follower_count: number | null,
  poster_name: string | null,
  over: Record<string, unknown> = {},
) => ({
  ind,
  unique_id: uuid(ind),
  title: `Title ${ind}`,
  description: `Description ${ind}`,
  follower_count,
  poster_name,
  tag_list: "Tag A,Tag B",
  is_image_or_video: "image",
  image_src: img(ind),
  save_location: `/data/${category}`,
  category,
  ...over,
});

const EXPECTED_PIN = [
  cleanPin(0, "mens-fashion", null, null, {
    title: null,
    description: null,
    tag_list: null,
    is_image_or_video: "multi-video(story page format)",
    image_src: null,
  }),
  cleanPin(1, "art", 26000, "Art Lover"),
  cleanPin(2, "art", 437, "Sketchy", { title: "Ωραία τέχνη ✨" }),
  cleanPin(3, "beauty", 5000000, "Glow Up", {
    description: "Made long enough so that you\u2026\u00a0",
  }),
  cleanPin(4, "beauty", 1500, "Glow Up"),
  cleanPin(5, "travel", 6000000, "Wander"),
  cleanPin(6, "vehicles", 2500000, "Car Fan"),
  cleanPin(7, "travel", 0, "Nobody"),
  cleanPin(8, "quotes", 12, "Quote Bot"),
  cleanPin(9, "quotes", null, "Quote Bot 2"),
  cleanPin(10, "art", null, "Weird"),
  cleanPin(11, "beauty", 6000000, "Big Star"),
  cleanPin(12, "vehicles", 6000000, "Twin Star"),
  cleanPin(13, "travel", 999, "Wander"),
  cleanPin(15, "art", 3000, "Lonely", { title: null, description: null, tag_list: null }),
];

const EXPECTED_GEO = [
  {
    ind: 0,
    country: "Albania",
    coordinates: [-89.9787, -173.293],
    timestamp: "2020-08-28 03:52:47",
  },
  { ind: 1, country: "Albania", coordinates: [-10.5, 20.25], timestamp: "2018-01-05 10:00:00" },
  { ind: 2, country: "Albania", coordinates: [-10.5, 20.25], timestamp: "2019-03-01 12:00:00" },
  { ind: 3, country: "Albania", coordinates: [-10.5, 20.25], timestamp: "2019-06-01 00:00:00" },
  { ind: 4, country: "Albania", coordinates: [-10.5, 20.25], timestamp: "2020-01-01 00:00:00" },
  { ind: 5, country: "Bhutan", coordinates: [-10.5, 20.25], timestamp: "2021-05-05 05:05:05" },
  { ind: 6, country: "Bhutan", coordinates: [12.5, -7.25], timestamp: "2021-07-07 07:07:07" },
  { ind: 7, country: "Bhutan", coordinates: [-10.5, 20.25], timestamp: "2022-12-31 23:59:59" },
  {
    ind: 8,
    country: "Cote d'Ivoire",
    coordinates: [-10.5, 20.25],
    timestamp: "2017-12-30 13:05:49",
  },
  {
    ind: 9,
    country: "Cote d'Ivoire",
    coordinates: [-10.5, 20.25],
    timestamp: "2023-01-01 00:00:00",
  },
  {
    ind: 10,
    country: "Cote d'Ivoire",
    coordinates: [-10.5, 20.25],
    timestamp: "2018-02-02 02:02:02",
  },
  { ind: 11, country: "Angola", coordinates: [-10.5, 20.25], timestamp: "2022-03-03 03:03:03" },
  { ind: 12, country: "Angola", coordinates: [-10.5, 20.25], timestamp: "2020-04-04 04:04:04" },
  { ind: 13, country: "Bhutan", coordinates: [-10.5, 20.25], timestamp: "2021-09-09 09:09:09" },
  { ind: 14, country: "Bhutan", coordinates: [-10.5, 20.25], timestamp: null },
];

const EXPECTED_USER = [
  { ind: 0, user_name: "Abigail Ali", age: 20, date_joined: "2015-10-24 11:23:51" },
  { ind: 1, user_name: "Ben Boundary", age: 18, date_joined: "2015-01-01 00:00:00" },
  { ind: 2, user_name: "Cleo Same", age: 24, date_joined: "2016-02-02 00:00:00" },
  { ind: 3, user_name: "Dan Quarter", age: 25, date_joined: "2016-03-03 00:00:00" },
  { ind: 4, user_name: "Eve Edge", age: 35, date_joined: "2017-04-04 00:00:00" },
  { ind: 5, user_name: "Finn Start", age: 36, date_joined: "2017-05-05 00:00:00" },
  { ind: 6, user_name: "Gus Fifty", age: 50, date_joined: "2015-06-06 00:00:00" },
  { ind: 7, user_name: "Hal Over", age: 51, date_joined: "2016-07-07 00:00:00" },
  { ind: 8, user_name: "Ida Young", age: 17, date_joined: "2014-05-05 00:00:00" },
  { ind: 9, user_name: "Jo Late", age: 59, date_joined: "2021-01-01 00:00:00" },
  { ind: 10, user_name: "Kim Mid", age: 40, date_joined: "2015-08-08 00:00:00" },
  { ind: 11, user_name: "Lou Thirty", age: 30, date_joined: "2016-09-09 00:00:00" },
  { ind: 12, user_name: "Max Senior", age: 59, date_joined: "2017-10-10 00:00:00" },
  { ind: 13, user_name: "Cleo Same", age: 24, date_joined: "2016-02-02 00:00:00" },
  { ind: 14, user_name: "Ned NoPin", age: 45, date_joined: "2016-11-11 00:00:00" },
];

/** Reads a Parquet file back with DuckDB: its schema and its rows ordered by ind. */
async function readParquet(path: string): Promise<{ schema: string[]; rows: Row[] }> {
  const db = await DuckDBInstance.create(":memory:");
  const conn = await db.connect();
  try {
    const d = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${path}')`);
    const schema = d.getRowObjectsJS().map((r) => `${r.column_name} ${r.column_type}`);
    const r = await conn.runAndReadAll(`SELECT * FROM read_parquet('${path}') ORDER BY ind`);
    return { schema, rows: r.getRowObjectsJson() as Row[] };
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

async function runSmall(
  fn: (result: TransformResult, out: string, lakeDir: string) => void | Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const lakeDir = join(dir, "lake");
    await writeSmallLake(lakeDir);
    const out = join(dir, "out");
    const result = await transform({
      lake: `file://${lakeDir}`,
      prefix: "pinpipe",
      out,
      threads: 2,
    });
    await fn(result, out, lakeDir);
  });
}

Deno.test("transform cleans the hand-made lake into exactly the expected pin table", async () => {
  await runSmall(async (_r, out) => {
    const { schema, rows } = await readParquet(join(out, "pin.parquet"));
    assert.deepEqual(schema, [
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
    assert.deepEqual(rows, EXPECTED_PIN);
  });
});

Deno.test("transform cleans the hand-made lake into exactly the expected geo and user tables", async () => {
  await runSmall(async (_r, out) => {
    const g = await readParquet(join(out, "geo.parquet"));
    assert.deepEqual(g.schema, [
      "ind INTEGER",
      "country VARCHAR",
      "coordinates DOUBLE[]",
      "timestamp TIMESTAMP",
    ]);
    assert.deepEqual(g.rows, EXPECTED_GEO);
    const u = await readParquet(join(out, "user.parquet"));
    assert.deepEqual(u.schema, [
      "ind INTEGER",
      "user_name VARCHAR",
      "age INTEGER",
      "date_joined TIMESTAMP",
    ]);
    assert.deepEqual(u.rows, EXPECTED_USER);
  });
});

Deno.test("transform answers the eight questions on the hand-made lake exactly as worked out by hand", async () => {
  await runSmall(async (result, out) => {
    assert.deepEqual(result.answers.map((a) => a.id), Object.keys(EXPECTED_ANSWERS));
    for (const a of result.answers) {
      assert.deepEqual(a.rows, EXPECTED_ANSWERS[a.id], `answer ${a.id}`);
      const file = JSON.parse(await Deno.readTextFile(join(out, "answers", `${a.id}.json`)));
      assert.deepEqual(file.rows, EXPECTED_ANSWERS[a.id], `answers/${a.id}.json`);
      assert.deepEqual(file.columns, a.columns);
    }
    assert.equal(
      await Deno.readTextFile(join(out, "answers", "q1.csv")),
      "country,category,category_count,tied\nAlbania,art,2,2\nAlbania,beauty,2,2\n" +
        "Angola,beauty,1,2\nAngola,vehicles,1,2\nBhutan,travel,3,1\nCote d'Ivoire,quotes,2,1\n",
    );
    // Q3B: SPEC's one row first, and the country tied with it, marked.
    assert.equal(
      await Deno.readTextFile(join(out, "answers", "q3b.csv")),
      "country,follower_count,tied\nAngola,6000000,2\nBhutan,6000000,2\n",
    );
  });
});

Deno.test("transform counts duplicates, placeholders and malformed lines per table", async () => {
  await runSmall((result) => {
    const t = result.tables;
    assert.deepEqual(
      { ...t.pin, nulled: undefined },
      {
        objects: 7,
        lines: 17,
        records: 16,
        quarantined: 1,
        duplicates: 1,
        rows: 15,
        nulled: undefined,
      },
    );
    assert.deepEqual(t.pin.nulled, {
      unique_id: 0,
      title: 2,
      description: 2,
      follower_count: 3,
      poster_name: 1,
      tag_list: 2,
      is_image_or_video: 0,
      image_src: 1,
      save_location: 0,
      category: 0,
    });
    assert.deepEqual(
      { ...t.geo },
      {
        objects: 6,
        lines: 18,
        records: 17,
        quarantined: 1,
        duplicates: 2,
        rows: 15,
        nulled: { country: 0, timestamp: 1 },
      },
    );
    assert.deepEqual(
      { ...t.user },
      {
        objects: 8,
        lines: 17,
        records: 16,
        quarantined: 1,
        duplicates: 1,
        rows: 15,
        nulled: { age: 0, date_joined: 0 },
      },
    );
    assert.equal(result.objects, 21);
    assert.equal(result.records, 49);
    assert.equal(result.duplicates, 4);
    assert.equal(result.quarantined, 3);
  });
});

Deno.test("transform quarantines malformed lines with their object key and line number and goes on", async () => {
  await runSmall(async (result, out) => {
    const expected = [
      {
        table: "pin",
        key: "topics/pinpipe.pin/partition=0/pinpipe.pin+0+0000000002.json",
        line: 2,
        reason: "not valid JSON",
        text: `{"index": 99, "title": "broken`,
      },
      {
        table: "geo",
        key: "topics/pinpipe.geo/partition=0/pinpipe.geo+0+0000000005.json",
        line: 3,
        reason: "a JSON array holding something other than objects",
        text: "[1, 2, 3]",
      },
      {
        table: "user",
        key: "topics/pinpipe.user/partition=0/pinpipe.user+0+0000000005.json",
        line: 7,
        reason: 'no integer "ind"',
        text: `{"first_name": "No", "last_name": "Key", "age": 30}`,
      },
    ];
    assert.deepEqual(result.quarantine, expected);
    const lines = (await Deno.readTextFile(join(out, "quarantine.jsonl"))).trim().split("\n");
    assert.deepEqual(lines.map((l) => JSON.parse(l)), expected);
  });
});

Deno.test("transform writes every output file and a summary that matches the result", async () => {
  await runSmall(async (result, out) => {
    const names = [
      "pin.parquet",
      "geo.parquet",
      "user.parquet",
      ...result.answers.flatMap((a) => [`answers/${a.id}.csv`, `answers/${a.id}.json`]),
      "quarantine.jsonl",
      "report.html",
      "summary.json",
    ];
    assert.deepEqual(result.files, names);
    for (const n of names) assert.ok((await Deno.stat(join(out, n))).size > 0, n);
    const summary = JSON.parse(await Deno.readTextFile(join(out, "summary.json")));
    assert.equal(summary.records, 49);
    assert.equal(summary.quarantined, 3);
    assert.deepEqual(
      summary.answers.find((a: { id: string }) => a.id === "q5").rows,
      EXPECTED_ANSWERS.q5,
    );
    assert.ok(summary.timings.total >= summary.timings.clean);
  });
});

Deno.test("transform with --allow-empty reads an empty lake as empty tables and empty answers", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "out");
    const r = await transform({
      lake: join(dir, "nothing-here"),
      prefix: "pinpipe",
      out,
      allowEmpty: true,
    });
    assert.equal(r.objects, 0);
    assert.equal(r.records, 0);
    assert.deepEqual(r.answers.map((a) => a.rows.length), [0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual((await readParquet(join(out, "pin.parquet"))).rows, []);
  });
});

Deno.test("transform reads only the topics of its prefix", async () => {
  await withTempDir(async (dir) => {
    const lakeDir = join(dir, "lake");
    await writeSmallLake(lakeDir, "other");
    await writeSmallLake(lakeDir, "pinpipe");
    const r = await transform({ lake: lakeDir, prefix: "other", out: join(dir, "out") });
    assert.equal(r.objects, 21);
    assert.deepEqual(r.answers.find((a) => a.id === "q7")!.rows, EXPECTED_ANSWERS.q7);
  });
});

Deno.test("transform takes a record only with a JSON integer or digits as its key and skips blank lines", async () => {
  await withTempDir(async (dir) => {
    const lake = new FileLake(join(dir, "lake"));
    const lines = [
      J(P[1]),
      "   ",
      J({ ...P[2], index: "1.5" }),
      J({ ...P[3], index: "abc" }),
      J({ ...P[4], index: null }),
      "{}",
      "null",
      `"a string"`,
      J({ ...P[5], index: " 7 " }),
      J({ ...P[6], index: 8.0 }),
      J({ ...P[7], index: 9.5 }),
      "",
    ];
    await lake.put(objectKey("pinpipe.pin", 0, 0), new TextEncoder().encode(lines.join("\n")));
    const r = await transform({ lake: lake.url, prefix: "pinpipe", out: join(dir, "out") });
    assert.deepEqual(
      r.quarantine.map((q) => [q.line, q.reason]),
      [
        [3, 'no integer "index"'],
        [4, 'no integer "index"'],
        [5, 'no integer "index"'],
        [6, 'no integer "index"'],
        [7, "not a JSON object"],
        [8, "not a JSON object"],
        [9, 'no integer "index"'],
        [11, 'no integer "index"'],
      ],
    );
    // JSON.stringify writes 8.0 as 8, a JSON integer; " 7 " is not a string of digits.
    assert.deepEqual(
      {
        lines: r.tables.pin.lines,
        records: r.tables.pin.records,
        quarantined: r.tables.pin.quarantined,
      },
      { lines: 10, records: 2, quarantined: 8 },
    );
  });
});

Deno.test("transform stops with an interrupted error when its signal is aborted", async () => {
  await withTempDir(async (dir) => {
    const lakeDir = join(dir, "lake");
    await writeSmallLake(lakeDir);
    const ac = new AbortController();
    ac.abort(new Error("interrupted"));
    await assert.rejects(
      transform({ lake: lakeDir, prefix: "pinpipe", out: join(dir, "out") }, { signal: ac.signal }),
      /Transform interrupted/,
    );
  });
});

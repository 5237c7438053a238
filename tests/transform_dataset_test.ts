/**
 * The transform over the synthetic dataset (lib/dataset.ts) written into a lake by
 * lib/write_lake.ts: no placeholder survives cleaning, the columns are exactly SPEC's in
 * name, order and type, every parseable follower_count is the right integer, and the eight
 * answers equal those of an independent reference written here in plain TypeScript.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createDataset, PLACEHOLDERS, type Posting } from "../lib/dataset.ts";
import { DuckDBInstance } from "../lib/deps/duckdb.ts";
import { FileLake } from "../lib/lake.ts";
import type { Row } from "../lib/table_format.ts";
import { transform, type TransformResult } from "../lib/transform.ts";
import { writeLake } from "../lib/write_lake.ts";
import { withTempDir } from "./_fixtures.ts";

const ROWS = 4000;
const REPLAYED = 150;

// --- an independent reference: SPEC §4 and §5 in plain TypeScript -------------------------

/** follower_count per SPEC §4: 26k -> 26000, 6M -> 6000000, 1.5k -> 1500, digits as is. */
function followers(raw: string): number | null {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(raw.trim());
  if (!m) return null;
  const mult = m[2] === "" ? 1 : /k/i.test(m[2]) ? 1_000 : 1_000_000;
  return Math.round(Number(m[1]) * mult);
}

function ageGroup(age: number): string | null {
  if (age >= 18 && age <= 24) return "18-24";
  if (age >= 25 && age <= 35) return "25-35";
  if (age >= 36 && age <= 50) return "36-50";
  return age > 50 ? "+50" : null;
}
const GROUP_ORDER = ["18-24", "25-35", "36-50", "+50"];
const byGroup = (a: string, b: string) => GROUP_ORDER.indexOf(a) - GROUP_ORDER.indexOf(b);
const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);

/** percentile_cont(0.5). */
function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const pos = (v.length - 1) / 2;
  const lo = Math.floor(pos);
  return v[lo] + (pos - lo) * (v[Math.ceil(pos)] - v[lo]);
}

/** Rank-1 categories per group, ties kept, sorted by group then category. */
function topCategories<G extends string | number>(
  items: { group: G; category: string }[],
  groupName: string,
  order: (a: G, b: G) => number,
): Row[] {
  const counts = new Map<G, Map<string, number>>();
  for (const { group, category } of items) {
    const m = counts.get(group) ?? new Map<string, number>();
    m.set(category, (m.get(category) ?? 0) + 1);
    counts.set(group, m);
  }
  const rows: Row[] = [];
  for (const g of [...counts.keys()].sort(order)) {
    const m = counts.get(g)!;
    const best = Math.max(...m.values());
    for (const c of [...m.keys()].filter((c) => m.get(c) === best).sort(cmp)) {
      rows.push({ [groupName]: g, category: c, category_count: best });
    }
  }
  return rows;
}

function groupedMedians<K>(items: { key: K; value: number }[]): Map<K, number> {
  const m = new Map<K, number[]>();
  for (const { key, value } of items) m.set(key, [...(m.get(key) ?? []), value]);
  return new Map([...m].map(([k, v]) => [k, median(v)]));
}

function referenceAnswers(postings: Posting[]): Record<string, Row[]> {
  const clean = postings.map((p) => ({
    category: p.pin.category,
    poster: p.pin.poster_name === PLACEHOLDERS.poster_name ? null : p.pin.poster_name,
    followers: followers(p.pin.follower_count),
    country: p.geo.country,
    postYear: Number(p.geo.timestamp.slice(0, 4)),
    user: `${p.user.first_name} ${p.user.last_name}`,
    age: p.user.age,
    group: ageGroup(p.user.age),
    joined: p.user.date_joined,
    joinYear: Number(p.user.date_joined.slice(0, 4)),
  }));
  const inJoinWindow = clean.filter((c) => c.joinYear >= 2015 && c.joinYear <= 2020);
  const withFollowers = <T extends { followers: number | null }>(xs: T[]) =>
    xs.filter((c) => c.followers !== null) as (T & { followers: number })[];

  const q1 = topCategories(
    clean.map((c) => ({ group: c.country, category: c.category })),
    "country",
    cmp,
  );
  const q2 = topCategories(
    clean.filter((c) => c.postYear >= 2018 && c.postYear <= 2022).map((c) => ({
      group: c.postYear,
      category: c.category,
    })),
    "post_year",
    cmp,
  );

  const posters = new Map<string, Map<string, number>>();
  for (const c of withFollowers(clean).filter((c) => c.poster !== null)) {
    const m = posters.get(c.country) ?? new Map<string, number>();
    m.set(c.poster!, Math.max(m.get(c.poster!) ?? -1, c.followers));
    posters.set(c.country, m);
  }
  const q3a: Row[] = [];
  for (const country of [...posters.keys()].sort(cmp)) {
    const m = posters.get(country)!;
    const best = Math.max(...m.values());
    for (const p of [...m.keys()].filter((p) => m.get(p) === best).sort(cmp)) {
      q3a.push({ country, poster_name: p, follower_count: best });
    }
  }
  const top = Math.max(...q3a.map((r) => r.follower_count as number));
  const q3b = [{
    country: q3a.filter((r) =>
      r.follower_count === top
    ).map((r) => r.country as string).sort(cmp)[0],
    follower_count: top,
  }];

  const grouped = clean.filter((c) =>
    c.group !== null
  ) as (typeof clean[number] & { group: string })[];
  const q4 = topCategories(
    grouped.map((c) => ({ group: c.group, category: c.category })),
    "age_group",
    byGroup,
  );
  const q5 = [
    ...groupedMedians(withFollowers(grouped).map((c) => ({ key: c.group, value: c.followers }))),
  ]
    .sort((a, b) => byGroup(a[0], b[0]))
    .map(([age_group, m]) => ({ age_group, median_follower_count: m }));

  const users = new Map<number, Set<string>>();
  for (const c of inJoinWindow) {
    users.set(
      c.joinYear,
      (users.get(c.joinYear) ?? new Set()).add(`${c.user}|${c.age}|${c.joined}`),
    );
  }
  const q6 = [...users].sort((a, b) => a[0] - b[0]).map(([post_year, s]) => ({
    post_year,
    number_users_joined: s.size,
  }));
  const q7 = [
    ...groupedMedians(
      withFollowers(inJoinWindow).map((c) => ({ key: c.joinYear, value: c.followers })),
    ),
  ]
    .sort((a, b) => a[0] - b[0])
    .map(([post_year, m]) => ({ post_year, median_follower_count: m }));
  const q8 = [
    ...groupedMedians(
      withFollowers(inJoinWindow).filter((c) => c.group !== null).map((c) => ({
        key: `${c.group}|${c.joinYear}`,
        value: c.followers,
      })),
    ),
  ]
    .map(([k, m]) => ({
      age_group: k.split("|")[0],
      post_year: Number(k.split("|")[1]),
      median_follower_count: m,
    }))
    .sort((a, b) => byGroup(a.age_group, b.age_group) || a.post_year - b.post_year);
  return { q1, q2, q3a, q3b, q4, q5, q6, q7, q8 };
}

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

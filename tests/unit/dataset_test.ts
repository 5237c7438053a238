/**
 * The synthetic dataset: shape, types, determinism, and the distributions and dirt of the
 * real data (SPEC §1, peer-pipelines §1.3), with tolerances.
 */
import assert from "node:assert/strict";
import {
  CATEGORIES,
  COUNTRIES,
  createDataset,
  DEFAULT_ROWS,
  DEFAULT_SEED,
  MEDIA_TYPES,
  PLACEHOLDERS,
} from "../../lib/source/dataset.ts";
import type { Posting } from "../../lib/source/dataset.ts";

const PIN_COLUMNS = [
  "index",
  "unique_id",
  "title",
  "description",
  "poster_name",
  "follower_count",
  "tag_list",
  "is_image_or_video",
  "image_src",
  "downloaded",
  "save_location",
  "category",
];
const GEO_COLUMNS = ["ind", "timestamp", "latitude", "longitude", "country"];
const USER_COLUMNS = ["ind", "first_name", "last_name", "age", "date_joined"];
const DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

const all: Posting[] = [...createDataset().postings()];
const pins = all.map((p) => p.pin);
const share = (pred: (p: Posting) => boolean) => all.filter(pred).length / all.length;

function assertNear(actual: number, expected: number, tolerance: number, what: string) {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: ${(actual * 100).toFixed(2)}%, expected ${(expected * 100).toFixed(1)}% ± ${
      (tolerance * 100).toFixed(1)
    }`,
  );
}

Deno.test("the default dataset has 11,153 postings keyed 0..11152 from seed 100", () => {
  const ds = createDataset();
  assert.equal(ds.rows, DEFAULT_ROWS);
  assert.equal(DEFAULT_ROWS, 11_153);
  assert.equal(ds.seed, DEFAULT_SEED);
  assert.equal(all.length, 11_153);
  all.forEach((p, i) => {
    assert.equal(p.key, i);
    assert.equal(p.pin.index, i);
    assert.equal(p.geo.ind, i);
    assert.equal(p.user.ind, i);
  });
  assert.throws(() => ds.posting(11_153), RangeError);
  assert.throws(() => ds.posting(-1), RangeError);
  assert.throws(() => ds.posting(1.5), RangeError);
});

Deno.test("rows have the source columns in source order with the source types", () => {
  for (const { pin, geo, user } of all) {
    assert.deepEqual(Object.keys(pin), PIN_COLUMNS);
    assert.deepEqual(Object.keys(geo), GEO_COLUMNS);
    assert.deepEqual(Object.keys(user), USER_COLUMNS);
    for (const c of PIN_COLUMNS) {
      const want = c === "index" || c === "downloaded" ? "number" : "string";
      assert.equal(typeof pin[c as keyof typeof pin], want, `pin ${c}`);
    }
    assert.match(
      pin.unique_id,
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.ok(Number.isInteger(pin.downloaded));
    assert.match(geo.timestamp, DATETIME);
    assert.equal(typeof geo.latitude, "number");
    assert.ok(geo.latitude >= -90 && geo.latitude <= 90);
    assert.ok(geo.longitude >= -180 && geo.longitude <= 180);
    assert.equal(typeof geo.country, "string");
    assert.ok(Number.isInteger(user.age));
    assert.match(user.date_joined, DATETIME);
    assert.equal(typeof user.first_name, "string");
    assert.equal(typeof user.last_name, "string");
  }
  assert.equal(new Set(pins.map((p) => p.unique_id)).size, all.length);
});

Deno.test("the same seed gives the same bytes whatever order rows are read in", () => {
  const a = createDataset({ rows: 3000, seed: 42 });
  const b = createDataset({ rows: 3000, seed: 42 });
  const forward = [...a.postings()].map((p) => JSON.stringify(p));
  const order = Array.from({ length: 3000 }, (_, i) => (i * 1237) % 3000);
  for (const k of order) assert.equal(JSON.stringify(b.posting(k)), forward[k]);
  // A smaller dataset is a prefix of a larger one with the same seed.
  const small = createDataset({ rows: 100, seed: 42 });
  for (const p of small.postings()) assert.equal(JSON.stringify(p), forward[p.key]);
  // Ranges read lazily give the same rows.
  assert.deepEqual([...a.postings(2990, 5000)].map((p) => JSON.stringify(p)), forward.slice(2990));
  // Another seed gives another dataset.
  const other = createDataset({ rows: 3000, seed: 43 });
  const same = forward.filter((f, k) => f === JSON.stringify(other.posting(k))).length;
  assert.equal(same, 0);
});

Deno.test("the placeholders are the real data's strings, exactly", () => {
  assert.deepEqual(PLACEHOLDERS, {
    title: "No Title Data Available",
    description: ["No description available Story format", "No description available"],
    poster_name: "User Info Error",
    follower_count: "User Info Error",
    tag_list: "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",
    image_src: "Image src error.",
  });
});

Deno.test("story-format rows carry every placeholder and downloaded 0", () => {
  const stories = pins.filter((p) => p.is_image_or_video === MEDIA_TYPES.story);
  assertNear(stories.length / pins.length, 0.015, 0.006, "story rows");
  for (const p of stories) {
    assert.equal(p.title, PLACEHOLDERS.title);
    assert.equal(p.description, "No description available Story format");
    assert.equal(p.poster_name, PLACEHOLDERS.poster_name);
    assert.equal(p.follower_count, PLACEHOLDERS.follower_count);
    assert.equal(p.tag_list, PLACEHOLDERS.tag_list);
    assert.equal(p.image_src, PLACEHOLDERS.image_src);
    assert.equal(p.downloaded, 0);
  }
  for (const p of pins.filter((p) => p.is_image_or_video !== MEDIA_TYPES.story)) {
    assert.equal(p.is_image_or_video, "image");
    assert.equal(p.downloaded, 1);
    assert.notEqual(p.follower_count, PLACEHOLDERS.follower_count);
  }
});

Deno.test("follower counts mix 26k, 437, 6M and User Info Error in the observed shares", () => {
  const k = share((p) => /^[1-9]\d{0,2}k$/.test(p.pin.follower_count));
  const digits = share((p) => /^(0|[1-9]\d{0,2})$/.test(p.pin.follower_count));
  const m = share((p) => /^[1-9]\d?M$/.test(p.pin.follower_count));
  const err = share((p) => p.pin.follower_count === "User Info Error");
  assert.equal(Math.round((k + digits + m + err) * all.length), all.length, "another form");
  assertNear(k, 0.74, 0.04, "<n>k");
  assertNear(digits, 0.17, 0.03, "digits");
  assertNear(m, 0.07, 0.02, "<n>M");
  assertNear(err, 0.015, 0.006, "User Info Error");
  // The same poster always shows the same follower count.
  const byPoster = new Map<string, Set<string>>();
  for (const p of pins) {
    if (!byPoster.has(p.poster_name)) byPoster.set(p.poster_name, new Set());
    byPoster.get(p.poster_name)!.add(p.follower_count);
  }
  const inconsistent = [...byPoster.values()].filter((s) => s.size > 1).length;
  assert.ok(inconsistent <= byPoster.size * 0.01, `${inconsistent} posters with several counts`);
});

Deno.test("median follower count falls with age group and with join year, as in the real runs", () => {
  // peer-pipelines §4.1: every public run has 18-24 > 25-35 > 36-50 > +50 (e.g. 130k, 22k,
  // 7k, 3k) and 2015 > 2016 > 2017 (e.g. 160k, 20k, 4k). Parsed per SPEC §4, median per
  // SPEC §5: percentile_cont(0.5) over the postings with a non-null follower_count.
  const parse = (raw: string): number | null => {
    const m = /^(\d+)([kM]?)$/.exec(raw);
    return m ? Number(m[1]) * (m[2] === "k" ? 1_000 : m[2] === "M" ? 1_000_000 : 1) : null;
  };
  const median = (values: number[]): number => {
    const v = [...values].sort((a, b) => a - b);
    const mid = v.length >> 1;
    return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  };
  const ageGroup = (age: number): string | null => {
    if (age >= 18 && age <= 24) return "18-24";
    if (age >= 25 && age <= 35) return "25-35";
    if (age >= 36 && age <= 50) return "36-50";
    return age > 50 ? "+50" : null;
  };
  const byAge = new Map<string, number[]>();
  const byYear = new Map<string, number[]>();
  const add = (groups: Map<string, number[]>, key: string, value: number) => {
    const values = groups.get(key);
    if (values) values.push(value);
    else groups.set(key, [value]);
  };
  for (const { pin, user } of all) {
    const followers = parse(pin.follower_count);
    if (followers === null) continue;
    const group = ageGroup(user.age);
    if (group !== null) add(byAge, group, followers);
    add(byYear, user.date_joined.slice(0, 4), followers);
  }
  const falls = (groups: Map<string, number[]>, order: string[], what: string) => {
    const medians = order.map((g) => median(groups.get(g) ?? []));
    const shown = order.map((g, i) => `${g} ${medians[i]}`).join(", ");
    for (let i = 1; i < order.length; i++) {
      assert.ok(
        medians[i] > 0 && medians[i - 1] >= 1.5 * medians[i],
        `median follower count by ${what} should fall by 1.5x or more at each step: ${shown}`,
      );
    }
  };
  falls(byAge, ["18-24", "25-35", "36-50", "+50"], "age group");
  falls(byYear, ["2015", "2016", "2017"], "join year");
});

Deno.test("there are 13 categories, each with its save_location", () => {
  assert.deepEqual([...new Set(pins.map((p) => p.category))].sort(), [...CATEGORIES]);
  assert.equal(CATEGORIES.length, 13);
  for (const p of pins) assert.equal(p.save_location, `Local save in /data/${p.category}`);
  for (const c of CATEGORIES) {
    const s = share((p) => p.pin.category === c);
    assert.ok(s > 0.04 && s < 0.12, `${c}: ${s}`);
  }
});

Deno.test("text has placeholders, non-English script, emoji and the truncated …\\u00a0 ending", () => {
  const images = pins.filter((p) => p.is_image_or_video === "image");
  const frac = (pred: (p: (typeof pins)[0]) => boolean) =>
    images.filter(pred).length / images.length;
  assert.ok(frac((p) => p.description.endsWith("\u2026\u00a0")) > 0.05, "truncated descriptions");
  assert.ok(frac((p) => p.description === "No description available") > 0.005);
  assert.ok(frac((p) => p.title === PLACEHOLDERS.title) > 0.002);
  assert.ok(frac((p) => p.tag_list === PLACEHOLDERS.tag_list) > 0.002);
  const text = (p: (typeof pins)[0]) => `${p.title} ${p.description} ${p.poster_name}`;
  assert.ok(frac((p) => /\p{Script=Cyrillic}/u.test(text(p))) > 0.02, "Russian text");
  assert.ok(frac((p) => /\p{Script=Greek}/u.test(text(p))) > 0.01, "Greek text");
  assert.ok(frac((p) => /\p{Extended_Pictographic}/u.test(p.title)) > 0.02, "emoji in titles");
  assert.ok(frac((p) => /\p{Extended_Pictographic}/u.test(p.poster_name)) > 0.02, "emoji in names");
  for (const p of images) {
    assert.ok(p.title.length > 0 && p.description.length > 0 && p.poster_name.length > 0);
    if (p.tag_list !== PLACEHOLDERS.tag_list) {
      const tags = p.tag_list.split(",");
      assert.ok(tags.length >= 3 && tags.length <= 10, p.tag_list);
    }
    assert.match(
      p.image_src,
      /^https:\/\/i\.pinimg\.com\/originals\/([0-9a-f]{2})\/([0-9a-f]{2})\/([0-9a-f]{2})\/\1\2\3[0-9a-f]{26}\.(jpg|png)$/,
    );
  }
});

Deno.test("countries come from Faker's list with the real data's spellings", () => {
  assert.ok(COUNTRIES.includes("Antarctica (the territory South of 60 deg S)"));
  assert.ok(COUNTRIES.includes("Cote d'Ivoire"));
  assert.ok(COUNTRIES.includes("Albania"));
  assert.ok(!COUNTRIES.includes("Côte d'Ivoire"));
  const seen = new Set(all.map((p) => p.geo.country));
  for (const c of seen) assert.ok(COUNTRIES.includes(c), c);
  assert.ok(seen.size > 150, `only ${seen.size} countries`);
});

Deno.test("timestamps run late 2017 to 2022, join dates 2015 to 2017, ages 20 to 59", () => {
  const ts = all.map((p) => p.geo.timestamp).sort();
  assert.ok(ts[0] >= "2017-12-01 00:00:00", ts[0]);
  assert.ok(ts[ts.length - 1] <= "2022-12-31 23:59:59", ts[ts.length - 1]);
  const years = new Set(ts.map((t) => t.slice(0, 4)));
  assert.deepEqual([...years].sort(), ["2017", "2018", "2019", "2020", "2021", "2022"]);
  const joined = new Set(all.map((p) => p.user.date_joined.slice(0, 4)));
  assert.deepEqual([...joined].sort(), ["2015", "2016", "2017"]);
  const ages = all.map((p) => p.user.age);
  assert.equal(Math.min(...ages), 20);
  assert.equal(Math.max(...ages), 59);
  for (const [lo, hi] of [[20, 24], [25, 35], [36, 50], [51, 59]]) {
    assert.ok(ages.some((a) => a >= lo && a <= hi), `no ages ${lo}-${hi}`);
  }
});

Deno.test("users and coordinates repeat across keys, together", () => {
  const seen = new Map<string, string>();
  let repeats = 0;
  for (const { geo, user } of all) {
    const who = `${user.first_name}|${user.last_name}|${user.age}|${user.date_joined}`;
    const where = `${geo.latitude}|${geo.longitude}|${geo.country}`;
    if (seen.has(who)) {
      repeats++;
      assert.equal(seen.get(who), where, `${who} posts from two places`);
    } else {
      seen.set(who, where);
    }
  }
  assert.ok(repeats > all.length / 3, `only ${repeats} repeated users`);
  assert.ok(seen.size > 1000, `only ${seen.size} distinct users`);
});

Deno.test("a large dataset reads any key without generating the ones before it", () => {
  const big = createDataset({ rows: 50_000_000, seed: 7 });
  const last = big.posting(49_999_999);
  assert.equal(last.pin.index, 49_999_999);
  assert.equal(
    JSON.stringify(createDataset({ rows: 50_000_000, seed: 7 }).posting(49_999_999)),
    JSON.stringify(last),
  );
});

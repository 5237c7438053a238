/**
 * An independent reference for the transform: SPEC §4 (cleaning) and §5 (the eight
 * questions) in plain TypeScript over dataset postings, with no DuckDB and no SQL, so tests
 * can check the transform (and the demo end to end) against answers computed another way.
 * @module
 */
import { PLACEHOLDERS, type Posting } from "../lib/dataset.ts";
import type { Row } from "../lib/table_format.ts";

/** follower_count per SPEC §4: 26k -> 26000, 6M -> 6000000, 1.5k -> 1500, digits as is. */
export function followers(raw: string): number | null {
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

/** The eight answers (SPEC §5) for `postings`, each posting counted once. */
export function referenceAnswers(postings: Posting[]): Record<string, Row[]> {
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

/**
 * An independent reference for the transform: SPEC §4 and §4.1 (reading the lake's lines,
 * quarantine, exact duplicates, cleaning) and §5 (the eight questions) in plain TypeScript,
 * with no DuckDB, no Spark and no SQL, so tests can check both engines (and the demo end to
 * end) against answers computed another way. It has its own strict JSON parser, because the
 * rules depend on what the platform's JSON.parse hides (a field named twice, number forms).
 * @module
 */
import type { Posting } from "../lib/source/dataset.ts";
import { objectKey } from "../lib/lake/lake.ts";
import type { Row } from "../lib/shell/table_format.ts";

type TableName = "pin" | "geo" | "user";
const TABLES: TableName[] = ["pin", "geo", "user"];
const KEY: Record<TableName, string> = { pin: "index", geo: "ind", user: "ind" };
const INT_MAX = 2147483647;
const MAX_LINE_BYTES = 16 * 1024 * 1024;

// --- a strict JSON parser (RFC 8259), keeping number tokens and repeated names ------------

/** A parsed JSON value: objects keep their fields in order (a name may repeat). */
type Json =
  | { t: "object"; fields: [string, Json][] }
  | { t: "array"; items: Json[] }
  | { t: "string"; v: string }
  | { t: "number"; raw: string }
  | { t: "true" | "false" | "null" };

class JsonError extends Error {}

/** Parses `text` as exactly one JSON value (surrounding whitespace allowed), or throws. */
export function parseJson(text: string): Json {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i])) i++;
  };
  const fail = (): never => {
    throw new JsonError(`not JSON at ${i}`);
  };
  const str = (): string => {
    if (text[i] !== '"') fail();
    i++;
    let out = "";
    for (;;) {
      if (i >= text.length) fail();
      const c = text[i++];
      if (c === '"') return out;
      if (c.charCodeAt(0) < 0x20) fail();
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = text[i++];
      const simple: Record<string, string> = {
        '"': '"',
        "\\": "\\",
        "/": "/",
        b: "\b",
        f: "\f",
        n: "\n",
        r: "\r",
        t: "\t",
      };
      if (e in simple) out += simple[e];
      else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i, i + 4))) {
        out += String.fromCharCode(parseInt(text.slice(i, i + 4), 16));
        i += 4;
      } else fail();
    }
  };
  const value = (): Json => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const fields: [string, Json][] = [];
      ws();
      if (text[i] === "}") {
        i++;
        return { t: "object", fields };
      }
      for (;;) {
        ws();
        const k = str();
        ws();
        if (text[i++] !== ":") fail();
        fields.push([k, value()]);
        ws();
        const d = text[i++];
        if (d === "}") return { t: "object", fields };
        if (d !== ",") fail();
      }
    }
    if (c === "[") {
      i++;
      const items: Json[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return { t: "array", items };
      }
      for (;;) {
        items.push(value());
        ws();
        const d = text[i++];
        if (d === "]") return { t: "array", items };
        if (d !== ",") fail();
      }
    }
    if (c === '"') return { t: "string", v: str() };
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (m) {
      i += m[0].length;
      return { t: "number", raw: m[0] };
    }
    for (const word of ["true", "false", "null"] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return { t: word };
      }
    }
    return fail();
  };
  const v = value();
  ws();
  if (i !== text.length) fail();
  return v;
}

/**
 * A number as both engines turn it into text: exactly as written in the line (SPEC §4.1:
 * never re-printed by a parser, so `10000000.0` stays `10000000.0` and `1.5e3` `1.5e3`).
 */
function numberText(raw: string): string {
  return raw;
}

/** Minified JSON of a nested value, as the engines write it. */
function jsonText(v: Json): string {
  switch (v.t) {
    case "object":
      return `{${v.fields.map(([k, x]) => `${JSON.stringify(k)}:${jsonText(x)}`).join(",")}}`;
    case "array":
      return `[${v.items.map(jsonText).join(",")}]`;
    case "string":
      return JSON.stringify(v.v);
    case "number":
      return numberText(v.raw);
    default:
      return v.t;
  }
}

/** A field's value as text (SPEC §4.1: `30` and `"30"` are the same value); null for null. */
function fieldText(v: Json): string | null {
  if (v.t === "null") return null;
  if (v.t === "string") return v.v;
  if (v.t === "number") return numberText(v.raw);
  if (v.t === "true" || v.t === "false") return v.t;
  return jsonText(v);
}

// --- reading the lake -------------------------------------------------------------------

/** One object of the lake. */
export interface RawObject {
  table: TableName;
  key: string;
  bytes: Uint8Array;
}

/** A quarantined line (or array element), as both engines report it. */
export interface RefQuarantine {
  table: TableName;
  key: string;
  line: number;
  element?: number;
  reason: string;
}

/** Counts per table, as the engines report them. */
export interface RefStats {
  lines: number;
  records: number;
  quarantined: number;
  duplicates: number;
  rows: number;
}

/** A cleaned row; timestamps as `YYYY-MM-DD HH:MM:SS.ffffff` (UTC). */
export type RefRow = Record<string, string | number | null | (number | null)[]>;

/** What the reference makes of a lake. */
export interface RefLake {
  tables: Record<TableName, RefRow[]>;
  quarantine: RefQuarantine[];
  stats: Record<TableName, RefStats>;
}

/**
 * A record's fields as text. `signed` names the fields written as a JSON number with a
 * minus sign: only there does a minus count in an integer (SPEC §4.1: `-5` is -5, `"-5"` is
 * not a string of digits).
 */
type Fields = Map<string, string | null> & { signed?: Set<string> };

/** A key or an age as SPEC §4.1 reads it: a JSON integer or a string of digits, in INT. */
function intField(f: Fields, name: string): number | null {
  const v = f.get(name);
  if (v === undefined || v === null) return null;
  const ok = /^[0-9]+$/.test(v) || (f.signed?.has(name) === true && /^-[0-9]+$/.test(v));
  return ok && inInt(v) ? Number(v) : null;
}

/** The records of one line (or why it has none). */
function readLine(
  line: string,
  key: string,
): { records: Fields[]; bad: [number | undefined, string][] } {
  let v: Json;
  try {
    v = parseJson(line);
  } catch {
    return { records: [], bad: [[undefined, "not valid JSON"]] };
  }
  const elements: [number | undefined, Json][] = v.t === "object"
    ? [[undefined, v]]
    : v.t === "array" && v.items.every((x) => x.t === "object")
    ? v.items.map((x, n) => [n + 1, x])
    : [];
  if (v.t === "array" && elements.length !== v.items.length) {
    return { records: [], bad: [[undefined, "a JSON array holding something other than objects"]] };
  }
  if (v.t !== "object" && v.t !== "array") {
    return { records: [], bad: [[undefined, "not a JSON object"]] };
  }
  const records: Fields[] = [];
  const bad: [number | undefined, string][] = [];
  for (const [element, obj] of elements) {
    const fields = (obj as Extract<Json, { t: "object" }>).fields;
    const map: Fields = new Map();
    for (const [k, x] of fields) {
      map.set(k, fieldText(x));
      if (x.t === "number" && x.raw.startsWith("-")) (map.signed ??= new Set()).add(k);
    }
    if (map.size !== fields.length) {
      bad.push([element, "a field appears twice"]);
      continue;
    }
    if (intField(map, key) === null) {
      bad.push([element, `no integer "${key}"`]);
      continue;
    }
    records.push(map);
  }
  return { records, bad };
}

function inInt(digits: string): boolean {
  const n = BigInt(digits);
  return n >= -2147483648n && n <= BigInt(INT_MAX);
}

/** The exact-duplicate identity of a record: every non-null field, in name order. */
function identity(fields: Fields): string {
  return JSON.stringify(
    [...fields].filter(([, v]) => v !== null).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0),
  );
}

/** Reads, quarantines, deduplicates and cleans the objects of a lake (SPEC §4, §4.1). */
export function referenceClean(objects: RawObject[]): RefLake {
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const quarantine: RefQuarantine[] = [];
  const tables = {} as Record<TableName, RefRow[]>;
  const stats = {} as Record<TableName, RefStats>;
  for (const table of TABLES) {
    const s: RefStats = { lines: 0, records: 0, quarantined: 0, duplicates: 0, rows: 0 };
    const seen = new Map<string, Fields>();
    const sorted = objects.filter((o) => o.table === table).sort((a, b) => a.key < b.key ? -1 : 1);
    for (const o of sorted) {
      let start = 0;
      for (let n = 1; start <= o.bytes.length; n++) {
        let end = o.bytes.indexOf(0x0a, start);
        if (end < 0) end = o.bytes.length;
        const bytes = o.bytes.subarray(start, end);
        start = end + 1;
        const q = (reason: string, element?: number) => {
          quarantine.push({ table, key: o.key, line: n, ...(element ? { element } : {}), reason });
          s.quarantined++;
        };
        let line: string;
        try {
          line = strict.decode(bytes);
        } catch {
          s.lines++;
          q("not valid UTF-8");
          continue;
        }
        if (n === 1 && line.startsWith("\ufeff")) line = line.slice(1);
        if (/^[ \t\r]*$/.test(line)) continue;
        s.lines++;
        if (bytes.length > MAX_LINE_BYTES) {
          q("longer than 16 MiB");
          continue;
        }
        const { records, bad } = readLine(line, KEY[table]);
        for (const [element, reason] of bad) q(reason, element);
        for (const r of records) {
          s.records++;
          const id = identity(r);
          const kept = seen.get(id);
          if (kept) {
            // One record; a field is signed when any copy wrote it so.
            s.duplicates++;
            for (const f of r.signed ?? []) (kept.signed ??= new Set()).add(f);
          } else seen.set(id, r);
        }
      }
    }
    tables[table] = [...seen.values()].map((f) => CLEAN[table](f));
    s.rows = tables[table].length;
    stats[table] = s;
  }
  quarantine.sort((a, b) =>
    TABLES.indexOf(a.table) - TABLES.indexOf(b.table) ||
    (a.key < b.key
      ? -1
      : a.key > b.key
      ? 1
      : a.line - b.line || (a.element ?? 0) - (b.element ?? 0))
  );
  return { tables, quarantine, stats };
}

/** The objects of a lake folder (`topics/<prefix>.<table>/partition=*` in the sink layout). */
export async function readLakeDir(root: string, prefix = "pinpipe"): Promise<RawObject[]> {
  const out: RawObject[] = [];
  for (const table of TABLES) {
    const dir = `${root}/topics/${prefix}.${table}`;
    let parts: Deno.DirEntry[];
    try {
      parts = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      continue;
    }
    for (const p of parts.filter((e) => e.isDirectory && e.name.startsWith("partition="))) {
      for await (const f of Deno.readDir(`${dir}/${p.name}`)) {
        if (!f.isFile || !f.name.endsWith(".json")) continue;
        const key = `topics/${prefix}.${table}/${p.name}/${f.name}`;
        out.push({ table, key, bytes: await Deno.readFile(`${root}/${key}`) });
      }
    }
  }
  return out;
}

// --- cleaning (SPEC §4, §4.1) -----------------------------------------------------------

const empty = (v: string | null | undefined) => (v === undefined || v === "" ? null : v);
const unless = (v: string | null | undefined, ...placeholders: string[]) => {
  const t = empty(v);
  return t === null || placeholders.includes(t) ? null : t;
};

/**
 * follower_count per SPEC §4.1: trimmed of spaces, digits with an optional fraction, then
 * k/K or m/M; exact, rounded half up; negatives, other forms and beyond INT are null.
 */
export function followers(raw: string | null | undefined): number | null {
  if (raw === null || raw === undefined) return null;
  const m = /^0*([0-9]+)(?:\.([0-9]+))?([kKmM]?)$/.exec(raw.replace(/^ +| +$/g, ""));
  if (!m || m[1].length > 10) return null;
  const e = m[3] === "" ? 0 : /k/i.test(m[3]) ? 3 : 6;
  const frac = (m[2] ?? "").padEnd(e + 1, "0");
  const n = BigInt(m[1] + frac.slice(0, e)) + (frac[e] >= "5" ? 1n : 0n);
  return n <= BigInt(INT_MAX) ? Number(n) : null;
}

function decimal(raw: string | null | undefined): number | null {
  return raw && /^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(raw) ? Number(raw) : null;
}

/** A timestamp per SPEC §4.1, in UTC, as `YYYY-MM-DD HH:MM:SS.ffffff`; else null. */
export function timestamp(raw: string | null | undefined): string | null {
  const m = raw
    ? /^([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])(\.[0-9]+)?(Z|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))?$/
      .exec(raw)
    : null;
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const day = new Date(Date.UTC(2000, mo - 1, d));
  day.setUTCFullYear(y);
  if (day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) return null;
  const micros = (m[7] ?? ".").slice(1).padEnd(6, "0").slice(0, 6);
  const offset = m[9] ? (m[9] === "+" ? 1 : -1) * (Number(m[10]) * 60 + Number(m[11])) : 0;
  const t = new Date(Date.UTC(2000, mo - 1, d, h, mi - offset, s));
  t.setUTCFullYear(y + (t.getUTCFullYear() - 2000));
  return `${t.toISOString().slice(0, 19).replace("T", " ")}.${micros}`;
}

const CLEAN: Record<TableName, (f: Fields) => RefRow> = {
  pin: (f) => ({
    ind: Number(f.get("index")),
    unique_id: empty(f.get("unique_id")),
    title: unless(f.get("title"), "No Title Data Available"),
    description: unless(
      f.get("description"),
      "No description available Story format",
      "No description available",
    ),
    follower_count: followers(f.get("follower_count")),
    poster_name: unless(f.get("poster_name"), "User Info Error"),
    tag_list: unless(f.get("tag_list"), "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"),
    is_image_or_video: empty(f.get("is_image_or_video")),
    image_src: unless(f.get("image_src"), "Image src error."),
    save_location: f.get("save_location")?.includes("/")
      ? f.get("save_location")!.slice(f.get("save_location")!.indexOf("/"))
      : null,
    category: empty(f.get("category")),
  }),
  geo: (f) => ({
    ind: Number(f.get("ind")),
    country: empty(f.get("country")),
    coordinates: [decimal(f.get("latitude")), decimal(f.get("longitude"))],
    timestamp: timestamp(f.get("timestamp")),
  }),
  user: (f) => {
    const first = empty(f.get("first_name"));
    const last = empty(f.get("last_name"));
    return {
      ind: Number(f.get("ind")),
      user_name: first !== null && last !== null ? `${first} ${last}` : null,
      age: intField(f, "age"),
      date_joined: timestamp(f.get("date_joined")),
    };
  },
};

// --- the eight questions (SPEC §5) ------------------------------------------------------

function ageGroup(age: number | null): string | null {
  if (age === null) return null;
  if (age >= 18 && age <= 24) return "18-24";
  if (age >= 25 && age <= 35) return "25-35";
  if (age >= 36 && age <= 50) return "36-50";
  return age > 50 ? "+50" : null;
}
const GROUP_ORDER = ["18-24", "25-35", "36-50", "+50"];
const byGroup = (a: string, b: string) => GROUP_ORDER.indexOf(a) - GROUP_ORDER.indexOf(b);
const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
const yearOf = (ts: unknown) => (typeof ts === "string" ? Number(ts.slice(0, 4)) : null);

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
    const leaders = [...m.keys()].filter((c) => m.get(c) === best).sort(cmp);
    for (const c of leaders) {
      rows.push({ [groupName]: g, category: c, category_count: best, tied: leaders.length });
    }
  }
  return rows;
}

function groupedMedians<K>(items: { key: K; value: number }[]): Map<K, number> {
  const m = new Map<K, number[]>();
  for (const { key, value } of items) m.set(key, [...(m.get(key) ?? []), value]);
  return new Map([...m].map(([k, v]) => [k, median(v)]));
}

/** Inner join on ind (every pair of rows with the same key, as SQL does). */
function join(a: RefRow[], b: RefRow[]): [RefRow, RefRow][] {
  const byInd = new Map<unknown, RefRow[]>();
  for (const r of b) byInd.set(r.ind, [...(byInd.get(r.ind) ?? []), r]);
  return a.flatMap((r) => (byInd.get(r.ind) ?? []).map((s) => [r, s] as [RefRow, RefRow]));
}

/** The eight answers (SPEC §5) from cleaned tables. */
export function answersFromClean(t: Record<TableName, RefRow[]>): Record<string, Row[]> {
  const pg = join(t.pin, t.geo).map(([p, g]) => ({
    category: p.category as string | null,
    poster: p.poster_name as string | null,
    followers: p.follower_count as number | null,
    country: g.country as string | null,
    postYear: yearOf(g.timestamp),
  }));
  const q1 = topCategories(
    pg.filter((c) => c.country !== null && c.category !== null)
      .map((c) => ({ group: c.country!, category: c.category! })),
    "country",
    cmp,
  );
  const q2 = topCategories(
    pg.filter((c) => c.postYear !== null && c.postYear >= 2018 && c.postYear <= 2022)
      .filter((c) => c.category !== null)
      .map((c) => ({ group: c.postYear!, category: c.category! })),
    "post_year",
    cmp,
  );
  const ranked = pg.filter((c) => c.country !== null && c.poster !== null && c.followers !== null);
  const posters = new Map<string, Map<string, number>>();
  for (const c of ranked) {
    const m = posters.get(c.country!) ?? new Map<string, number>();
    m.set(c.poster!, Math.max(m.get(c.poster!) ?? -Infinity, c.followers!));
    posters.set(c.country!, m);
  }
  const q3a: Row[] = [];
  for (const country of [...posters.keys()].sort(cmp)) {
    const m = posters.get(country)!;
    const best = Math.max(...m.values());
    const tops = [...m.keys()].filter((p) => m.get(p) === best).sort(cmp);
    for (const p of tops) {
      q3a.push({ country, poster_name: p, follower_count: best, tied: tops.length });
    }
  }
  // Q3b: SPEC's one row (the top, ties broken by country name) first, then every country
  // tied with it, by name.
  const top = Math.max(...ranked.map((c) => c.followers!));
  const topCountries = [
    ...new Set(ranked.filter((c) => c.followers === top).map((c) => c.country!)),
  ]
    .sort(cmp);
  const q3b = topCountries.map((country) => ({
    country,
    follower_count: top,
    tied: topCountries.length,
  }));

  const pu = join(t.pin, t.user).map(([p, u]) => ({
    category: p.category as string | null,
    followers: p.follower_count as number | null,
    group: ageGroup(u.age as number | null),
    user: `${u.user_name}|${u.age}|${u.date_joined}`,
    joinYear: yearOf(u.date_joined),
  }));
  const grouped = pu.filter((c) => c.group !== null);
  const inWindow = pu.filter((c) =>
    c.joinYear !== null && c.joinYear >= 2015 && c.joinYear <= 2020
  );
  const q4 = topCategories(
    grouped.filter((c) => c.category !== null).map((c) => ({
      group: c.group!,
      category: c.category!,
    })),
    "age_group",
    byGroup,
  );
  const q5 = [
    ...groupedMedians(
      grouped.filter((c) => c.followers !== null).map((c) => ({
        key: c.group!,
        value: c.followers!,
      })),
    ),
  ].sort((a, b) => byGroup(a[0], b[0])).map(([age_group, m]) => ({
    age_group,
    median_follower_count: m,
  }));
  const users = new Map<number, Set<string>>();
  for (const c of inWindow) {
    users.set(c.joinYear!, (users.get(c.joinYear!) ?? new Set()).add(c.user));
  }
  const q6 = [...users].sort((a, b) => a[0] - b[0]).map(([post_year, s]) => ({
    post_year,
    number_users_joined: s.size,
  }));
  const q7 = [
    ...groupedMedians(
      inWindow.filter((c) => c.followers !== null).map((c) => ({
        key: c.joinYear!,
        value: c.followers!,
      })),
    ),
  ].sort((a, b) => a[0] - b[0]).map(([post_year, m]) => ({
    post_year,
    median_follower_count: m,
  }));
  const q8 = [
    ...groupedMedians(
      inWindow.filter((c) => c.followers !== null && c.group !== null).map((c) => ({
        key: `${c.group}|${c.joinYear}`,
        value: c.followers!,
      })),
    ),
  ].map(([k, m]) => ({
    age_group: k.split("|")[0],
    post_year: Number(k.split("|")[1]),
    median_follower_count: m,
  })).sort((a, b) => byGroup(a.age_group, b.age_group) || a.post_year - b.post_year);
  return { q1, q2, q3a, q3b, q4, q5, q6, q7, q8 };
}

/**
 * The eight answers (SPEC §5) for `postings`, each posting counted once: the postings are
 * written as the sink's lines would be and go through the whole reference.
 */
export function referenceAnswers(postings: Posting[]): Record<string, Row[]> {
  const enc = new TextEncoder();
  const objects = TABLES.map((table) => ({
    table,
    key: objectKey(`pinpipe.${table}`, 0, 0),
    bytes: enc.encode(postings.map((p) => JSON.stringify(p[table]) + "\n").join("")),
  }));
  return answersFromClean(referenceClean(objects).tables);
}

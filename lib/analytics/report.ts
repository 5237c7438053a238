/**
 * The transform's report: one self-contained HTML page (no external URL, opens offline)
 * that answers the eight questions honestly: ties shown as ties, the size of every group
 * beside its count or median, the runner-up and the winner's share where a category wins,
 * follower counts on a log scale where they span orders of magnitude, maps for the
 * per-country answers, and the pipeline's own figures at the top. Tables sort and filter
 * with a small inline script (and read fine without it); links lead to each answer's CSV
 * and JSON beside the page. Charts are Vega-Lite specs rendered to SVG here, headless.
 *
 * The answers themselves (and the CSV/JSON files) keep SPEC §5's columns; what the report
 * adds (group sizes, runner-ups, tie counts) comes from `reportContext`, a few counting
 * queries over the same cleaned views, and is set apart in the tables.
 * @module
 */
import type { QuarantinedLine, TableName, TableStats } from "./clean.ts";
import type { DuckDBConnection } from "../deps/duckdb.ts";
import { parse, type Spec, View } from "../deps/vega.ts";
import { compile, type TopLevelSpec } from "../deps/vega_lite.ts";
import { worldCountries110m } from "../deps/world_atlas.ts";
import { fmtBytes, fmtInt, fmtSec } from "../shell/progress.ts";
import type { Answer } from "./questions.ts";
import { cellText, type Row } from "../shell/table_format.ts";

/** The pipeline's own figures, which only a run of the whole pipeline knows (the demo). */
export interface PipelineFigures {
  /** Postings the emulator read from its source. */
  postings: number;
  /** Records sent (three per posting) and acknowledged by Kafka or the REST proxy. */
  sent: number;
  acknowledged: number;
  /** Records the broker holds on the three topics. */
  broker: number;
  /** Records the sink landed in the lake. */
  landed: number;
}

/** One group of a question: its size and, for the category questions, every category's count. */
export interface GroupContext {
  /** The group as `groupKey` spells it from an answer row (`Albania`, `2019`, `+50 2016`). */
  key: string;
  /** Postings the question counted in the group (for a median: those with a follower count). */
  n: number;
  /** Q3A: distinct posters in the country. */
  users?: number;
  /** Q1, Q2, Q4: every category's count, largest first. */
  categories?: { category: string; count: number }[];
}

/** Per question id, its groups. */
export type ReportContext = Record<string, GroupContext[]>;

/** What the report shows. */
export interface ReportInput {
  lake: string;
  prefix: string;
  generatedAt: Date;
  objects: number;
  bytes: number;
  tables: Record<TableName, TableStats>;
  /** The quarantined lines (the report lists the first ones). */
  quarantine: readonly QuarantinedLine[];
  answers: readonly Answer[];
  /** Seconds per step, in order. */
  timings: Record<string, number>;
  /** Group sizes and runner-ups (`reportContext`); without it the report shows the answers alone. */
  context?: ReportContext;
  /** The figures of the whole pipeline run, when the caller ran it (the demo). */
  pipeline?: PipelineFigures;
}

/** Quarantined lines listed in the page; the rest are counted. */
const QUARANTINE_SHOWN = 50;

const AGE_ORDER = ["18-24", "25-35", "36-50", "+50"];

/**
 * Fonts for text and charts: the platform's UI font, then the emoji fonts of macOS, Windows
 * and Linux (posters' names carry emoji). The page embeds no font: Noto Color Emoji is
 * 5.8 MB as a web font, several times the whole report.
 */
const FONT = "'pinpipe emoji', system-ui, -apple-system, 'Segoe UI', Roboto, " +
  "'Helvetica Neue', Arial, sans-serif, 'Apple Color Emoji', 'Segoe UI Emoji', 'Noto Color Emoji'";

/**
 * The platform's colour emoji font, installed (`local()`: nothing is downloaded), first in
 * line but only for emoji code points: otherwise a text font that has a few emoji in black
 * and white (DejaVu Sans has the emoticons) draws them before the colour font is asked.
 */
const EMOJI_FACE = `@font-face {
  font-family: "pinpipe emoji";
  src: local("Apple Color Emoji"), local("Segoe UI Emoji"), local("Noto Color Emoji"),
    local("NotoColorEmoji");
  unicode-range: U+1F000-1FAFF, U+2600-27BF, U+2B00-2BFF, U+2190-21FF, U+2300-23FF,
    U+3030, U+303D, U+3297, U+3299, U+FE0F, U+200D, U+20E3, U+E0020-E007F;
}`;

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** Renders a Vega-Lite spec to an SVG string, headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const vega = compile(spec).spec as Spec;
  const view = new View(parse(vega), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

// ---------------------------------------------------------------------------------------
// The context: group sizes and every category's count, from the cleaned views.

const PIN_GEO = "pin_clean AS p JOIN geo_clean AS g ON p.ind = g.ind";

/**
 * Per question, the postings each group holds, with the filters of its `sql/q*.sql` (the
 * report's own counting, in DuckDB only: it is not part of the answers both engines share).
 * Columns: `grp`, then `category` and `n` (every category's count) or `n` (and `users`).
 * Q4 to Q8 read the view `pin_user` (sql/pin_user.sql), where the age groups are defined.
 */
const CONTEXT_SQL: Record<string, string> = {
  q1: `SELECT g.country AS grp, p.category, COUNT(*) AS n FROM ${PIN_GEO}
    WHERE g.country IS NOT NULL AND p.category IS NOT NULL GROUP BY 1, 2`,
  q2: `SELECT CAST(year(g.timestamp) AS VARCHAR) AS grp, p.category, COUNT(*) AS n FROM ${PIN_GEO}
    WHERE year(g.timestamp) BETWEEN 2018 AND 2022 AND p.category IS NOT NULL GROUP BY 1, 2`,
  q3a: `SELECT g.country AS grp, COUNT(*) AS n, COUNT(DISTINCT p.poster_name) AS users
    FROM ${PIN_GEO}
    WHERE g.country IS NOT NULL AND p.poster_name IS NOT NULL AND p.follower_count IS NOT NULL
    GROUP BY 1`,
  q4: `SELECT age_group AS grp, category, COUNT(*) AS n FROM pin_user
    WHERE category IS NOT NULL AND age_group IS NOT NULL GROUP BY 1, 2`,
  q5: `SELECT age_group AS grp, COUNT(*) AS n FROM pin_user
    WHERE follower_count IS NOT NULL AND age_group IS NOT NULL GROUP BY 1`,
  q6: `SELECT CAST(join_year AS VARCHAR) AS grp, COUNT(*) AS n FROM pin_user
    WHERE join_year BETWEEN 2015 AND 2020 GROUP BY 1`,
  q7: `SELECT CAST(join_year AS VARCHAR) AS grp, COUNT(*) AS n FROM pin_user
    WHERE follower_count IS NOT NULL AND join_year BETWEEN 2015 AND 2020 GROUP BY 1`,
  q8: `SELECT age_group || ' ' || CAST(join_year AS VARCHAR) AS grp, COUNT(*) AS n FROM pin_user
    WHERE follower_count IS NOT NULL AND join_year BETWEEN 2015 AND 2020
      AND age_group IS NOT NULL
    GROUP BY 1`,
};

/** The group an answer row belongs to, spelled as `GroupContext.key`. */
export function groupKey(id: string, row: Row): string {
  switch (id) {
    case "q1":
    case "q3a":
    case "q3b":
      return String(row.country);
    case "q2":
    case "q6":
    case "q7":
      return String(row.post_year);
    case "q8":
      return `${row.age_group} ${row.post_year}`;
    default:
      return String(row.age_group);
  }
}

/**
 * Counts, over the cleaned views `pin_clean`, `geo_clean` and `user_clean` on `conn`, the
 * postings of every group of every question (and every category's count for Q1, Q2, Q4),
 * for the report to show beside the answers.
 */
export async function reportContext(conn: DuckDBConnection): Promise<ReportContext> {
  const context: ReportContext = {};
  for (const [id, sql] of Object.entries(CONTEXT_SQL)) {
    let rows: Record<string, unknown>[];
    try {
      rows = (await conn.runAndReadAll(sql)).getRowObjectsJS();
    } catch (err) {
      throw new Error(`Cannot count the groups of ${id} for the report`, { cause: err });
    }
    const groups = new Map<string, GroupContext>();
    for (const r of rows) {
      const key = String(r.grp);
      const g = groups.get(key) ?? { key, n: 0 };
      groups.set(key, g);
      const n = Number(r.n);
      g.n += n;
      if (r.category !== undefined) {
        (g.categories ??= []).push({ category: String(r.category), count: n });
      }
      if (r.users !== undefined) g.users = Number(r.users);
    }
    for (const g of groups.values()) {
      g.categories?.sort((a, b) => b.count - a.count || cmp(a.category, b.category));
    }
    context[id] = [...groups.values()].sort((a, b) => byGroup(a.key, b.key));
  }
  return context;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Group keys in the answers' order: age groups youngest first, then by name or year. */
function byGroup(a: string, b: string): number {
  const age = (k: string) => AGE_ORDER.indexOf(k.split(" ")[0]);
  return (age(a) - age(b)) || cmp(a, b);
}

/** A category question's group: who leads, by how much, out of how many. */
interface Race {
  n: number;
  top: number;
  winners: string[];
  runnerUp?: { categories: string[]; count: number };
}

function race(g: GroupContext): Race | undefined {
  const cats = g.categories;
  if (!cats?.length) return undefined;
  const top = cats[0].count;
  const winners = cats.filter((c) => c.count === top).map((c) => c.category);
  const rest = cats.filter((c) => c.count < top);
  const second = rest[0]?.count;
  return {
    n: g.n,
    top,
    winners,
    runnerUp: second === undefined ? undefined : {
      count: second,
      categories: rest.filter((c) => c.count === second).map((c) => c.category),
    },
  };
}

// ---------------------------------------------------------------------------------------
// Formatting.

const pct = (part: number, whole: number) =>
  whole > 0 ? `${(Math.round((part / whole) * 1000) / 10).toFixed(1)}%` : "";

const num = (v: number) => v.toLocaleString("en-US", { maximumFractionDigits: 2 });

/** `a, b and c` */
function listText(items: readonly string[]): string {
  return items.length <= 1
    ? items.join("")
    : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/**
 * The y (or x) scale for follower counts: logarithmic when the largest is ten times the
 * smallest or more (symlog when a zero is among them), else linear from zero: on a linear
 * axis a median of 2,000 beside one of 125,000 sits flat on zero.
 */
export function followerScale(values: readonly number[]): { type: "log" | "symlog" | "linear" } {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length < 2) return { type: "linear" };
  const max = Math.max(...v);
  const positive = v.filter((x) => x > 0);
  const min = Math.min(...positive);
  if (positive.length === 0 || max < 100) return { type: "linear" };
  if (positive.length < v.length) return { type: "symlog" };
  return max / min >= 10 ? { type: "log" } : { type: "linear" };
}

const scaleNote = (s: { type: string }) =>
  s.type === "log" ? " (log scale)" : s.type === "symlog" ? " (symmetric log scale)" : "";

// ---------------------------------------------------------------------------------------
// Charts.

const BASE = {
  width: 520,
  height: 260,
  background: "white",
  config: {
    font: FONT,
    axis: { labelFontSize: 11, titleFontSize: 12 },
    axisX: { labelAngle: -35, labelLimit: 240 },
    legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 220 },
    title: { fontSize: 14, anchor: "start" as const, offset: 10 },
  },
} as const;

const TIE = "tie";
const NO_DATA = "#e3e7eb";

/**
 * Natural Earth's names (1:110m) for the countries the dataset spells otherwise (Faker's
 * list); two shapes may show one country (Korea).
 */
const MAP_NAMES: Record<string, string> = {
  "W. Sahara": "Western Sahara",
  "Dem. Rep. Congo": "Democratic Republic of the Congo",
  "Dominican Rep.": "Dominican Republic",
  "Russia": "Russian Federation",
  "Falkland Is.": "Falkland Islands (Malvinas)",
  "Fr. S. Antarctic Lands": "French Southern Territories",
  "Côte d'Ivoire": "Cote d'Ivoire",
  "Central African Rep.": "Central African Republic",
  "Eq. Guinea": "Equatorial Guinea",
  "eSwatini": "Swaziland",
  "Laos": "Lao People's Democratic Republic",
  "North Korea": "Korea",
  "South Korea": "Korea",
  "Kyrgyzstan": "Kyrgyz Republic",
  "Syria": "Syrian Arab Republic",
  "Solomon Is.": "Solomon Islands",
  "Brunei": "Brunei Darussalam",
  "Antarctica": "Antarctica (the territory South of 60 deg S)",
  "Libya": "Libyan Arab Jamahiriya",
  "Bosnia and Herz.": "Bosnia and Herzegovina",
  "Macedonia": "North Macedonia",
  "S. Sudan": "South Sudan",
};

interface Topology {
  type: string;
  objects: { countries: { type: string; geometries: { properties: { name: string } }[] } };
  arcs: unknown;
  transform?: unknown;
  bbox?: unknown;
}

/** The countries' topology with each shape's dataset spelling as `properties.country`. */
function mapTopology(): { topology: Topology; countries: Set<string> } {
  const world = worldCountries110m as unknown as Topology;
  const countries = new Set<string>();
  const geometries = world.objects.countries.geometries.map((g) => {
    const country = MAP_NAMES[g.properties.name] ?? g.properties.name;
    countries.add(country);
    return { ...g, properties: { ...g.properties, country } };
  });
  return {
    topology: { ...world, objects: { countries: { ...world.objects.countries, geometries } } },
    countries,
  };
}

/** A world map with each country's shape coloured by `color` from `rows` (by `country`). */
function worldMap(
  title: string,
  rows: Row[],
  fields: string[],
  color: Record<string, unknown>,
): TopLevelSpec {
  const { topology } = mapTopology();
  return {
    ...BASE,
    width: 760,
    height: 390,
    title,
    projection: { type: "equalEarth" },
    data: { values: topology, format: { type: "topojson", feature: "countries" } },
    transform: [{
      lookup: "properties.country",
      from: { data: { values: rows }, key: "country", fields },
    }],
    mark: { type: "geoshape", stroke: "white", strokeWidth: 0.5 },
    encoding: {
      color: { ...color, condition: { test: `datum['${fields[0]}'] == null`, value: NO_DATA } },
    },
  } as TopLevelSpec;
}

/** Countries of `rows` the 1:110m map has no shape for (small islands and territories). */
function offMap(countries: Iterable<string>): string[] {
  const on = mapTopology().countries;
  return [...new Set(countries)].filter((c) => !on.has(c)).sort(cmp);
}

/** The winners of each group of a category question, one entry per group. */
function winnersByGroup(answer: Answer): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const r of answer.rows) {
    const k = groupKey(answer.id, r);
    m.set(k, [...(m.get(k) ?? []), String(r.category)]);
  }
  return m;
}

function q1Charts(answer: Answer): TopLevelSpec[] {
  const winners = winnersByGroup(answer);
  const mapRows = [...winners].map(([country, cats]) => ({
    country,
    leader: cats.length > 1 ? TIE : cats[0],
    categories: cats.join(", "),
  }));
  const categories = [...new Set(answer.rows.map((r) => String(r.category)))].sort(cmp);
  const perCategory = categories.flatMap((category) => {
    const alone = [...winners.values()].filter((c) => c.length === 1 && c[0] === category).length;
    const shared = [...winners.values()].filter((c) => c.length > 1 && c.includes(category))
      .length;
    return [
      { category, how: "alone", countries: alone },
      { category, how: "tied with another", countries: shared },
    ];
  });
  return [
    worldMap(
      "Most popular category in each country",
      mapRows,
      ["leader", "categories"],
      {
        field: "leader",
        type: "nominal",
        title: "leading category",
        scale: {
          domain: [...categories, TIE],
          range: [...TABLEAU_13.slice(0, categories.length), "#7b8591"],
        },
        legend: { columns: 2, symbolType: "square" },
      },
    ),
    {
      ...BASE,
      title: "Countries each category leads (a tie counts for every tied category)",
      data: { values: perCategory },
      mark: { type: "bar" },
      encoding: {
        x: { field: "category", type: "nominal", sort: "-y", title: "category" },
        y: { field: "countries", type: "quantitative", stack: "zero", title: "countries" },
        color: {
          field: "how",
          type: "nominal",
          title: "leads",
          scale: { domain: ["alone", "tied with another"], range: ["#3b6ea5", "#a9c4e2"] },
        },
      },
    } as TopLevelSpec,
  ];
}

/** Thirteen distinct colours for the categories (Tableau 10 and three of its lighter tones). */
const TABLEAU_13 = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
  "#a0cbe8",
  "#8cd17d",
  "#d4a6c8",
];

/** Q2 and Q4: every category's count per group as dots, the leaders named. */
function raceChart(answer: Answer, groups: GroupContext[], groupTitle: string): TopLevelSpec {
  const order = answer.id === "q4"
    ? AGE_ORDER.filter((g) => groups.some((x) => x.key === g))
    : groups.map((g) => g.key);
  const label = (g: GroupContext) => `${g.key} (n=${fmtInt(g.n)})`;
  const values = groups.flatMap((g) => {
    const r = race(g)!;
    return (g.categories ?? []).map((c) => ({
      group: label(g),
      category: c.category,
      count: c.count,
      leads: c.count === r.top,
      // One label per group: a tie names every tied category once, on the first of them.
      name: c.category !== r.winners[0]
        ? ""
        : r.winners.length > 1
        ? `${r.winners.join(", ")} (tie)`
        : c.category,
    }));
  });
  const x = {
    field: "group",
    type: "nominal",
    sort: order.map((k) => label(groups.find((g) => g.key === k)!)),
    title: groupTitle,
    axis: { labelAngle: 0 },
  };
  return {
    ...BASE,
    width: 560,
    height: 300,
    title: "Postings per category in each group; the leader named",
    data: { values },
    encoding: {
      x,
      y: { field: "count", type: "quantitative", scale: { zero: false }, title: "postings" },
    },
    layer: [
      {
        mark: { type: "point", filled: true, size: 40, opacity: 0.45, color: "#8a939c" },
        transform: [{ filter: "!datum.leads" }],
      },
      {
        mark: { type: "point", filled: true, size: 90, color: "#c2410c" },
        transform: [{ filter: "datum.leads" }],
      },
      {
        mark: { type: "text", align: "left", dx: 8, fontSize: 11, color: "#7c2d12" },
        transform: [{ filter: "datum.leads" }],
        encoding: { text: { field: "name" } },
      },
    ],
  } as TopLevelSpec;
}

function q3aCharts(answer: Answer, context?: GroupContext[]): TopLevelSpec[] {
  const byCountry = new Map<string, Row[]>();
  for (const r of answer.rows) {
    const k = String(r.country);
    byCountry.set(k, [...(byCountry.get(k) ?? []), r]);
  }
  const users = new Map(context?.map((g) => [g.key, g.users ?? 0]));
  const perCountry = [...byCountry].map(([country, rows]) => ({
    country,
    follower_count: Number(rows[0].follower_count),
    users: rows.map((r) => String(r.poster_name)).join(", "),
    posters: users.get(country) ?? null,
  }));
  const scale = followerScale(perCountry.map((r) => r.follower_count));
  const best = [...perCountry]
    .sort((a, b) => b.follower_count - a.follower_count || cmp(a.country, b.country))
    .slice(0, 15)
    .map((r) => {
      const names = byCountry.get(r.country)!.map((x) => String(x.poster_name));
      const who = names.length > 1 ? `${names[0]} and ${names.length - 1} more (tie)` : names[0];
      return { ...r, label: `${r.country}: ${who}`, value: num(r.follower_count) };
    });
  const values = best.map((b) => b.follower_count);
  const atMax = perCountry.filter((r) => r.follower_count === values[0]).length;
  const topTitle = atMax > best.length
    ? `${fmtInt(atMax)} countries' top users tie at ${
      num(values[0])
    } followers: the first ${best.length} by name`
    : `The ${best.length} countries whose top user has the most followers${
      followerScale(values).type === "log" ? " (log scale)" : ""
    }`;
  // The ranking's own scale: its fifteen values often sit within one order of magnitude.
  // A log axis has no zero for a bar to start from, so there the values are dots.
  const logRank = followerScale(values).type === "log";
  const xScale = logRank
    ? { type: "log", domain: [Math.min(...values) / 2, Math.max(...values) * 6] }
    : { type: "linear", domain: [0, Math.max(...values) * 1.25] };
  return [
    worldMap(
      `Followers of the top user in each country${scaleNote(scale)}`,
      perCountry,
      ["follower_count", "users"],
      {
        field: "follower_count",
        type: "quantitative",
        title: "followers",
        scale: { ...scale, scheme: "blues" },
        legend: { format: ".2~s" },
      },
    ),
    {
      ...BASE,
      width: 420,
      height: 15 * 22,
      title: topTitle,
      data: { values: best },
      encoding: {
        y: {
          field: "label",
          type: "nominal",
          sort: best.map((b) => b.label),
          title: null,
          axis: { labelLimit: 300 },
        },
        x: { field: "follower_count", type: "quantitative", scale: xScale, title: "followers" },
      },
      layer: [
        logRank
          ? { mark: { type: "point", filled: true, size: 60, color: "#3b6ea5" } }
          : { mark: { type: "bar", color: "#3b6ea5" } },
        {
          mark: { type: "text", align: "left", dx: logRank ? 8 : 4, fontSize: 11 },
          encoding: { text: { field: "value" } },
        },
      ],
    } as TopLevelSpec,
  ];
}

/** A chart of one value per group (a count or a median), each point or bar labelled with n. */
function perGroupChart(
  answer: Answer,
  groups: GroupContext[] | undefined,
  opts: { field: string; title: string; yTitle: string; line: boolean; followers: boolean },
): TopLevelSpec {
  const n = new Map(groups?.map((g) => [g.key, g.n]));
  const values: Row[] = answer.rows.map((r) => ({
    ...r,
    group: String(answer.id === "q5" ? r.age_group : r.post_year),
    n: n.get(groupKey(answer.id, r)) ?? null,
    label: `${num(Number(r[opts.field]))}${
      n.has(groupKey(answer.id, r)) ? ` (n=${fmtInt(n.get(groupKey(answer.id, r))!)})` : ""
    }`,
  }));
  const scale = opts.followers
    ? followerScale(values.map((v) => Number(v[opts.field])))
    : { type: "linear" as const };
  const y = {
    field: opts.field,
    type: "quantitative",
    title: `${opts.yTitle}${scaleNote(scale)}`,
    scale: { ...scale, ...(scale.type === "linear" ? { zero: true } : {}) },
  };
  const x = {
    field: "group",
    type: "ordinal",
    sort: answer.id === "q5" ? AGE_ORDER : "ascending",
    title: answer.id === "q5" ? "age group" : "year joined",
    axis: { labelAngle: 0 },
  };
  return {
    ...BASE,
    title: opts.title,
    data: { values },
    encoding: { x, y },
    layer: [
      opts.line
        ? { mark: { type: "line", point: true, color: "#3b6ea5" } }
        : { mark: { type: "bar", color: "#3b6ea5" } },
      {
        mark: { type: "text", dy: -8, fontSize: 10, color: "#1d232b" },
        encoding: { text: { field: "label" } },
      },
    ],
  } as TopLevelSpec;
}

function q8Chart(answer: Answer): TopLevelSpec {
  const values = answer.rows.map((r) => ({ ...r }));
  const scale = followerScale(values.map((v) => Number(v.median_follower_count)));
  return {
    ...BASE,
    title: "Median follower count by year joined and age group",
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "post_year", type: "ordinal", title: "year joined", axis: { labelAngle: 0 } },
      y: {
        field: "median_follower_count",
        type: "quantitative",
        title: `median followers${scaleNote(scale)}`,
        scale,
      },
      color: { field: "age_group", type: "nominal", sort: AGE_ORDER, title: "age group" },
    },
  } as TopLevelSpec;
}

/** The charts for an answer (none where a chart says nothing a table does not). */
export function chartSpecs(answer: Answer, context?: ReportContext): TopLevelSpec[] {
  if (answer.rows.length === 0) return [];
  const groups = context?.[answer.id];
  switch (answer.id) {
    case "q1":
      return q1Charts(answer);
    case "q2":
    case "q4": {
      if (groups?.length) {
        return [raceChart(answer, groups, answer.id === "q2" ? "year" : "age group")];
      }
      return [];
    }
    case "q3a":
      return q3aCharts(answer, groups);
    case "q5":
      return [perGroupChart(answer, groups, {
        field: "median_follower_count",
        title: "Median follower count per age group",
        yTitle: "median followers",
        line: false,
        followers: true,
      })];
    case "q6":
      return [perGroupChart(answer, groups, {
        field: "number_users_joined",
        title: "Users joined per year (n: their postings)",
        yTitle: "users",
        line: false,
        followers: false,
      })];
    case "q7":
      return [perGroupChart(answer, groups, {
        field: "median_follower_count",
        title: "Median follower count by year joined",
        yTitle: "median followers",
        line: true,
        followers: true,
      })];
    case "q8":
      return [q8Chart(answer)];
    default:
      return [];
  }
}

// ---------------------------------------------------------------------------------------
// Tables.

/** A column of a report table. */
interface Column {
  name: string;
  /** Right-aligned, sorted as numbers. */
  numeric: boolean;
  /** Added by the report (not in the answer files): set apart. */
  context?: boolean;
  /** Shown in the header's tooltip. */
  help?: string;
  /** The cell's text (default: the value, digits grouped except in years). */
  text?: (row: Row) => string;
}

function cellHtml(value: unknown, column: Column, row: Row): string {
  if (column.text) return escapeHtml(column.text(row));
  if (value === null || value === undefined) {
    return '<span class="null">NULL</span>';
  }
  return escapeHtml(
    typeof value === "number" && !column.name.endsWith("year") ? num(value) : cellText(
      value as string,
    ),
  );
}

/**
 * A table that the page's script can sort (click a header) and filter (the box above it).
 * `rowClass` marks rows (ties).
 */
function htmlTable(
  columns: readonly Column[],
  rows: readonly Row[],
  opts: {
    label: string;
    rowClass?: (row: Row) => string | undefined;
    /** false: a plain table (no sorting); otherwise sortable, with a filter box past 10 rows. */
    tools?: boolean;
    /** Extra class of the wrapper (`answer` for a question's own table). */
    cls?: string;
  } = { label: "rows" },
): string {
  const head = columns.map((c) => {
    const cls = [c.numeric ? "n" : "", c.context ? "ctx" : ""].filter(Boolean).join(" ");
    return `<th${cls ? ` class="${cls}"` : ""}${
      c.help ? ` title="${escapeHtml(c.help)}"` : ""
    } scope="col">${escapeHtml(c.name)}</th>`;
  }).join("");
  const body = rows.map((r) => {
    const cls = opts.rowClass?.(r);
    return `<tr${cls ? ` class="${cls}"` : ""}>${
      columns.map((c) => {
        const v = r[c.name];
        const cls = [c.numeric ? "n" : "", c.context ? "ctx" : ""].filter(Boolean).join(" ");
        const sortValue = c.numeric && typeof v === "number" ? ` data-v="${v}"` : "";
        return `<td${cls ? ` class="${cls}"` : ""}${sortValue}>${cellHtml(v, c, r)}</td>`;
      }).join("")
    }</tr>`;
  }).join("\n");
  const table = `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
  if (opts.tools === false) return table;
  const tools = rows.length > 10
    ? `<div class="tools"><input type="search" placeholder="filter rows" aria-label="filter the ${
      escapeHtml(opts.label)
    }"> <span class="shown">${fmtInt(rows.length)} rows</span></div>`
    : "";
  return `<div class="tbl${opts.cls ? ` ${opts.cls}` : ""}">
${tools}<div class="table-wrap">${table}</div>
</div>`;
}

const answerColumn = (name: string, rows: readonly Row[]): Column => ({
  name,
  numeric: rows.length > 0 && rows.every((r) => typeof r[name] !== "string"),
});

const N_HELP =
  "Postings the question counted in this group: a lead or a median from few postings is weak";

/** The answer's own columns, then the report's context columns, and a headline. */
function answerTable(answer: Answer, context?: ReportContext): {
  table: string;
  headline: string;
  warnings: string[];
} {
  const groups = context?.[answer.id];
  const byKey = new Map(groups?.map((g) => [g.key, g]));
  const cols: Column[] = answer.columns.map((c) => answerColumn(c, answer.rows));
  let rows: Row[] = answer.rows.map((r) => ({ ...r }));
  let headline = "";
  const warnings: string[] = [];
  let rowClass: ((r: Row) => string | undefined) | undefined;
  const tieCounts = new Map<string, number>();
  for (const r of answer.rows) {
    const k = groupKey(answer.id, r);
    tieCounts.set(k, (tieCounts.get(k) ?? 0) + 1);
  }
  const tiedGroups = [...tieCounts].filter(([, n]) => n > 1).map(([k]) => k);

  if (["q1", "q2", "q4"].includes(answer.id)) {
    const groupWord = answer.id === "q1" ? "countries" : answer.id === "q2" ? "years" : "groups";
    rows = rows.map((r) => {
      const g = byKey.get(groupKey(answer.id, r));
      const rc = g && race(g);
      if (rc && rc.top !== r.category_count) {
        warnings.push(
          `${answer.id}: the report counts ${rc.top} for "${
            groupKey(answer.id, r)
          }", the answer ${r.category_count}`,
        );
      }
      return {
        ...r,
        n: g?.n ?? null,
        share: g ? r.category_count as number / g.n : null,
        tied: tieCounts.get(groupKey(answer.id, r))! > 1
          ? `tie of ${tieCounts.get(groupKey(answer.id, r))}`
          : "",
        runner_up: rc?.runnerUp?.categories.join(", ") ?? (rc ? "(none)" : null),
        runner_up_count: rc?.runnerUp?.count ?? null,
        // A tie leads by nothing; a sole leader by its distance to the runner-up.
        lead: !rc ? null : rc.winners.length > 1 ? 0 : rc.top - (rc.runnerUp?.count ?? 0),
      };
    });
    if (groups) {
      cols.push(
        { name: "n", numeric: true, context: true, help: N_HELP },
        {
          name: "share",
          numeric: true,
          context: true,
          help: "The leader's postings out of n",
          text: (r) => (r.share === null ? "" : `${(Number(r.share) * 100).toFixed(1)}%`),
        },
        {
          name: "lead",
          numeric: true,
          context: true,
          help: "Postings ahead of the runner-up",
        },
        { name: "runner_up", numeric: false, context: true, help: "The next category" },
        { name: "runner_up_count", numeric: true, context: true },
      );
    }
    cols.push({ name: "tied", numeric: false, context: true, help: "Categories sharing rank 1" });
    rowClass = (r) => (r.tied ? "tie" : undefined);
    const nGroups = tieCounts.size;
    const parts = [
      `${fmtInt(nGroups)} ${groupWord}: in ${
        fmtInt(nGroups - tiedGroups.length)
      } one category leads${
        tiedGroups.length
          ? `, in ${
            fmtInt(tiedGroups.length)
          } two or more tie for the lead (a row for each tied category)`
          : ""
      }.`,
    ];
    if (groups?.length) {
      const sizes = groups.map((g) => g.n).sort((a, b) => a - b);
      const leads = groups.map((g) => race(g)!).filter(Boolean);
      const close = leads.filter((l) =>
        l.winners.length === 1 && l.top - (l.runnerUp?.count ?? 0) <= 1
      ).length;
      parts.push(
        `Postings per ${answer.id === "q1" ? "country" : answer.id === "q2" ? "year" : "group"}: ${
          sizes.length > 2
            ? `from ${fmtInt(sizes[0])} to ${fmtInt(sizes[sizes.length - 1])}, median ${
              fmtInt(sizes[Math.floor((sizes.length - 1) / 2)])
            }`
            : sizes.map(fmtInt).join(" and ")
        }.`,
      );
      if (answer.id === "q1") {
        parts.push(
          `In ${fmtInt(close)} more the leader is one posting ahead: with the ties, ${
            fmtInt(close + tiedGroups.length)
          } of ${fmtInt(nGroups)} countries have no clear favourite.`,
        );
      } else {
        parts.push(
          groups.map((g) => {
            const r = race(g)!;
            return `${g.key}: ${listText(r.winners)}${r.winners.length > 1 ? " (tie)" : ""} ${
              fmtInt(r.top)
            } of ${fmtInt(r.n)} (${pct(r.top, r.n)})${
              r.runnerUp
                ? `, ahead of ${listText(r.runnerUp.categories)} by ${
                  fmtInt(r.top - r.runnerUp.count)
                }`
                : ""
            }`;
          }).join("; ") + ".",
        );
      }
    }
    headline = parts.join(" ");
  } else if (answer.id === "q3a") {
    rows = rows.map((r) => {
      const g = byKey.get(String(r.country));
      const k = tieCounts.get(String(r.country))!;
      return { ...r, n: g?.n ?? null, posters: g?.users ?? null, tied: k > 1 ? `tie of ${k}` : "" };
    });
    if (groups) {
      cols.push(
        {
          name: "n",
          numeric: true,
          context: true,
          help: "Postings with a poster and a follower count",
        },
        { name: "posters", numeric: true, context: true, help: "Distinct posters in the country" },
      );
    }
    cols.push({ name: "tied", numeric: false, context: true, help: "Posters sharing rank 1" });
    rowClass = (r) => (r.tied ? "tie" : undefined);
    const max = Math.max(...answer.rows.map((r) => Number(r.follower_count)));
    const atMax = new Set(
      answer.rows.filter((r) => Number(r.follower_count) === max).map((r) => String(r.country)),
    );
    headline = `${fmtInt(tieCounts.size)} countries; in ${
      fmtInt(tiedGroups.length)
    } of them two or more posters share the top (a row for each). The most followed top user has ${
      num(max)
    } followers, in ${fmtInt(atMax.size)} ${atMax.size === 1 ? "country" : "countries"}.`;
  } else if (answer.id === "q3b") {
    // SPEC §5 keeps one row; the ties behind it are shown here.
    headline = "";
  } else {
    rows = rows.map((r) => ({ ...r, n: byKey.get(groupKey(answer.id, r))?.n ?? null }));
    if (groups) {
      cols.push({
        name: "n",
        numeric: true,
        context: true,
        help: answer.id === "q6"
          ? "Postings by the users who joined that year"
          : "Postings with a follower count: the median's sample",
      });
      const sizes = groups.map((g) => g.n);
      if (sizes.length) {
        headline = `${answer.id === "q6" ? "Postings" : "Medians over"} ${
          sizes.length > 1
            ? `${fmtInt(Math.min(...sizes))} to ${fmtInt(Math.max(...sizes))}`
            : fmtInt(sizes[0])
        } postings per group${answer.id === "q6" ? "" : " with a follower count"}.`;
      }
    }
  }
  return {
    table: htmlTable(cols, rows, {
      label: `${answer.id.toUpperCase()} rows`,
      rowClass,
      cls: "answer",
    }),
    headline,
    warnings,
  };
}

/** Q3B: the one row SPEC §5 asks for, and every country tied with it. */
function q3bTies(q3b: Answer, q3a?: Answer): string {
  const row = q3b.rows[0];
  if (!row) return "";
  const value = Number(row.follower_count);
  if (!q3a) return "";
  const tied = [
    ...new Set(
      q3a.rows.filter((r) => Number(r.follower_count) === value).map((r) => String(r.country)),
    ),
  ].sort(cmp);
  if (tied.length <= 1) {
    return `<p class="headline">One country holds the most followed user: ${
      escapeHtml(String(row.country))
    }, ${num(value)} followers. No tie.</p>`;
  }
  const users = q3a.rows.filter((r) => Number(r.follower_count) === value);
  return `<p class="headline tie-note"><strong>${fmtInt(tied.length)} countries tie</strong> at ${
    num(value)
  } followers; the answer is the first by name (SPEC §5: one row, ties broken by country name): ${
    escapeHtml(String(row.country))
  }.</p>
<details class="ties" open><summary>The ${
    fmtInt(tied.length)
  } tied countries and their users</summary>
${
    htmlTable(
      [
        { name: "country", numeric: false },
        { name: "poster_name", numeric: false },
        { name: "follower_count", numeric: true },
      ],
      users,
      { label: "tied countries", cls: "ties" },
    )
  }
</details>`;
}

const STYLE = `
${EMOJI_FACE}
:root { color-scheme: light; --fg: #1d232b; --muted: #5b6570; --rule: #d9dee3; --band: #f4f6f8;
  --ctx: #f7f4ec; --tie: #fff4e0; --accent: #3b6ea5; }
* { box-sizing: border-box; }
body { font: 15px/1.45 ${FONT}; color: var(--fg); margin: 0 auto; max-width: 1320px; padding: 24px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.2em; margin: 40px 0 6px; border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
a { color: var(--accent); }
.meta, .count, .files { color: var(--muted); margin: 0 0 10px; font-size: 13px; }
.headline { margin: 4px 0 12px; max-width: 75em; }
.tie-note { background: var(--tie); padding: 6px 10px; border-left: 3px solid #d98e04; }
.warn { background: #fde8e8; padding: 6px 10px; border-left: 3px solid #c0392b; }
.grid { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
figure.chart { margin: 0; max-width: 100%; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
figure.chart figcaption { color: var(--muted); font-size: 12px; max-width: 760px; }
.tbl { max-width: 100%; }
.tools { display: flex; gap: 10px; align-items: center; margin-bottom: 4px; font-size: 13px; color: var(--muted); }
.tools input { font: inherit; padding: 2px 6px; width: 16em; }
.table-wrap { max-height: 440px; overflow: auto; border: 1px solid var(--rule); max-width: 100%; width: fit-content; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 3px 10px; text-align: left; border-bottom: 1px solid var(--rule); white-space: nowrap; }
thead th { position: sticky; top: 0; background: var(--band); cursor: pointer; user-select: none; }
thead th.ctx { background: #ece6d6; font-style: italic; }
td.ctx { background: var(--ctx); }
tr.tie td { background: var(--tie); }
tr.tie td.ctx { background: #fbe9c6; }
th[aria-sort="ascending"]::after { content: " ▲"; }
th[aria-sort="descending"]::after { content: " ▼"; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.null { color: var(--muted); font-style: italic; }
code { font-size: 12px; }
.figures { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0 12px; padding: 0; list-style: none; }
.figures li { border: 1px solid var(--rule); border-radius: 6px; padding: 6px 12px; min-width: 9em; background: white; }
.figures li b { display: block; font-size: 1.25em; font-variant-numeric: tabular-nums; }
.figures li span { color: var(--muted); font-size: 12px; }
.figures li.arrow { border: none; min-width: 0; padding: 6px 0; color: var(--muted); align-self: center; }
.figures li.bad b { color: #b45309; }
details summary { cursor: pointer; color: var(--muted); font-size: 13px; margin: 6px 0; }
nav.toc { font-size: 13px; margin: 8px 0 0; }
nav.toc a { margin-right: 10px; }
`;

/** Sorting and filtering for every `.tbl`; the tables read the same without it. */
const SCRIPT = `
for (const box of document.querySelectorAll(".tbl")) {
  const table = box.querySelector("table");
  const body = table.tBodies[0];
  const rows = [...body.rows];
  const shown = box.querySelector(".shown");
  const input = box.querySelector("input");
  const filter = input && (() => {
    const q = input.value.trim().toLowerCase();
    let n = 0;
    for (const r of rows) {
      const hit = !q || r.textContent.toLowerCase().includes(q);
      r.hidden = !hit;
      if (hit) n++;
    }
    const all = rows.length.toLocaleString("en-US");
    shown.textContent = q ? n.toLocaleString("en-US") + " of " + all + " rows" : all + " rows";
  });
  input?.addEventListener("input", filter);
  const heads = [...table.tHead.rows[0].cells];
  heads.forEach((th, i) => {
    th.tabIndex = 0;
    const sort = () => {
      const dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      for (const h of heads) h.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      const numeric = th.classList.contains("n");
      const key = (r) => {
        const c = r.cells[i];
        if (!numeric) return c.textContent;
        const v = c.dataset.v;
        return v === undefined ? NaN : Number(v);
      };
      rows.sort((a, b) => {
        const x = key(a), y = key(b);
        if (numeric) {
          if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : 1;
          if (Number.isNaN(y)) return -1;
          return (x - y) * dir;
        }
        return x.localeCompare(y) * dir;
      });
      body.append(...rows);
    };
    th.addEventListener("click", sort);
    th.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
    });
  });
}
`;

/** The pipeline's figures as a row of cards, from the emulator to the cleaned tables. */
function pipelineFigures(input: ReportInput, sum: (f: (s: TableStats) => number) => number) {
  const card = (value: number | string, label: string, bad = false) =>
    `<li${bad ? ' class="bad"' : ""}><b>${
      typeof value === "number" ? fmtInt(value) : escapeHtml(value)
    }</b><span>${escapeHtml(label)}</span></li>`;
  const arrow = '<li class="arrow" aria-hidden="true">→</li>';
  const p = input.pipeline;
  const cards: string[] = [];
  if (p) {
    cards.push(
      card(p.postings, "postings emulated"),
      arrow,
      card(p.sent, "records sent"),
      arrow,
      card(p.acknowledged, "acknowledged", p.acknowledged < p.sent),
      arrow,
      card(p.broker, "in the broker"),
      arrow,
      card(p.landed, "landed in the lake", p.landed < p.acknowledged),
      arrow,
    );
  }
  const quarantined = sum((s) => s.quarantined);
  cards.push(
    card(sum((s) => s.lines), "lines read by the transform"),
    arrow,
    card(sum((s) => s.duplicates), "duplicates dropped"),
    card(quarantined, "quarantined", quarantined > 0),
    arrow,
    card(
      `${fmtInt(input.tables.pin.rows)} / ${fmtInt(input.tables.geo.rows)} / ${
        fmtInt(input.tables.user.rows)
      }`,
      "cleaned rows: pin / geo / user",
    ),
  );
  const note = p ? "" : `<p class="count">Records sent, acknowledged and landed are known to a run
of the whole pipeline (<code>deno task demo</code> shows them here); this transform ran on its own
and counts from the lake on.</p>`;
  return `<ul class="figures">${cards.join("")}</ul>${note}`;
}

/** The report as one HTML page. */
export async function renderReport(input: ReportInput): Promise<string> {
  const t = input.tables;
  const names: TableName[] = ["pin", "geo", "user"];
  const sum = (f: (s: TableStats) => number) => names.reduce((n, k) => n + f(t[k]), 0);
  const runRows: Row[] = [
    { figure: "objects read", value: fmtInt(input.objects) },
    { figure: "bytes read", value: fmtBytes(input.bytes) },
    { figure: "lines read", value: fmtInt(sum((s) => s.lines)) },
    { figure: "records", value: fmtInt(sum((s) => s.records)) },
    { figure: "duplicates dropped", value: fmtInt(sum((s) => s.duplicates)) },
    { figure: "lines quarantined", value: fmtInt(sum((s) => s.quarantined)) },
    ...Object.entries(input.timings).map(([step, sec]) => ({
      figure: `time: ${step}`,
      value: fmtSec(sec),
    })),
  ];
  const perTable: Row[] = names.map((n) => ({
    table: n,
    objects: t[n].objects,
    lines: t[n].lines,
    records: t[n].records,
    duplicates_dropped: t[n].duplicates,
    quarantined: t[n].quarantined,
    rows_cleaned: t[n].rows,
  }));
  const nulled: Row[] = names.flatMap((n) =>
    Object.entries(t[n].nulled).map(([column, count]) => ({ table: n, column, nulled: count }))
  );
  const quarantine = input.quarantine.slice(0, QUARANTINE_SHOWN).map((q) => ({
    table: q.table,
    object: q.key,
    line: q.line,
    reason: q.reason,
    text: q.text.length > 120 ? `${q.text.slice(0, 120)}…` : q.text,
  }));

  const q3a = input.answers.find((a) => a.id === "q3a");
  const sections: string[] = [];
  for (const a of input.answers) {
    const charts: string[] = [];
    for (const [i, spec] of chartSpecs(a, input.context).entries()) {
      const svg = await renderSvg(spec);
      let caption = "";
      if ("projection" in spec) {
        const missing = offMap(a.rows.map((r) => String(r.country)));
        if (missing.length) {
          caption = `<figcaption>Grey: a shape with no answer. ${fmtInt(missing.length)} of ${
            fmtInt(new Set(a.rows.map((r) => r.country)).size)
          } countries are too small for this map's scale (Natural Earth 1:110m) or not on it; the table has them all.
<details><summary>The ${fmtInt(missing.length)} countries not on the map</summary>${
            escapeHtml(missing.join(", "))
          }</details></figcaption>`;
        }
      }
      charts.push(
        `<figure class="chart" data-question="${
          escapeHtml(a.id)
        }" data-chart="${i}">${svg}${caption}</figure>`,
      );
    }
    const { table, headline, warnings } = answerTable(a, input.context);
    const file = escapeHtml(a.id);
    sections.push(`
<section id="${escapeHtml(a.id)}">
<h2>${escapeHtml(a.id.toUpperCase())}. ${escapeHtml(a.title)}</h2>
<p class="files">${fmtInt(a.rows.length)} row${a.rows.length === 1 ? "" : "s"} ·
<a href="answers/${file}.csv">${file}.csv</a> · <a href="answers/${file}.json">${file}.json</a> ·
<code>sql/${escapeHtml(a.file)}</code> · ${fmtSec(a.sec)}</p>
${headline ? `<p class="headline">${escapeHtml(headline)}</p>` : ""}
${warnings.map((w) => `<p class="warn">${escapeHtml(w)}</p>`).join("\n")}
<div class="grid">
${charts.join("\n")}
${table}
</div>
${a.id === "q3b" ? q3bTies(a, q3a) : ""}
</section>`);
  }

  const ctxNote = input.context
    ? `<p class="count">Shaded, italic columns are context this report adds (group sizes n, the
runner-up, ties); the answer files hold SPEC §5's columns only. Shaded rows are ties: every tied
winner has its row. Click a column to sort, type in a box to filter.</p>`
    : "";

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pinpipe transform report</title>
<style>${STYLE}</style>
</head>
<body>
<h1>pinpipe: the eight questions</h1>
<p class="meta">Lake <code>${escapeHtml(input.lake)}</code>, topics <code>${
    escapeHtml(input.prefix)
  }.pin/.geo/.user</code>, generated ${escapeHtml(input.generatedAt.toISOString())} ·
<a href="summary.json">summary.json</a> · <a href="quarantine.jsonl">quarantine.jsonl</a></p>

<section id="pipeline">
<h2>Pipeline</h2>
${pipelineFigures(input, sum)}
<nav class="toc">${
    input.answers.map((a) => `<a href="#${escapeHtml(a.id)}">${escapeHtml(a.id.toUpperCase())}</a>`)
      .join("")
  }<a href="#run">run</a><a href="#quality">data quality</a></nav>
${ctxNote}
</section>
${sections.join("\n")}

<section id="run">
<h2>Run</h2>
<div class="grid">
${
    htmlTable([{ name: "figure", numeric: false }, { name: "value", numeric: true }], runRows, {
      label: "run figures",
      tools: false,
    })
  }
${
    htmlTable(
      Object.keys(perTable[0]).map((c) => answerColumn(c, perTable)),
      perTable,
      { label: "tables", tools: false },
    )
  }
</div>
</section>

<section id="quality">
<h2>Data quality</h2>
<p class="count">Values cleaning turned into NULL (placeholders, empty strings, values that do not parse), exact duplicates dropped, and lines that were not records.</p>
<div class="grid">
${
    htmlTable(
      [{ name: "table", numeric: false }, { name: "column", numeric: false }, {
        name: "nulled",
        numeric: true,
      }],
      nulled,
      { label: "nulled values", tools: false },
    )
  }
${
    quarantine.length
      ? htmlTable(
        ["table", "object", "line", "reason", "text"].map((c) => answerColumn(c, quarantine)),
        quarantine,
        { label: "quarantined lines" },
      )
      : '<p class="count">No line was quarantined.</p>'
  }
</div>
${
    input.quarantine.length > QUARANTINE_SHOWN
      ? `<p class="count">… and ${
        fmtInt(input.quarantine.length - QUARANTINE_SHOWN)
      } more quarantined lines (all in <a href="quarantine.jsonl">quarantine.jsonl</a>).</p>`
      : ""
  }
</section>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

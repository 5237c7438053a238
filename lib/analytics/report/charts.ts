/**
 * The report's charts: Vega-Lite specs for each answer (world maps for the per-country
 * answers, the category races with their leaders named, follower counts on a log scale where
 * they span orders of magnitude), rendered to SVG here, headless, so the page needs no script
 * to draw them.
 * @module
 */
import { parse, type Spec, View } from "../../deps/vega.ts";
import { compile, type TopLevelSpec } from "../../deps/vega_lite.ts";
import { worldCountries110m } from "../../deps/world_atlas.ts";
import { fmtInt } from "../../shell/progress.ts";
import type { Answer } from "../questions.ts";
import type { Row } from "../../shell/table_format.ts";
import { AGE_ORDER, cmp, type GroupContext, groupKey, race, type ReportContext } from "./data.ts";
import { num } from "./format.ts";

/**
 * Fonts for text and charts: the platform's UI font, then the emoji fonts of macOS, Windows
 * and Linux (posters' names carry emoji). The page embeds no font: Noto Color Emoji is
 * 5.8 MB as a web font, several times the whole report.
 */
export const FONT = "'pinpipe emoji', system-ui, -apple-system, 'Segoe UI', Roboto, " +
  "'Helvetica Neue', Arial, sans-serif, 'Apple Color Emoji', 'Segoe UI Emoji', 'Noto Color Emoji'";

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

/**
 * A world map with each country's shape coloured by `color` from `rows` (by `country`); each
 * shape is described (its ARIA label) as `country: ` and `describe`, a Vega expression over
 * the looked-up fields, or "no answer".
 */
function worldMap(
  title: string,
  rows: Row[],
  fields: string[],
  color: Record<string, unknown>,
  describe: string,
): TopLevelSpec {
  const { topology } = mapTopology();
  return {
    ...BASE,
    width: 760,
    height: 390,
    title,
    projection: { type: "equalEarth" },
    data: { values: topology, format: { type: "topojson", feature: "countries" } },
    transform: [
      { lookup: "properties.country", from: { data: { values: rows }, key: "country", fields } },
      {
        calculate: `datum.properties.country + ': ' + (datum['${fields[0]}'] == null ? ` +
          `'no answer' : ${describe})`,
        as: "description",
      },
    ],
    mark: { type: "geoshape", stroke: "white", strokeWidth: 0.5 },
    encoding: {
      color: { ...color, condition: { test: `datum['${fields[0]}'] == null`, value: NO_DATA } },
      description: { field: "description" },
    },
  } as TopLevelSpec;
}

/** Countries of `rows` the 1:110m map has no shape for (small islands and territories). */
export function offMap(countries: Iterable<string>): string[] {
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
  const countries = (n: number) => `${fmtInt(n)} ${n === 1 ? "country" : "countries"}`;
  // A part with no country draws nothing: it is left out rather than drawn zero high.
  const perCategory = categories.flatMap((category) => {
    const alone = [...winners.values()].filter((c) => c.length === 1 && c[0] === category).length;
    const shared = [...winners.values()].filter((c) => c.length > 1 && c.includes(category))
      .length;
    return [
      {
        category,
        how: "alone",
        countries: alone,
        description: `${category}: leads ${countries(alone)} alone`,
      },
      {
        category,
        how: "tied with another",
        countries: shared,
        description: `${category}: tied for the lead in ${countries(shared)}`,
      },
    ].filter((p) => p.countries > 0);
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
      "datum.categories",
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
        description: { field: "description" },
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
      description: `${g.key}: ${c.category}, ${fmtInt(c.count)} postings${
        c.count === r.top ? (r.winners.length > 1 ? " (tied for the lead)" : " (leads)") : ""
      }`,
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
      description: { field: "description" },
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
        // The other tied leaders' labels are empty (named on the first): no text to draw.
        transform: [{ filter: "datum.leads && datum.name != ''" }],
        encoding: { text: { field: "name" } },
      },
    ],
  } as TopLevelSpec;
}

/** Countries in Q3A's ranking: the first by follower count (then by name). */
const RANKED = 15;

/**
 * What a top-`shown` ranking of `values` (largest first) must say about its cut: nothing,
 * or how many tie at the last value shown and how many of them are shown
 * (`7 tie at 13,000,000: 5 shown`).
 */
export function cutNote(values: readonly number[], shown: number): string | undefined {
  if (values.length <= shown || shown === 0) return undefined;
  const sorted = [...values].sort((a, b) => b - a);
  const last = sorted[shown - 1];
  const tied = sorted.filter((v) => v === last).length;
  const inside = sorted.slice(0, shown).filter((v) => v === last).length;
  return tied > inside ? `${fmtInt(tied)} tie at ${num(last)}: ${fmtInt(inside)} shown` : undefined;
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
    .slice(0, RANKED)
    .map((r) => {
      const names = byCountry.get(r.country)!.map((x) => String(x.poster_name));
      const who = names.length > 1 ? `${names[0]} and ${names.length - 1} more (tie)` : names[0];
      return {
        ...r,
        label: `${r.country}: ${who}`,
        value: num(r.follower_count),
        description: `${r.country}: ${names.join(", ")}, ${num(r.follower_count)} followers`,
      };
    });
  const values = best.map((b) => b.follower_count);
  const atMax = perCountry.filter((r) => r.follower_count === values[0]).length;
  // A cut inside a tie says so: which of the tied countries are shown is only their names' order.
  const cut = cutNote(perCountry.map((r) => r.follower_count), best.length);
  const topTitle = atMax > best.length
    ? `${fmtInt(atMax)} countries' top users tie at ${
      num(values[0])
    } followers: the first ${best.length} by name`
    : {
      text: `The ${best.length} countries whose top user has the most followers${
        followerScale(values).type === "log" ? " (log scale)" : ""
      }`,
      ...(cut ? { subtitle: `${cut} (the first by name; the table has them all)` } : {}),
    };
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
      "datum.users + ', ' + format(datum.follower_count, ',') + ' followers'",
    ),
    {
      ...BASE,
      width: 420,
      height: RANKED * 22,
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
        description: { field: "description" },
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

/**
 * A chart of one value per group (a count or a median), each point or bar labelled with its
 * value and n. Bars only on a linear axis from zero: a log axis has no zero for a bar to
 * start from (Vega draws it zero high), so there each value is a dot. The axis leaves room
 * above the largest value for its label.
 */
function perGroupChart(
  answer: Answer,
  groups: GroupContext[] | undefined,
  opts: {
    field: string;
    title: string;
    yTitle: string;
    line: boolean;
    followers: boolean;
    /** How a value reads in its description: `median 2,000 followers`. */
    what: (value: string) => string;
  },
): TopLevelSpec {
  const n = new Map(groups?.map((g) => [g.key, g.n]));
  const values: Row[] = answer.rows.map((r) => {
    const size = n.get(groupKey(answer.id, r));
    const value = num(Number(r[opts.field]));
    const group = String(answer.id === "q5" ? r.age_group : r.post_year);
    return {
      ...r,
      group,
      n: size ?? null,
      label: `${value}${size !== undefined ? ` (n=${fmtInt(size)})` : ""}`,
      description: `${group}: ${opts.what(value)}${
        size !== undefined ? ` (n=${fmtInt(size)})` : ""
      }`,
    };
  });
  const measured = values.map((v) => Number(v[opts.field])).filter(Number.isFinite);
  const scale = opts.followers ? followerScale(measured) : { type: "linear" as const };
  const max = Math.max(...measured);
  const y = {
    field: opts.field,
    type: "quantitative",
    title: `${opts.yTitle}${scaleNote(scale)}`,
    scale: scale.type === "linear"
      ? { ...scale, zero: true, ...(max > 0 ? { domainMax: max * 1.12 } : {}) }
      : scale.type === "log"
      ? { ...scale, domain: [Math.min(...measured) / 2, max * 3], nice: true }
      : { ...scale, domainMax: max * 3 },
  };
  const x = {
    field: "group",
    type: "ordinal",
    sort: answer.id === "q5" ? AGE_ORDER : "ascending",
    title: answer.id === "q5" ? "age group" : "year joined",
    axis: { labelAngle: 0 },
  };
  const mark = opts.line
    ? { mark: { type: "line", point: true, color: "#3b6ea5" } }
    : scale.type === "linear"
    ? { mark: { type: "bar", color: "#3b6ea5" } }
    : { mark: { type: "point", filled: true, size: 90, color: "#3b6ea5" } };
  return {
    ...BASE,
    title: opts.title,
    data: { values },
    encoding: { x, y, description: { field: "description" } },
    layer: [
      mark,
      {
        mark: { type: "text", dy: -10, fontSize: 10, color: "#1d232b" },
        encoding: { text: { field: "label" } },
      },
    ],
  } as TopLevelSpec;
}

function q8Chart(answer: Answer): TopLevelSpec {
  const values: Row[] = answer.rows.map((r) => ({
    ...r,
    description: `${r.age_group}, ${r.post_year}: median ${
      num(Number(r.median_follower_count))
    } followers`,
  }));
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
      description: { field: "description" },
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
        what: (v) => `median ${v} followers`,
      })];
    case "q6":
      return [perGroupChart(answer, groups, {
        field: "number_users_joined",
        title: "Users joined per year (n: their postings)",
        yTitle: "users",
        line: false,
        followers: false,
        what: (v) => `${v} users joined`,
      })];
    case "q7":
      return [perGroupChart(answer, groups, {
        field: "median_follower_count",
        title: "Median follower count by year joined",
        yTitle: "median followers",
        line: true,
        followers: true,
        what: (v) => `median ${v} followers`,
      })];
    case "q8":
      return [q8Chart(answer)];
    default:
      return [];
  }
}

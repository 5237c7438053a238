/**
 * The transform's report: one self-contained HTML page (no script, no external URL, opens
 * offline) with the eight answers as tables and charts, the data-quality counts and the
 * run's figures. Charts are Vega-Lite specs compiled and rendered to SVG here, headless,
 * with Vega's own SVG renderer.
 * @module
 */
import type { QuarantinedLine, TableName, TableStats } from "./clean.ts";
import { parse, type Spec, View } from "./deps/vega.ts";
import { compile, type TopLevelSpec } from "./deps/vega_lite.ts";
import { fmtBytes, fmtInt, fmtSec } from "./progress.ts";
import type { Answer } from "./questions.ts";
import { cellText, type Row } from "./table_format.ts";

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
}

/** Quarantined lines listed in the page; the rest are counted. */
const QUARANTINE_SHOWN = 50;

const AGE_ORDER = ["18-24", "25-35", "36-50", "+50"];

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

const BASE = {
  width: 520,
  height: 260,
  config: {
    font: "system-ui, sans-serif",
    axis: { labelFontSize: 11, titleFontSize: 12 },
    axisX: { labelAngle: -35, labelLimit: 240 },
    legend: { labelFontSize: 11, titleFontSize: 12 },
  },
} as const;

/** The chart for an answer, or undefined where a chart says nothing a table does not. */
export function chartSpec(answer: Answer): TopLevelSpec | undefined {
  const rows = answer.rows;
  if (rows.length === 0) return undefined;
  const values = rows.map((r) => ({ ...r }));
  switch (answer.id) {
    case "q1": {
      // About 240 countries: show how many countries each category tops instead.
      const per = new Map<string, number>();
      for (const r of rows) per.set(String(r.category), (per.get(String(r.category)) ?? 0) + 1);
      return {
        ...BASE,
        title: "Countries where each category is the most popular",
        data: { values: [...per].map(([category, countries]) => ({ category, countries })) },
        mark: { type: "bar", tooltip: true },
        encoding: {
          x: { field: "category", type: "nominal", sort: "-y", title: "category" },
          y: { field: "countries", type: "quantitative", title: "countries" },
        },
      };
    }
    case "q2":
      // One bar per row (a tie gives a year two bars), labelled with year and category.
      return {
        ...BASE,
        title: "Posts in the most popular category, per year",
        data: { values: rows.map((r) => ({ ...r, bar: `${r.post_year} · ${r.category}` })) },
        mark: { type: "bar", tooltip: true },
        encoding: {
          x: { field: "bar", type: "nominal", sort: null, title: "year · category" },
          y: { field: "category_count", type: "quantitative", title: "posts" },
          color: { field: "category", type: "nominal" },
        },
      };
    case "q3a": {
      const top = new Map<string, Row>();
      for (const r of rows) if (!top.has(String(r.country))) top.set(String(r.country), r);
      const best = [...top.values()]
        .sort((a, b) => Number(b.follower_count) - Number(a.follower_count))
        .slice(0, 15);
      return {
        ...BASE,
        height: 320,
        title: "Followers of the top user, the 15 leading countries",
        data: { values: best.map((r) => ({ ...r })) },
        mark: { type: "bar", tooltip: true },
        encoding: {
          y: { field: "country", type: "nominal", sort: "-x", title: null },
          x: { field: "follower_count", type: "quantitative", title: "followers" },
        },
      };
    }
    case "q4":
      return {
        ...BASE,
        title: "Posts in the most popular category, per age group",
        data: { values: rows.map((r) => ({ ...r, bar: `${r.age_group} · ${r.category}` })) },
        mark: { type: "bar", tooltip: true },
        encoding: {
          x: { field: "bar", type: "nominal", sort: null, title: "age group · category" },
          y: { field: "category_count", type: "quantitative", title: "posts" },
          color: { field: "category", type: "nominal" },
        },
      };
    case "q5":
      return {
        ...BASE,
        title: "Median follower count per age group",
        data: { values },
        mark: { type: "bar", tooltip: true },
        encoding: {
          x: {
            field: "age_group",
            type: "ordinal",
            sort: AGE_ORDER,
            title: "age group",
            axis: { labelAngle: 0 },
          },
          y: { field: "median_follower_count", type: "quantitative", title: "median followers" },
        },
      };
    case "q6":
      return {
        ...BASE,
        title: "Users joined per year",
        data: { values },
        mark: { type: "bar", tooltip: true },
        encoding: {
          x: { field: "post_year", type: "ordinal", title: "year joined", axis: { labelAngle: 0 } },
          y: { field: "number_users_joined", type: "quantitative", title: "users" },
        },
      };
    case "q7":
      return {
        ...BASE,
        title: "Median follower count by year joined",
        data: { values },
        mark: { type: "line", point: true, tooltip: true },
        encoding: {
          x: { field: "post_year", type: "ordinal", title: "year joined", axis: { labelAngle: 0 } },
          y: { field: "median_follower_count", type: "quantitative", title: "median followers" },
        },
      };
    case "q8":
      return {
        ...BASE,
        title: "Median follower count by year joined and age group",
        data: { values },
        mark: { type: "line", point: true, tooltip: true },
        encoding: {
          x: { field: "post_year", type: "ordinal", title: "year joined", axis: { labelAngle: 0 } },
          y: { field: "median_follower_count", type: "quantitative", title: "median followers" },
          color: { field: "age_group", type: "nominal", sort: AGE_ORDER, title: "age group" },
        },
      };
    default:
      return undefined;
  }
}

function htmlTable(
  columns: readonly string[],
  rows: readonly Row[],
  numeric?: readonly boolean[],
): string {
  const isNum = numeric ?? columns.map((c) => rows.every((r) => typeof r[c] !== "string"));
  const head = columns.map((c, i) => `<th${isNum[i] ? ' class="n"' : ""}>${escapeHtml(c)}</th>`)
    .join("");
  const body = rows.map((r) =>
    `<tr>${
      columns.map((c, i) => {
        const v = r[c];
        const text = v === null || v === undefined ? '<span class="null">NULL</span>' : escapeHtml(
          // Digit groups for counts and medians, not for years.
          typeof v === "number" && !c.endsWith("year")
            ? v.toLocaleString("en-US", { maximumFractionDigits: 2 })
            : cellText(v),
        );
        return `<td${isNum[i] ? ' class="n"' : ""}>${text}</td>`;
      }).join("")
    }</tr>`
  ).join("\n");
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const STYLE = `
:root { color-scheme: light; --fg: #1d232b; --muted: #5b6570; --rule: #d9dee3; --band: #f4f6f8; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, sans-serif; color: var(--fg); margin: 0 auto; max-width: 1100px; padding: 24px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.2em; margin: 36px 0 8px; border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
.meta { color: var(--muted); margin: 0 0 16px; }
.grid { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
figure.chart { margin: 0; }
figure.chart svg { max-width: 100%; height: auto; }
.table-wrap { max-height: 420px; overflow: auto; border: 1px solid var(--rule); }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 3px 10px; text-align: left; border-bottom: 1px solid var(--rule); white-space: nowrap; }
thead th { position: sticky; top: 0; background: var(--band); }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.null { color: var(--muted); font-style: italic; }
.count { color: var(--muted); font-size: 13px; }
code { font-size: 12px; }
`;

/** The report as one HTML page. */
export async function renderReport(input: ReportInput): Promise<string> {
  const t = input.tables;
  const names: TableName[] = ["pin", "geo", "user"];
  const sum = (f: (s: TableStats) => number) => names.reduce((n, k) => n + f(t[k]), 0);
  const runRows: Row[] = [
    { figure: "objects read", value: input.objects },
    { figure: "bytes read", value: fmtBytes(input.bytes) },
    { figure: "lines read", value: sum((s) => s.lines) },
    { figure: "records", value: sum((s) => s.records) },
    { figure: "duplicates dropped", value: sum((s) => s.duplicates) },
    { figure: "lines quarantined", value: sum((s) => s.quarantined) },
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

  const sections: string[] = [];
  for (const a of input.answers) {
    const spec = chartSpec(a);
    const svg = spec ? await renderSvg(spec) : "";
    sections.push(`
<section id="${escapeHtml(a.id)}">
<h2>${escapeHtml(a.id.toUpperCase())}. ${escapeHtml(a.title)}</h2>
<p class="count">${fmtInt(a.rows.length)} row${a.rows.length === 1 ? "" : "s"} · <code>sql/${
      escapeHtml(a.file)
    }</code> · ${fmtSec(a.sec)}</p>
<div class="grid">
${svg ? `<figure class="chart" data-question="${escapeHtml(a.id)}">${svg}</figure>` : ""}
<div class="table-wrap">${htmlTable(a.columns, a.rows)}</div>
</div>
</section>`);
  }

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
  }.pin/.geo/.user</code>, generated ${escapeHtml(input.generatedAt.toISOString())}</p>

<section id="run">
<h2>Run</h2>
<div class="grid">
${htmlTable(["figure", "value"], runRows, [false, true])}
${htmlTable(Object.keys(perTable[0]), perTable)}
</div>
</section>

<section id="quality">
<h2>Data quality</h2>
<p class="count">Values cleaning turned into NULL (placeholders, empty strings, values that do not parse), exact duplicates dropped, and lines that were not records.</p>
<div class="grid">
${htmlTable(["table", "column", "nulled"], nulled)}
${
    quarantine.length
      ? `<div class="table-wrap">${
        htmlTable(["table", "object", "line", "reason", "text"], quarantine)
      }</div>`
      : '<p class="count">No line was quarantined.</p>'
  }
</div>
${
    input.quarantine.length > QUARANTINE_SHOWN
      ? `<p class="count">… and ${
        fmtInt(input.quarantine.length - QUARANTINE_SHOWN)
      } more quarantined lines (all in quarantine.jsonl).</p>`
      : ""
  }
</section>
${sections.join("\n")}
</body>
</html>
`;
}

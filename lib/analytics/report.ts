/**
 * The transform's report: one self-contained HTML page (no external URL, opens offline)
 * that answers the eight questions honestly: ties shown as ties, the size of every group
 * beside its count or median, the runner-up and the winner's share where a category wins,
 * follower counts on a log scale where they span orders of magnitude, maps for the
 * per-country answers, and the pipeline's own figures at the top. Tables sort and filter
 * with a small inline script (and read fine without it); links lead to each answer's CSV
 * and JSON beside the page.
 *
 * The answers themselves (and the CSV/JSON files) keep SPEC §5's columns (the "top" answers
 * with `tied`, how many rows share the top); what the report adds (group sizes, runner-ups,
 * shares) comes from `reportContext`, a few counting queries over the same cleaned views, and
 * is set apart in the tables.
 *
 * This file is the page; its parts live in `report/`: the data it reads and derives
 * (data.ts), the charts (charts.ts: Vega-Lite specs rendered to SVG here, headless), the
 * tables (tables.ts), and the style sheet and script (report.css, report.js), read by URL
 * beside this module and inlined into the page when it is built.
 * @module
 */
import { fmtInt, fmtSec } from "../shell/progress.ts";
import type { Answer } from "./questions.ts";
import { readText } from "./read_sql.ts";
import { chartSpecs, offMap, renderSvg } from "./report/charts.ts";
import {
  nulledValues,
  QUARANTINE_SHOWN,
  quarantineShown,
  type ReportContext,
  type ReportInput,
  runFigures,
  sumTables,
  tableFigures,
} from "./report/data.ts";
import { escapeHtml } from "./report/format.ts";
import { answerColumn, answerTable, htmlTable, q3bTies } from "./report/tables.ts";

/** Where the page's style sheet and script lie: beside this module, on disk or on a server. */
const ASSETS = new URL("./report/", import.meta.url);

let assets: Promise<{ css: string; js: string }> | undefined;

/** The page's style sheet and script, read once per process. */
function pageAssets(): Promise<{ css: string; js: string }> {
  assets ??= Promise.all([
    readText(new URL("report.css", ASSETS), "report style sheet"),
    readText(new URL("report.js", ASSETS), "report script"),
  ]).then(([css, js]) => ({ css, js }), (err) => {
    assets = undefined; // a later report tries again
    throw err;
  });
  return assets;
}

/** The report as one HTML page. */
export async function renderReport(input: ReportInput): Promise<string> {
  const { css, js } = await pageAssets();
  const q3a = input.answers.find((a) => a.id === "q3a");
  const sections: string[] = [];
  for (const a of input.answers) sections.push(await answerSection(a, input.context, q3a));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pinpipe transform report</title>
<style>
${css}</style>
</head>
<body>
<h1>pinpipe: the eight questions</h1>
<p class="meta">Lake <code>${escapeHtml(input.lake)}</code>, topics <code>${
    escapeHtml(input.prefix)
  }.pin/.geo/.user</code>, generated ${escapeHtml(input.generatedAt.toISOString())} ·
<a href="summary.json">summary.json</a> · <a href="quarantine.jsonl">quarantine.jsonl</a></p>

${pipelineSection(input)}
${sections.join("\n")}

${runSection(input)}

${qualitySection(input)}
<script>
${js}</script>
</body>
</html>
`;
}

/** The pipeline's figures, the table of contents, and what the shaded columns mean. */
function pipelineSection(input: ReportInput): string {
  const ctxNote = input.context
    ? `<p class="count">Shaded, italic columns are context this report adds (group sizes n, the
leader's share, the runner-up); the answer files hold SPEC §5's columns and <code>tied</code>, how
many rows share the top of their group. Shaded rows are ties: every tied winner has its row. Click a
column to sort, type in a box to filter.</p>`
    : "";
  return `<section id="pipeline">
<h2>Pipeline</h2>
${pipelineFigures(input)}
<nav class="toc">${
    input.answers.map((a) => `<a href="#${escapeHtml(a.id)}">${escapeHtml(a.id.toUpperCase())}</a>`)
      .join("")
  }<a href="#run">run</a><a href="#quality">data quality</a></nav>
${ctxNote}
</section>`;
}

/**
 * The pipeline's figures as a row of cards, from the emulator to the cleaned tables. An arrow
 * belongs to the card it points at (one item of the row), so a row that wraps starts with an
 * arrow rather than ending with one.
 */
function pipelineFigures(input: ReportInput): string {
  const sum = (f: Parameters<typeof sumTables>[1]) => sumTables(input.tables, f);
  const card = (value: number | string, label: string, opts: { bad?: boolean; then?: boolean }) =>
    `<li>${opts.then ? '<span class="arrow" aria-hidden="true">→</span>' : ""}<div class="card${
      opts.bad ? " bad" : ""
    }"><b>${typeof value === "number" ? fmtInt(value) : escapeHtml(value)}</b><span>${
      escapeHtml(label)
    }</span></div></li>`;
  const p = input.pipeline;
  const cards: string[] = [];
  if (p) {
    cards.push(
      card(p.postings, "postings emulated", {}),
      card(p.sent, "records sent", { then: true }),
      card(p.acknowledged, "acknowledged", { then: true, bad: p.acknowledged < p.sent }),
      card(p.broker, "in the broker", { then: true }),
      card(p.landed, "landed in the lake", { then: true, bad: p.landed < p.acknowledged }),
    );
  }
  const quarantined = sum((s) => s.quarantined);
  cards.push(
    card(sum((s) => s.lines), "lines read by the transform", { then: p !== undefined }),
    card(sum((s) => s.duplicates), "duplicates dropped", { then: true }),
    card(quarantined, "quarantined", { bad: quarantined > 0 }),
    card(
      `${fmtInt(input.tables.pin.rows)} / ${fmtInt(input.tables.geo.rows)} / ${
        fmtInt(input.tables.user.rows)
      }`,
      "cleaned rows: pin / geo / user",
      { then: true },
    ),
  );
  const note = p ? "" : `<p class="count">Records sent, acknowledged and landed are known to a run
of the whole pipeline (<code>deno task demo</code> shows them here); this transform ran on its own
and counts from the lake on.</p>`;
  return `<ul class="figures">${cards.join("")}</ul>${note}`;
}

/** One question: its title, files, headline, charts and table (and Q3B's tied countries). */
async function answerSection(a: Answer, context?: ReportContext, q3a?: Answer): Promise<string> {
  const charts = await answerCharts(a, context);
  const { table, headline, warnings } = answerTable(a, context);
  const file = escapeHtml(a.id);
  return `
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
</section>`;
}

/** The answer's charts as SVG figures, a map's with the countries it cannot show. */
async function answerCharts(a: Answer, context?: ReportContext): Promise<string[]> {
  const charts: string[] = [];
  for (const [i, spec] of chartSpecs(a, context).entries()) {
    const svg = await renderSvg(spec);
    const caption = "projection" in spec ? mapCaption(a) : "";
    charts.push(
      `<figure class="chart" data-question="${
        escapeHtml(a.id)
      }" data-chart="${i}">${svg}${caption}</figure>`,
    );
  }
  return charts;
}

/** A map's caption: the countries of the answer too small for the map (none: no caption). */
function mapCaption(a: Answer): string {
  const missing = offMap(a.rows.map((r) => String(r.country)));
  if (!missing.length) return "";
  return `<figcaption>Grey: a shape with no answer. ${fmtInt(missing.length)} of ${
    fmtInt(new Set(a.rows.map((r) => r.country)).size)
  } countries are too small for this map's scale (Natural Earth 1:110m) or not on it; the table has them all.
<details><summary>The ${fmtInt(missing.length)} countries not on the map</summary>${
    escapeHtml(missing.join(", "))
  }</details></figcaption>`;
}

/** The run's figures and the per-table counts. */
function runSection(input: ReportInput): string {
  const perTable = tableFigures(input.tables);
  return `<section id="run">
<h2>Run</h2>
<div class="grid">
${
    htmlTable(
      [{ name: "figure", numeric: false }, { name: "value", numeric: true }],
      runFigures(input),
      { label: "run figures", tools: false },
    )
  }
${
    htmlTable(
      Object.keys(perTable[0]).map((c) => answerColumn(c, perTable)),
      perTable,
      { label: "tables", tools: false },
    )
  }
</div>
</section>`;
}

/** The values cleaning turned into NULL and the quarantined lines. */
function qualitySection(input: ReportInput): string {
  const quarantine = quarantineShown(input.quarantine);
  return `<section id="quality">
<h2>Data quality</h2>
<p class="count">Values cleaning turned into NULL (placeholders, empty strings, values that do not parse), exact duplicates dropped, and lines that were not records.</p>
<div class="grid">
${
    htmlTable(
      [{ name: "table", numeric: false }, { name: "column", numeric: false }, {
        name: "nulled",
        numeric: true,
      }],
      nulledValues(input.tables),
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
</section>`;
}

/**
 * The transform's HTML report: self-contained (no request leaves the page), escaping what
 * it shows, and answering honestly: ties shown as ties (Q3B's too), group sizes n that
 * match a count made here from the dataset, labelled charts, log scales where follower
 * counts span an order of magnitude, maps, sortable and filterable tables, links to the
 * answer files, emoji drawn in colour. Checked in headless Chromium at 1400 and 800 px: every
 * chart draws a mark with an extent inside its plot area for each value of its answer, every
 * label has its mark, and the pipeline's cards never end a row with an arrow. The screenshots
 * are kept under .pinpipe/report-screenshots/ for a person to look at.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { TableStats } from "../../lib/analytics/clean.ts";
import { createDataset } from "../../lib/source/dataset.ts";
import { chromium, type Page } from "../deps/playwright.ts";
import { FileLake } from "../../lib/lake/lake.ts";
import type { Answer } from "../../lib/analytics/questions.ts";
import { renderReport } from "../../lib/analytics/report.ts";
import { offMap } from "../../lib/analytics/report/charts.ts";
import type { ReportInput } from "../../lib/analytics/report/data.ts";
import { transform } from "../../lib/analytics/transform.ts";
import { writeLake } from "../../bench/_write_lake.ts";
import { followers } from "../_reference.ts";
import {
  CHROMIUM,
  envTest,
  hasCommand,
  ROOT,
  run,
  serveRepo,
  STRICT,
  withTempDir,
} from "../_fixtures.ts";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Where the screenshots stay for a person to look at (git-ignored). */
const SHOTS = join(ROOT, ".pinpipe", "report-screenshots");

/** Runs in the page: each chart's question, size, and count of marks with a non-empty box. */
const CHART_PROBE = `[...document.querySelectorAll("figure.chart")].map((f) => {
  const svg = f.querySelector("svg");
  const box = svg.getBoundingClientRect();
  const marks = [...svg.querySelectorAll("g.role-mark path, g.role-mark line, g.role-mark text")]
    .map((m) => m.getBBox())
    .filter((b) => b.width > 0 || b.height > 0);
  return {
    question: f.getAttribute("data-question"),
    width: box.width,
    height: box.height,
    marks: marks.length,
    shapes: svg.querySelectorAll("g.mark-shape path").length,
    text: [...svg.querySelectorAll("text")].map((t) => t.textContent).join("\\n"),
  };
})`;

/**
 * Runs in the page: per chart, the plot area (the view's background), the SVG's box, and
 * every data mark (bars, points, shapes, lines) and label (text marks) with its ARIA label
 * (the mark's description), its text and its box on the screen.
 */
const DRAW_PROBE = `[...document.querySelectorAll("figure.chart")].map((f) => {
  const svg = f.querySelector("svg");
  const box = (e) => {
    const b = e.getBoundingClientRect();
    return { x: b.x, y: b.y, w: b.width, h: b.height };
  };
  const marks = [...svg.querySelectorAll("g.role-mark > [role=graphics-symbol]")].map((m) => ({
    role: m.getAttribute("aria-roledescription"),
    label: m.getAttribute("aria-label") ?? "",
    text: m.tagName === "text" ? m.textContent : undefined,
    ...box(m),
  }));
  return {
    question: f.dataset.question,
    chart: Number(f.dataset.chart),
    svg: box(svg),
    plot: box(svg.querySelector("g.role-frame.root > g > path.background")),
    marks,
  };
})`;

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

interface Mark extends Box {
  role: string;
  label: string;
  text?: string;
}

interface DrawProbe {
  question: string;
  chart: number;
  svg: Box;
  plot: Box;
  marks: Mark[];
}

/**
 * Runs in the page: the pipeline's cards and arrows in page order (items of the list, or
 * what an item holds), split into the rows the browser wrapped them into (an item left of the
 * one before starts a row).
 */
const FLOW_PROBE = `(() => {
  const rows = [];
  let last;
  const items = "#pipeline .figures :is(li:not(:has(> .card)), .card, .arrow)";
  for (const e of document.querySelectorAll(items)) {
    const b = e.getBoundingClientRect();
    if (!last || b.left < last.left) rows.push([]);
    rows.at(-1).push({ arrow: e.classList.contains("arrow"), text: e.textContent, top: b.top });
    last = b;
  }
  return rows;
})()`;

/** Checks no row of the pipeline's cards ends with an arrow at `width` px; returns the rows. */
async function assertNoDanglingArrow(page: Page, width: number): Promise<number> {
  await page.setViewportSize({ width, height: 900 });
  const rows = await page.evaluate(FLOW_PROBE) as { arrow: boolean; text: string }[][];
  assert.ok(rows.flat().filter((i) => i.arrow).length >= 5, "the arrows between the cards");
  for (const row of rows) {
    assert.ok(
      !row.at(-1)!.arrow,
      `at ${width} px a row of cards ends with an arrow: ${row.map((i) => i.text).join(" ")}`,
    );
  }
  return rows.length;
}

/** Whether `inner` lies within `outer`, give or take `slack` px (anti-aliased edges). */
const within = (inner: Box, outer: Box, slack = 1) =>
  inner.x >= outer.x - slack && inner.y >= outer.y - slack &&
  inner.x + inner.w <= outer.x + outer.w + slack && inner.y + inner.h <= outer.y + outer.h + slack;

/**
 * Checks every chart on the page draws: each data mark has an extent inside the plot area
 * (a point: its centre), each label is visible and has a data mark with the same description,
 * and each value `expected` names (a description's start) has such a mark. Returns, per chart,
 * the marks and labels found.
 */
async function assertChartsDraw(
  page: Page,
  expected: Record<string, string[]>,
  width: number,
): Promise<string[]> {
  const charts = await page.evaluate(DRAW_PROBE) as DrawProbe[];
  const found: string[] = [];
  const problems: string[] = [];
  for (const c of charts) {
    const name = `${c.question}#${c.chart} at ${width} px`;
    const data = c.marks.filter((m) => m.role !== "text mark" && m.role !== "line mark");
    const labels = c.marks.filter((m) => m.role === "text mark");
    const drawn = data.filter((m) => {
      if (!(m.w > 0 && m.h > 0)) {
        problems.push(`${name}: "${m.label}" (${m.role}) is ${m.w}x${m.h} px`);
        return false;
      }
      const inside = m.role === "point"
        ? within({ x: m.x + m.w / 2, y: m.y + m.h / 2, w: 0, h: 0 }, c.plot)
        : within(m, c.plot);
      if (!inside) problems.push(`${name}: "${m.label}" (${m.role}) lies outside the plot area`);
      return inside;
    });
    for (const l of labels) {
      if (!(l.w > 0 && l.h > 0) || !within(l, c.svg)) {
        problems.push(`${name}: the label "${l.text}" is not visible`);
      }
      if (!drawn.some((m) => m.label === l.label)) {
        problems.push(`${name}: the label "${l.text}" has no drawn mark ("${l.label}")`);
      }
    }
    for (const key of expected[`${c.question}#${c.chart}`] ?? []) {
      // A map's grey shape is described as having no answer: it does not draw a value.
      if (!drawn.some((m) => m.label.startsWith(key) && !m.label.endsWith(": no answer"))) {
        problems.push(`${name}: no drawn mark for "${key}"`);
      }
    }
    if (drawn.length === 0) problems.push(`${name}: no mark drawn`);
    found.push(`${name}: ${drawn.length} of ${data.length} marks drawn, ${labels.length} labels`);
  }
  assert.deepEqual(problems, [], found.join("\n"));
  return found;
}

/**
 * Per chart (`q5#0`), the start of the description of each mark its answer's data must draw:
 * every country on a map, every category of Q1's bars, every leader of Q2 and Q4, the first
 * 15 countries of Q3A's ranking, every value of Q5 to Q8.
 */
function expectedMarks(byId: Record<string, Answer>): Record<string, string[]> {
  const distinct = (xs: unknown[]) => [...new Set(xs.map(String))];
  const onMap = (id: string) => {
    const countries = distinct(byId[id].rows.map((r) => r.country));
    const off = new Set(offMap(countries));
    return countries.filter((c) => !off.has(c)).map((c) => `${c}: `);
  };
  const top = new Map<string, number>();
  for (const r of byId.q3a.rows) top.set(String(r.country), Number(r.follower_count));
  const ranked = [...top].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 15);
  return {
    "q1#0": onMap("q1"),
    "q1#1": distinct(byId.q1.rows.map((r) => r.category)).map((c) => `${c}: `),
    "q2#0": byId.q2.rows.map((r) => `${r.post_year}: ${r.category}, `),
    "q3a#0": onMap("q3a"),
    "q3a#1": ranked.map(([c]) => `${c}: `),
    "q4#0": byId.q4.rows.map((r) => `${r.age_group}: ${r.category}, `),
    "q5#0": byId.q5.rows.map((r) => `${r.age_group}: `),
    "q6#0": byId.q6.rows.map((r) => `${r.post_year}: `),
    "q7#0": byId.q7.rows.map((r) => `${r.post_year}: `),
    "q8#0": byId.q8.rows.map((r) => `${r.age_group}, ${r.post_year}: `),
  };
}

interface ChartProbe {
  question: string;
  width: number;
  height: number;
  marks: number;
  shapes: number;
  text: string;
}

const stats = (n: number): TableStats => ({
  objects: 1,
  lines: n,
  records: n,
  quarantined: 0,
  duplicates: 0,
  rows: n,
  nulled: {},
});

const input = (answers: Answer[], extra: Partial<ReportInput> = {}): ReportInput => ({
  lake: "file:///tmp/lake",
  prefix: "pinpipe",
  generatedAt: new Date("2024-01-02T03:04:05Z"),
  objects: 3,
  bytes: 100,
  tables: { pin: stats(1), geo: stats(1), user: stats(1) },
  quarantine: [],
  answers,
  timings: { clean: 0.5 },
  ...extra,
});

Deno.test("the page inlines its style sheet and script, read beside the code from a URL too", async () => {
  const css = await Deno.readTextFile(join(ROOT, "lib/analytics/report/report.css"));
  const js = await Deno.readTextFile(join(ROOT, "lib/analytics/report/report.js"));
  const page = input([]);
  const local = await renderReport(page);
  assert.ok(local.includes(`<style>\n${css}</style>`), "the style sheet, as it is on disk");
  assert.ok(local.includes(`<script>\n${js}</script>`), "the script, as it is on disk");
  // As in `deno run https://…/tasks/transform.ts`: the module and its assets come over HTTP,
  // in a process of its own, outside the repository (no deno.json, no lockfile).
  const srv = serveRepo();
  try {
    await withTempDir(async (cwd) => {
      const code = `const { renderReport } = await import(${
        JSON.stringify(`${srv.base}/lib/analytics/report.ts`)
      });
const page = ${JSON.stringify(page)};
await Deno.stdout.write(new TextEncoder().encode(
  await renderReport({ ...page, generatedAt: new Date(page.generatedAt) }),
));`;
      const r = await run("deno", ["eval", code], { cwd });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, local);
    });
    assert.deepEqual(
      srv.requested.filter((p) => /\.(css|js)$/.test(p)).sort(),
      ["/lib/analytics/report/report.css", "/lib/analytics/report/report.js"],
    );
  } finally {
    await srv.close();
  }
});

/** Whether a colour emoji font is installed (Debian: fonts-noto-color-emoji). */
async function hasEmojiFont(): Promise<boolean> {
  if (!(await hasCommand("fc-list", ["--version"]))) return false;
  const out = await new Deno.Command("fc-list", { args: [":", "family"], stdout: "piped" })
    .output();
  return /Noto Color Emoji/i.test(new TextDecoder().decode(out.stdout));
}

/** Draws `text` with the font of `selector` on a canvas; counts clearly coloured pixels. */
async function colouredPixels(page: Page, selector: string, text: string): Promise<number> {
  return await page.evaluate(`(() => {
    const font = getComputedStyle(document.querySelector(${JSON.stringify(selector)})).fontFamily;
    const c = document.createElement("canvas");
    c.width = 200;
    c.height = 60;
    const ctx = c.getContext("2d");
    ctx.font = "40px " + font;
    ctx.fillStyle = "black";
    ctx.fillText(${JSON.stringify(text)}, 4, 48);
    const d = ctx.getImageData(0, 0, 200, 60).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      const r = d[i], g = d[i + 1], b = d[i + 2], a = d[i + 3];
      if (a > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
    }
    return n;
  })()`) as number;
}

/** The text of column `name` in each shown row of the answer table of `id`, in page order. */
async function column(page: Page, id: string, name: string): Promise<string[]> {
  return await page.evaluate(`(() => {
    const table = document.querySelector("section#${id} .answer table");
    const i = [...table.tHead.rows[0].cells].findIndex((c) => c.textContent === ${
    JSON.stringify(name)
  });
    return [...table.tBodies[0].rows].filter((r) => !r.hidden).map((r) => r.cells[i].textContent);
  })()`) as string[];
}

await envTest(
  "the report answers honestly in headless Chromium at 1400 and 800 px",
  ["chromium"],
  async () => {
    await withTempDir(async (dir) => {
      const lake = new FileLake(join(dir, "lake"));
      const data = createDataset({ rows: 3000 });
      await writeLake(lake, data.postings(), { flushSize: 250 });
      const out = join(dir, "out");
      // The pipeline's figures as the demo gives them: a row of cards that wraps at 800 px.
      const result = await transform({
        lake: lake.url,
        prefix: "pinpipe",
        out,
        threads: 2,
        pipeline: { postings: 3000, sent: 9000, acknowledged: 9000, broker: 9000, landed: 9000 },
      });
      const byId = Object.fromEntries(result.answers.map((a) => [a.id, a]));

      // Independent group sizes, from the dataset's postings (every key once in this lake).
      const perCountry = new Map<string, number>();
      const perAge = new Map<string, number>();
      for (const p of data.postings()) {
        const country = p.geo.country || null;
        if (country && p.pin.category) {
          perCountry.set(country, (perCountry.get(country) ?? 0) + 1);
        }
        const age = Number(p.user.age);
        const group = age >= 18 && age <= 24
          ? "18-24"
          : age >= 25 && age <= 35
          ? "25-35"
          : age >= 36 && age <= 50
          ? "36-50"
          : age > 50
          ? "+50"
          : null;
        if (group && followers(String(p.pin.follower_count)) !== null) {
          perAge.set(group, (perAge.get(group) ?? 0) + 1);
        }
      }

      await Deno.mkdir(SHOTS, { recursive: true });
      const context = await chromium.launchPersistentContext(join(dir, "chromium-profile"), {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: 1400, height: 900 },
      });
      try {
        const outside: string[] = [];
        await context.route("**/*", (route) => {
          const url = route.request().url();
          if (url.startsWith("file://")) return route.continue();
          outside.push(url);
          return route.abort();
        });
        const page = await context.newPage();
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(String(e)));
        await page.goto(`file://${join(out, "report.html")}`, { waitUntil: "load" });
        assert.equal(await page.title(), "pinpipe transform report");

        // Every answer: its table with all its rows, and links to its CSV and JSON beside it.
        for (const a of result.answers) {
          const rows = await page.locator(`section#${a.id} .answer tbody tr`).count();
          assert.equal(rows, a.rows.length, `rows of ${a.id}`);
          for (const ext of ["csv", "json"]) {
            const href = await page.locator(`section#${a.id} a[href="answers/${a.id}.${ext}"]`)
              .getAttribute("href");
            await Deno.stat(join(out, href!));
          }
        }

        // Every chart draws each value of its answer, at both widths.
        const expected = expectedMarks(byId);
        const drawn = await assertChartsDraw(page, expected, 1400);

        // Charts: drawn, with visible marks; two maps of country shapes.
        const charts = await page.evaluate(CHART_PROBE) as ChartProbe[];
        assert.deepEqual(
          [...new Set(charts.map((c) => c.question))],
          ["q1", "q2", "q3a", "q4", "q5", "q6", "q7", "q8"],
        );
        for (const c of charts) {
          assert.ok(c.width > 100 && c.height > 100, `${c.question} chart ${c.width}x${c.height}`);
          assert.ok(c.marks > 0, `${c.question} chart has no visible marks`);
        }
        const maps = charts.filter((c) => c.shapes > 100);
        assert.deepEqual(maps.map((m) => m.question), ["q1", "q3a"], "a world map for Q1 and Q3A");

        // Q1: every tied country is marked as a tie, once per tied category, and counted.
        const q1Counts = new Map<string, number>();
        for (const r of byId.q1.rows) {
          q1Counts.set(String(r.country), (q1Counts.get(String(r.country)) ?? 0) + 1);
        }
        const tiedCountries = [...q1Counts].filter(([, n]) => n > 1);
        assert.ok(tiedCountries.length > 0, "this dataset has ties in Q1");
        const tieRows = tiedCountries.reduce((s, [, n]) => s + n, 0);
        assert.equal(await page.locator("section#q1 .answer tr.tie").count(), tieRows);
        const q1Text = await page.locator("section#q1").innerText();
        assert.match(q1Text, new RegExp(`in ${tiedCountries.length} two or more tie for the lead`));

        // n beside every count and median, equal to the counts made above from the dataset.
        const countries = await column(page, "q1", "country");
        const q1n = await column(page, "q1", "n");
        countries.forEach((c, i) => {
          assert.equal(q1n[i], perCountry.get(c)!.toLocaleString("en-US"), `n of ${c}`);
        });
        const ages = await column(page, "q5", "age_group");
        const q5n = await column(page, "q5", "n");
        ages.forEach((g, i) => assert.equal(q5n[i], perAge.get(g)!.toLocaleString("en-US"), g));
        for (const id of ["q2", "q3a", "q4", "q6", "q7", "q8"]) {
          const n = await column(page, id, "n");
          assert.ok(n.length > 0 && n.every((x) => /^\d[\d,]*$/.test(x)), `n of ${id}: ${n}`);
        }
        // The runner-up and the leader's share for Q1, Q2, Q4.
        for (const id of ["q1", "q2", "q4"]) {
          const share = await column(page, id, "share");
          assert.ok(share.every((s) => /^\d+\.\d%$/.test(s)), `share of ${id}`);
          assert.ok((await column(page, id, "runner_up")).every((s) => s.length > 0));
        }

        // Q3B: one answer row, and every country tied at its value listed.
        const top = Number(byId.q3b.rows[0].follower_count);
        const tiedTop = new Set(
          byId.q3a.rows.filter((r) => Number(r.follower_count) === top).map((r) => r.country),
        );
        const q3bText = await page.locator("section#q3b").innerText();
        if (tiedTop.size > 1) {
          assert.match(q3bText, new RegExp(`${tiedTop.size} countries tie`));
          const listed = await page.locator("section#q3b .ties tbody tr td:first-child")
            .allInnerTexts();
          assert.deepEqual(new Set(listed), tiedTop);
        } else {
          assert.match(q3bText, /No tie/);
        }

        // Q3A's ranking is labelled with the user and the value.
        const q3aBars = charts.find((c) => c.question === "q3a" && c.shapes < 100)!;
        const best = [...byId.q3a.rows].sort((a, b) =>
          Number(b.follower_count) - Number(a.follower_count) ||
          String(a.country).localeCompare(String(b.country))
        )[0];
        assert.ok(
          q3aBars.text.includes(`${best.country}: ${String(best.poster_name).slice(0, 8)}`),
          `label of ${best.country} in ${q3aBars.text}`,
        );
        assert.ok(q3aBars.text.includes(Number(best.follower_count).toLocaleString("en-US")));
        // Its cut at 15 says so when it falls inside a tie.
        const maxima = [
          ...new Map(byId.q3a.rows.map((r) => [r.country, Number(r.follower_count)])).values(),
        ].sort((a, b) =>
          b - a
        );
        const atCut = maxima.filter((v) => v === maxima[14]).length;
        const shownAtCut = maxima.slice(0, 15).filter((v) => v === maxima[14]).length;
        if (maxima.length > 15 && atCut > shownAtCut) {
          const note = `${atCut} tie at ${maxima[14].toLocaleString("en-US")}: ${shownAtCut} shown`;
          assert.ok(q3aBars.text.includes(note), `"${note}" in ${q3aBars.text}`);
        } else {
          assert.doesNotMatch(q3aBars.text, / tie at /);
        }

        // Q3B: SPEC's one row first, then every country tied with it, each row marked.
        assert.deepEqual(
          byId.q3b.rows.map((r) => [r.country, r.tied]),
          [...tiedTop].sort().map((c) => [c, tiedTop.size]),
        );
        assert.equal(
          await page.locator("section#q3b .answer tr.tie").count(),
          tiedTop.size > 1 ? tiedTop.size : 0,
        );

        // Titles name the years asked about and, where the data has fewer, the years it has.
        for (const [id, from, to] of [["q2", 2018, 2022], ["q6", 2015, 2020], ["q8", 2015, 2020]]) {
          const years = byId[id as string].rows.map((r) => Number(r.post_year));
          const [first, last] = [Math.min(...years), Math.max(...years)];
          const title = await page.locator(`section#${id} h2`).innerText();
          assert.ok(title.includes(`, ${from}-${to}`), title);
          if (first === from && last === to) assert.doesNotMatch(title, /the data has/);
          else assert.ok(title.endsWith(` (the data has ${first}-${last})`), title);
        }

        // Medians that span an order of magnitude are on a log scale, and say so.
        for (const id of ["q5", "q7", "q8"]) {
          const v = byId[id].rows.map((r) => Number(r.median_follower_count));
          const chart = charts.find((c) => c.question === id)!;
          const log = Math.max(...v) / Math.min(...v) >= 10;
          assert.equal(chart.text.includes("(log scale)"), log, `${id} scale`);
        }

        // Sorting and filtering work.
        await page.locator("section#q1 .answer th", { hasText: /^n$/ }).click();
        const ascending = (await column(page, "q1", "n")).map((x) => Number(x.replace(/,/g, "")));
        assert.deepEqual(ascending, [...ascending].sort((a, b) => a - b));
        await page.locator("section#q1 .answer th", { hasText: /^n/ }).click();
        const descending = (await column(page, "q1", "n")).map((x) => Number(x.replace(/,/g, "")));
        assert.deepEqual(descending, [...ascending].sort((a, b) => b - a));
        const [someCountry] = tiedCountries[0];
        await page.locator("section#q1 .tools input").fill(someCountry);
        const shown = await column(page, "q1", "country");
        assert.ok(shown.length >= 2 && shown.every((c) => c.includes(someCountry)), `${shown}`);
        assert.match(
          await page.locator("section#q1 .shown").innerText(),
          new RegExp(`^${shown.length} of ${byId.q1.rows.length} rows$`),
        );
        await page.locator("section#q1 .tools input").fill("");

        // Emoji are drawn in colour with the page's fonts.
        if (await hasEmojiFont()) {
          assert.ok(await colouredPixels(page, "section#q3a td", "🌟") > 50, "a colour emoji");
          const withEmoji = byId.q3a.rows.map((r) => String(r.poster_name))
            .find((n) => /\p{Extended_Pictographic}/u.test(n));
          if (withEmoji) {
            const emoji = withEmoji.match(/\p{Extended_Pictographic}/u)![0];
            assert.ok(await colouredPixels(page, "section#q3a td", emoji) > 20, withEmoji);
          }
        } else if (STRICT) {
          assert.fail("no colour emoji font: install the Debian package fonts-noto-color-emoji");
        } else {
          console.warn("*** emoji not checked: install fonts-noto-color-emoji ***");
        }

        // The pipeline's cards: no row ends with an arrow, at 800 px (where they wrap) or any
        // width from 600 to 1400 px.
        assert.ok(await assertNoDanglingArrow(page, 800) > 1, "the cards wrap at 800 px");
        for (let w = 600; w <= 1400; w += 25) await assertNoDanglingArrow(page, w);
        await page.setViewportSize({ width: 1400, height: 900 });

        // The screenshots, for a person; at 800 px nothing sticks out of the page's width.
        const wide = join(SHOTS, "report-1400.png");
        await page.screenshot({ path: wide, fullPage: true });
        await page.setViewportSize({ width: 800, height: 900 });
        const overflow = await page.evaluate("document.documentElement.scrollWidth") as number;
        assert.ok(overflow <= 800, `the page is ${overflow} px wide at 800 px`);
        drawn.push(...await assertChartsDraw(page, expected, 800));
        console.log(drawn.join("\n"));
        const narrow = join(SHOTS, "report-800.png");
        await page.screenshot({ path: narrow, fullPage: true });
        for (const shot of [wide, narrow]) {
          assert.ok((await Deno.stat(shot)).size > 50_000, `${shot} is not blank`);
        }
        console.log(`report screenshots: ${wide} and ${narrow}`);
        assert.deepEqual(errors, [], "no script error");
        assert.deepEqual(outside, [], "the page asked for nothing outside itself");
      } finally {
        await context.close();
      }
    });
  },
);

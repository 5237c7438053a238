/**
 * The transform's HTML report: self-contained (no request leaves the page), its charts
 * rendered by Vega as SVG with visible marks, its tables and data-quality counts present,
 * checked in headless Chromium, with a screenshot saved under the test's temp dir.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { TableStats } from "../lib/clean.ts";
import { createDataset } from "../lib/dataset.ts";
import { chromium } from "../lib/deps/playwright.ts";
import { FileLake } from "../lib/lake.ts";
import type { Answer } from "../lib/questions.ts";
import { renderReport } from "../lib/report.ts";
import { transform } from "../lib/transform.ts";
import { writeLake } from "../lib/write_lake.ts";
import { CHROMIUM, envTest, withTempDir } from "./_fixtures.ts";

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

/** Runs in the page: each chart's question, size, and count of marks with a non-empty box. */
const CHART_PROBE = `[...document.querySelectorAll("figure.chart")].map((f) => {
  const svg = f.querySelector("svg");
  const box = svg.getBoundingClientRect();
  const marks = [...svg.querySelectorAll("g.role-mark path, g.role-mark line")]
    .map((m) => m.getBBox())
    .filter((b) => b.width > 0 || b.height > 0);
  return { question: f.getAttribute("data-question"), width: box.width, height: box.height, marks: marks.length };
})`;

const stats = (n: number): TableStats => ({
  objects: 1,
  lines: n,
  records: n,
  quarantined: 0,
  duplicates: 0,
  rows: n,
  nulled: {},
});

Deno.test("the report escapes every text it shows and references nothing outside the page", async () => {
  const evil = `<script>alert("x")</script> & 'quotes'`;
  const answer: Answer = {
    id: "q3a",
    file: "q3a.sql",
    title: "User with the most followers in each country",
    columns: ["country", "poster_name", "follower_count"],
    rows: [{ country: evil, poster_name: "<img src=http://example.com/x.png>", follower_count: 5 }],
    sec: 0.01,
  };
  const html = await renderReport({
    lake: "file:///tmp/<lake>",
    prefix: "pinpipe",
    generatedAt: new Date("2024-01-02T03:04:05Z"),
    objects: 3,
    bytes: 100,
    tables: { pin: stats(1), geo: stats(1), user: stats(1) },
    quarantine: [{ table: "pin", key: "k", line: 1, reason: "not valid JSON", text: "<b>{bad" }],
    answers: [answer],
    timings: { clean: 0.5 },
  });
  assert.ok(!html.includes("<script"), "no script element, escaped or not");
  assert.ok(!html.includes("<img"), "no injected element");
  assert.ok(
    html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;"),
  );
  assert.ok(html.includes("&lt;b&gt;{bad"));
  for (const tag of html.match(/<[a-z][^>]*>/gi) ?? []) {
    assert.ok(
      !/\b(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i.test(tag),
      `external reference in ${tag}`,
    );
  }
  assert.ok(!/url\(|@import/i.test(html), "no CSS that loads anything");
  assert.match(html, /<svg[^>]*class="marks"/);
});

await envTest(
  "the report opens offline in headless Chromium with every chart drawn",
  ["chromium"],
  async () => {
    await withTempDir(async (dir) => {
      const lake = new FileLake(join(dir, "lake"));
      const data = createDataset({ rows: 3000 });
      await writeLake(lake, data.postings(), { flushSize: 250 });
      const out = join(dir, "out");
      const result = await transform({ lake: lake.url, prefix: "pinpipe", out, threads: 2 });

      const context = await chromium.launchPersistentContext(join(dir, "chromium-profile"), {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: 1280, height: 900 },
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
        await page.goto(`file://${join(out, "report.html")}`, { waitUntil: "load" });
        assert.equal(await page.title(), "pinpipe transform report");

        // Every answer has its section and a table with all its rows.
        for (const a of result.answers) {
          const rows = await page.locator(`section#${a.id} .table-wrap tbody tr`).count();
          assert.equal(rows, a.rows.length, `rows of ${a.id}`);
        }

        // Every chart is an SVG of non-zero size with visible marks (bars, lines, points).
        const charts = await page.evaluate(CHART_PROBE) as {
          question: string;
          width: number;
          height: number;
          marks: number;
        }[];
        assert.deepEqual(
          charts.map((c) => c.question),
          ["q1", "q2", "q3a", "q4", "q5", "q6", "q7", "q8"],
        );
        for (const c of charts) {
          assert.ok(
            c.width > 100 && c.height > 100,
            `${c.question} chart is ${c.width}x${c.height}`,
          );
          assert.ok(c.marks > 0, `${c.question} chart has no visible marks`);
        }
        // Bars: as many as the answer has rows (q5: one per age group).
        const q5 = result.answers.find((a) => a.id === "q5")!;
        const q5Bars = await page.locator(`figure[data-question="q5"] g.mark-rect path`).count();
        assert.equal(q5Bars, q5.rows.length);

        // The data-quality counts and the run's figures are shown.
        const quality = await page.locator("section#quality").innerText();
        assert.match(quality, /follower_count/);
        assert.match(quality, new RegExp(String(result.tables.pin.nulled.title)));
        const runText = await page.locator("section#run").innerText();
        assert.match(runText, /objects read/);
        assert.ok(runText.includes(result.records.toLocaleString("en-US")));

        const shot = join(dir, "report.png");
        await page.screenshot({ path: shot, fullPage: true });
        assert.ok((await Deno.stat(shot)).size > 10_000, "the screenshot is not blank");
        assert.deepEqual(outside, [], "the page asked for nothing outside itself");
      } finally {
        await context.close();
      }
    });
  },
);

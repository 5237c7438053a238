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
import type { Answer } from "../../lib/analytics/questions.ts";
import { renderReport } from "../../lib/analytics/report.ts";
import { cutNote, followerScale, FONT } from "../../lib/analytics/report/charts.ts";
import type { ReportInput } from "../../lib/analytics/report/data.ts";
import { ROOT } from "../_fixtures.ts";

const stats = (n: number): TableStats => ({
  objects: 1,
  lines: n,
  records: n,
  quarantined: 0,
  duplicates: 0,
  rows: n,
  nulled: {},
});

const answer = (id: string, columns: string[], rows: Answer["rows"]): Answer => ({
  id,
  file: `${id}.sql`,
  title: `question ${id}`,
  columns,
  rows,
  sec: 0.01,
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

Deno.test("the report escapes every text it shows and references nothing outside the page", async () => {
  const evil = `<script>alert("x")</script> & 'quotes'`;
  const html = await renderReport({
    ...input([
      answer("q3a", ["country", "poster_name", "follower_count", "tied"], [
        {
          country: evil,
          poster_name: "<img src=http://example.com/x.png>",
          follower_count: 5,
          tied: 1,
        },
      ]),
    ]),
    lake: "file:///tmp/<lake>",
    quarantine: [{ table: "pin", key: "k", line: 1, reason: "not valid JSON", text: "<b>{bad" }],
  });
  const scripts = html.match(/<script\b[^>]*>/gi) ?? [];
  assert.deepEqual(scripts, ["<script>"], "one inline script, the page's own");
  assert.ok(!html.includes("<img"), "no injected element");
  assert.ok(
    html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;"),
  );
  assert.ok(html.includes("&lt;b&gt;{bad"));
  // Attributes read one after another, so text inside a quoted value is never taken for one.
  for (const tag of html.match(/<[a-z][^>]*>/gi) ?? []) {
    for (
      const [, name, ...value] of tag.matchAll(/([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/g)
    ) {
      const v = value.find((x) => x !== undefined) ?? "";
      if (/^(?:src|href|xlink:href)$/i.test(name)) {
        assert.ok(!/^\s*(?:[a-z]+:)?\/\//i.test(v), `external reference in ${tag}`);
      }
    }
  }
  // url(#id) points inside the page (SVG clip paths); anything else would load something.
  assert.ok(!/url\((?!#)|@import/i.test(html), "no CSS that loads anything");
  assert.match(html, /<svg[^>]*class="marks"/);
});

Deno.test("Q3B names every country tied for the most followed user, not only the first", async () => {
  const q3a = answer("q3a", ["country", "poster_name", "follower_count", "tied"], [
    { country: "Albania", poster_name: "a", follower_count: 900, tied: 1 },
    { country: "Benin", poster_name: "c", follower_count: 900, tied: 2 },
    { country: "Benin", poster_name: "d", follower_count: 900, tied: 2 },
    { country: "Chile", poster_name: "b", follower_count: 900, tied: 1 },
    { country: "Denmark", poster_name: "e", follower_count: 10, tied: 1 },
  ]);
  const q3b = answer("q3b", ["country", "follower_count", "tied"], [
    { country: "Albania", follower_count: 900, tied: 3 },
    { country: "Benin", follower_count: 900, tied: 3 },
    { country: "Chile", follower_count: 900, tied: 3 },
  ]);
  const html = await renderReport(input([q3a, q3b]));
  const section = html.slice(html.indexOf('<section id="q3b">'));
  assert.match(section, /<strong>3 countries tie<\/strong> at 900 followers/);
  assert.match(section, /the first by name[^<]*: Albania/);
  // The answer's own rows, SPEC's first, each marked as a tie; then the users behind them.
  const own = section.slice(section.indexOf('class="tbl answer"'), section.indexOf("tie-note"));
  assert.deepEqual(
    [...own.matchAll(/<tr class="tie">(.*?)<\/tr>/g)]
      .map((m) => [...m[1].matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1])),
    [
      ["Albania", "900", "3", "SPEC §5&#39;s one row"],
      ["Benin", "900", "3", ""],
      ["Chile", "900", "3", ""],
    ],
  );
  const users = section.slice(section.indexOf('class="ties"'));
  for (const c of ["Albania", "Benin", "Chile"]) assert.ok(users.includes(`<td>${c}</td>`), c);
  assert.ok(!section.includes("<td>Denmark</td>"));
  // Q3A itself marks the tie inside Benin.
  const q3aSection = html.slice(
    html.indexOf('<section id="q3a">'),
    html.indexOf('<section id="q3b">'),
  );
  assert.equal(q3aSection.match(/<tr class="tie">/g)?.length, 2);
});

Deno.test("a ranking cut inside a tie says how many tie there and how many it shows", async () => {
  assert.equal(cutNote([5, 4, 4, 3], 2), "2 tie at 4: 1 shown");
  assert.equal(cutNote([5, 4, 4, 3], 3), undefined, "the cut falls between two values");
  assert.equal(cutNote([5, 5, 5], 2), "3 tie at 5: 2 shown");
  assert.equal(cutNote([5, 5], 2), undefined, "nothing is cut");
  // Twelve countries above 13,000,000, then seven at it: Q3A's top 15 shows three of them.
  const rows: Answer["rows"] = [];
  for (let i = 0; i < 12; i++) {
    rows.push({ country: `A${i}`, poster_name: "p", follower_count: 20e6 - i * 1e5, tied: 1 });
  }
  for (const c of ["Ba", "Bb", "Bc", "Bd", "Be", "Bf", "Bg"]) {
    rows.push({ country: c, poster_name: "q", follower_count: 13e6, tied: 1 });
  }
  rows.push({ country: "C", poster_name: "r", follower_count: 1e6, tied: 1 });
  const html = await renderReport(
    input([answer("q3a", ["country", "poster_name", "follower_count", "tied"], rows)]),
  );
  assert.match(
    html,
    />7 tie at 13,000,000: 3 shown \(the first by name; the table has them all\)</,
  );
  assert.match(html, />Bc: q</);
  assert.doesNotMatch(html, />Bd: q</);
  // Three at 13,000,000, then C: the cut falls below the tie, and says nothing.
  const fewer = await renderReport(
    input([
      answer("q3a", ["country", "poster_name", "follower_count", "tied"], [
        ...rows.slice(0, 15),
        rows[19],
      ]),
    ]),
  );
  assert.doesNotMatch(fewer, / tie at /);
});

Deno.test("the category answers show n, the leader's share, the runner-up and ties", async () => {
  const q2 = answer("q2", ["post_year", "category", "category_count", "tied"], [
    { post_year: 2018, category: "art", category_count: 5, tied: 2 },
    { post_year: 2018, category: "travel", category_count: 5, tied: 2 },
    { post_year: 2019, category: "diy", category_count: 8, tied: 1 },
  ]);
  const html = await renderReport(input([q2], {
    context: {
      q2: [
        {
          key: "2018",
          n: 12,
          categories: [{ category: "art", count: 5 }, { category: "travel", count: 5 }, {
            category: "diy",
            count: 2,
          }],
        },
        {
          key: "2019",
          n: 20,
          categories: [{ category: "diy", count: 8 }, { category: "art", count: 7 }, {
            category: "travel",
            count: 5,
          }],
        },
      ],
    },
  }));
  const section = html.slice(html.indexOf('<section id="q2">'), html.indexOf('<section id="run">'));
  const rows = [...section.matchAll(/<tr( class="tie")?>(.*?)<\/tr>/g)]
    .map((
      m,
    ) => [m[1] ? "tie" : "", ...[...m[2].matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1])])
    .filter((r) => r.length > 3);
  assert.deepEqual(rows, [
    ["tie", "2018", "art", "5", "2", "12", "41.7%", "0", "diy", "2"],
    ["tie", "2018", "travel", "5", "2", "12", "41.7%", "0", "diy", "2"],
    ["", "2019", "diy", "8", "1", "20", "40.0%", "1", "art", "7"],
  ]);
  assert.match(html, /2018: art and travel \(tie\) 5 of 12 \(41\.7%\), ahead of diy by 3/);
  assert.match(html, /2019: diy 8 of 20 \(40\.0%\), ahead of art by 1/);
});

Deno.test("follower counts get a log scale once they span an order of magnitude", () => {
  assert.equal(followerScale([2000, 18_500, 125_000]).type, "log");
  assert.equal(followerScale([40_000, 125_000]).type, "linear");
  assert.equal(followerScale([0, 500, 125_000]).type, "symlog");
  assert.equal(followerScale([3, 70]).type, "linear", "small counts stay linear");
});

Deno.test("the pipeline's figures head the report when the run knows them", async () => {
  const q5 = answer("q5", ["age_group", "median_follower_count"], [
    { age_group: "18-24", median_follower_count: 10 },
  ]);
  const alone = await renderReport(input([q5]));
  assert.match(alone, /this transform ran on its own/);
  const html = await renderReport(input([q5], {
    pipeline: { postings: 5000, sent: 15000, acknowledged: 14990, broker: 14990, landed: 14990 },
  }));
  const top = html.slice(
    html.indexOf('<section id="pipeline">'),
    html.indexOf('<section id="q5">'),
  );
  for (
    const [value, label] of [
      ["5,000", "postings emulated"],
      ["15,000", "records sent"],
      ["14,990", "acknowledged"],
      ["14,990", "landed in the lake"],
      ["3", "lines read by the transform"],
      ["0", "duplicates dropped"],
      ["0", "quarantined"],
    ]
  ) {
    assert.match(top, new RegExp(`<b>${value}</b><span>${label}</span>`), label);
  }
  assert.match(
    top,
    /<div class="card bad"><b>14,990<\/b><span>acknowledged/,
    "a shortfall stands out",
  );
  assert.doesNotMatch(top, /ran on its own/);
});

Deno.test("the page's text and its charts use one list of fonts", async () => {
  const css = await Deno.readTextFile(join(ROOT, "lib/analytics/report/report.css"));
  const body = /\bbody \{\s*font: 15px\/1\.45 ([^;]+);/.exec(css);
  assert.ok(body, "report.css sets the body's font");
  assert.equal(body[1].replace(/\s+/g, " "), FONT);
});

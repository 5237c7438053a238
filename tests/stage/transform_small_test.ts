/**
 * The transform over a small hand-made lake whose cleaned tables and eight answers are
 * written out by hand below. The lake covers every placeholder, empty strings, k/M/decimal
 * follower counts, values a producer wrote with other JSON types, both timestamp forms,
 * exact duplicates (one with its keys in another order), ties, ages on each group boundary
 * (and one under 18), years outside the windows, keys missing from one table, malformed
 * lines of three kinds, CRLF line ends, and objects of one record mixed with larger ones.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Row } from "../../lib/shell/table_format.ts";
import { run, withTempDir } from "../_fixtures.ts";

import { writeSmallLake } from "../_small_lake.ts";
/** The eight answers, worked out by hand from the postings above. */
const EXPECTED_ANSWERS: Record<string, Row[]> = {
  // Albania: art 2 (1, 2) ties beauty 2 (3, 4); Angola: beauty 1 ties vehicles 1;
  // Bhutan: travel 3 (5, 7, 13); Cote d'Ivoire: quotes 2 (8, 9; Q1 has no year window).
  q1: [
    { country: "Albania", category: "art", category_count: 2, tied: 2 },
    { country: "Albania", category: "beauty", category_count: 2, tied: 2 },
    { country: "Angola", category: "beauty", category_count: 1, tied: 2 },
    { country: "Angola", category: "vehicles", category_count: 1, tied: 2 },
    { country: "Bhutan", category: "travel", category_count: 3, tied: 1 },
    { country: "Cote d'Ivoire", category: "quotes", category_count: 2, tied: 1 },
  ],
  // 2017 (8) and 2023 (9) are outside the window.
  q2: [
    { post_year: 2018, category: "art", category_count: 2, tied: 1 },
    { post_year: 2019, category: "art", category_count: 1, tied: 2 },
    { post_year: 2019, category: "beauty", category_count: 1, tied: 2 },
    { post_year: 2020, category: "beauty", category_count: 1, tied: 3 },
    { post_year: 2020, category: "mens-fashion", category_count: 1, tied: 3 },
    { post_year: 2020, category: "vehicles", category_count: 1, tied: 3 },
    { post_year: 2021, category: "travel", category_count: 2, tied: 1 },
    { post_year: 2022, category: "beauty", category_count: 1, tied: 2 },
    { post_year: 2022, category: "travel", category_count: 1, tied: 2 },
  ],
  // Glow Up counts once with its largest count; Angola's two 6M posters tie; NULL
  // follower counts (9, 10) and the story row's NULL poster (0) are left out.
  q3a: [
    { country: "Albania", poster_name: "Glow Up", follower_count: 5000000, tied: 1 },
    { country: "Angola", poster_name: "Big Star", follower_count: 6000000, tied: 2 },
    { country: "Angola", poster_name: "Twin Star", follower_count: 6000000, tied: 2 },
    { country: "Bhutan", poster_name: "Wander", follower_count: 6000000, tied: 1 },
    { country: "Cote d'Ivoire", poster_name: "Quote Bot", follower_count: 12, tied: 1 },
  ],
  // 6M in Angola and Bhutan: SPEC's one row is the first country by name, the tie follows.
  q3b: [
    { country: "Angola", follower_count: 6000000, tied: 2 },
    { country: "Bhutan", follower_count: 6000000, tied: 2 },
  ],
  // 18-24: 0, 1, 2, 13; 25-35: 3, 4, 11; 36-50: 5, 6, 10; +50: 7, 9, 12; 8 (17) in none.
  q4: [
    { age_group: "18-24", category: "art", category_count: 2, tied: 1 },
    { age_group: "25-35", category: "beauty", category_count: 3, tied: 1 },
    { age_group: "36-50", category: "art", category_count: 1, tied: 3 },
    { age_group: "36-50", category: "travel", category_count: 1, tied: 3 },
    { age_group: "36-50", category: "vehicles", category_count: 1, tied: 3 },
    { age_group: "+50", category: "quotes", category_count: 1, tied: 3 },
    { age_group: "+50", category: "travel", category_count: 1, tied: 3 },
    { age_group: "+50", category: "vehicles", category_count: 1, tied: 3 },
  ],
  // 18-24: 437, 999, 26000; 25-35: 1500, 5M, 6M; 36-50: 2.5M, 6M; +50: 0, 6M.
  q5: [
    { age_group: "18-24", median_follower_count: 999 },
    { age_group: "25-35", median_follower_count: 5000000 },
    { age_group: "36-50", median_follower_count: 4250000 },
    { age_group: "+50", median_follower_count: 3000000 },
  ],
  // 2015: 0, 1, 6, 10; 2016: 2 (= 13), 3, 7, 11 (14 has no pin); 2017: 4, 5, 12.
  q6: [
    { post_year: 2015, number_users_joined: 4 },
    { post_year: 2016, number_users_joined: 4 },
    { post_year: 2017, number_users_joined: 3 },
  ],
  // 2015: 26000, 2.5M; 2016: 0, 437, 999, 5M, 6M; 2017: 1500, 6M, 6M.
  q7: [
    { post_year: 2015, median_follower_count: 1263000 },
    { post_year: 2016, median_follower_count: 999 },
    { post_year: 2017, median_follower_count: 6000000 },
  ],
  q8: [
    { age_group: "18-24", post_year: 2015, median_follower_count: 26000 },
    { age_group: "18-24", post_year: 2016, median_follower_count: 718 },
    { age_group: "25-35", post_year: 2016, median_follower_count: 5500000 },
    { age_group: "25-35", post_year: 2017, median_follower_count: 1500 },
    { age_group: "36-50", post_year: 2015, median_follower_count: 2500000 },
    { age_group: "36-50", post_year: 2017, median_follower_count: 6000000 },
    { age_group: "+50", post_year: 2016, median_follower_count: 0 },
    { age_group: "+50", post_year: 2017, median_follower_count: 6000000 },
  ],
};

Deno.test("deno task transform prints the answers as tables and exits 0 with quarantined lines", async () => {
  await withTempDir(async (dir) => {
    const lakeDir = join(dir, "lake");
    await writeSmallLake(lakeDir);
    const out = join(dir, "out");
    const r = await run("deno", [
      "run",
      "-A",
      "tasks/transform.ts",
      "--lake",
      `file://${lakeDir}`,
      "--out",
      out,
      "--no-report",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Q1 {2}Most popular category in each country$/m);
    assert.ok(
      r.stdout.includes(
        [
          "country        category  category_count  tied",
          "-------------  --------  --------------  ----",
          "Albania        art                    2     2",
          "Albania        beauty                 2     2",
          "Angola         beauty                 1     2",
          "Angola         vehicles               1     2",
          "Bhutan         travel                 3     1",
          "Cote d'Ivoire  quotes                 2     1",
        ].join("\n"),
      ),
      r.stdout,
    );
    assert.match(r.stdout, /^\+50 {8}quotes {17}1 {5}3$/m);
    assert.ok(
      r.stdout.includes(
        [
          "country  follower_count  tied",
          "-------  --------------  ----",
          "Angola          6000000     2",
          "Bhutan          6000000     2",
          "2 countries tie at 6000000 followers; the first row, Angola, is the one-row",
          "answer (ties broken by country name)",
        ].join("\n"),
      ),
      r.stdout,
    );
    // The years asked about and the years the data has: the postings joined 2015 to 2017.
    assert.match(r.stdout, /^Q6 {2}Users joined each year, 2015-2020 \(the data has 2015-2017\)$/m);
    assert.match(r.stdout, /3 malformed lines set aside/);
    assert.match(r.stderr, /49 records from 21 objects, 4 duplicates dropped, 3 lines quarantined/);
    await assert.rejects(Deno.stat(join(out, "report.html")));

    const j = await run("deno", ["run", "-A", "tasks/transform.ts", "--json"], {
      env: { PINPIPE_LAKE: lakeDir, PINPIPE_OUT: out },
    });
    assert.equal(j.code, 0, j.stderr);
    const parsed = JSON.parse(j.stdout);
    assert.equal(parsed.records, 49);
    assert.deepEqual(parsed.answers[3], {
      id: "q3b",
      title: "Country of the user with the most followers",
      columns: ["country", "follower_count", "tied"],
      rows: EXPECTED_ANSWERS.q3b,
    });
  });
});

Deno.test("deno task transform reports every bad option together and exits 2", async () => {
  const r = await run("deno", [
    "run",
    "-A",
    "tasks/transform.ts",
    "--lake",
    "ftp://nowhere",
    "--threads",
    "zero",
    "--memory-limit",
    "lots",
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /3 problems/);
  assert.match(r.stderr, /ftp:\/\/nowhere/);
  assert.match(r.stderr, /--threads "zero"/);
  assert.match(r.stderr, /--memory-limit "lots"/);
});

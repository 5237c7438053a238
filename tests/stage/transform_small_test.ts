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
import { run, withTempDir } from "../_fixtures.ts";

import { EXPECTED_ANSWERS, writeSmallLake } from "../_small_lake.ts";

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

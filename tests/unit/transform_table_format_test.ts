/**
 * How the transform prints and files its answers: aligned text tables and RFC 4180 CSV.
 */
import assert from "node:assert/strict";
import { displayWidth, formatTable, toCsv } from "../../lib/shell/table_format.ts";

Deno.test("answers print as tables with a rule, text left-aligned and numbers right-aligned", () => {
  const table = formatTable(["country", "follower_count"], [
    { country: "Angola", follower_count: 6000000 },
    { country: "Cote d'Ivoire", follower_count: 12 },
    { country: "Bhutan", follower_count: null },
  ]);
  assert.equal(
    table,
    [
      "country        follower_count",
      "-------------  --------------",
      "Angola                6000000",
      "Cote d'Ivoire              12",
      "Bhutan                   NULL",
    ].join("\n"),
  );
});

Deno.test("a long answer prints its first rows and says how many more there are", () => {
  const rows = Array.from({ length: 5 }, (_, i) => ({ n: i }));
  assert.equal(formatTable(["n"], rows, { maxRows: 2 }), "n\n-\n0\n1\n… 3 more rows");
  assert.equal(formatTable(["n"], rows, { maxRows: 0 }).split("\n").length, 7);
  assert.equal(formatTable(["n"], []), "n\n-\n(no rows)");
});

Deno.test("wide characters and emoji count as two columns so tables stay aligned", () => {
  assert.equal(displayWidth("abc"), 3);
  assert.equal(displayWidth("東京"), 4);
  assert.equal(displayWidth("✈️"), 1);
  assert.equal(displayWidth("🌸"), 2);
  const t = formatTable(["poster_name", "n"], [{ poster_name: "東京", n: 1 }, {
    poster_name: "abcdefghijk",
    n: 2,
  }]);
  assert.equal(t.split("\n")[2], "東京         1");
});

Deno.test("answers file as CSV with RFC 4180 quoting and NULL as an empty field", () => {
  assert.equal(
    toCsv(["a", "b"], [{ a: 'say "hi", then go', b: 1.5 }, { a: "line\nbreak", b: null }]),
    'a,b\n"say ""hi"", then go",1.5\n"line\nbreak",\n',
  );
});

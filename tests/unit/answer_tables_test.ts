/**
 * Answer tables fit an 80-column terminal: text columns too wide are narrowed and their long
 * cells wrap inside the column, numbers are never cut, and titles wrap under themselves.
 */
import assert from "node:assert/strict";
import type { Answer } from "../../lib/analytics/questions.ts";
import { formatAnswers } from "../../lib/analytics/questions.ts";
import { displayWidth, formatTable, TABLE_WIDTH, wrapText } from "../../lib/shell/table_format.ts";

const Q3A_ROWS = [
  {
    country: "Afghanistan",
    poster_name: "Hammes and Sons | Team-oriented Zero Administration Service-desk",
    follower_count: 6000000,
  },
  { country: "Albania", poster_name: "Expert Concepcion 🦃", follower_count: 600000 },
  { country: "Algeria", poster_name: "Миронова Ольга", follower_count: 2000000 },
  {
    country: "Antarctica (the territory South of 60 deg S)",
    poster_name: "Watsica, Dickens and Mayert-Conn | Centralized Mobile Data-warehouse",
    follower_count: 798000,
  },
  {
    country: "Japan",
    poster_name: "東京の写真家 渡辺さくら 🌸 公式アカウント ギャラリー",
    follower_count: 12,
  },
];
const COLUMNS = ["country", "poster_name", "follower_count"];

/** The widest line of `text`, in display columns. */
function widest(text: string): number {
  return Math.max(...text.split("\n").map(displayWidth));
}

Deno.test("a table wider than 80 columns narrows its text columns to fit and wraps their long cells", () => {
  const table = formatTable(COLUMNS, Q3A_ROWS);
  assert.ok(widest(table) <= TABLE_WIDTH, table);
  const lines = table.split("\n");
  // The header and the rule are one line each; every number stands whole, right-aligned.
  assert.match(lines[0], /^country +poster_name +follower_count$/);
  for (const r of Q3A_ROWS) {
    assert.ok(lines.some((l) => l.endsWith(` ${r.follower_count}`)), `${r.follower_count}`);
  }
  // A wrapped cell's pieces, read down its column, are the cell.
  const col = lines[1].indexOf("-", lines[1].indexOf("  ") + 2);
  const rule = lines[1].split("  ").map((d) => d.length);
  const afghan = lines.findIndex((l) => l.startsWith("Afghanistan"));
  let name = "";
  for (let i = afghan; i < lines.length && (i === afghan || lines[i].startsWith(" ")); i++) {
    name += ` ${[...lines[i]].slice(col, col + rule[1]).join("").trim()}`;
  }
  assert.equal(name.trim(), Q3A_ROWS[0].poster_name);
});

Deno.test("a table that fits is left as it was: no column narrowed, no cell wrapped", () => {
  const rows = [{ age_group: "18-24", median_follower_count: 165000 }];
  assert.equal(
    formatTable(["age_group", "median_follower_count"], rows),
    "age_group  median_follower_count\n---------  ---------------------\n18-24                     165000",
  );
});

Deno.test("text wraps at spaces, and inside a word only where the word alone is too wide", () => {
  assert.deepEqual(wrapText("Antarctica (the territory South of 60 deg S)", 16), [
    "Antarctica (the",
    "territory South",
    "of 60 deg S)",
  ]);
  assert.deepEqual(wrapText("Mosciski-Botsford-Osinski", 10), [
    "Mosciski-B",
    "otsford-Os",
    "inski",
  ]);
  // Wide characters count two columns and are never split.
  assert.deepEqual(wrapText("東京の写真家", 5), ["東京", "の写", "真家"]);
  assert.deepEqual(wrapText("", 5), [""]);
});

Deno.test("the answers printed for a terminal fit 80 columns, long titles wrapped under themselves", () => {
  const answers: Answer[] = [{
    id: "q3a",
    file: "q3a.sql",
    title: "User with the most followers in each country, with a title long enough to wrap twice",
    columns: COLUMNS,
    rows: Q3A_ROWS,
    sec: 0,
  }];
  const text = formatAnswers(answers);
  assert.ok(widest(text) <= TABLE_WIDTH, text);
  const [first, second] = text.split("\n");
  assert.match(first, /^Q3A {2}User with the most followers/);
  assert.match(second, /^ {5}\S/, "the title's second line starts under its first");
});

/**
 * What the answers say beside their rows, wherever they are printed: titles that name the
 * years a question asks about and the years the data has, and Q3B's tie, with SPEC §5's one
 * row first.
 */
import assert from "node:assert/strict";
import {
  type Answer,
  answerTitle,
  formatAnswers,
  QUESTIONS,
  tieNote,
} from "../../lib/analytics/questions.ts";

const question = (id: string) => QUESTIONS.find((q) => q.id === id)!;
const years = (...ys: number[]) => ys.map((post_year) => ({ post_year, number_users_joined: 1 }));

Deno.test("a title keeps the question's years when the data has them all", () => {
  assert.equal(
    answerTitle(question("q6"), years(2015, 2016, 2017, 2018, 2019, 2020)),
    "Users joined each year, 2015-2020",
  );
});

Deno.test("a title says which years the data has when it has fewer than the question asks about", () => {
  assert.equal(
    answerTitle(question("q6"), years(2015, 2016, 2017)),
    "Users joined each year, 2015-2020 (the data has 2015-2017)",
  );
  assert.equal(
    answerTitle(question("q7"), years(2016)),
    "Median follower count by year joined, 2015-2020 (the data has 2016 only)",
  );
  assert.equal(
    answerTitle(question("q2"), []),
    "Most popular category each year, 2018-2022 (the data has none of these years)",
  );
  assert.equal(answerTitle(question("q1"), []), "Most popular category in each country");
});

Deno.test("Q3B's printed table shows every tied country, marked, and names the one-row answer", () => {
  const q3b: Answer = {
    ...question("q3b"),
    rows: [
      { country: "Canada", follower_count: 14_000_000, tied: 3 },
      { country: "Chile", follower_count: 14_000_000, tied: 3 },
      { country: "Latvia", follower_count: 14_000_000, tied: 3 },
    ],
    sec: 0,
  };
  assert.equal(
    formatAnswers([q3b]),
    [
      "Q3B  Country of the user with the most followers",
      "country  follower_count  tied",
      "-------  --------------  ----",
      "Canada         14000000     3",
      "Chile          14000000     3",
      "Latvia         14000000     3",
      "3 countries tie at 14000000 followers; the first row, Canada, is the one-row",
      "answer (ties broken by country name)",
    ].join("\n"),
  );
  assert.equal(tieNote({ ...q3b, rows: q3b.rows.slice(0, 1) }), undefined, "no tie, no note");
});

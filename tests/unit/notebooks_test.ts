/**
 * The Databricks notebooks: Databricks source format, valid Python, and no drift from the
 * local transform — the notebook runs the same SQL files (same names, same set) for the
 * cleaning, the shared views and the questions, with the same columns, limits and
 * quarantine reasons, writes no SQL of its own and needs nothing Databricks-only.
 * (tests/engine/spark_notebook_test.ts runs it on Spark.)
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CLEANING_SQL,
  FUNCTIONS_SQL,
  MAX_LINE_BYTES,
  VIEW_SQL,
} from "../../lib/analytics/clean.ts";
import { QUESTIONS } from "../../lib/analytics/questions.ts";
import { ROOT } from "../_fixtures.ts";

const NOTEBOOKS = join(ROOT, "notebooks");
const SQL = join(ROOT, "sql");
const notebooks = [...Deno.readDirSync(NOTEBOOKS)]
  .filter((e) => e.isFile && e.name.endsWith(".py"))
  .map((e) => e.name)
  .sort();

Deno.test("the notebooks folder holds the transform notebook and the mount fallback", () => {
  assert.deepEqual(notebooks, ["mount_lake.py", "transform.py"]);
});

Deno.test("the transform notebook writes no SQL of its own", async () => {
  // The code, without markdown and comments.
  const text = (await Deno.readTextFile(join(NOTEBOOKS, "transform.py")))
    .split("\n")
    .filter((l) => !l.trimStart().startsWith("#"))
    .join("\n");
  // spark.sql is only ever handed a file's text.
  const calls = [...text.matchAll(/spark\.sql\(([^)]*)\)/g)].map((m) => m[1]);
  assert.ok(calls.length >= 3, "the notebook runs the shared SQL");
  for (const arg of calls) assert.match(arg, /^read_sql\(/, `spark.sql(${arg})`);
  for (
    const word of [
      "percentile_cont",
      "RANK()",
      "FROM pin_clean",
      "Local save in",
      "User Info Error",
    ]
  ) {
    assert.ok(!text.includes(word), `the notebook spells out "${word}", which belongs in sql/`);
  }
});

Deno.test("the transform notebook needs nothing Databricks-only on its required path", async () => {
  const text = await Deno.readTextFile(join(NOTEBOOKS, "transform.py"));
  const code = text.split("\n").filter((l) => !l.trimStart().startsWith("#")).join("\n");
  // dbutils and display only where present: every use sits behind a check.
  assert.match(code, /try:\n\s+dbutils[^\n]*\n\s+HAVE_DBUTILS = True\nexcept NameError:/);
  for (const m of code.matchAll(/dbutils\.(\w+)/g)) {
    const before = code.slice(0, m.index);
    const guard = before.lastIndexOf("if HAVE_DBUTILS:");
    assert.ok(guard >= 0, `dbutils.${m[1]} is used outside "if HAVE_DBUTILS:"`);
  }
  assert.match(code, /try:\n\s+display[^\n]*\nexcept NameError:\n\s+def display\(df\):/);
  assert.match(code, /except NameError:\n\s+from pyspark\.sql import SparkSession/);
  // No Databricks SQL: the shared files are plain Spark SQL and no function is created.
  for (const f of [...Deno.readDirSync(SQL)].map((e) => e.name)) {
    if (f === FUNCTIONS_SQL) continue;
    const sql = await Deno.readTextFile(join(SQL, f));
    assert.ok(!/CREATE\s+(OR\s+REPLACE\s+)?(TEMP(ORARY)?\s+)?(FUNCTION|MACRO)/i.test(sql), f);
  }
  assert.equal(MAX_LINE_BYTES, 16 * 1024 * 1024);
  assert.match(code, /MAX_LINE_BYTES = 16 \* 1024 \* 1024/);
});

Deno.test("DuckDB defines, with Spark's meaning, only Spark built-ins it lacks", async () => {
  const text = await Deno.readTextFile(join(SQL, FUNCTIONS_SQL));
  const names = [...text.matchAll(/MACRO\s+(\w+)\s*\(/gi)].map((m) => m[1]);
  assert.deepEqual(names, ["array_repeat"]);
});

Deno.test("the timestamp rule is the same text in clean_geo.sql and clean_user.sql", async () => {
  const rule = async (f: string) => {
    const text = await Deno.readTextFile(join(SQL, f));
    const m = /-- timestamp rule[^\n]*\n([\s\S]*?)-- end of timestamp rule/.exec(text);
    assert.ok(m, `${f} has no marked timestamp rule`);
    return m[1];
  };
  assert.equal(await rule("clean_geo.sql"), await rule("clean_user.sql"));
});

Deno.test("the age groups are defined once, in the pin_user view the questions read", async () => {
  for (const f of [...Deno.readDirSync(SQL)].map((e) => e.name)) {
    const text = (await Deno.readTextFile(join(SQL, f))).replace(/--.*$/gm, "");
    const cases = (text.match(/'18-24'/g) ?? []).length;
    assert.equal(cases, f === "pin_user.sql" ? 1 : 0, `${f} spells the age groups`);
  }
  for (const q of ["q4.sql", "q5.sql", "q8.sql"]) {
    assert.match(await Deno.readTextFile(join(SQL, q)), /FROM pin_user/);
  }
});

Deno.test("the shared SQL avoids what DuckDB and Spark SQL read differently", async () => {
  const shared = [
    ...Object.values(CLEANING_SQL),
    ...Object.values(VIEW_SQL),
    ...QUESTIONS.map((q) => q.file),
  ];
  for (const f of shared) {
    const text = await Deno.readTextFile(join(SQL, f));
    const code = text.replace(/--.*$/gm, "").replace(/'(?:[^']|'')*'/g, "''");
    assert.ok(
      !text.includes("\\"),
      `${f}: a backslash (an escape in Spark literals, not in DuckDB)`,
    );
    assert.ok(!code.includes("::"), `${f}: a DuckDB :: cast`);
    assert.ok(!/[`"]/.test(code), `${f}: a quoted identifier (the engines quote differently)`);
    assert.ok(!code.includes("["), `${f}: DuckDB list brackets`);
    assert.ok(!/\buser\b(?!_)/i.test(code), `${f}: the reserved word user as a name`);
    assert.ok(
      !/\b(?:regexp_replace|concat|list_value|strftime)\s*\(/i.test(code),
      `${f}: a function the engines define differently`,
    );
  }
});

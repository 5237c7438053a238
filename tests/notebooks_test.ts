/**
 * The Databricks notebooks: Databricks source format, valid Python, and no drift from the
 * local transform — the notebook runs the same SQL files (same names, same set) for the
 * cleaning and the questions, with the same columns, and writes no SQL of its own.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CLEANING_SQL,
  FUNCTIONS_SQL,
  KEY_COLUMN,
  NULLABLE_COLUMNS,
  SOURCE_COLUMNS,
} from "../lib/clean.ts";
import { QUESTIONS } from "../lib/questions.ts";
import { envTest, ROOT, run, withTempDir } from "./_fixtures.ts";

const NOTEBOOKS = join(ROOT, "notebooks");
const SQL = join(ROOT, "sql");
const notebooks = [...Deno.readDirSync(NOTEBOOKS)]
  .filter((e) => e.isFile && e.name.endsWith(".py"))
  .map((e) => e.name)
  .sort();

/** The module-level literal assignments of a Python file, as JSON, via python3's ast. */
async function pythonLiterals(path: string): Promise<Record<string, unknown>> {
  const script = `
import ast, json, sys
tree = ast.parse(open(sys.argv[1], encoding="utf-8").read())
out = {}
for node in tree.body:
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        try:
            out[node.targets[0].id] = ast.literal_eval(node.value)
        except ValueError:
            pass
print(json.dumps(out))
`;
  const r = await run("python3", ["-c", script, path]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

Deno.test("the notebooks folder holds the transform notebook and the mount fallback", () => {
  assert.deepEqual(notebooks, ["mount_lake.py", "transform.py"]);
});

for (const name of notebooks) {
  Deno.test(`notebook ${name} is a Databricks source notebook with markdown cells`, async () => {
    const text = await Deno.readTextFile(join(NOTEBOOKS, name));
    assert.equal(text.split("\n")[0], "# Databricks notebook source");
    const cells = text.split("\n# COMMAND ----------\n");
    assert.ok(cells.length >= 3, `${name} has ${cells.length} cells`);
    assert.match(cells[0], /^# MAGIC %md$/m, "the first cell explains the notebook");
    for (const cell of cells) {
      const magic = cell.split("\n").filter((l) => l.startsWith("# MAGIC"));
      if (magic.length) assert.match(magic[0], /^# MAGIC %md/, "magic cells are markdown");
    }
  });

  await envTest(`notebook ${name} compiles with python3 -m py_compile`, ["python3"], async () => {
    await withTempDir(async (dir) => {
      // Compile to a temp file so no __pycache__ lands in the repository.
      const r = await run("python3", [
        "-c",
        "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)",
        join(NOTEBOOKS, name),
        join(dir, "out.pyc"),
      ]);
      assert.equal(r.code, 0, r.stderr);
    });
  });
}

envTest(
  "the transform notebook runs exactly the SQL files the local transform runs",
  ["python3"],
  async () => {
    const lit = await pythonLiterals(join(NOTEBOOKS, "transform.py"));
    assert.deepEqual(
      lit.QUESTION_FILES,
      QUESTIONS.map((q) => [q.id, q.file, [...q.columns]]),
      "same questions, same files, same columns, same order",
    );
    assert.deepEqual(lit.CLEANING_FILES, CLEANING_SQL);
    assert.equal(lit.FUNCTIONS_FILE, "functions_spark.sql");
    assert.deepEqual(lit.SOURCE_COLUMNS, SOURCE_COLUMNS);
    assert.deepEqual(lit.KEY_COLUMN, KEY_COLUMN);
    assert.deepEqual(lit.NULLABLE_COLUMNS, NULLABLE_COLUMNS);

    // Every SQL file is run by both sides (only the engine helpers differ), and exists.
    const onDisk = [...Deno.readDirSync(SQL)].filter((e) => e.name.endsWith(".sql")).map((e) =>
      e.name
    ).sort();
    const local = [FUNCTIONS_SQL, ...Object.values(CLEANING_SQL), ...QUESTIONS.map((q) => q.file)];
    const notebook = [
      lit.FUNCTIONS_FILE as string,
      ...Object.values(lit.CLEANING_FILES as Record<string, string>),
      ...(lit.QUESTION_FILES as [string, string][]).map((q) => q[1]),
    ];
    assert.deepEqual([...local].sort(), onDisk.filter((f) => f !== "functions_spark.sql"));
    assert.deepEqual([...notebook].sort(), onDisk.filter((f) => f !== "functions_duckdb.sql"));
  },
);

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

Deno.test("both engines define the same helper functions for the shared SQL", async () => {
  const names = async (file: string) =>
    [...(await Deno.readTextFile(join(SQL, file))).matchAll(/(?:MACRO|FUNCTION)\s+(\w+)\s*\(/gi)]
      .map((m) => m[1].toLowerCase())
      .sort();
  const duck = await names("functions_duckdb.sql");
  assert.deepEqual(duck, ["coordinates_array"]);
  assert.deepEqual(await names("functions_spark.sql"), duck);
});

Deno.test("the shared SQL avoids what DuckDB and Spark SQL read differently", async () => {
  const shared = [...Object.values(CLEANING_SQL), ...QUESTIONS.map((q) => q.file)];
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

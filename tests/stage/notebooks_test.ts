/**
 * The Databricks notebooks: Databricks source format, valid Python, and no drift from the
 * local transform — the notebook runs the same SQL files (same names, same set) for the
 * cleaning, the shared views and the questions, with the same columns, limits and
 * quarantine reasons, writes no SQL of its own and needs nothing Databricks-only.
 * (tests/spark_notebook_test.ts runs it on Spark.)
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CLEANING_SQL,
  FUNCTIONS_SQL,
  KEY_COLUMN,
  NULLABLE_COLUMNS,
  QUARANTINE_TEXT_CHARS,
  REASONS,
  SOURCE_COLUMNS,
  VIEW_SQL,
} from "../../lib/analytics/clean.ts";
import { QUESTIONS } from "../../lib/analytics/questions.ts";
import { envTest, ROOT, run, withTempDir } from "../_fixtures.ts";

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
    assert.deepEqual(lit.VIEW_FILES, VIEW_SQL);
    assert.deepEqual(lit.SOURCE_COLUMNS, SOURCE_COLUMNS);
    assert.deepEqual(lit.KEY_COLUMN, KEY_COLUMN);
    assert.deepEqual(lit.NULLABLE_COLUMNS, NULLABLE_COLUMNS);
    assert.equal(lit.QUARANTINE_TEXT_CHARS, QUARANTINE_TEXT_CHARS);
    assert.deepEqual(
      [
        lit.REASON_UTF8,
        lit.REASON_TOO_LONG,
        lit.REASON_JSON,
        lit.REASON_NOT_OBJECT,
        lit.REASON_BAD_ARRAY,
        lit.REASON_TWICE,
      ],
      [
        REASONS.utf8,
        REASONS.tooLong,
        REASONS.json,
        REASONS.notObject,
        REASONS.badArray,
        REASONS.twice,
      ],
    );

    // Every SQL file is run by both sides, but DuckDB's definitions of the Spark built-ins
    // it lacks; and each exists.
    const onDisk = [...Deno.readDirSync(SQL)].filter((e) => e.name.endsWith(".sql")).map((e) =>
      e.name
    ).sort();
    const shared = [
      ...Object.values(CLEANING_SQL),
      ...Object.values(VIEW_SQL),
      ...QUESTIONS.map((q) => q.file),
    ];
    const notebook = [
      ...Object.values(lit.CLEANING_FILES as Record<string, string>),
      ...Object.values(lit.VIEW_FILES as Record<string, string>),
      ...(lit.QUESTION_FILES as [string, string][]).map((q) => q[1]),
    ];
    assert.deepEqual([FUNCTIONS_SQL, ...shared].sort(), onDisk);
    assert.deepEqual([...notebook].sort(), onDisk.filter((f) => f !== FUNCTIONS_SQL));
  },
);

/**
 * The contract every task keeps: `--help` exits 0 with text on stdout, an unknown flag
 * exits 2 naming the flag, the file runs as `./tasks/x.ts` (shebang, executable bit) and
 * straight from a URL (the repo served on 127.0.0.1, run from an unrelated directory).
 */
import assert from "node:assert/strict";
import { extname, join } from "node:path";
import { ROOT } from "../_fixtures.ts";
import { normalizeTables, renderReadme, taskFlags } from "../tools/readme_flags.ts";

const tasks = [...Deno.readDirSync(join(ROOT, "tasks"))]
  .filter((e) => e.isFile && extname(e.name) === ".ts")
  .map((e) => e.name)
  .sort();

Deno.test("the tasks folder holds tasks", () => {
  assert.ok(tasks.length > 0, "no tasks found in tasks/");
});

Deno.test("each environment variable belongs to one flag name across the tasks' tables", async () => {
  const owners = new Map<string, Set<string>>();
  for (const t of await taskFlags()) {
    for (const table of t.tables) {
      for (const [flag, def] of Object.entries(table)) {
        if (!def.env) continue;
        if (!owners.has(def.env)) owners.set(def.env, new Set());
        owners.get(def.env)!.add(`--${flag} (${t.task})`);
      }
    }
  }
  assert.ok(owners.size > 40, `only ${owners.size} variables found`);
  for (const [env, flags] of owners) {
    const names = new Set([...flags].map((f) => f.split(" ")[0]));
    assert.equal(names.size, 1, `${env} is read for different flags: ${[...flags].join(", ")}`);
  }
});

Deno.test("every flag of every task has a variable, or says why not", async () => {
  for (const t of await taskFlags()) {
    for (const table of t.tables) {
      for (const [flag, def] of Object.entries(table)) {
        assert.ok(def.env || def.noEnv, `--${flag} of ${t.task} has no variable and no reason`);
      }
    }
  }
});

Deno.test("the README's flag tables and pasted --help texts are made from the tasks' tables", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const tasksFlags = await taskFlags();
  const want = renderReadme(readme, tasksFlags);
  assert.ok(
    normalizeTables(want) === normalizeTables(readme),
    "README.md is out of date: run deno run -A tests/tools/readme_flags.ts --write",
  );
  const pasted = [...readme.matchAll(/^```text\n\$ deno task ([a-z-]+) --help\n/gm)].map((m) =>
    m[1]
  );
  assert.deepEqual(
    [...new Set(pasted)].sort(),
    tasksFlags.map((t) => t.task).sort(),
    "every task's --help is in the README",
  );
});

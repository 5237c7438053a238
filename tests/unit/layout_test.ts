/**
 * The layout of `lib/` (README "Layout"): one folder per stage, each with a header in its main
 * file saying what it holds and what it may import ("May import: `lib/x/`, …"), and imports
 * that keep to those headers: tasks → stages → shell and deps, no stage importing a task, no
 * circle between folders or between files, npm packages named only in `lib/deps/`.
 * Also what a local task loads at start (no AWS SDK, MSK signer, MySQL driver or node-forge)
 * and the rules of the unit test layer.
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(new URL("../..", import.meta.url).pathname);
const LIB = join(ROOT, "lib");

function walk(dir: string, out: string[] = []): string[] {
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** Every module specifier a file names: static and dynamic imports, re-exports, workers. */
function specifiers(src: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\bfrom\s+["']([^"']+)["']/g,
    /\bimport\s+["']([^"']+)["']/g,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
    /new URL\(\s*["']([^"']+\.ts)["']\s*,\s*import\.meta\.url\s*\)/g,
  ];
  for (const re of patterns) for (const m of src.matchAll(re)) found.push(m[1]);
  return found;
}

/** The folder of `lib/` a path lies in ("" for a file directly in lib/). */
function folderOf(path: string): string | undefined {
  const rel = relative(LIB, path);
  if (rel.startsWith("..")) return undefined;
  const parts = rel.split("/");
  return parts.length > 1 ? parts[0] : "";
}

const libFiles = walk(LIB).filter((p) => p.endsWith(".ts"));
const folders = [...Deno.readDirSync(LIB)].filter((e) => e.isDirectory).map((e) => e.name).sort();

/** Per folder, the folders its header says it may import, read from its main file. */
function headers(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const folder of folders) {
    const mains = walk(join(LIB, folder)).filter((p) => {
      if (!p.endsWith(".ts") && !p.endsWith(".md")) return false;
      return Deno.readTextFileSync(p).includes(`Folder \`lib/${folder}/\`:`);
    });
    assert.deepEqual(
      mains.map((p) => relative(ROOT, p)).length,
      1,
      `lib/${folder}/ should have exactly one main file with a "Folder \`lib/${folder}/\`:" ` +
        `header; found ${mains.map((p) => relative(ROOT, p)).join(", ") || "none"}`,
    );
    const text = Deno.readTextFileSync(mains[0]).replace(/\n\s*\*?\s*/g, " ");
    const at = text.indexOf("May import:");
    assert(at >= 0, `${relative(ROOT, mains[0])}: the folder header lacks "May import:"`);
    const sentence = text.slice(at, text.indexOf(".", text.indexOf("`", at) + 1) + 1);
    const allowed = new Set(
      [...sentence.matchAll(/`lib\/([a-z_]+)\/`/g)].map((m) => m[1]).filter((f) => f !== folder),
    );
    for (const a of allowed) {
      assert(folders.includes(a), `lib/${folder}/ may import lib/${a}/, which does not exist`);
    }
    out.set(folder, allowed);
  }
  return out;
}

Deno.test("every file of lib/ lies in a folder named for its stage", () => {
  const loose = libFiles.filter((p) => folderOf(p) === "").map((p) => relative(ROOT, p));
  assert.deepEqual(loose, [], "files directly in lib/");
});

Deno.test("each lib/ folder says in its main file what it holds and what it may import", () => {
  const allowed = headers();
  assert.deepEqual([...allowed.keys()].sort(), folders);
});

Deno.test("imports follow the folder headers: no stage imports a task, a test or a later stage", () => {
  const allowed = headers();
  const wrong: string[] = [];
  for (const file of libFiles) {
    const from = folderOf(file)!;
    for (const spec of specifiers(Deno.readTextFileSync(file))) {
      const where = relative(ROOT, file);
      if (/^(npm|jsr|https?):/.test(spec)) {
        if (from !== "deps") wrong.push(`${where} names the package ${spec} (only lib/deps/ may)`);
        continue;
      }
      if (!spec.startsWith(".")) continue; // node: built-ins
      const target = resolve(dirname(file), spec);
      const to = folderOf(target);
      if (to === undefined) {
        wrong.push(`${where} imports ${relative(ROOT, target)}, outside lib/`);
      } else if (to !== from && !allowed.get(from)!.has(to)) {
        wrong.push(
          `${where} imports ${relative(ROOT, target)}: lib/${from}/ may not import lib/${to}/`,
        );
      }
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("the folders' allowed imports form no circle, and neither do the files' imports", () => {
  const allowed = headers();
  const circle = (edges: Map<string, Iterable<string>>): string[] | undefined => {
    const state = new Map<string, "open" | "done">();
    const path: string[] = [];
    const visit = (n: string): string[] | undefined => {
      if (state.get(n) === "done") return undefined;
      if (state.get(n) === "open") return [...path.slice(path.indexOf(n)), n];
      state.set(n, "open");
      path.push(n);
      for (const m of edges.get(n) ?? []) {
        const c = visit(m);
        if (c) return c;
      }
      path.pop();
      state.set(n, "done");
      return undefined;
    };
    for (const n of edges.keys()) {
      const c = visit(n);
      if (c) return c;
    }
    return undefined;
  };
  assert.deepEqual(circle(allowed), undefined, "a circle between lib/ folders");
  const fileEdges = new Map<string, string[]>();
  for (const file of libFiles) {
    fileEdges.set(
      relative(ROOT, file),
      specifiers(Deno.readTextFileSync(file)).filter((s) => s.startsWith("."))
        .map((s) => relative(ROOT, resolve(dirname(file), s))),
    );
  }
  assert.deepEqual(circle(fileEdges), undefined, "a circle between lib/ files");
});

Deno.test("tasks import lib/ and nothing of tests/ or bench/", () => {
  const wrong: string[] = [];
  for (const file of walk(join(ROOT, "tasks")).filter((p) => p.endsWith(".ts"))) {
    for (const spec of specifiers(Deno.readTextFileSync(file))) {
      if (!spec.startsWith(".")) continue;
      const target = relative(ROOT, resolve(dirname(file), spec));
      if (!target.startsWith("lib/") && !target.startsWith("tasks/")) {
        wrong.push(`${relative(ROOT, file)} imports ${target}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("the folder check sees a wrong import (a stage importing a later one fails it)", () => {
  // The same parse the checks above use, on a made-up file: it must find the specifier.
  const src =
    `import { x } from "../analytics/clean.ts";\nconst w = new Worker(new URL("./w.ts", import.meta.url));`;
  assert.deepEqual(specifiers(src), ["../analytics/clean.ts", "./w.ts"]);
  const allowed = headers();
  assert(
    !allowed.get("lake")!.has("analytics"),
    "lib/lake/ must not be allowed to import lib/analytics/",
  );
});

// What a task loads before it prints anything (README "First run"): only what its run needs.

/**
 * The specifiers a file imports when it is loaded: static imports and re-exports, not
 * `import type` (erased) and not a dynamic `import()` of a computed URL (loaded when it runs).
 */
function staticSpecifiers(src: string): string[] {
  const code = src.replace(/^\s*(?:import|export)\s+type\s[^;]*;/gm, "");
  const found: string[] = [];
  for (
    const re of [
      /^\s*(?:import|export)\s[^;]*?\bfrom\s+["']([^"']+)["']/gm,
      /^\s*import\s+["']([^"']+)["']/gm,
    ]
  ) for (const m of code.matchAll(re)) found.push(m[1]);
  return found;
}

/** The repository files `entry` (relative to the root) loads statically, itself included. */
function loadedBy(entry: string): string[] {
  const seen = new Set<string>();
  const todo = [resolve(ROOT, entry)];
  while (todo.length) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of staticSpecifiers(Deno.readTextFileSync(file))) {
      if (spec.startsWith(".")) todo.push(resolve(dirname(file), spec));
    }
  }
  return [...seen].map((f) => relative(ROOT, f));
}

/** Packages a local run never needs at start: the AWS SDKs, MSK's signer, mysql2, node-forge. */
const ON_THEIR_PATH_ONLY = /^lib\/deps\/(aws_\w+|msk_iam|mysql2|node_forge)\.ts$/;

Deno.test("a local task loads no AWS SDK, MSK signer, MySQL driver or node-forge until its run takes that path", () => {
  const found: string[] = [];
  for (const task of ["broker", "demo", "emulate", "rest_proxy", "sink", "topics", "transform"]) {
    for (const f of loadedBy(`tasks/${task}.ts`)) {
      if (ON_THEIR_PATH_ONLY.test(f)) found.push(`tasks/${task}.ts loads ${f}`);
    }
  }
  assert.deepEqual(found, []);
});

Deno.test("the start-up scan sees a static import and passes over type-only and computed ones", () => {
  assert.ok(loadedBy("tasks/deploy.ts").includes("lib/deps/aws_cloudformation.ts"));
  assert.ok(loadedBy("tasks/seed_db.ts").includes("lib/deps/mysql2.ts"));
  assert.deepEqual(
    staticSpecifiers(
      `import type { A } from "./a.ts";\nimport {\n  b,\n  type C,\n} from "./b.ts";\n` +
        `export { d } from "./d.ts";\nconst e = await import(new URL("./e.ts", import.meta.url).href);`,
    ),
    ["./b.ts", "./d.ts"],
  );
});

// The test layers (README "Tests"): tests/unit/ runs with no process of its own and no engine,
// so `deno task test:unit` stays fast and needs no `tests/setup.ts`.

const TESTS = join(ROOT, "tests");

/** Helpers that start engines or stand for them: a unit test may not import them. */
const ENGINE_HELPERS = /^tests\/(_engines|_airflow|_moto|_aws_engines)\.ts$|^tests\/clients\//;

/** What a unit test may not take from tests/_fixtures.ts: it spawns, or waits on the machine. */
const SPAWNING_FIXTURES = ["run", "hasCommand", "available", "envTest", "withMysqlDatabase"];

/** Code without its comments (a comment may name what the code must not do). */
function code(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

/** True when a helper module starts processes itself (bench/_process.ts is the one way). */
function spawns(src: string): boolean {
  // What a script does when it is the program (its `import.meta.main` block, last in the
  // file) never runs when a test imports it.
  const imported = code(src).split(/^if \(import\.meta\.main\)/m)[0];
  return STARTS.test(imported) || /_process\.ts["']/.test(imported);
}

/** Code that starts a process. */
const STARTS = /\bDeno\.Command\b|\bDeno\.run\(|["']node:child_process["']|\bchild_process\b/;

/**
 * What is wrong with `src`, a file of tests/unit/ at `where` (a path from the repository
 * root): every process it would start, every engine helper or spawning helper it imports.
 */
export function unitLayerProblems(
  where: string,
  src: string,
  helperSpawns: (path: string) => boolean,
): string[] {
  const wrong: string[] = [];
  const body = code(src);
  if (STARTS.test(body)) {
    wrong.push(`${where} starts a process (Deno.Command or node:child_process)`);
  }
  if (/\benvTest\s*\(/.test(body)) {
    wrong.push(`${where} registers an envTest: what it needs from the machine belongs in stage/`);
  }
  for (const m of body.matchAll(/import\s+(type\s+)?([\s\S]*?)\s+from\s+["']([^"']+)["']/g)) {
    const spec = m[3];
    if (!spec.startsWith(".")) continue;
    const target = relative(ROOT, resolve(dirname(join(ROOT, where)), spec));
    if (ENGINE_HELPERS.test(target)) {
      wrong.push(`${where} imports ${target}, an engine helper (engine/ tests only)`);
    } else if (target === "tests/_fixtures.ts") {
      const names = m[1] ? [] : [...m[2].matchAll(/([A-Za-z_$][\w$]*)(?:\s+as\s+[\w$]+)?/g)]
        .map((x) => x[1]).filter((n) => n !== "type");
      for (const n of names.filter((n) => SPAWNING_FIXTURES.includes(n))) {
        wrong.push(`${where} imports ${n} from tests/_fixtures.ts, which starts processes`);
      }
    } else if (
      /^(tests|bench)\//.test(target) && !target.startsWith("tests/unit/") && helperSpawns(target)
    ) {
      wrong.push(`${where} imports ${target}, which starts processes`);
    }
  }
  return wrong;
}

const helperSpawns = (path: string) => {
  try {
    return spawns(Deno.readTextFileSync(join(ROOT, path)));
  } catch {
    return false;
  }
};

Deno.test("no test in tests/unit/ starts a process, imports an engine helper or needs the machine", () => {
  const wrong: string[] = [];
  // This file is the check: its examples of what is wrong are strings.
  const self = new URL(import.meta.url).pathname;
  for (const file of walk(join(TESTS, "unit")).filter((p) => p.endsWith(".ts") && p !== self)) {
    wrong.push(
      ...unitLayerProblems(relative(ROOT, file), Deno.readTextFileSync(file), helperSpawns),
    );
  }
  assert.deepEqual(wrong, []);
});

Deno.test("the unit layer check sees a process, an engine helper and a machine need", () => {
  const where = "tests/unit/x_test.ts";
  const seen = (src: string) => unitLayerProblems(where, src, (p) => p === "bench/_process.ts");
  assert.deepEqual(
    seen(`import { withBroker } from "../_fixtures.ts";\n// Deno.Command in a comment`),
    [],
  );
  assert.equal(seen(`await new Deno.Command("kcat", { args: [] }).output();`).length, 1);
  assert.equal(seen(`import { spawn } from "node:child_process";`).length, 1);
  assert.match(seen(`import { withKafka } from "../_engines.ts";`)[0], /engine helper/);
  assert.match(seen(`import { x } from "../clients/_matrix.ts";`)[0], /engine helper/);
  assert.match(seen(`import { ROOT, run } from "../_fixtures.ts";`)[0], /imports run from/);
  assert.match(seen(`import { startTask } from "../../bench/_process.ts";`)[0], /starts processes/);
  assert.match(seen(`await envTest("x", ["mysql"], () => {});`)[0], /envTest/);
  // A helper spawning only when run as a program (tests/tools/readme_flags.ts --write) is fine.
  assert.equal(
    spawns(`export const x = 1;\nif (import.meta.main) {\n  new Deno.Command("deno");\n}`),
    false,
  );
  assert.equal(spawns(`export const x = () => new Deno.Command("deno");`), true);
  assert.equal(spawns(`export { run } from "../bench/_process.ts";`), true);
});

Deno.test("bench/ and lib/ import nothing from tests/", () => {
  const wrong: string[] = [];
  for (const dir of ["bench", "lib"]) {
    for (const file of walk(join(ROOT, dir)).filter((p) => p.endsWith(".ts"))) {
      for (const spec of specifiers(Deno.readTextFileSync(file))) {
        if (!spec.startsWith(".")) continue;
        const target = relative(ROOT, resolve(dirname(file), spec));
        if (target.startsWith("tests/")) wrong.push(`${relative(ROOT, file)} imports ${target}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

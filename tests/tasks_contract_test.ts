/**
 * The contract every task keeps: `--help` exits 0 with text on stdout, an unknown flag
 * exits 2 naming the flag, the file runs as `./tasks/x.ts` (shebang, executable bit) and
 * straight from a URL (the repo served on 127.0.0.1, run from an unrelated directory).
 */
import assert from "node:assert/strict";
import { extname, join } from "node:path";
import { ROOT, run, serveRepo, withTempDir } from "./_fixtures.ts";

const tasks = [...Deno.readDirSync(join(ROOT, "tasks"))]
  .filter((e) => e.isFile && extname(e.name) === ".ts")
  .map((e) => e.name)
  .sort();

Deno.test("the tasks folder holds tasks", () => {
  assert.ok(tasks.length > 0, "no tasks found in tasks/");
});

for (const file of tasks) {
  Deno.test(`task ${file} keeps the task contract`, async (t) => {
    await t.step("--help prints usage on stdout and exits 0", async () => {
      const r = await run("deno", ["run", "-A", `tasks/${file}`, "--help"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /usage/i);
      assert.match(r.stdout, /--help/);
    });

    await t.step("an unknown flag exits 2 and names the flag", async () => {
      const r = await run("deno", ["run", "-A", `tasks/${file}`, "--no-such-flag"]);
      assert.equal(r.code, 2, `exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, /--no-such-flag/);
    });

    await t.step("runs as ./tasks/x with its shebang", async () => {
      const text = await Deno.readTextFile(join(ROOT, "tasks", file));
      assert.match(text.split("\n")[0], /^#!\/usr\/bin\/env -S deno run /);
      const st = await Deno.stat(join(ROOT, "tasks", file));
      assert.ok(((st.mode ?? 0) & 0o111) !== 0, `tasks/${file} is not executable`);
      const r = await run(`./tasks/${file}`, ["--help"]);
      assert.equal(r.code, 0, r.stderr);
    });

    await t.step("runs from a URL", async () => {
      const srv = serveRepo();
      try {
        await withTempDir(async (cwd) => {
          const url = `${srv.base}/tasks/${file}`;
          const r = await run("deno", ["run", "-A", `--reload=${srv.base}`, url, "--help"], {
            cwd,
          });
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stdout, /usage/i);
        });
      } finally {
        await srv.close();
      }
    });
  });
}

/** Every task's --help text, by task name (`seed-db` for tasks/seed_db.ts). */
async function helpTexts(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await Promise.all(tasks.map(async (file) => {
    const r = await run("deno", ["run", "-A", `tasks/${file}`, "--help"]);
    assert.equal(r.code, 0, r.stderr);
    out.set(file.replace(/\.ts$/, "").replaceAll("_", "-"), r.stdout);
  }));
  return out;
}

/**
 * The flags a help text lists, each with its own environment variable: the one its
 * description opens with in parentheses, `(PINPIPE_X; default …)` or `(AWS_REGION, config …)`.
 * The "Renamed" note (old names kept for one release) is not a flag list and is skipped.
 */
export function flagsOfHelp(help: string): Map<string, string | undefined> {
  const flags = new Map<string, string | undefined>();
  let current: { name: string; text: string } | undefined;
  let skipping = false;
  const close = () => {
    if (!current) return;
    const env = /\(((?:PINPIPE|AWS)_[A-Z0-9_]+)(?:=1)?[;,)]/.exec(current.text)?.[1];
    if (!flags.has(current.name) || env) flags.set(current.name, env);
    current = undefined;
  };
  for (const line of help.split("\n")) {
    if (/^\S/.test(line) || line.trim() === "") {
      close();
      skipping = /^Renamed/.test(line) || (skipping && line.trim() !== "" && /^\s/.test(line));
      continue;
    }
    if (skipping) continue;
    const m = /^\s+(?:-\w, )?--([a-z0-9][a-z0-9-]*)/.exec(line);
    if (m) {
      close();
      current = { name: m[1], text: line };
    } else if (current) current.text += ` ${line.trim()}`;
  }
  close();
  return flags;
}

Deno.test("each environment variable belongs to one flag name in every task's --help", async () => {
  const owners = new Map<string, Set<string>>();
  for (const [task, help] of await helpTexts()) {
    for (const [flag, env] of flagsOfHelp(help)) {
      if (!env) continue;
      if (!owners.has(env)) owners.set(env, new Set());
      owners.get(env)!.add(`--${flag} (${task})`);
    }
  }
  assert.ok(owners.size > 20, `only ${owners.size} variables found: is the help parsed?`);
  for (const [env, flags] of owners) {
    const names = new Set([...flags].map((f) => f.split(" ")[0]));
    assert.equal(names.size, 1, `${env} is read for different flags: ${[...flags].join(", ")}`);
  }
});

Deno.test("the README's table of shared names is what the tasks' --help says", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const table = readme.slice(readme.indexOf("| idea"));
  const rows = table.slice(0, table.indexOf("\n\n")).split("\n").slice(2);
  assert.ok(rows.length >= 8, "README.md has no table of shared names");
  const helps = await helpTexts();
  let checked = 0;
  for (const row of rows) {
    const cells = row.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    const flag = /`--([a-z0-9-]+)/.exec(cells[1])?.[1];
    const env = /`((?:PINPIPE|AWS)_[A-Z0-9_]+)`/.exec(cells[2])?.[1];
    const listed = cells[3].split(/,\s*/);
    assert.ok(flag && env, `a row without a flag or variable: ${row}`);
    if (!listed.every((t) => helps.has(t))) continue; // "all that …": not a list of tasks
    const reading = [...helps].filter(([, help]) => flagsOfHelp(help).get(flag) === env)
      .map(([task]) => task);
    assert.deepEqual(reading.sort(), [...listed].sort(), `--${flag} with ${env}`);
    checked++;
  }
  assert.ok(checked >= 8, `only ${checked} rows checked`);
});

Deno.test("the README's pasted --help texts are what the tasks print", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const blocks = [...readme.matchAll(/^```text\n\$ deno task ([a-z-]+) --help\n([\s\S]*?)^```$/gm)];
  assert.ok(blocks.length >= 5, `only ${blocks.length} pasted --help texts found`);
  for (const [, task, text] of blocks) {
    const mod = await import(`../tasks/${task.replaceAll("-", "_")}.ts`);
    assert.equal(text, mod.HELP, `README's --help of ${task} is out of date: paste it again`);
  }
});

/**
 * The contract every task keeps: `--help` exits 0 with text on stdout, an unknown flag
 * exits 2 naming the flag, the file runs as `./tasks/x.ts` (shebang, executable bit) and
 * straight from a URL (the repo served on 127.0.0.1, run from an unrelated directory).
 */
import assert from "node:assert/strict";
import { extname, join } from "node:path";
import { ROOT, run, serveRepo, withTempDir } from "../_fixtures.ts";

const tasks = [...Deno.readDirSync(join(ROOT, "tasks"))]
  .filter((e) => e.isFile && extname(e.name) === ".ts")
  .map((e) => e.name)
  .sort();

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

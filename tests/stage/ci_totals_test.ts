/**
 * `.ci/run`'s last line: the three test layers' Deno summaries summed by `.ci/totals.awk`
 * into "N passed, N failed", with a layer that crashed or died counted as failed, on logs
 * shaped as `deno task test` (tests/tools/layers.ts) prints them.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, run, withTempDir } from "../_fixtures.ts";

async function totals(log: string, status = 0): Promise<{ line: string; code: number }> {
  return await withTempDir(async (dir) => {
    const file = join(dir, "test.log");
    await Deno.writeTextFile(file, log);
    const r = await run("awk", [
      "-v",
      "expect=3",
      "-v",
      `status=${status}`,
      "-f",
      join(ROOT, ".ci", "totals.awk"),
      file,
    ]);
    assert.equal(r.stderr, "");
    return { line: r.stdout.trim().split("\n").at(-1)!, code: r.code };
  });
}

const layer = (name: string, summary: string | undefined, code: number) =>
  `== layer ${name}: deno task test:${name} ==\nsome test ... ok (1ms)\n` +
  (summary ? `${summary}\n` : "") + `layer ${name}: exit ${code} (3 s)\n`;

Deno.test("three passing layers sum to one plain line and exit 0", async () => {
  const log = layer("unit", "ok | 352 passed | 0 failed | 2 ignored (40s)", 0) +
    layer("stage", "ok | 100 passed (3 steps) | 0 failed (5m2s)", 0) +
    layer("engine", "ok | 61 passed | 0 failed (9m)", 0);
  assert.deepEqual(await totals(log), { line: "513 passed, 0 failed", code: 0 });
});

Deno.test("a failing layer's failures count and the later layers' passes still add up", async () => {
  const log = layer("unit", "FAILED | 350 passed | 2 failed (40s)", 1) +
    layer("stage", "ok | 100 passed | 0 failed (5m)", 0) +
    layer("engine", "ok | 61 passed | 0 failed (9m)", 0);
  assert.deepEqual(await totals(log, 1), { line: "511 passed, 2 failed", code: 1 });
});

Deno.test("a layer that crashed before its summary counts as one failed", async () => {
  const log = layer("unit", "ok | 5 passed | 0 failed (1s)", 0) +
    layer("stage", undefined, 1) + layer("engine", "ok | 7 passed | 0 failed (1s)", 0);
  const { line, code } = await totals(log, 1);
  assert.equal(line, "12 passed, 1 failed");
  assert.equal(code, 1);
});

Deno.test("a layer killed with no test failed, or a run that died inside a layer, fails", async () => {
  const killed = layer("unit", "ok | 5 passed | 0 failed (1s)", 0) +
    layer("stage", "ok | 7 passed | 0 failed (1s)", 137);
  assert.deepEqual(await totals(killed, 1), { line: "12 passed, 2 failed", code: 1 });
  assert.deepEqual(await totals("engines: provisioning\n", 1), {
    line: "0 passed, 1 failed",
    code: 1,
  });
});

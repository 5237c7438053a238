#!/usr/bin/env -S deno run -A
/**
 * Runs test layers one after the other (`deno task test` runs unit, stage, engine), each with
 * the command its `test:<layer>` task in deno.json names, so a layer is defined in one place.
 * A layer that fails does not stop the next ones, so the totals are complete. After each
 * layer it prints one marker line, `layer <name>: exit <code>`, that `.ci/run` reads beside
 * Deno's own summary (`ok | N passed | N failed …`): a layer that crashed before printing a
 * summary, or exited non-zero with none failed, still counts as failed there. Exits 1 when any
 * layer did not exit 0.
 *
 * Usage: deno run -A tests/tools/layers.ts [unit] [stage] [engine]
 * @module
 */

const ROOT = new URL("../../", import.meta.url).pathname;
export const LAYERS = ["unit", "stage", "engine"] as const;

/** Runs `deno task test:<layer>` with inherited output; answers its exit code. */
async function runLayer(layer: string): Promise<number> {
  console.log(`\n== layer ${layer}: deno task test:${layer} ==`);
  const t0 = performance.now();
  let code: number;
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", `test:${layer}`],
      cwd: ROOT,
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    code = out.code;
  } catch (e) {
    console.error(`layer ${layer} could not start: ${e instanceof Error ? e.message : e}`);
    code = 127;
  }
  const sec = Math.round((performance.now() - t0) / 1000);
  console.log(`layer ${layer}: exit ${code} (${sec} s)`);
  return code;
}

if (import.meta.main) {
  const asked = Deno.args.length ? Deno.args : [...LAYERS];
  const wrong = asked.filter((a) => !(LAYERS as readonly string[]).includes(a));
  if (wrong.length) {
    console.error(`Unknown layer ${wrong.join(", ")}: the layers are ${LAYERS.join(", ")}`);
    Deno.exit(2);
  }
  let failed = 0;
  for (const layer of asked) if ((await runLayer(layer)) !== 0) failed++;
  Deno.exit(failed ? 1 : 0);
}

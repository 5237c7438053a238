/**
 * The README shows what `deno task demo` prints at its end: made by running it
 * (tests/tools/readme_demo.ts), and checked here against a fresh run, so it cannot go stale.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { demoSummary, masked, readmeSample } from "../tools/readme_demo.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("the README's sample of the demo's output is what the demo prints", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const sample = readmeSample(readme);
  assert.ok(sample, "README.md has no <!-- demo:summary --> block");
  assert.equal(
    masked(await demoSummary()),
    masked(sample),
    "the demo prints something else now: run deno run -A tests/tools/readme_demo.ts --write",
  );
});

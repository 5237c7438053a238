#!/usr/bin/env -S deno run -A
/**
 * The README's sample of what `deno task demo` prints at its end, made by running the demo
 * (in a fresh folder, with its defaults), never typed: between `<!-- demo:summary -->` and
 * `<!-- /demo:summary -->`. Paths are shown from `.pinpipe/demo` on.
 *
 *     deno run -A tests/tools/readme_demo.ts --write   # run the demo, rewrite that block
 *
 * tests/stage/readme_demo_test.ts runs the demo the same way and compares.
 * @module
 */
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;
const OPEN = "<!-- demo:summary -->";
const CLOSE = "<!-- /demo:summary -->";

/** Runs the demo with its defaults in a fresh folder; the closing lines it printed. */
export async function demoSummary(): Promise<string> {
  const cwd = await Deno.makeTempDir({ prefix: "pinpipe-readme-demo-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", join(ROOT, "tasks", "demo.ts")],
      cwd,
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(
        `Cannot make the demo's sample: the demo exited ${out.code}: ${
          new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" ")
        }`,
      );
    }
    const lines = stdout.split("\n");
    const first = lines.findIndex((l) => / postings -> /.test(l));
    const last = lines.findIndex((l, i) => i > first && /^report: /.test(l));
    if (first < 0 || last < 0) throw new Error(`The demo printed no summary:\n${stdout}`);
    return lines.slice(first, last + 1).join("\n").replaceAll(cwd, "/…");
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
}

/** The sample block in `readme`, or undefined. */
export function readmeSample(readme: string): string | undefined {
  const m = new RegExp(`${OPEN}\\n\\n\`\`\`text\\n([\\s\\S]*?)\\n\`\`\`\\n\\n${CLOSE}`).exec(
    readme,
  );
  return m?.[1];
}

/** `readme` with its sample replaced by `sample`. */
export function withSample(readme: string, sample: string): string {
  const a = readme.indexOf(OPEN);
  const b = readme.indexOf(CLOSE);
  if (a < 0 || b < a) throw new Error(`README.md has no ${OPEN} … ${CLOSE} block`);
  return `${readme.slice(0, a + OPEN.length)}\n\n\`\`\`text\n${sample}\n\`\`\`\n\n${
    readme.slice(b)
  }`;
}

/** A sample with what may differ from run to run masked: objects are cut by timing. */
export function masked(sample: string): string {
  return sample.replace(/landed in [\d,]+ objects/, "landed in N objects");
}

if (import.meta.main) {
  const path = join(ROOT, "README.md");
  const sample = await demoSummary();
  if (Deno.args.includes("--write")) {
    await Deno.writeTextFile(path, withSample(await Deno.readTextFile(path), sample));
    console.log(`README.md: the demo's sample written:\n${sample}`);
  } else console.log(sample);
}

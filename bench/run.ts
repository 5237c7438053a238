#!/usr/bin/env -S deno run -A
/**
 * `deno task bench [name…]`: runs every `bench/<name>_bench.ts` (or only those named) one
 * after another, each in its own process so one's memory does not count against another,
 * and prints the figures each one reports. Benchmarks are sized for a 2-core machine. Flags
 * are passed on to each benchmark (`deno task bench transform --no-spark`).
 * @module
 */
import { basename } from "node:path";
import { shebangFlags } from "./_measure.ts";

const dir = new URL("./", import.meta.url);
const all = [...Deno.readDirSync(dir)]
  .filter((e) => e.isFile && e.name.endsWith("_bench.ts"))
  .map((e) => basename(e.name, "_bench.ts"))
  .sort();
const wanted = Deno.args.filter((a) => !a.startsWith("-"));
const flags = Deno.args.filter((a) => a.startsWith("-"));
if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(
    [
      "Usage: deno task bench [name…] [flag…]",
      "",
      `Benchmarks: ${all.join(", ")}`,
      "",
      "  --help       this text",
      "  --small      transform: the small lake only",
      "  --no-spark   transform: leave the Spark notebook out",
      "",
      "Other flags are passed on to each benchmark as they are.",
    ].join("\n"),
  );
  Deno.exit(0);
}
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
  console.error(
    `error: Unknown benchmark ${unknown.map((u) => `"${u}"`).join(", ")}: have ${all.join(", ")}`,
  );
  Deno.exit(2);
}
let failed = 0;
for (const name of wanted.length ? wanted : all) {
  console.log(`\n=== bench ${name} ===`);
  const file = new URL(`${name}_bench.ts`, dir);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...shebangFlags(file), file.pathname, ...flags],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    console.log(`bench ${name} failed with exit code ${code}`);
    failed++;
  }
}
Deno.exit(failed ? 1 : 0);

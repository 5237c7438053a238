/**
 * The hand-made dirty lake (tests/testdata/dirty_lake): every SPEC §4.1 edge case both
 * engines must agree on. A line over 16 MiB is added when it is copied, not kept in the
 * repository.
 * @module
 */
import { join } from "node:path";
import { TABLE_NAMES } from "./_clean_tables.ts";
import { ROOT } from "./_fixtures.ts";

export const DIRTY_LAKE = join(ROOT, "tests", "testdata", "dirty_lake");

/**
 * The dirty lake copied to `dir`, with one more pin object holding a line over 16 MiB and a
 * line whose number must be read as written beside a string of 100,000 escapes (rewritten
 * without a regular expression that recurses per character: Java's would overflow its stack).
 */
export async function copyDirtyLake(dir: string): Promise<void> {
  for (const table of TABLE_NAMES) {
    const from = join(DIRTY_LAKE, "topics", `pinpipe.${table}`, "partition=0");
    const to = join(dir, "topics", `pinpipe.${table}`, "partition=0");
    await Deno.mkdir(to, { recursive: true });
    for await (const e of Deno.readDir(from)) {
      await Deno.copyFile(join(from, e.name), join(to, e.name));
    }
  }
  const big = `{"index": 41, "title": "${"x".repeat(16 * 1024 * 1024)}", "category": "art"}`;
  const lines = [
    `{"index": 40, "category": "art", "follower_count": "40k", "poster_name": "Big"}`,
    big,
    `{"index": 42, "category": "art", "follower_count": "42k", "poster_name": "Big"}`,
    `{"index": 44, "description": "${"\\n".repeat(100_000)}", "follower_count": 44.5}`,
  ];
  await Deno.writeTextFile(
    join(dir, "topics", "pinpipe.pin", "partition=0", "pinpipe.pin+0+0000000043.json"),
    lines.join("\n") + "\n",
  );
}

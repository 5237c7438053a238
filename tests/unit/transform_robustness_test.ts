/**
 * The transform when the input or the run goes wrong: a missing, empty or mistyped lake and
 * a wrong prefix fail naming what was looked for and what the lake holds (or write empty
 * answers with --allow-empty), a run in which every line was quarantined fails, and none
 * of them, nor an interrupted run, replaces the previous outputs: the new ones are moved
 * into place only once all are complete.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createDataset } from "../../lib/source/dataset.ts";
import { FileLake } from "../../lib/lake/lake.ts";
import type { ProgressSink } from "../../lib/shell/progress.ts";
import { outputNames, transform } from "../../lib/analytics/transform.ts";
import { writeLake } from "../../bench/_write_lake.ts";
import { withTempDir } from "../_fixtures.ts";

/** A small lake of the synthetic dataset under `dir` (prefix `pinpipe` unless given). */
async function smallLake(dir: string, prefix = "pinpipe", rows = 300): Promise<string> {
  const lake = new FileLake(dir);
  await writeLake(lake, createDataset({ rows }).postings(), { flushSize: 100, prefix });
  return dir;
}

/** Every output file of a run, by name, with its bytes. */
async function snapshot(out: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const f of outputNames(true)) {
    try {
      files[f] = await Deno.readTextFile(join(out, f));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return files;
}

Deno.test("transform on a missing lake fails naming what it looked for and that the folder is missing", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      transform({ lake: join(dir, "nope"), prefix: "pinpipe", out: join(dir, "out") }),
      new RegExp(
        `Cannot transform the lake "file://${dir}/nope": no objects under ` +
          `topics/pinpipe\\.\\{pin,geo,user\\}/; the folder does not exist\\. Nothing was ` +
          `written \\(--allow-empty writes empty answers\\)`,
      ),
    );
  });
});

Deno.test("transform on a folder without topics/ fails saying so", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "notes.txt"), "not a lake\n");
    await assert.rejects(
      transform({ lake: dir, prefix: "pinpipe", out: join(dir, "out") }),
      /no objects under topics\/pinpipe\.\{pin,geo,user\}\/; it holds no topics\/ folder/,
    );
  });
});

Deno.test("transform with a wrong prefix fails naming the prefixes the lake holds", async () => {
  await withTempDir(async (dir) => {
    await smallLake(join(dir, "lake"), "demo");
    await smallLake(join(dir, "lake"), "my-pipe", 50);
    await assert.rejects(
      transform({ lake: join(dir, "lake"), prefix: "pinpipe", out: join(dir, "out") }),
      /no objects under topics\/pinpipe\.\{pin,geo,user\}\/; it holds the prefixes "demo", "my-pipe" \(--prefix\)/,
    );
  });
});

Deno.test("transform interrupted while writing its results leaves the previous outputs as they were", async () => {
  await withTempDir(async (dir) => {
    const lake = await smallLake(join(dir, "lake"));
    const out = join(dir, "out");
    await transform({ lake, prefix: "pinpipe", out });
    const before = await snapshot(out);
    // A different prefix's lake, so the outputs would differ; stopped at "writing results".
    await smallLake(join(dir, "lake"), "other", 120);
    const ac = new AbortController();
    const progress: ProgressSink = {
      isTerminal: false,
      write: (text) => {
        if (text.includes("writing results")) ac.abort(new Error("interrupted"));
      },
    };
    await assert.rejects(
      transform({ lake, prefix: "other", out }, { signal: ac.signal, progress }),
      /Transform interrupted/,
    );
    assert.ok(ac.signal.aborted, "the run reached the writing step");
    assert.deepEqual(await snapshot(out), before);
    const left = [...Deno.readDirSync(out)].map((e) => e.name).filter((n) => n.startsWith("."));
    assert.deepEqual(left, [], "no staging folder is left behind");
  });
});

Deno.test("a run without the report removes the previous run's report with the other outputs", async () => {
  await withTempDir(async (dir) => {
    const lake = await smallLake(join(dir, "lake"));
    const out = join(dir, "out");
    await transform({ lake, prefix: "pinpipe", out });
    assert.ok(await Deno.stat(join(out, "report.html")));
    const r = await transform({ lake, prefix: "pinpipe", out, report: false });
    assert.ok(!r.files.includes("report.html"));
    await assert.rejects(Deno.stat(join(out, "report.html")));
    // Files that are not the transform's own stay.
    await Deno.writeTextFile(join(out, "notes.txt"), "mine\n");
    await transform({ lake, prefix: "pinpipe", out, report: false });
    assert.equal(await Deno.readTextFile(join(out, "notes.txt")), "mine\n");
  });
});

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
import { FileLake, objectKey } from "../../lib/lake/lake.ts";
import { outputNames, transform } from "../../lib/analytics/transform.ts";
import { writeLake } from "../../bench/_write_lake.ts";
import { run, waitFor, withTempDir } from "../_fixtures.ts";

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

const task = (args: string[]) => run("deno", ["run", "-A", "tasks/transform.ts", ...args]);

Deno.test("deno task transform exits 1 on a wrong prefix and keeps the previous output", async () => {
  await withTempDir(async (dir) => {
    const lake = await smallLake(join(dir, "lake"));
    const out = join(dir, "out");
    const first = await task(["--lake", lake, "--out", out, "--json"]);
    assert.equal(first.code, 0, first.stderr);
    const before = await snapshot(out);
    assert.equal(Object.keys(before).length, outputNames(true).length);

    const wrong = await task(["--lake", lake, "--out", out, "--prefix", "pinpipe2"]);
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.match(
      wrong.stderr,
      /error: Cannot transform the lake "file:\/\/.*": no objects under topics\/pinpipe2\.\{pin,geo,user\}\/; it holds the prefixes "pinpipe" \(--prefix\)/,
    );
    assert.deepEqual(await snapshot(out), before, "the previous output is untouched");

    const empty = await task([
      "--lake",
      join(dir, "empty"),
      "--out",
      join(dir, "out-empty"),
      "--allow-empty",
      "--json",
    ]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(JSON.parse(empty.stdout).records, 0);
    assert.match(empty.stderr, /writing empty answers \(--allow-empty\)/);
  });
});

Deno.test("deno task transform refuses s3:/bucket as a mistyped URL, not a local folder", async () => {
  const r = await task(["--lake", "s3:/bucket", "--out", "/nonexistent/out"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /Invalid --lake "s3:\/bucket": a URL needs two slashes after "s3:"/);
});

Deno.test("transform fails when every line was quarantined and keeps the previous output", async () => {
  await withTempDir(async (dir) => {
    const lake = await smallLake(join(dir, "lake"));
    const out = join(dir, "out");
    await transform({ lake, prefix: "pinpipe", out, report: false });
    const before = await snapshot(out);
    const bad = new FileLake(join(dir, "bad"));
    for (const t of ["pin", "geo", "user"]) {
      await bad.put(
        objectKey(`pinpipe.${t}`, 0, 0),
        new TextEncoder().encode(`not json\n{"no": "key"}\nNaN\n`),
      );
    }
    const r = await task(["--lake", bad.url, "--out", out]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /all 9 lines under topics\/pinpipe\.\{pin,geo,user\}\/ were quarantined \(topics\/pinpipe\.pin\/partition=0\/pinpipe\.pin\+0\+0000000000\.json line 1: not valid JSON; .* line 2: no integer "index"; .* line 3: not valid JSON; …\)\. Nothing was written/,
    );
    assert.deepEqual(await snapshot(out), before);
  });
});

Deno.test("deno task transform exits 130 on Ctrl-C and leaves the previous outputs whole", async () => {
  await withTempDir(async (dir) => {
    const lake = await smallLake(join(dir, "lake"), "pinpipe", 3000);
    const out = join(dir, "out");
    assert.equal((await task(["--lake", lake, "--out", out, "--json"])).code, 0);
    const before = await snapshot(out);
    // A stale staging folder of a run that was killed is cleared by the next run.
    await Deno.mkdir(join(out, ".transform-2147483646-stale"));

    const child = new Deno.Command("deno", {
      args: [
        "run",
        "-A",
        "tasks/transform.ts",
        "--lake",
        lake,
        "--out",
        out,
        "--prefix",
        "pinpipe",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let stderr = "";
    const reading = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
    })();
    await waitFor(
      "the transform to start cleaning",
      () => /transform: (reading|cleaning)/.test(stderr),
      60_000,
    );
    child.kill("SIGINT");
    const status = await child.status;
    await child.stdout.cancel();
    await reading;
    assert.equal(status.code, 130, stderr);
    assert.match(stderr, /interrupted/);
    const after = await snapshot(out);
    // Either the run was stopped before its swap (the old outputs) or, if the signal came
    // after it, every output is the new run's: never a mix, never a partial file.
    assert.deepEqual(Object.keys(after).sort(), Object.keys(before).sort());
    assert.ok(
      JSON.stringify(after) === JSON.stringify(before) ||
        JSON.parse(after["summary.json"]).records === JSON.parse(before["summary.json"]).records,
    );
    assert.deepEqual(
      [...Deno.readDirSync(out)].map((e) => e.name).filter((n) => n.startsWith(".")),
      [],
    );
  });
});

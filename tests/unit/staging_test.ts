/**
 * lib/shell/staging.ts: which staging folders are stale (a pid that is gone, a folder of this
 * process that it does not hold, or, without /proc, one past the age bound), and the swap:
 * files and folders replaced by renames, outputs the new run lacks removed, and a failure in
 * the middle putting every output back and leaving no staging folder.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { isStale, removeStaleStaging, Staging } from "../../lib/shell/staging.ts";
import { withTempDir } from "../_fixtures.ts";

const onLinux = Deno.build.os === "linux";

/** A pid no process can have: one past the kernel's largest. */
function impossiblePid(): number {
  return Number(Deno.readTextFileSync("/proc/sys/kernel/pid_max").trim()) + 1;
}

/** Every file and folder under `dir`, with each file's text, by relative path. */
async function tree(dir: string, at = ""): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const e of Deno.readDir(join(dir, at))) {
    const rel = at ? `${at}/${e.name}` : e.name;
    if (e.isDirectory) {
      out[`${rel}/`] = "";
      Object.assign(out, await tree(dir, rel));
    } else out[rel] = await Deno.readTextFile(join(dir, rel));
  }
  return out;
}

/** Writes `files` (relative path → text) under `dir`. */
async function write(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, text] of Object.entries(files)) {
    const path = join(dir, rel);
    await Deno.mkdir(join(path, ".."), { recursive: true });
    await Deno.writeTextFile(path, text);
  }
}

Deno.test({
  name: "a staging folder whose process is gone is removed, a running process's is kept",
  ignore: !onLinux,
  fn: async () => {
    await withTempDir(async (dir) => {
      const gone = `.run-${impossiblePid()}-0badc0de`;
      const running = `.run-${Deno.ppid}-600dc0de`;
      for (const name of [gone, running, ".run-notapid", "kafka", ".transform-1-abc"]) {
        await Deno.mkdir(join(dir, name));
      }
      await Deno.writeTextFile(join(dir, `.run-${impossiblePid()}-file`), "not a folder");
      assert.equal(await removeStaleStaging(dir, ".run-"), 1);
      const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      assert.deepEqual(
        left,
        [".run-notapid", running, `.run-${impossiblePid()}-file`, ".transform-1-abc", "kafka"]
          .sort(),
      );
    });
  },
});

Deno.test("a staging folder of this process is kept while it holds it, and removed once it does not", async () => {
  await withTempDir(async (dir) => {
    const staging = await Staging.create(dir, ".transform-");
    // A folder named for this pid that this process never made: an earlier process had the pid.
    const earlier = join(dir, `.transform-${Deno.pid}-5ca1ab1e`);
    await Deno.mkdir(earlier);
    assert.equal(await isStale(staging.path, Deno.pid), false);
    assert.equal(await isStale(earlier, Deno.pid), true);
    // Spelled another way (relative), the folder is still this process's own.
    assert.equal(await isStale(relative(Deno.cwd(), staging.path), Deno.pid), false);
    const second = await Staging.create(dir, ".transform-");
    assert.equal(second.removedStale, 1, "the earlier process's folder is removed");
    assert.ok(Deno.statSync(staging.path).isDirectory, "a held folder stays");
    await staging.discard();
    assert.equal(await isStale(staging.path, Deno.pid), true, "a discarded one is not held");
    await second.discard();
    assert.deepEqual(await tree(dir), {});
  });
});

Deno.test("without a process table a staging folder is stale once older than the age bound", async () => {
  await withTempDir(async (dir) => {
    const folder = join(dir, ".run-4242-00000000");
    await Deno.mkdir(folder);
    const made = Deno.statSync(folder);
    const born = (made.birthtime ?? made.mtime)!.getTime();
    const check = { procDir: join(dir, "no-proc"), maxAgeMs: 60_000 };
    assert.equal(await isStale(folder, 4242, { ...check, now: () => born + 59_000 }), false);
    assert.equal(await removeStaleStaging(dir, ".run-", { ...check, now: () => born + 59_000 }), 0);
    assert.equal(await isStale(folder, 4242, { ...check, now: () => born + 61_000 }), true);
    assert.equal(await removeStaleStaging(dir, ".run-", { ...check, now: () => born + 61_000 }), 1);
    assert.deepEqual(await tree(dir), {});
  });
});

Deno.test("with a process table the pid decides, whatever the folder's age", async () => {
  await withTempDir(async (dir) => {
    // A process table of our own: pid 7 runs, pid 8 does not.
    const proc = join(dir, "proc");
    await Deno.mkdir(join(proc, "self"), { recursive: true });
    await Deno.mkdir(join(proc, "7"));
    const parent = join(dir, "out");
    await Deno.mkdir(join(parent, ".run-7-aaaaaaaa"), { recursive: true });
    await Deno.mkdir(join(parent, ".run-8-bbbbbbbb"));
    const years = () => Date.now() + 10 * 365 * 24 * 3600_000;
    assert.equal(await removeStaleStaging(parent, ".run-", { procDir: proc, now: years }), 1);
    assert.deepEqual(Object.keys(await tree(parent)), [".run-7-aaaaaaaa/"]);
  });
});

Deno.test("a missing parent folder has no stale staging folders", async () => {
  await withTempDir(async (dir) => {
    assert.equal(await removeStaleStaging(join(dir, "nothing-here"), ".run-"), 0);
  });
});

Deno.test("the swap replaces files and folders, removes outputs the new run lacks, and keeps the rest", async () => {
  await withTempDir(async (target) => {
    await write(target, {
      "kafka/log": "old log",
      "lake/topics/a.json": "old a",
      "lake/topics/b.json": "old b",
      "out/report.html": "old report",
      "answers/q1.csv": "old q1",
      "answers/q2.csv": "old q2",
      "notes.txt": "not an output",
    });
    const staging = await Staging.create(target, ".run-");
    await write(staging.path, {
      "kafka/log": "new log",
      "lake/topics/a.json": "new a",
      "answers/q1.csv": "new q1",
      "summary.json": "new summary",
    });
    // A reader that opened the old file before the swap keeps reading the old file.
    const reader = await Deno.open(join(target, "answers/q1.csv"));
    const newQ1 = Deno.statSync(join(staging.path, "answers/q1.csv")).ino;
    const newLake = Deno.statSync(join(staging.path, "lake")).ino;
    await staging.swapInto(target, [
      "kafka",
      "lake",
      "out",
      "answers/q1.csv",
      "answers/q2.csv",
      "summary.json",
    ]);
    assert.deepEqual(await tree(target), {
      "kafka/": "",
      "kafka/log": "new log",
      "lake/": "",
      "lake/topics/": "",
      "lake/topics/a.json": "new a",
      "answers/": "",
      "answers/q1.csv": "new q1",
      "summary.json": "new summary",
      "notes.txt": "not an output",
    });
    // Moved by rename, not copied: the same inodes as in the staging folder.
    assert.equal(Deno.statSync(join(target, "answers/q1.csv")).ino, newQ1);
    assert.equal(Deno.statSync(join(target, "lake")).ino, newLake);
    const old = new Uint8Array(6);
    assert.equal(await reader.read(old), 6);
    reader.close();
    assert.equal(new TextDecoder().decode(old), "old q1");
  });
});

Deno.test("no output file is ever missing while the swap replaces it", async () => {
  await withTempDir(async (target) => {
    const names = Array.from({ length: 100 }, (_, i) => `answers/q${i}.csv`);
    await write(target, Object.fromEntries(names.map((n) => [n, "old"])));
    const staging = await Staging.create(target, ".transform-");
    await write(staging.path, Object.fromEntries(names.map((n) => [n, "new"])));
    // A reader looking at every file each time the event loop lets it, while the swap runs.
    let missing = 0;
    let looks = 0;
    let swapping = true;
    const reader = (async () => {
      while (swapping) {
        looks++;
        for (const n of names) {
          try {
            Deno.lstatSync(join(target, n));
          } catch {
            missing++;
          }
        }
        await new Promise((r) => setTimeout(r, 0));
      }
    })();
    await staging.swapInto(target, names);
    swapping = false;
    await reader;
    assert.ok(looks > 1, "the reader looked while the swap ran");
    assert.equal(missing, 0, "a file was missing between two renames");
    assert.equal(await Deno.readTextFile(join(target, names[99])), "new");
  });
});

Deno.test("a swap that fails in the middle puts every output back and leaves no staging folder", async () => {
  await withTempDir(async (target) => {
    const before = {
      "kafka/log": "old log",
      "lake/a.json": "old a",
      "pin.parquet": "old pin",
      // A file where the new run has a folder: the swap cannot put out/report.html there.
      "out": "a file, not a folder",
    };
    await write(target, before);
    const snapshot = await tree(target);
    const staging = await Staging.create(target, ".run-");
    await write(staging.path, {
      "kafka/log": "new log",
      "lake/a.json": "new a",
      "fresh/x.json": "a folder the target lacks",
      "pin.parquet": "new pin",
      "out/report.html": "new report",
    });
    await assert.rejects(
      staging.swapInto(target, ["kafka", "lake", "fresh/x.json", "pin.parquet", "out/report.html"]),
      (err: Error) => {
        assert.match(err.message, /^Cannot swap ".*\.run-\d+-[0-9a-f]{8}" into ".*": /);
        return true;
      },
    );
    assert.deepEqual(await tree(target), snapshot, "the previous outputs as they were");
  });
});

Deno.test("a swap refuses a name that is not a relative path of an output", async () => {
  await withTempDir(async (target) => {
    const staging = await Staging.create(target, ".run-");
    for (const name of ["/etc", "../up", "a/../b", "", ".previous/x"]) {
      await assert.rejects(staging.swapInto(target, [name]), /not a relative path/, name);
    }
    await staging.discard();
    assert.deepEqual(await tree(target), {});
  });
});

Deno.test("a run discarded before any output takes the folders it made with it, and no others", async () => {
  await withTempDir(async (dir) => {
    // Made by the run (a new --out two levels down): gone with its staging folder.
    const made = await Staging.create(join(dir, "new", "out"), ".run-");
    await made.discard();
    assert.deepEqual(await tree(dir), {});
    // There before the run, empty or not: kept.
    await Deno.mkdir(join(dir, "empty"));
    const there = await Staging.create(join(dir, "empty"), ".run-");
    await there.discard();
    assert.deepEqual(await tree(dir), { "empty/": "" });
    // Made by the run and then filled by its swap: kept.
    const swapped = await Staging.create(join(dir, "filled"), ".run-");
    await write(swapped.path, { "a.txt": "new" });
    await swapped.swapInto(join(dir, "filled"), ["a.txt"]);
    assert.deepEqual(await tree(dir), { "empty/": "", "filled/": "", "filled/a.txt": "new" });
  });
});

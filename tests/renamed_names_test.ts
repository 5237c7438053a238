/**
 * Names renamed so that each means one thing (README "Names shared by the tasks"): the old
 * ones still work for one release, each use warned about on stderr naming the new name, and
 * the new ones work without a warning. Run as a user runs the tasks: as processes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Options } from "../lib/shell/cli.ts";
import { createDataset } from "../lib/source/dataset.ts";
import { FileLake } from "../lib/lake/lake.ts";
import { writeLake } from "../lib/lake/write_lake.ts";
import { run, waitFor, withBroker, withTempDir } from "./_fixtures.ts";
import { startTask } from "./_running.ts";
import { parseOptions as parseSinkOptions } from "../tasks/sink.ts";

const deno = (file: string, args: string[], env: Record<string, string> = {}) =>
  run("deno", ["run", "-A", `tasks/${file}`, ...args], { env });

Deno.test("an old name is read after the new ones, warned about once, and the new name wins", () => {
  const warned: string[] = [];
  const opts = (values: Record<string, string>, env: Record<string, string>) => {
    const o = new Options(values, env);
    o.warn = (l) => warned.push(l);
    return o;
  };
  const src = { env: "NEW_ENV", default: 1, was: { flag: "old", env: "OLD_ENV" } };

  assert.equal(opts({ new: "5", old: "6" }, { OLD_ENV: "7" }).int("new", src), 5);
  assert.equal(opts({}, { NEW_ENV: "8", OLD_ENV: "7" }).int("new", src), 8);
  assert.deepEqual(warned, [], "the new names gave no warning");

  const o = opts({ old: "6" }, {});
  assert.equal(o.int("new", src), 6);
  assert.equal(o.int("new", src), 6);
  assert.deepEqual(warned, ["warning: --old is now --new; --old still works in this release only"]);

  warned.length = 0;
  assert.equal(opts({}, { OLD_ENV: "7" }).int("new", src), 7);
  assert.deepEqual(warned, [
    "warning: OLD_ENV is now NEW_ENV; OLD_ENV still works in this release only",
  ]);

  warned.length = 0;
  const b = opts({}, { OLD_FLAG: "1" });
  assert.equal(b.bool("on", { env: "ON", was: { env: "OLD_FLAG", why: "a reason" } }), true);
  assert.deepEqual(warned, [
    "warning: OLD_FLAG is now ON (a reason); OLD_FLAG still works in this release only",
  ]);
});

Deno.test("transform's old --rows and PINPIPE_ROWS still set the rows shown, with a warning naming --show", async () => {
  await withTempDir(async (dir) => {
    const lake = join(dir, "lake");
    await writeLake(new FileLake(lake), createDataset({ rows: 300 }).postings(), {
      flushSize: 100,
    });
    const shown = (stdout: string) => {
      // Q1's table: header, rule, rows, then "… N more rows" when cut.
      const q1 = stdout.split("\n\n")[0].split("\n");
      return q1.filter((l) => !/^(Q1 |country|-|… )/.test(l) && l.trim()).length;
    };
    const base = ["--lake", lake, "--out", join(dir, "out"), "--no-report"];

    const old = await deno("transform.ts", [...base, "--rows", "2"]);
    assert.equal(old.code, 0, old.stderr);
    assert.equal(shown(old.stdout), 2);
    assert.match(
      old.stderr,
      /warning: --rows is now --show .*; --rows still works in this release/,
    );

    const oldEnv = await deno("transform.ts", base, { PINPIPE_ROWS: "3" });
    assert.equal(oldEnv.code, 0, oldEnv.stderr);
    assert.equal(shown(oldEnv.stdout), 3);
    assert.match(oldEnv.stderr, /warning: PINPIPE_ROWS is now PINPIPE_SHOW/);

    const now = await deno("transform.ts", [...base, "--show", "1"], { PINPIPE_ROWS: "3" });
    assert.equal(now.code, 0, now.stderr);
    assert.equal(shown(now.stdout), 1, "--show wins over the old variable");
    assert.doesNotMatch(now.stderr, /warning/);

    const nowEnv = await deno("transform.ts", base, { PINPIPE_SHOW: "4" });
    assert.equal(shown(nowEnv.stdout), 4);
    assert.doesNotMatch(nowEnv.stderr, /warning/);
  });
});

Deno.test("emulate's old --count still bounds the run, with a warning naming --postings", async () => {
  const old = await deno("emulate.ts", ["--out", "-", "--count", "3"]);
  assert.equal(old.code, 0, old.stderr);
  assert.equal(old.stdout.trim().split("\n").length, 9, "three postings, three records each");
  assert.match(old.stderr, /warning: --count is now --postings/);

  const now = await deno("emulate.ts", ["--out", "-", "--postings", "2"]);
  assert.equal(now.stdout.trim().split("\n").length, 6);
  assert.doesNotMatch(now.stderr, /warning/);

  const env = await deno("emulate.ts", ["--out", "-"], { PINPIPE_POSTINGS: "1" });
  assert.equal(env.stdout.trim().split("\n").length, 3);
  assert.doesNotMatch(env.stderr, /warning|until stopped/);

  const all = await deno("emulate.ts", ["--out", "-", "--rows", "5", "--postings", "all"]);
  assert.equal(all.stdout.trim().split("\n").length, 15, "all = one posting per dataset row");
});

Deno.test("the demo still reads the old PINPIPE_MODE, with a warning naming PINPIPE_EMULATE_MODE", async () => {
  await withTempDir(async (dir) => {
    const args = ["--dir", dir, "--rows", "200", "--postings", "all", "--json"];
    const old = await deno("demo.ts", args, { PINPIPE_MODE: "sequential" });
    assert.equal(old.code, 0, old.stderr);
    assert.match(old.stderr, /warning: PINPIPE_MODE is now PINPIPE_EMULATE_MODE/);
    // Sequential: every key once, so nothing to drop; random draws repeat keys.
    assert.equal(JSON.parse(old.stdout).duplicatesDropped, 0);

    const now = await deno("demo.ts", args, { PINPIPE_EMULATE_MODE: "random" });
    assert.equal(now.code, 0, now.stderr);
    assert.doesNotMatch(now.stderr, /warning/);
    assert.ok(JSON.parse(now.stdout).duplicatesDropped > 0, "random draws repeat keys");
  });
});

Deno.test({
  name:
    "rest-proxy serve still reads the old PINPIPE_AUTO_CREATE, with a warning naming PINPIPE_REST_AUTO_CREATE",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withBroker(async (broker) => {
      const proxy = startTask(
        "rest_proxy.ts",
        ["serve", "--bootstrap", broker.bootstrap, "--port", "0"],
        { PINPIPE_AUTO_CREATE: "1" },
      );
      try {
        await waitFor("the proxy's address", () => proxy.stdout().includes("\n"), 30_000);
        assert.match(
          proxy.stderr(),
          /warning: PINPIPE_AUTO_CREATE is now PINPIPE_REST_AUTO_CREATE/,
        );
        const url = proxy.stdout().trim();
        const res = await fetch(`${url}/topics/made.by.the.proxy`, {
          method: "POST",
          headers: { "content-type": "application/vnd.kafka.json.v2+json" },
          body: JSON.stringify({ records: [{ value: { a: 1 } }] }),
        });
        const body = await res.json();
        assert.equal(res.status, 200, JSON.stringify(body));
        assert.equal(body.offsets[0].error_code ?? null, null, JSON.stringify(body));
      } finally {
        proxy.kill("SIGINT");
        await proxy.ended;
      }
    }, { autoCreate: false });
  },
});

Deno.test("the sink's old --rotate-interval-ms and PINPIPE_ROTATE_INTERVAL_MS are still milliseconds, with a warning naming --rotate-interval", async () => {
  const quiet = (args: string[], env: Record<string, string> = {}) =>
    parseSinkOptions(["--bootstrap", "127.0.0.1:1", ...args], env).rotateIntervalMs;
  assert.equal(quiet(["--rotate-interval", "2s"]), 2000);
  assert.equal(quiet([], { PINPIPE_ROTATE_INTERVAL: "250ms" }), 250);
  assert.equal(quiet([]), 10_000);
  assert.equal(quiet(["--rotate-interval-ms", "250"]), 250);
  assert.equal(quiet([], { PINPIPE_ROTATE_INTERVAL_MS: "0" }), 0);
  assert.equal(quiet(["--rotate-interval", "1s", "--rotate-interval-ms", "5"]), 1000);

  // The warning, from the task as a user runs it (it then fails: nothing listens there).
  const old = await deno("sink.ts", ["--bootstrap", "127.0.0.1:1", "--rotate-interval-ms", "9"]);
  assert.equal(old.code, 1);
  assert.match(old.stderr, /warning: --rotate-interval-ms is now --rotate-interval \(a duration/);
  const env = await deno("sink.ts", ["--bootstrap", "127.0.0.1:1"], {
    PINPIPE_ROTATE_INTERVAL_MS: "9",
  });
  assert.match(env.stderr, /warning: PINPIPE_ROTATE_INTERVAL_MS is now PINPIPE_ROTATE_INTERVAL/);
  const now = await deno("sink.ts", ["--bootstrap", "127.0.0.1:1", "--rotate-interval", "9ms"]);
  assert.doesNotMatch(now.stderr, /warning/);
});

/**
 * The emulator against a Confluent v2 REST test server (batching, per-record errors,
 * retries after 503s and dropped connections, 429 + Retry-After, a 40401 stopping the
 * run), the NDJSON target, the key sequences, and the task's exit codes and Ctrl-C.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { keySequence } from "../../lib/ingest/emulator.ts";
import { envTest, ROOT, run, waitFor, withTempDir } from "../_fixtures.ts";
import { startTask } from "../../bench/_process.ts";
import { startRestV2Server } from "../testdata/emulate/rest_v2_server.ts";
import type { Reply, RestV2Server, SeenRequest } from "../testdata/emulate/rest_v2_server.ts";
import { ORIGINAL_KEYS } from "../_original_keys.ts";

async function withServer<T>(
  decide: ((req: SeenRequest) => Reply) | undefined,
  fn: (srv: RestV2Server) => Promise<T>,
  opts: { topics?: string[] } = {},
): Promise<T> {
  const srv = startRestV2Server(decide, opts);
  try {
    return await fn(srv);
  } finally {
    await srv.close();
  }
}

await envTest("random mode draws exactly what Python's random draws", ["python3"], async () => {
  const py = await run("python3", [
    "-c",
    "import random\nrandom.seed(12345)\nout=[]\nfor _ in range(200):\n  random.randrange(0, 2)\n  out.append(random.randint(0, 736))\nprint(','.join(map(str, out)))",
  ]);
  assert.equal(py.code, 0, py.stderr);
  const keys = keySequence("random", 737, 12345);
  const got = Array.from({ length: 200 }, () => keys.next().value);
  assert.equal(got.join(","), py.stdout.trim());
});

Deno.test("emulate task exits 1 with a one-line error when the proxy answers 40401", async () => {
  await withServer(undefined, async (srv) => {
    const r = await run("deno", [
      "run",
      "-A",
      "tasks/emulate.ts",
      "--rest-url",
      srv.url,
      "--prefix",
      "t",
      "--postings",
      "50",
      "--json",
      "--attempts",
      "2",
    ], { env: { PINPIPE_API_KEY: "do-not-print-me" } });
    assert.equal(r.code, 1, r.stderr);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
    assert.equal(errors.length, 1);
    assert.match(errors[0], /topic "t\.user".*40401/);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    assert.doesNotMatch(r.stdout + r.stderr, /do-not-print-me/);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.postingsRead, 50);
    assert.equal(summary.failed, 50);
    assert.match(summary.error, /40401/);
    // The records not acknowledged, by key: every t.user record of the one batch.
    assert.deepEqual(Object.keys(summary.failedKeys), ["t.user"]);
    assert.equal(summary.failedKeys["t.user"].count, 50);
    assert.deepEqual(summary.failedKeys["t.user"].keys.slice(0, 20), ORIGINAL_KEYS.map(String));
    assert.equal(srv.requests[0].headers["x-api-key"], "do-not-print-me");
  }, { topics: ["t.pin", "t.geo"] });
});

Deno.test("emulate task's summary names the first keys not acknowledged, per topic", async () => {
  await withServer(undefined, async (srv) => {
    const r = await run("deno", [
      "run",
      "-A",
      "tasks/emulate.ts",
      "--rest-url",
      srv.url,
      "--prefix",
      "t",
      "--postings",
      "50",
      "--attempts",
      "2",
    ]);
    assert.equal(r.code, 1, r.stderr);
    const [line, keys] = r.stdout.trim().split("\n");
    assert.match(line, /^50 postings read, 150 records sent, 100 acknowledged, 50 failed/);
    assert.equal(
      keys,
      `keys not acknowledged: t.user ${ORIGINAL_KEYS.slice(0, 10).join(", ")} and 40 more`,
    );
  }, { topics: ["t.pin", "t.geo"] });
});

Deno.test("emulate task writes records to stdout with --out - and the summary to stderr", async () => {
  const r = await run("deno", ["run", "-A", "tasks/emulate.ts", "--out", "-", "--postings", "4"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 12);
  assert.deepEqual(
    lines.filter((l) => l.topic === "pinpipe.pin").map((l) => Number(l.key)),
    ORIGINAL_KEYS.slice(0, 4),
  );
  assert.match(r.stderr, /4 postings read, 12 records sent, 12 acknowledged, 0 failed/);
});

Deno.test("emulate task reports every bad option at once and exits 2", async () => {
  const r = await run("deno", [
    "run",
    "-A",
    "tasks/emulate.ts",
    "--mode",
    "shuffle",
    "--batch",
    "0",
    "--rest-url",
    "http://127.0.0.1:1",
    "--out",
    "-",
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--mode "shuffle"/);
  assert.match(r.stderr, /--batch "0"/);
  assert.match(r.stderr, /Choose one target/);
});

Deno.test("Ctrl-C finishes in-flight work, prints the summary and exits 130", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "o.ndjson");
    const child = new Deno.Command("deno", {
      args: ["run", "-A", "tasks/emulate.ts", "--out", out, "--rate", "200", "--json"],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const lines = async () => {
      try {
        return (await Deno.readTextFile(out)).split("\n").filter(Boolean).length;
      } catch {
        return 0;
      }
    };
    await waitFor("records in the output file", async () => (await lines()) >= 30, 60_000, 50);
    child.kill("SIGINT");
    const res = await child.output();
    const stdout = new TextDecoder().decode(res.stdout);
    assert.equal(res.code, 130, new TextDecoder().decode(res.stderr));
    const summary = JSON.parse(stdout);
    assert.equal(summary.interrupted, true);
    assert.equal(summary.failed, 0);
    assert.equal(summary.acknowledged, summary.recordsSent);
    assert.equal(await lines(), summary.acknowledged);
  });
});

Deno.test("emulate task reads the API key from a file or a named variable, never printing it", async () => {
  await withServer(undefined, async (srv) => {
    await withTempDir(async (dir) => {
      const file = join(dir, "key");
      await Deno.writeTextFile(file, "file-key-0123456789\n");
      const base = ["run", "-A", "tasks/emulate.ts", "--rest-url", srv.url, "--postings", "2"];
      const a = await run("deno", [...base, "--api-key-file", file]);
      assert.equal(a.code, 0, a.stderr);
      const b = await run("deno", [...base, "--api-key-env", "MY_KEY"], {
        env: { MY_KEY: "env-key-0123456789" },
      });
      assert.equal(b.code, 0, b.stderr);
      const keys = new Set(srv.requests.map((r) => r.headers["x-api-key"]));
      assert.deepEqual([...keys].sort(), ["env-key-0123456789", "file-key-0123456789"]);
      assert.doesNotMatch(a.stdout + a.stderr + b.stdout + b.stderr, /0123456789/);
      const c = await run("deno", [...base, "--api-key-env", "NOT_SET_ANYWHERE"]);
      assert.equal(c.code, 2);
      assert.match(c.stderr, /--api-key-env "NOT_SET_ANYWHERE"/);
    });
  });
});

Deno.test("emulate in random mode with no --postings or --duration says at the start that it runs until stopped", async () => {
  const task = startTask("emulate.ts", ["--out", "/dev/null"]);
  try {
    await task.waitForStderr(/random mode with no --postings or --duration: sends until stopped/);
  } finally {
    task.kill("SIGINT");
  }
  const end = await task.ended;
  assert.equal(end.code, 130, task.stderr());
  // The summary still comes, on stdout, marked as interrupted.
  assert.match(task.stdout(), /postings read, .* \(interrupted\)\n$/);

  for (const bound of [["--postings", "5"], ["--duration", "200ms"], ["--mode", "sequential"]]) {
    const r = await run("deno", ["run", "-A", "tasks/emulate.ts", "--out", "/dev/null", ...bound]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /until stopped/, bound.join(" "));
  }
});

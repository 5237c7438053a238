/**
 * A host that cannot be reached is one error, within 5 s, naming the flag that points there:
 * for MySQL (seed-db --mysql-url, emulate --source), Kafka (--bootstrap) and the REST proxy
 * (emulate --rest-url). Two kinds of "unreachable" are made here on loopback: a port whose
 * listen queue is full, so the connection is never set up (as a host that drops packets), and
 * an HTTP server answering whatever it is sent (as a proxy that takes every address, which is
 * what a sandbox or a corporate network does with an unreachable one).
 *
 * The figures checked are the waits the messages state (at most 4 s), not measured times; the
 * times measured are printed.
 */
import assert from "node:assert/strict";
import { envTest, run, SYSTEM_PYTHON } from "../_fixtures.ts";

/** A loopback port that never completes a connection: its listen queue is full. */
async function blackhole(): Promise<{ port: number; close(): Promise<void> }> {
  const script = `
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
held = []
for _ in range(3):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(s.getsockname())
    except BlockingIOError: pass
    held.append(c)
time.sleep(0.3)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
`;
  const child = new Deno.Command(SYSTEM_PYTHON, {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the blackhole helper ended before printing its port");
    text += value;
  }
  reader.releaseLock();
  return {
    port: Number(text.trim()),
    async close() {
      await child.stdin.close();
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

/** Runs `deno run -A tasks/<file> …args`: exit code, stderr, and how long it took. */
async function task(file: string, args: string[]) {
  const t0 = performance.now();
  const r = await run("deno", ["run", "-A", `tasks/${file}`, ...args]);
  return { ...r, ms: performance.now() - t0 };
}

await envTest(
  "an unreachable host fails each task within 5 s, naming the flag that points there",
  ["python3"],
  async () => {
    const hole = await blackhole();
    // Anything sent gets 400 and a closed connection, as from an HTTP proxy.
    const http = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response(null, { status: 400 }),
    );
    const proxy = `127.0.0.1:${http.addr.port}`;
    const dropped = `127.0.0.1:${hole.port}`;
    const times: string[] = [];
    try {
      const cases: [string, string, string[], RegExp][] = [
        [
          "seed-db",
          "seed_db.ts",
          ["--mysql-url", `mysql://root@${dropped}/pins`],
          /^error: Cannot connect to MySQL as "root" at "mysql:\/\/root@127\.0\.0\.1:\d+\/pins" \(--mysql-url\): no answer within 4 s \(--connect-timeout/,
        ],
        [
          "seed-db, a port that is not MySQL",
          "seed_db.ts",
          ["--mysql-url", `mysql://root@${proxy}/pins`],
          /\(--mysql-url\): no answer within 4 s/,
        ],
        [
          "emulate --source",
          "emulate.ts",
          ["--source", `mysql://root@${dropped}/pins`, "--out", "-"],
          /^error: Cannot connect to MySQL as "root" at .* \(--source\): no answer within 4 s/,
        ],
        [
          "emulate --bootstrap",
          "emulate.ts",
          ["--bootstrap", dropped, "--postings", "1"],
          /^error: Cannot connect to Kafka at "127\.0\.0\.1:\d+" \(--bootstrap\): no answer within 4 s/,
        ],
        [
          "emulate --rest-url",
          "emulate.ts",
          ["--rest-url", `http://${dropped}`, "--postings", "1"],
          /^error: Cannot reach the REST proxy at --rest-url "http:\/\/127\.0\.0\.1:\d+": no answer within 4 s/m,
        ],
        [
          "topics, an HTTP proxy on the way",
          "topics.ts",
          ["--bootstrap", proxy],
          /^error: Cannot connect to Kafka at "127\.0\.0\.1:\d+" \(--bootstrap\): an HTTP server answered, not Kafka/,
        ],
        [
          "sink, an HTTP proxy on the way",
          "sink.ts",
          ["--bootstrap", proxy, "--lake", "/nonexistent/never-made", "--once"],
          /^error: Cannot connect to Kafka .* \(--bootstrap\): an HTTP server answered/m,
        ],
        [
          "rest-proxy serve, an HTTP proxy on the way",
          "rest_proxy.ts",
          ["serve", "--bootstrap", proxy, "--port", "0"],
          /Cannot connect to Kafka .* \(--bootstrap\): an HTTP server answered/,
        ],
        [
          "emulate --bootstrap, an HTTP proxy on the way",
          "emulate.ts",
          ["--bootstrap", proxy, "--postings", "1"],
          /^error: Cannot connect to Kafka .* \(--bootstrap\): an HTTP server answered/,
        ],
      ];
      for (const [name, file, args, expected] of cases) {
        const r = await task(file, args);
        times.push(`${name}: ${(r.ms / 1000).toFixed(1)} s`);
        assert.equal(r.code, 1, `${name}: ${r.stderr}`);
        assert.match(r.stderr.trim().split("\n").at(-1)!, expected, name);
      }
    } finally {
      console.log(times.join("\n"));
      await http.shutdown();
      await hole.close();
    }
  },
);

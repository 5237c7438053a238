/**
 * Failures that must say what they are (issue 11, items 7 and 11): a broker outage longer
 * than kafkajs' retry budget is a retriable 50003 that the emulator waits out up to a deadline
 * it prints; an unreachable REST proxy or Kafka is one clear error naming the flag, not a
 * minute of retry lines or a bare ECONNREFUSED.
 */
import assert from "node:assert/strict";
import { startBroker } from "../../lib/broker/broker.ts";
import type { Broker } from "../../lib/broker/broker.ts";
import { createKafka } from "../../lib/kafka/kafka_client.ts";
import { startRestProxy } from "../../lib/rest_proxy/rest_proxy.ts";
import { freePort } from "../_engines.ts";
import { ROOT, run, waitFor, withTempDir } from "../_fixtures.ts";
import { consume, createTopics, T } from "../_rest_proxy.ts";

Deno.test({
  ...T,
  name: "a broker outage past kafkajs' retries is answered 50003 and the emulator waits it out",
  fn: () =>
    withTempDir(async (dir) => {
      const port = freePort();
      let broker: Broker = await startBroker({ port, dataDir: dir });
      const kafka = createKafka({ bootstrap: broker.bootstrap, clientId: "test" });
      await createTopics(kafka, { "o.pin": 1, "o.geo": 1, "o.user": 1 });
      const proxy = await startRestProxy({ kafka });
      try {
        const child = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            "tasks/emulate.ts",
            "--rest-url",
            proxy.url,
            "--prefix",
            "o",
            "--mode",
            "sequential",
            "--postings",
            "120",
            "--rate",
            "60",
            "--batch",
            "10",
            "--json",
          ],
          cwd: ROOT,
          env: { NO_COLOR: "1" },
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        let stderr = "";
        const readErr = (async () => {
          for await (const t of child.stderr.pipeThrough(new TextDecoderStream())) stderr += t;
        })();
        const readOut = new Response(child.stdout).text();
        await waitFor("records to flow", () => proxy.stats().records > 0, 60_000);
        await broker.close();
        // The outage outlasts kafkajs' retries and the emulator's first retry: the broker comes
        // back only once a retried batch has failed again.
        await waitFor(
          "the emulator's first retry line",
          () => /\(attempt 2\)/.test(stderr),
          60_000,
          50,
        );
        const failed = proxy.stats().recordErrors;
        await waitFor("a retried batch to fail again", () =>
          proxy.stats().recordErrors > failed, 60_000);
        broker = await startBroker({ port, dataDir: dir });
        const [status, stdout] = await Promise.all([child.status, readOut, readErr]).then((
          [st, out],
        ) =>
          [st, out] as const
        );
        const out = { code: status.code };
        assert.equal(out.code, 0, stderr);
        const summary = JSON.parse(stdout);
        assert.equal(summary.acknowledged, 360);
        assert.ok(summary.retries > 0);
        assert.match(stderr, /error_code.*50003|50003/);
        assert.match(stderr, /retrying until \d\d:\d\d:\d\d UTC/);
        assert.doesNotMatch(stderr, /50002/);
        const held = await consume(kafka, "o.user", 120);
        assert.equal(
          new Set(held.map((h) => new TextDecoder().decode(h.key!))).size,
          120,
        );
      } finally {
        await proxy.close();
        await broker.close();
      }
    }),
});

Deno.test("emulate with an unreachable --rest-url fails at once with one error naming the flag", async () => {
  const port = freePort();
  const r = await run("deno", [
    "run",
    "-A",
    "tasks/emulate.ts",
    "--rest-url",
    `http://127.0.0.1:${port}/stage`,
    "--postings",
    "10",
  ]);
  assert.equal(r.code, 1, r.stderr);
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
  assert.deepEqual(errors, [
    `error: Cannot reach the REST proxy at --rest-url "http://127.0.0.1:${port}/stage": connection refused (ECONNREFUSED): nothing listens there`,
  ]);
  assert.doesNotMatch(r.stderr, /retrying/);
});

Deno.test("emulate with a --rest-url that never answers gives up after 5 s naming the flags", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) held.push(c);
  })().catch(() => {});
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const emulate = (...more: string[]) =>
      run("deno", [
        "run",
        "-A",
        "tasks/emulate.ts",
        "--rest-url",
        `http://127.0.0.1:${port}`,
        "--postings",
        "3",
        ...more,
      ]);
    const r = await emulate();
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /error: Cannot reach the REST proxy at --rest-url "http:\/\/127\.0\.0\.1:\d+": no answer within 4 s \(--connect-timeout or PINPIPE_CONNECT_TIMEOUT gives it longer\)/,
    );
    assert.doesNotMatch(r.stderr, /retrying/);
    // The wait is the flag's.
    const short = await emulate("--connect-timeout", "700ms");
    assert.equal(short.code, 1, short.stderr);
    assert.match(short.stderr, /no answer within 700 ms \(--connect-timeout/);
  } finally {
    listener.close();
    for (const c of held) c.close();
    await accepting;
  }
});

Deno.test("rest-proxy serve with Kafka unreachable names Kafka and --bootstrap", async () => {
  const port = freePort();
  const r = await run("deno", [
    "run",
    "-A",
    "tasks/rest_proxy.ts",
    "serve",
    "--bootstrap",
    `127.0.0.1:${port}`,
    "--port",
    "0",
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(
    r.stderr.trim(),
    `error: Cannot connect to Kafka at "127.0.0.1:${port}" (--bootstrap): the connection was refused`,
  );
  assert.equal(r.stdout, "");
});

Deno.test("rest-proxy serve against a port that never answers as Kafka names --tls and --connect-timeout", async () => {
  // A listener that takes connections and says nothing, as a TLS port does to a plain client.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) held.push(c);
  })().catch(() => {});
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const r = await run("deno", [
      "run",
      "-A",
      "tasks/rest_proxy.ts",
      "serve",
      "--bootstrap",
      `127.0.0.1:${port}`,
      "--port",
      "0",
      "--connect-timeout",
      "1500ms",
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr.trim(),
      `error: Cannot connect to Kafka at "127.0.0.1:${port}" (--bootstrap): it took the connection ` +
        "but did not answer the REST proxy's clients within 1.5 s (is it a TLS listener? then add " +
        "--tls; --connect-timeout or PINPIPE_CONNECT_TIMEOUT gives it longer)",
    );
  } finally {
    listener.close();
    for (const c of held) c.close();
    await accepting;
  }
});

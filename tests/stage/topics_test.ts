/**
 * `deno task topics` against the embedded broker (real Kafka protocol, real kafkajs):
 * creating the three topics, skipping those that exist, deleting with and without
 * confirmation, a dry run, and the task run as a program.
 */
import assert from "node:assert/strict";
import { startBroker } from "../../lib/broker/broker.ts";
import { run, waitFor, withTempDir } from "../_fixtures.ts";
import { closedPort, silentServer } from "../_net.ts";
import { startTask } from "../../bench/_process.ts";

const T = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  ...T,
  name: "the topics task creates, then skips, then deletes with --yes, as a program",
  fn: async () => {
    const broker = await startBroker({ port: 0 });
    try {
      await withTempDir(async (dir) => {
        const env = { PINPIPE_CONFIG: `${dir}/none.json` };
        const args = [
          "run",
          "-A",
          "tasks/topics.ts",
          "--bootstrap",
          broker.bootstrap,
          "--prefix",
          "cli",
        ];
        const first = await run("deno", [...args, "--partitions", "2", "--json"], { env });
        assert.equal(first.code, 0, first.stderr);
        assert.deepEqual(JSON.parse(first.stdout).topics.map((t: { action: string }) => t.action), [
          "created",
          "created",
          "created",
        ]);
        const second = await run("deno", args, { env });
        assert.equal(second.code, 0, second.stderr);
        assert.match(
          second.stdout,
          /^exists\s+cli\.pin \(2 partitions\): has 2 partitions, not 3: left as it is$/m,
        );
        const refuse = await run("deno", [...args, "--delete"], { env });
        assert.equal(refuse.code, 2, refuse.stderr);
        assert.match(
          refuse.stderr,
          /Refusing to delete "cli.pin", "cli.geo", "cli.user" without confirmation: pass --yes/,
        );
        const del = await run("deno", [...args, "--delete", "--yes"], { env });
        assert.equal(del.code, 0, del.stderr);
        assert.match(del.stdout, /^deleted\s+cli\.user$/m);
      });
    } finally {
      await broker.close();
    }
  },
});

Deno.test("the topics task fails within 5 s naming --bootstrap when nothing listens there", async () => {
  const address = `127.0.0.1:${closedPort()}`;
  const task = startTask("topics.ts", ["--bootstrap", address]);
  const end = await task.ended;
  assert.equal(end.code, 1);
  assert.ok(end.ms < 5000 + 3000, `took ${end.ms} ms (Deno's start included)`);
  assert.equal(
    task.stderr().trim(),
    `error: Cannot connect to Kafka at "${address}" (--bootstrap): the connection was refused`,
  );
});

Deno.test("Ctrl-C stops the topics task at once with exit 130, even when the cluster never answers", async () => {
  const server = silentServer();
  try {
    const task = startTask("topics.ts", [], { PINPIPE_BOOTSTRAP: server.address });
    // The reachability check connects once; kafkajs then connects and waits for an answer
    // that never comes.
    await waitFor("kafkajs to connect", () => server.accepted() >= 2, 30_000);
    const sent = performance.now();
    task.kill("SIGINT");
    const end = await task.ended;
    assert.equal(end.code, 130, task.stderr());
    assert.equal(end.signal, null, "it exited by itself, not by the signal");
    assert.ok(performance.now() - sent < 3000, "it did not wait for the cluster");
    assert.match(task.stderr(), /interrupted\n?$/);
  } finally {
    server.close();
  }
});
Deno.test("the topics task gives up on a cluster that never answers, naming --tls and --connect-timeout", async () => {
  const server = silentServer();
  try {
    const task = startTask("topics.ts", ["--bootstrap", server.address, "--connect-timeout", "1s"]);
    const end = await task.ended;
    assert.equal(end.code, 1, task.stderr());
    assert.equal(
      task.stderr().trim(),
      `error: Cannot connect to Kafka at "${server.address}" (--bootstrap): it took the connection ` +
        "but did not answer the admin client within 1 s (is it a TLS listener? then add --tls; " +
        "--connect-timeout or PINPIPE_CONNECT_TIMEOUT gives it longer)",
    );
  } finally {
    server.close();
  }
});

/**
 * pinpipe's own tasks with `--auth scram-sha-512` (the password from PINPIPE_KAFKA_PASSWORD,
 * never a flag) against the embedded broker's SASL_SSL listener, its CA trusted through
 * DENO_CERT: `topics` creates the topics and `emulate --bootstrap` sends into them; a wrong
 * password is refused with Kafka's message, which the task shows, and is in no output.
 */
import assert from "node:assert/strict";
import { startBroker } from "../../lib/broker/broker.ts";
import { parseListener } from "../../lib/broker/sasl.ts";
import { run } from "../_fixtures.ts";

const PASSWORD = "pinpipe-Scram-Secret-1";

Deno.test("topics and emulate with --auth scram-sha-512 over TLS; a wrong password refused", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "pinpipe-scram-task-" });
  const lines: string[] = [];
  try {
    await Deno.writeTextFile(`${dir}/users.json`, JSON.stringify({ pinpipe: PASSWORD }));
    const b = await startBroker({
      tlsDir: dir,
      saslUsersFile: `${dir}/users.json`,
      listeners: [parseListener("SCRAM=SASL_SSL://127.0.0.1:0")],
      logger: (l) => lines.push(l),
    });
    try {
      const task = (args: string[], password: string) =>
        run("deno", [
          "run",
          "-A",
          ...args,
          "--bootstrap",
          b.bootstrap,
          "--auth",
          "scram-sha-512",
          "--tls",
        ], {
          env: {
            DENO_CERT: b.tls!.caFile!,
            PINPIPE_KAFKA_USER: "pinpipe",
            PINPIPE_KAFKA_PASSWORD: password,
          },
        });
      const made = await task(
        ["tasks/topics.ts", "--partitions", "1", "--replication", "1"],
        PASSWORD,
      );
      assert.equal(made.code, 0, made.stderr);
      const sent = await task(
        ["tasks/emulate.ts", "--rows", "10", "--mode", "sequential"],
        PASSWORD,
      );
      assert.equal(sent.code, 0, sent.stderr);
      assert.match(sent.stdout + sent.stderr, /30 acknowledged, 0 failed/);
      assert.ok(
        lines.some((l) => l.startsWith("authenticated User:pinpipe with SCRAM-SHA-512 on SCRAM")),
      );
      const wrong = "not-the-Password-9";
      const refused = await task(
        ["tasks/topics.ts", "--partitions", "1", "--replication", "1"],
        wrong,
      );
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.stderr,
        /Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512/,
      );
      for (const text of [...lines, refused.stderr, refused.stdout, sent.stderr]) {
        assert.ok(!text.includes(PASSWORD) && !text.includes(wrong), `a password in: ${text}`);
      }
    } finally {
      await b.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * The emulator straight to Kafka (kafkajs) on the embedded broker: exact counts on the
 * three topics, a posting's records share its key, values round-trip, and a missing topic
 * stops the run with the topic named.
 */
import assert from "node:assert/strict";
import { run, withBroker } from "../_fixtures.ts";
import { closedPort } from "../_net.ts";
import { startTask } from "../../bench/_process.ts";

const SANITIZE = { sanitizeOps: false, sanitizeResources: false };

Deno.test("the emulate task fails within 5 s naming --bootstrap when Kafka cannot be reached", async () => {
  const address = `127.0.0.1:${closedPort()}`;
  const task = startTask("emulate.ts", ["--bootstrap", address, "--postings", "10"]);
  const end = await task.ended;
  assert.equal(end.code, 1);
  assert.ok(end.ms < 5000 + 3000, `took ${end.ms} ms (Deno's start included)`);
  assert.equal(
    task.stderr().trim(),
    `error: Cannot connect to Kafka at "${address}" (--bootstrap): the connection was refused`,
  );
});

Deno.test({
  name: "kafkajs prints no TimeoutNegativeWarning, and other process warnings still show",
  ...SANITIZE,
  fn: async () => {
    await withBroker(async (broker) => {
      // A client straight from lib/deps/kafkajs.ts, as the broker's tests make them.
      const script = `
        import process from "node:process";
        import { Kafka, logLevel } from "${new URL("../../lib/deps/kafkajs.ts", import.meta.url)}";
        const kafka = new Kafka({ brokers: ["${broker.bootstrap}"], logLevel: logLevel.NOTHING });
        const admin = kafka.admin();
        await admin.connect();
        await admin.createTopics({ topics: [{ topic: "w" }] });
        const producer = kafka.producer();
        await producer.connect();
        for (let i = 0; i < 20; i++) await producer.send({ topic: "w", messages: [{ value: "x" }] });
        await producer.disconnect();
        await admin.listTopics();
        await admin.disconnect();
        process.emitWarning("a real one", "TimeoutNegativeWarning");
      `;
      const r = await run("deno", ["eval", "--ext=ts", script]);
      assert.equal(r.code, 0, r.stderr);
      const warnings = r.stderr.split("\n").filter((l) => /TimeoutNegativeWarning/.test(l));
      assert.equal(warnings.length, 1, r.stderr);
      assert.match(warnings[0], /a real one/);
    });
  },
});

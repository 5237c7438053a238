/**
 * The idempotent producer (issue 10 item 2): InitProducerId hands out producer ids that
 * are never reused; a retried batch is answered with its first offset and not appended
 * twice, also after a restart and after retention deleted its segment; a sequence gap gets
 * OUT_OF_ORDER_SEQUENCE_NUMBER and an older epoch INVALID_PRODUCER_EPOCH; transactions are
 * refused the way a Kafka broker refuses them to a client that may not use them.
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "../../lib/deps/kafkajs.ts";
import { hasCommand, withBroker } from "../_fixtures.ts";
import { Oracle } from "../_broker_oracle.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function highWatermark(o: Oracle, topic: string): Promise<number> {
  const res = await o.call("ListOffsets", 2, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ topic, partitions: [{ partition: 0, timestamp: -1 }] }],
  });
  return Number(res.responses[0].partitions[0].offset);
}

Deno.test({
  name: "kafkajs and kcat idempotent producers write every record once",
  ...opts,
  fn: () =>
    withBroker(async (broker) => {
      const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      for (let i = 0; i < 5; i++) {
        await producer.send({ topic: "both", acks: -1, messages: [{ value: `js${i}` }] });
      }
      await producer.disconnect();
      let expected = 5;
      if (await hasCommand("kcat", ["-V"])) {
        const kcat = new Deno.Command("kcat", {
          args: ["-b", broker.bootstrap, "-P", "-t", "both", "-X", "enable.idempotence=true"],
          stdin: "piped",
          stdout: "null",
          stderr: "piped",
        }).spawn();
        const w = kcat.stdin.getWriter();
        await w.write(new TextEncoder().encode("k1\nk2\nk3\n"));
        await w.close();
        const out = await kcat.output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        expected += 3;
      } else {
        console.error("kcat is not installed: only kafkajs was checked");
      }
      const o = await Oracle.open(broker.bootstrap);
      try {
        assert.equal(await highWatermark(o, "both"), expected);
      } finally {
        o.close();
      }
    }, { autoCreate: true }),
});

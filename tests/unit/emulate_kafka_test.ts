/**
 * The emulator straight to Kafka (kafkajs) on the embedded broker: exact counts on the
 * three topics, a posting's records share its key, values round-trip, and a missing topic
 * stops the run with the topic named.
 */
import assert from "node:assert/strict";
import { createDataset } from "../../lib/source/dataset.ts";
import { datasetSource, emulate } from "../../lib/ingest/emulator.ts";
import { createKafka } from "../../lib/kafka/kafka_client.ts";
import { KafkaTarget, keyHashPartitioner } from "../../lib/ingest/kafka_target.ts";
import {
  encodeWith,
  installFastVarints,
  originalVarints,
} from "../../lib/kafka/kafkajs_varints.ts";
import { KafkajsEncoder } from "../../lib/deps/kafkajs_encoder.ts";
import { Partitioners } from "../../lib/deps/kafkajs.ts";
import { waitFor, withBroker } from "../_fixtures.ts";

const SANITIZE = { sanitizeOps: false, sanitizeResources: false };

async function createTopics(bootstrap: string, topics: string[]): Promise<void> {
  const admin = createKafka({ bootstrap }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: topics.map((topic) => ({ topic, numPartitions: 1 })),
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

/** Every record of `topics`, read from the beginning with a kafkajs consumer. */
async function consumeAll(
  bootstrap: string,
  topics: string[],
  expected: number,
): Promise<Map<string, { key: string; value: unknown }[]>> {
  const got = new Map<string, { key: string; value: unknown }[]>(topics.map((t) => [t, []]));
  // A short fetch wait: disconnect() waits for the fetch in flight.
  const consumer = createKafka({ bootstrap }).consumer({
    groupId: `test-${crypto.randomUUID()}`,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    let n = 0;
    await consumer.run({
      eachMessage: ({ topic, message }) => {
        got.get(topic)!.push({
          key: message.key!.toString(),
          value: JSON.parse(message.value!.toString()),
        });
        n++;
        return Promise.resolve();
      },
    });
    await waitFor(`${expected} records`, () => n >= expected, 60_000, 50);
  } finally {
    await consumer.disconnect();
  }
  return got;
}

Deno.test({
  name: "emulating to Kafka from producer threads delivers every record once, keyed by posting",
  ...SANITIZE,
  fn: async () => {
    await withBroker(async (broker) => {
      const topics = ["k.pin", "k.geo", "k.user"];
      await createTopics(broker.bootstrap, topics);
      const ds = createDataset({ rows: 800 });
      // Two producer threads: batches alternate between them.
      const target = await KafkaTarget.connect({ bootstrap: broker.bootstrap }, {
        bootstrap: broker.bootstrap,
        workers: 2,
      });
      const res = await emulate(
        { prefix: "k", mode: "sequential", seed: 100, rate: 0, batch: 150, concurrency: 4 },
        { source: datasetSource(ds), target },
      );
      await target.close();
      assert.equal(res.error, undefined);
      assert.equal(res.postingsRead, 800);
      assert.equal(res.acknowledged, 2400);
      assert.equal(res.failed, 0);

      const got = await consumeAll(broker.bootstrap, topics, 2400);
      const parts = ["pin", "geo", "user"] as const;
      for (const part of parts) {
        const recs = got.get(`k.${part}`)!;
        assert.equal(recs.length, 800, `k.${part}`);
        assert.deepEqual(
          recs.map((r) => Number(r.key)).sort((a, b) => a - b),
          Array.from({ length: 800 }, (_, i) => i),
        );
        for (const r of recs) {
          assert.match(r.key, /^\d+$/);
          assert.equal(JSON.stringify(r.value), JSON.stringify(ds.posting(Number(r.key))[part]));
        }
      }
    });
  },
});

for (const where of ["this thread", "a producer thread"]) {
  Deno.test({
    name: `emulating to missing topics from ${where} fails at once, naming every missing topic`,
    ...SANITIZE,
    fn: async () => {
      await withBroker(async (broker) => {
        await createTopics(broker.bootstrap, ["missing.geo"]);
        const opts = { bootstrap: broker.bootstrap, maxAttempts: 10, baseMs: 1000, workers: 1 };
        const target = where === "this thread"
          ? await KafkaTarget.connect(createKafka({ bootstrap: broker.bootstrap }), opts)
          : await KafkaTarget.connect({ bootstrap: broker.bootstrap }, opts);
        const res = await emulate(
          { prefix: "missing", mode: "sequential", seed: 1, rate: 0, batch: 10, concurrency: 1 },
          { source: datasetSource(createDataset({ rows: 20 })), target },
        );
        await target.close();
        assert.ok(res.error, "the run did not fail");
        assert.equal(
          res.error.message,
          `Cannot send to topics "missing.pin", "missing.user": Kafka at ${broker.bootstrap} has no such topics (\`deno task topics\` creates them; or is --prefix wrong?)`,
        );
        assert.equal(res.retries, 0, "nothing was retried");
        assert.equal(res.recordsSent, 0);
      });
    },
  });

  Deno.test({
    name:
      `a send to a topic that is gone from ${where} is retried, then fails naming the topic, key and error`,
    ...SANITIZE,
    fn: async () => {
      await withBroker(async (broker) => {
        const opts = { bootstrap: broker.bootstrap, maxAttempts: 2, baseMs: 10, workers: 1 };
        const target = where === "this thread"
          ? await KafkaTarget.connect(createKafka({ bootstrap: broker.bootstrap }), opts)
          : await KafkaTarget.connect({ bootstrap: broker.bootstrap }, opts);
        let retries = 0;
        await assert.rejects(
          target.send("gone.pin", [{ key: "0", value: { index: 0 } }], {
            onAck: () => {},
            onRetry: () => retries++,
          }),
          (err: Error) => {
            assert.match(err.message, /topic "gone\.pin"/);
            assert.match(err.message, /key "0"/);
            assert.match(err.message, /UNKNOWN_TOPIC_OR_PARTITION/);
            assert.match(err.message, /gave up after 2 attempts/);
            return true;
          },
        );
        await target.close();
        assert.equal(retries, 1);
      });
    },
  });
}

Deno.test("the key-hash partitioner picks the partition kafkajs's DefaultPartitioner picks", () => {
  const theirs = Partitioners.DefaultPartitioner();
  const mine = keyHashPartitioner();
  for (const n of [1, 2, 3, 7, 12, 50]) {
    const partitionMetadata = Array.from({ length: n }, (_, i) => ({
      partitionId: i,
      leader: 0,
      replicas: [0],
      isr: [0],
      partitionErrorCode: 0,
    }));
    for (let k = 0; k < 3000; k++) {
      for (const key of [String(k), `k-${k}-é✓🙂`, "x".repeat(k % 9)]) {
        const want = theirs({ topic: "t", partitionMetadata, message: { key, value: "" } });
        assert.equal(
          mine({ partitionMetadata, message: { key } }),
          want,
          `key ${key}, ${n} partitions`,
        );
      }
    }
  }
});

Deno.test("the fast varints write exactly the bytes kafkajs's own encoder writes", () => {
  installFastVarints();
  const ints = [0, 1, 63, 64, 127, 128, 300, 16383, 16384, 2 ** 21, 2 ** 28, 2 ** 31, 2 ** 32 - 1];
  for (let i = 0; i < 2000; i++) ints.push(Math.floor(Math.random() * 2 ** 32));
  for (const v of ints) {
    assert.deepEqual(
      encodeWith((e) => e.writeUVarInt(v)),
      encodeWith((e) => originalVarints.writeUVarInt.call(e, v)),
      `uvarint ${v}`,
    );
  }
  const longs: unknown[] = [
    0,
    1,
    -1,
    63,
    -64,
    1000,
    -1000,
    2 ** 30 - 1,
    -(2 ** 30),
    2 ** 30,
    2 ** 40,
  ];
  longs.push(-(2 ** 45), Date.now(), -Date.now(), "12345", 0.5 * 2);
  for (let i = 0; i < 2000; i++) longs.push(Math.floor((Math.random() - 0.5) * 2 ** 33));
  for (const v of longs) {
    assert.deepEqual(
      encodeWith((e) => e.writeVarLong(v)),
      encodeWith((e) => originalVarints.writeVarLong.call(e, v)),
      `varlong ${v}`,
    );
    // deno-lint-ignore no-explicit-any
    const size = (KafkajsEncoder as any).sizeOfVarLong(v);
    assert.equal(size, originalVarints.sizeOfVarLong.call(KafkajsEncoder, v), `size ${v}`);
  }
  // Several writes in a row land one after another in the same buffer.
  const many = encodeWith((e) => {
    for (let i = 0; i < 600; i++) e.writeUVarInt(i * 1000);
  });
  const manyOriginal = encodeWith((e) => {
    for (let i = 0; i < 600; i++) originalVarints.writeUVarInt.call(e, i * 1000);
  });
  assert.deepEqual(many, manyOriginal);
});

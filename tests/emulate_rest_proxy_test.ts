/**
 * The emulator through pinpipe's own REST proxy into the embedded broker: the whole
 * original path (emulator -> API Gateway-style REST proxy with an API key -> Kafka), and
 * the Kafka keys it leaves behind are the bare decimal posting keys, as the Kafka target's.
 */
import assert from "node:assert/strict";
import { createDataset } from "../lib/source/dataset.ts";
import { datasetSource, emulate } from "../lib/ingest/emulator.ts";
import { createKafka } from "../lib/kafka/kafka_client.ts";
import { RestProducer } from "../lib/ingest/rest_client.ts";
import { startRestProxy } from "../lib/rest_proxy/rest_proxy.ts";
import { waitFor, withBroker } from "./_fixtures.ts";

Deno.test({
  name: "postings sent through the REST proxy reach Kafka keyed by the bare posting key",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withBroker(async (broker) => {
      const kafka = createKafka({ bootstrap: broker.bootstrap });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({
        topics: ["r.pin", "r.geo", "r.user"].map((topic) => ({ topic, numPartitions: 2 })),
      });
      await admin.disconnect();
      const apiKey = "a-test-api-key-of-some-length";
      const proxy = await startRestProxy({ kafka, port: 0, basePath: "/test", apiKey });
      const ds = createDataset({ rows: 300 });
      try {
        const res = await emulate(
          { prefix: "r", mode: "sequential", seed: 100, rate: 0, batch: 64, concurrency: 4 },
          { source: datasetSource(ds), target: new RestProducer({ baseUrl: proxy.url, apiKey }) },
        );
        assert.equal(res.error, undefined);
        assert.equal(res.acknowledged, 900);
      } finally {
        await proxy.close();
      }

      // A short fetch wait: disconnect() waits for the fetch in flight.
      const consumer = kafka.consumer({
        groupId: `t-${crypto.randomUUID()}`,
        maxWaitTimeInMs: 100,
      });
      const seen: { topic: string; key: string; value: string }[] = [];
      await consumer.connect();
      try {
        await consumer.subscribe({ topics: ["r.pin", "r.geo", "r.user"], fromBeginning: true });
        await consumer.run({
          eachMessage: ({ topic, message }) => {
            seen.push({ topic, key: message.key!.toString(), value: message.value!.toString() });
            return Promise.resolve();
          },
        });
        await waitFor("900 records", () => seen.length >= 900, 60_000, 50);
      } finally {
        await consumer.disconnect();
      }
      assert.equal(seen.length, 900);
      for (const r of seen) {
        assert.match(r.key, /^(0|[1-9]\d*)$/, `key ${r.key} is not a bare decimal`);
        const part = r.topic.slice(2) as "pin" | "geo" | "user";
        assert.equal(r.value, JSON.stringify(ds.posting(Number(r.key))[part]));
      }
    });
  },
});

/**
 * The emulator through pinpipe's own REST proxy into the embedded broker: the whole
 * original path (emulator -> API Gateway-style REST proxy with an API key -> Kafka), and
 * the Kafka keys it leaves behind are the bare decimal posting keys, as the Kafka target's;
 * and records the proxy refuses are named by key in the emulator's summary and JSON.
 */
import assert from "node:assert/strict";
import { createDataset } from "../../lib/source/dataset.ts";
import {
  datasetSource,
  emulate,
  FAILED_KEYS_KEPT,
  resultJson,
  summarize,
} from "../../lib/ingest/emulator.ts";
import { createKafka } from "../../lib/kafka/kafka_client.ts";
import { RestProducer } from "../../lib/ingest/rest_client.ts";
import { startRestProxy } from "../../lib/rest_proxy/rest_proxy.ts";
import { waitFor, withBroker } from "../_fixtures.ts";

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

Deno.test({
  name: "records the proxy refuses are listed by key, per topic, in the summary and the JSON",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withBroker(async (broker) => {
      const kafka = createKafka({ bootstrap: broker.bootstrap });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({
        topics: ["f.pin", "f.geo", "f.user"].map((topic) => ({ topic })),
      });
      await admin.disconnect();
      // Pin rows run from about 420 to 850 bytes, geo and user rows stay under 150: with a
      // 560-byte limit the proxy refuses (50002) about a third of the pins and nothing else.
      const proxy = await startRestProxy({ kafka, port: 0, maxRecordBytes: 560 });
      const ds = createDataset({ rows: 300 });
      try {
        const res = await emulate(
          { prefix: "f", mode: "sequential", seed: 100, rate: 0, batch: 50, concurrency: 1 },
          { source: datasetSource(ds), target: new RestProducer({ baseUrl: proxy.url }) },
        );
        // The first batch (the pins of keys 0-49) is partly refused, and the run stops there.
        const size = (k: number) =>
          new TextEncoder().encode(`${k}${JSON.stringify(ds.posting(k).pin)}`).length;
        const want = Array.from({ length: 50 }, (_, k) => k).filter((k) => size(k) > 560);
        assert.ok(want.length > 10, `${want.length} pins over the limit`);
        assert.match(String(res.error), /error_code 50002/);
        assert.equal(res.failed, want.length);
        assert.equal(res.acknowledged + res.failed, res.recordsSent);
        assert.deepEqual(res.failedKeys, {
          "f.pin": { count: want.length, keys: want.map(String) },
        });
        const [line, keys] = summarize(res).split("\n");
        assert.match(line, new RegExp(`, ${want.length} failed, `));
        assert.equal(
          keys,
          `keys not acknowledged: f.pin ${want.slice(0, 10).join(", ")} and ${
            want.length - 10
          } more`,
        );
        const json = JSON.parse(JSON.stringify(resultJson(res)));
        assert.deepEqual(json.failedKeys, res.failedKeys);
      } finally {
        await proxy.close();
      }
    });
  },
});

Deno.test("the failed keys kept are bounded per topic, and the rest counted", () => {
  const res = {
    source: "s",
    target: "t",
    mode: "sequential" as const,
    topics: ["x.pin", "x.geo", "x.user"],
    postingsRead: 0,
    missing: 0,
    recordsSent: 0,
    acknowledged: 0,
    failed: 250,
    failedKeys: {
      "x.geo": { count: 240, keys: Array.from({ length: FAILED_KEYS_KEPT }, (_, i) => `${i}`) },
      "x.user": { count: 10, keys: ["7", "8", "9", "10", "11", "12", "13", "14", "15", "16"] },
    },
    retries: 0,
    errors: 1,
    elapsedSec: 1,
    postingsPerSec: 0,
    recordsPerSec: 0,
    interrupted: false,
  };
  assert.equal(
    summarize(res).split("\n")[1],
    "keys not acknowledged: x.geo 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 230 more; " +
      "x.user 7, 8, 9, 10, 11, 12, 13, 14, 15, 16",
  );
  assert.equal(resultJson(res).failedKeys, res.failedKeys);
  assert.equal(summarize({ ...res, failed: 0, failedKeys: {} }).includes("\n"), false);
});

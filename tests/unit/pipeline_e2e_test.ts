/**
 * End to end: the emulator posts the synthetic dataset through the local REST proxy into
 * the embedded broker, and the sink lands it in a lake on disk and on s3rver. Every posting
 * must land exactly once, in the S3 sink layout, checked by offsets (no offset twice, none
 * missing) and by content (every (topic, key) present with the dataset's row) — for flush
 * sizes 1 and 1000, with the sink SIGKILLed and restarted mid-stream, and with the REST proxy
 * overloaded into answering 429s.
 */
import assert from "node:assert/strict";
import { startBroker } from "../../lib/broker/broker.ts";
import type { Broker } from "../../lib/broker/broker.ts";
import { createKafka } from "../../lib/kafka/kafka_client.ts";
import type { Kafka } from "../../lib/deps/kafkajs.ts";
import { createDataset } from "../../lib/source/dataset.ts";
import type { Dataset } from "../../lib/source/dataset.ts";
import { datasetSource, emulate } from "../../lib/ingest/emulator.ts";
import type { EmulateResult } from "../../lib/ingest/emulator.ts";
import { RestProducer } from "../../lib/ingest/rest_client.ts";
import { startRestProxy } from "../../lib/rest_proxy/rest_proxy.ts";
import type { RestProxyOptions } from "../../lib/rest_proxy/rest_proxy.ts";
import { FileLake, S3Lake } from "../../lib/lake/lake.ts";
import type { Lake } from "../../lib/lake/lake.ts";
import { runSink, topicsRegex } from "../../lib/lake/sink.ts";
import { withS3rver, withTempDir } from "../_fixtures.ts";
import { assertLakeHoldsDataset, PREFIX, TOPICS } from "../_pipeline_lake.ts";

const T = { sanitizeOps: false, sanitizeResources: false };

/** A broker with the three topics (2 partitions each) and a REST proxy in front of it. */
async function withPipeline(
  fn: (
    ctx: { broker: Broker; kafka: Kafka; restUrl: string; stats: () => number },
  ) => Promise<void>,
  proxyOpts: Partial<RestProxyOptions> = {},
): Promise<void> {
  const broker = await startBroker({ port: 0 });
  const kafka = createKafka({ bootstrap: broker.bootstrap, clientId: "e2e" });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: TOPICS.map((topic) => ({ topic, numPartitions: 2 })) });
  await admin.disconnect();
  const proxy = await startRestProxy({ kafka, ...proxyOpts });
  try {
    await fn({ broker, kafka, restUrl: proxy.url, stats: () => proxy.stats().rejected429 });
  } finally {
    await proxy.close();
    await broker.close();
  }
}

async function emulateThrough(
  restUrl: string,
  ds: Dataset,
  opts: { rate?: number; concurrency?: number; batch?: number } = {},
): Promise<EmulateResult> {
  const rest = new RestProducer({ baseUrl: restUrl, baseMs: 20, maxMs: 500, maxAttempts: 50 });
  const res = await emulate({
    prefix: PREFIX,
    mode: "sequential",
    seed: 100,
    count: ds.rows,
    rate: opts.rate ?? 0,
    batch: opts.batch ?? 50,
    concurrency: opts.concurrency ?? 4,
  }, {
    source: datasetSource(ds),
    target: rest,
  });
  assert.equal(res.error?.message, undefined);
  assert.equal(res.acknowledged, ds.rows * 3);
  return res;
}

function withS3Lake(fn: (lake: Lake) => Promise<void>): Promise<void> {
  return withS3rver(["lake"], ({ client }) => fn(new S3Lake(client, "lake", "pinpipe")));
}

Deno.test({
  ...T,
  name: "every posting lands exactly once on disk and on s3rver, with flush sizes 1 and 1000",
  fn: () =>
    withPipeline(async ({ kafka, restUrl }) => {
      const ds = createDataset({ rows: 150, seed: 7 });
      await emulateThrough(restUrl, ds);
      await withTempDir(async (dir) => {
        for (const flushSize of [1000, 1]) {
          const file = new FileLake(`${dir}/file-${flushSize}`);
          const s = await runSink({
            kafka,
            lake: file,
            topicsRegex: topicsRegex(`${PREFIX}\\..*`),
            groupId: `file-${flushSize}`,
            flushSize,
            rotateIntervalMs: 0,
            once: true,
          });
          assert.equal(s.records, 450);
          const n = await assertLakeHoldsDataset(file, ds);
          assert.equal(n, flushSize === 1 ? 450 : 6, `objects with flush size ${flushSize}`);
          await withS3Lake(async (s3) => {
            await runSink({
              kafka,
              lake: s3,
              topicsRegex: topicsRegex(`${PREFIX}\\..*`),
              groupId: `s3-${flushSize}`,
              flushSize,
              rotateIntervalMs: 0,
              once: true,
            });
            assert.equal(await assertLakeHoldsDataset(s3, ds), n);
          });
        }
      });
    }),
});

Deno.test({
  ...T,
  name: "the REST proxy's 429s under overload still leave every posting exactly once",
  fn: () =>
    withPipeline(async ({ kafka, restUrl, stats }) => {
      const ds = createDataset({ rows: 300, seed: 11 });
      const res = await emulateThrough(restUrl, ds, { concurrency: 8, batch: 10 });
      assert.ok(stats() > 0, "the proxy answered 429 at least once");
      assert.ok(res.retries > 0, "the emulator retried");
      await withTempDir(async (dir) => {
        const lake = new FileLake(dir);
        await runSink({
          kafka,
          lake,
          topicsRegex: topicsRegex(`${PREFIX}\\..*`),
          groupId: "overload",
          flushSize: 1000,
          rotateIntervalMs: 0,
          once: true,
        });
        await assertLakeHoldsDataset(lake, ds);
      });
    }, { maxInFlight: 1, retryAfterSec: 0 }),
});

/**
 * Segments and retention (issue 10 item 4): logs roll into segment files named by their
 * first offset; retention.ms and retention.bytes delete whole old segments and move the
 * log start offset, and a consumer below it gets OFFSET_OUT_OF_RANGE and resets; an
 * in-memory broker keeps under its memory cap by dropping its oldest segments and says so
 * once; DeleteRecords' primitive persists; data dirs from before segments still open.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { Kafka, logLevel } from "../../lib/deps/kafkajs.ts";
import { KafkajsRecord, KafkajsRecordBatch } from "../deps/kafkajs_protocol.ts";
import { ErrorCode } from "../../lib/broker/error_codes.ts";
import { splitBatches } from "../../lib/broker/record_batch.ts";
import { segmentFileName } from "../../lib/broker/partition_log.ts";
import { TopicRegistry } from "../../lib/broker/topics.ts";
import { brokerTopicDefaults, KAFKA_LOG_DEFAULTS } from "../../lib/broker/configs.ts";
import { startTestBroker, waitFor, withBroker, withTempDir } from "../_fixtures.ts";
import { Oracle } from "../_broker_oracle.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function kafka(bootstrap: string): Kafka {
  return new Kafka({
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 50, retries: 8 },
  });
}

/** Creates `topic` (one partition) with `configs`, then sends `batches` batches of one ~500-byte record. */
async function fill(
  bootstrap: string,
  topic: string,
  configs: Record<string, string>,
  batches: number,
  timestamp?: number,
) {
  const admin = kafka(bootstrap).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{
      topic,
      numPartitions: 1,
      configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })),
    }],
  });
  await admin.disconnect();
  const producer = kafka(bootstrap).producer();
  await producer.connect();
  for (let i = 0; i < batches; i++) {
    await producer.send({
      topic,
      messages: [{
        value: `${i}:${"r".repeat(500)}`,
        timestamp: timestamp ? String(timestamp) : undefined,
      }],
    });
  }
  await producer.disconnect();
}

/** [log start offset, high watermark] of partition 0. */
async function bounds(o: Oracle, topic: string): Promise<[number, number]> {
  const ask = async (timestamp: number) => {
    const res = await o.call("ListOffsets", 2, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ topic, partitions: [{ partition: 0, timestamp }] }],
    });
    return Number(res.responses[0].partitions[0].offset);
  };
  return [await ask(-2), await ask(-1)];
}

/** A Fetch v4 of partition 0 from `offset`: [error code, records returned]. */
async function fetchAt(o: Oracle, topic: string, offset: number): Promise<[number, number]> {
  const res = await o.call("Fetch", 4, {
    replicaId: -1,
    maxWaitTime: 10,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    topics: [{
      topic,
      partitions: [{ partition: 0, fetchOffset: String(offset), maxBytes: 1 << 20 }],
    }],
  });
  const p = res.responses[0].partitions[0];
  return [p.errorCode, p.messages.length];
}

function segmentFiles(dataDir: string, topic: string): string[] {
  return [...Deno.readDirSync(join(dataDir, "logs", topic, "0"))]
    .map((e) => e.name)
    .filter((n) => n.endsWith(".log"))
    .sort();
}

Deno.test({
  name: "small segments roll into files named by their first offset and all reopen",
  ...opts,
  fn: () =>
    withTempDir(async (dataDir) => {
      let broker = await startTestBroker({ dataDir });
      await fill(broker.bootstrap, "seg", { "segment.bytes": "2048" }, 12);
      await broker.close();
      const files = segmentFiles(dataDir, "seg");
      assert.ok(files.length >= 4, `segments: ${files}`);
      assert.equal(files[0], segmentFileName(0));
      broker = await startTestBroker({ dataDir });
      const o = await Oracle.open(broker.bootstrap);
      try {
        assert.deepEqual(await bounds(o, "seg"), [0, 12]);
        // Every offset is readable (a read stops at its segment's end; the next goes on).
        let records = 0;
        for (let at = 0; at < 12;) {
          const res = await o.call("Fetch", 4, {
            replicaId: -1,
            maxWaitTime: 10,
            minBytes: 1,
            maxBytes: 1 << 20,
            isolationLevel: 0,
            topics: [{
              topic: "seg",
              partitions: [{ partition: 0, fetchOffset: String(at), maxBytes: 1 << 20 }],
            }],
          });
          const got = res.responses[0].partitions[0].messages;
          assert.ok(got.length > 0, `offset ${at}`);
          records += got.length;
          at = Number(got[got.length - 1].offset) + 1;
        }
        assert.equal(records, 12);
      } finally {
        o.close();
        await broker.close();
      }
    }),
});

Deno.test({
  name: "retention.bytes deletes old segments and a consumer below the log start resets to it",
  ...opts,
  fn: () =>
    withBroker(async (broker) => {
      const topic = "bounded";
      await fill(
        broker.bootstrap,
        topic,
        { "segment.bytes": "1500", "retention.bytes": "3000" },
        2,
      );
      // A group reads and commits offset 2, then falls behind while 18 more batches arrive.
      const k = kafka(broker.bootstrap);
      const seen: number[] = [];
      let consumer = k.consumer({ groupId: "slow", maxWaitTimeInMs: 50 });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: ({ message }) => (seen.push(Number(message.offset)), Promise.resolve()),
      });
      await waitFor("the first two records", () => seen.length >= 2);
      await consumer.disconnect();
      const producer = k.producer();
      await producer.connect();
      for (let i = 0; i < 18; i++) {
        await producer.send({ topic, messages: [{ value: "r".repeat(500) }] });
      }
      await producer.disconnect();
      const o = await Oracle.open(broker.bootstrap);
      try {
        await waitFor(
          "retention to delete old segments",
          async () => (await bounds(o, topic))[0] > 2,
        );
        const [start, end] = await bounds(o, topic);
        assert.equal(end, 20);
        assert.deepEqual(await fetchAt(o, topic, 2), [ErrorCode.OFFSET_OUT_OF_RANGE, 0]);
        // A read at the log start works (a maintenance pass may move the start between
        // reading it and fetching: then it is read again).
        await waitFor("a read at the log start", async () => {
          const [at] = await bounds(o, topic);
          const [err, records] = await fetchAt(o, topic, at);
          return err === 0 && records > 0;
        });
        // The group's committed offset (2) is gone: it resets to the earliest kept offset. A
        // maintenance pass may still trim a segment after `start` was read (its timer runs
        // beside this test): the reset lands on the log start of its own moment, between
        // `start` and the log start once it has read to the end.
        const after: number[] = [];
        consumer = k.consumer({ groupId: "slow", maxWaitTimeInMs: 50 });
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
          eachMessage: ({ message }) => (after.push(Number(message.offset)), Promise.resolve()),
        });
        await waitFor("the records kept", () => after.at(-1) === end - 1);
        await consumer.disconnect();
        const [startAfter] = await bounds(o, topic);
        assert.ok(
          after[0] >= start && after[0] <= startAfter,
          `reset to ${after[0]}, log start ${start} then ${startAfter}`,
        );
        assert.ok(after.every((x, i) => i === 0 || x > after[i - 1]), `in order: ${after}`);
      } finally {
        o.close();
      }
    }, { maintenanceMs: 50 }),
});

Deno.test({
  name: "retention.ms deletes segments whose newest record is older and keeps the rest",
  ...opts,
  fn: () =>
    withBroker(async (broker) => {
      const topic = "aged";
      const old = Date.now() - 3 * 3600_000;
      await fill(
        broker.bootstrap,
        topic,
        { "segment.bytes": "1500", "retention.ms": "3600000" },
        6,
        old,
      );
      const producer = kafka(broker.bootstrap).producer();
      await producer.connect();
      for (let i = 0; i < 4; i++) {
        await producer.send({ topic, messages: [{ value: "r".repeat(500) }] });
      }
      await producer.disconnect();
      const o = await Oracle.open(broker.bootstrap);
      try {
        await waitFor("the old segments to go", async () => (await bounds(o, topic))[0] >= 6);
        assert.deepEqual(await bounds(o, topic), [6, 10]);
      } finally {
        o.close();
      }
    }, { maintenanceMs: 50 }),
});

Deno.test({
  name:
    "when retention deletes every segment the next offset survives a restart without checkpoints",
  ...opts,
  fn: () =>
    withTempDir(async (dataDir) => {
      let broker = await startTestBroker({ dataDir, maintenanceMs: 50 });
      let o: Oracle | undefined;
      try {
        const old = Date.now() - 3 * 3600_000;
        await fill(broker.bootstrap, "gone", { "retention.ms": "3600000" }, 4, old);
        o = await Oracle.open(broker.bootstrap);
        await waitFor("every record to go", async () => (await bounds(o!, "gone"))[0] === 4);
        o.close();
        await broker.close();
        Deno.removeSync(join(dataDir, "checkpoints.json"));
        broker = await startTestBroker({ dataDir });
        o = await Oracle.open(broker.bootstrap);
        assert.deepEqual(await bounds(o, "gone"), [4, 4]);
        assert.deepEqual(
          await o.produce("gone", 0, ["next"]),
          [0, 4],
          "offset 0 is not given out again",
        );
      } finally {
        o?.close();
        await broker.close();
      }
    }),
});

Deno.test({
  name: "the broker's --retention is every topic's default retention.ms, applied and described",
  ...opts,
  fn: () =>
    withBroker(async (broker) => {
      const old = Date.now() - 3 * 3600_000;
      await fill(broker.bootstrap, "flagged", { "segment.bytes": "1500" }, 6, old);
      const admin = kafka(broker.bootstrap).admin();
      await admin.connect();
      const o = await Oracle.open(broker.bootstrap);
      try {
        const res = await admin.describeConfigs({
          resources: [{ type: 2, name: "flagged", configNames: ["retention.ms"] }],
          includeSynonyms: false,
        });
        assert.equal(res.resources[0].configEntries[0].configValue, "3600000");
        await waitFor("the old records to go", async () => (await bounds(o, "flagged"))[0] >= 5);
      } finally {
        o.close();
        await admin.disconnect();
      }
    }, { maintenanceMs: 50, retentionMs: 3600_000 }),
});

Deno.test({
  name: "compacted topics keep everything (compaction is not done, so nothing is deleted)",
  ...opts,
  fn: () =>
    withBroker(async (broker) => {
      const configs = { "segment.bytes": "1500", "retention.bytes": "1500" };
      await fill(broker.bootstrap, "compacted", { ...configs, "cleanup.policy": "compact" }, 8);
      await fill(broker.bootstrap, "deleted", configs, 8);
      const o = await Oracle.open(broker.bootstrap);
      try {
        // Once retention has run on the other topic, it has run on this one too.
        await waitFor("retention on the other topic", async () =>
          (await bounds(o, "deleted"))[0] > 0);
        assert.deepEqual(await bounds(o, "compacted"), [0, 8]);
      } finally {
        o.close();
      }
    }, { maintenanceMs: 50 }),
});

Deno.test({
  name: "segment.ms rolls the active segment on the first append after it has passed",
  ...opts,
  fn: () =>
    withTempDir(async (dataDir) => {
      let clock = Date.now();
      const broker = await startTestBroker({ dataDir, now: () => clock, segmentMs: 60_000 });
      try {
        await fill(broker.bootstrap, "timed", {}, 3);
        assert.equal(segmentFiles(dataDir, "timed").length, 1);
        clock += 61_000;
        await fill(broker.bootstrap, "timed2", {}, 0);
        const producer = kafka(broker.bootstrap).producer();
        await producer.connect();
        await producer.send({ topic: "timed", messages: [{ value: "later" }] });
        await producer.disconnect();
        assert.deepEqual(segmentFiles(dataDir, "timed"), [segmentFileName(0), segmentFileName(3)]);
      } finally {
        await broker.close();
      }
    }),
});

Deno.test({
  name: "an in-memory broker over its memory cap drops its oldest segments and says so once",
  ...opts,
  fn: async () => {
    const lines: string[] = [];
    const broker = await startTestBroker({
      maxMemoryBytes: 256 * 1024,
      segmentBytes: 32 * 1024,
      autoCreate: true,
      warn: (l) => lines.push(l),
    });
    try {
      const producer = kafka(broker.bootstrap).producer();
      await producer.connect();
      const value = "m".repeat(1000);
      for (let i = 0; i < 40; i++) {
        await producer.send({
          topic: "mem",
          messages: Array.from({ length: 25 }, () => ({ value })),
        });
      }
      await producer.disconnect();
      const o = await Oracle.open(broker.bootstrap);
      try {
        const [start, end] = await bounds(o, "mem");
        assert.equal(end, 1000);
        assert.ok(start > 0, "the oldest records were dropped");
        // What is kept fits the cap: about 256 KiB of ~1 KiB records, in whole segments.
        assert.ok(end - start <= 260 && end - start >= 150, `kept ${start}..${end}`);
        assert.deepEqual(await fetchAt(o, "mem", 0), [ErrorCode.OFFSET_OUT_OF_RANGE, 0]);
      } finally {
        o.close();
      }
      const said = lines.filter((l) => /reached its cap/.test(l));
      assert.equal(said.length, 1, lines.join("\n"));
      assert.match(said[0], /--max-memory/);
    } finally {
      await broker.close();
    }
  },
});

/** One ~300-byte batch as a producer would send it. */
async function batch(i: number) {
  const e = await KafkajsRecordBatch({
    firstOffset: 0n,
    firstTimestamp: Date.now(),
    maxTimestamp: Date.now(),
    lastOffsetDelta: 0,
    records: [
      KafkajsRecord({
        offsetDelta: 0,
        timestampDelta: 0,
        key: null,
        value: Buffer.from(`${i}`.padEnd(300, ".")),
        headers: {},
      }),
    ],
  });
  const bytes = new Uint8Array(e.buffer);
  const batches = splitBatches(bytes);
  assert.ok(Array.isArray(batches));
  return { bytes, batches };
}

Deno.test("deleteRecordsBefore moves the log start offset, deletes segments below it and persists", () =>
  withTempDir(async (dataDir) => {
    const open = () =>
      TopicRegistry.open({
        dataDir,
        log: () => {},
        defaults: brokerTopicDefaults({
          maxFrameBytes: 1 << 20,
          logDefaults: { ...KAFKA_LOG_DEFAULTS, segmentBytes: 1024 },
        }),
      });
    let reg = await open();
    const topic = reg.create("del", 1);
    for (let i = 0; i < 10; i++) {
      const { bytes, batches } = await batch(i);
      topic.partitions[0].append(bytes, batches);
    }
    assert.deepEqual(reg.deleteRecords("del", 0, 11), {
      error: ErrorCode.OFFSET_OUT_OF_RANGE,
      message: "offset 11 is past the high watermark 10",
    });
    assert.deepEqual(reg.deleteRecords("del", 0, 7), { lowWatermark: 7 });
    const log = reg.get("del")!.partitions[0];
    assert.equal(log.logStartOffset, 7);
    assert.ok(!log.inRange(6) && log.inRange(7));
    assert.ok(segmentFiles(dataDir, "del")[0] > segmentFileName(0), "segments below 7 are gone");
    // Not closed cleanly: checkpoints.json was written before the answer.
    reg = await open();
    assert.equal(reg.get("del")!.partitions[0].logStartOffset, 7);
    assert.equal(reg.get("del")!.partitions[0].nextOffset, 10);
    assert.deepEqual(reg.deleteRecords("del", 0, -1), { lowWatermark: 10 });
    await reg.close();
  }));

Deno.test({
  name: "a data dir from before segments opens, each partition file becoming its first segment",
  ...opts,
  fn: () =>
    withTempDir(async (dataDir) => {
      let broker = await startTestBroker({ dataDir });
      await fill(broker.bootstrap, "legacy", {}, 5);
      await broker.close();
      // The old layout: logs/<topic>/<n>.log, no checkpoints.
      const dir = join(dataDir, "logs", "legacy");
      Deno.renameSync(join(dir, "0", segmentFileName(0)), join(dataDir, "old.log"));
      Deno.removeSync(join(dir, "0"), { recursive: true });
      Deno.renameSync(join(dataDir, "old.log"), join(dir, "0.log"));
      Deno.removeSync(join(dataDir, "checkpoints.json"));
      const lines: string[] = [];
      broker = await startTestBroker({ dataDir, logger: (l) => lines.push(l) });
      const o = await Oracle.open(broker.bootstrap);
      try {
        assert.ok(lines.some((l) => /migrated legacy-0 to segments/.test(l)), lines.join("\n"));
        assert.deepEqual(await bounds(o, "legacy"), [0, 5]);
        assert.deepEqual(segmentFiles(dataDir, "legacy"), [segmentFileName(0)]);
      } finally {
        o.close();
        await broker.close();
      }
    }),
});

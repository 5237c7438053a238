/**
 * Persistence: a broker process killed with SIGKILL keeps every acknowledged record (same
 * offsets, same order, nothing else), its topics and its group offsets; a log cut
 * mid-batch or with a corrupted byte is cut back to its last good batch on start; a
 * deleted topic stays deleted.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Kafka, logLevel } from "../../lib/deps/kafkajs.ts";
import { PartitionLog, segmentFileName } from "../../lib/broker/partition_log.ts";
import { FileHandles } from "../../lib/broker/log_store.ts";
import { OffsetStore } from "../../lib/broker/offsets.ts";
import { startTestBroker, waitFor, withTempDir } from "../_fixtures.ts";
import { readAll } from "../_broker_reads.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function client(bootstrap: string): Kafka {
  return new Kafka({
    clientId: "persist",
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 50, retries: 8 },
  });
}

/** Produces `batches` separate batches of `perBatch` records to `topic`-0 on a fresh broker. */
async function fillLog(dataDir: string, topic: string, batches: number, perBatch: number) {
  const broker = await startTestBroker({ dataDir });
  try {
    const kafka = client(broker.bootstrap);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    for (let b = 0; b < batches; b++) {
      await producer.send({
        topic,
        messages: Array.from({ length: perBatch }, (_, i) => ({ value: `b${b}-${i}` })),
      });
    }
    await producer.disconnect();
  } finally {
    await broker.close();
  }
  return join(dataDir, "logs", topic, "0", segmentFileName(0));
}

/** The byte positions where each batch of a log file starts. */
function batchStarts(path: string): number[] {
  const starts: number[] = [];
  const bytes = Deno.readFileSync(path);
  const v = new DataView(bytes.buffer);
  for (let pos = 0; pos < bytes.byteLength; pos += v.getInt32(pos + 8) + 12) starts.push(pos);
  return starts;
}

Deno.test({
  name: "a log cut mid-batch is truncated to its last whole batch and the broker serves the rest",
  ...opts,
  fn: () =>
    withTempDir(async (dataDir) => {
      const path = await fillLog(dataDir, "torn", 4, 5);
      const starts = batchStarts(path);
      assert.equal(starts.length, 4);
      const size = Deno.statSync(path).size;
      // Cut the last batch in the middle, as a crash during a write might.
      Deno.truncateSync(path, starts[3] + Math.floor((size - starts[3]) / 2));

      const logs: string[] = [];
      const broker = await startTestBroker({ dataDir, logger: (l) => logs.push(l) });
      try {
        assert.ok(
          logs.some((l) => /recovered torn-0: cut a torn tail .* 5 record\(s\) in 1 batch/.test(l)),
          logs.join("\n"),
        );
        assert.equal(
          Deno.statSync(path).size,
          starts[3],
          "the file is cut back to the whole batches",
        );
        const kafka = client(broker.bootstrap);
        const producer = kafka.producer();
        await producer.connect();
        const [res] = await producer.send({ topic: "torn", messages: [{ value: "after" }] });
        await producer.disconnect();
        // The torn batch's offsets (15-19) may have been read before a power loss: not reused.
        assert.equal(res.baseOffset, "20", "offsets continue after the torn batch's");
        const got = await readAll(kafka, "torn", 16);
        assert.deepEqual(got, [
          ...Array.from({ length: 15 }, (_, i) => `0:${i}=b${Math.floor(i / 5)}-${i % 5}`),
          "0:20=after",
        ]);
      } finally {
        await broker.close();
      }
    }),
});

Deno.test({
  name: "a corrupted byte fails one batch's CRC and only that batch is cut, its offsets not reused",
  ...opts,
  fn: () =>
    withTempDir(async (dataDir) => {
      const path = await fillLog(dataDir, "rot", 3, 4);
      const starts = batchStarts(path);
      const bytes = Deno.readFileSync(path);
      bytes[starts[1] + 70] ^= 0xff; // inside the second batch's records
      Deno.writeFileSync(path, bytes);
      const dir = join(dataDir, "logs", "rot", "0");
      const { log, report } = PartitionLog.open("rot", 0, {
        dir,
        handles: new FileHandles(8),
        quarantineDir: join(dataDir, "corrupt"),
      });
      try {
        assert.equal(report.cuts.length, 1);
        assert.match(report.cuts[0].reason, /CRC-32C/);
        assert.equal(report.cuts[0].records, 4);
        assert.equal(report.cuts[0].end - report.cuts[0].start, starts[2] - starts[1]);
        assert.equal(log.nextOffset, 12, "the third batch is kept");
        assert.equal(log.batchCount, 2);
        assert.equal(Deno.statSync(path).size, starts[1]);
        assert.deepEqual(
          Deno.readFileSync(report.cuts[0].savedTo!),
          bytes.subarray(starts[1], starts[2]),
          "the cut bytes are kept as they were",
        );
        assert.equal(log.read(4, 1 << 20, true).bytes, bytes.byteLength - starts[2]);
      } finally {
        await log.close();
      }
    }),
});

Deno.test("a torn tail of offsets.log keeps every commit before it", () =>
  withTempDir(async (dir) => {
    const store = OffsetStore.open(dir, () => {});
    store.commit("g", [{ topic: "t", partition: 0, offset: 5, metadata: null }]);
    store.commit("g", [{ topic: "t", partition: 1, offset: 9, metadata: "m" }]);
    await store.close();
    const path = join(dir, "offsets.log");
    const full = Deno.readFileSync(path);
    Deno.writeFileSync(path, full.subarray(0, full.byteLength - 3));
    const lines: string[] = [];
    const again = OffsetStore.open(dir, (l) => lines.push(l));
    try {
      assert.equal(again.get("g", "t", 0)?.offset, 5);
      assert.equal(again.get("g", "t", 1), undefined);
      assert.match(lines.join("\n"), /cut a torn last entry \(\d+ bytes\)/);
    } finally {
      await again.close();
    }
  }));

Deno.test({
  name: "topics, group offsets and deletions survive a clean restart",
  ...opts,
  fn: () =>
    withTempDir(async (dataDir) => {
      let broker = await startTestBroker({ dataDir });
      try {
        let kafka = client(broker.bootstrap);
        let admin = kafka.admin();
        await admin.connect();
        await admin.createTopics({
          topics: [{ topic: "keep", numPartitions: 2 }, { topic: "drop" }],
        });
        await admin.deleteTopics({ topics: ["drop"] });
        await admin.disconnect();
        const producer = kafka.producer();
        await producer.connect();
        await producer.send({ topic: "keep", messages: [{ partition: 1, value: "one" }] });
        await producer.disconnect();
        await readAll(kafka, "keep", 1, "g");
        await broker.close();
        await waitFor("the dropped topic's logs to go", async () => {
          try {
            await Deno.stat(join(dataDir, "logs", "drop"));
            return false;
          } catch {
            return true;
          }
        });

        broker = await startTestBroker({ dataDir });
        kafka = client(broker.bootstrap);
        admin = kafka.admin();
        await admin.connect();
        assert.deepEqual(await admin.listTopics(), ["keep"]);
        const md = await admin.fetchTopicMetadata({ topics: ["keep"] });
        assert.equal(md.topics[0].partitions.length, 2);
        const committed = await admin.fetchOffsets({ groupId: "g", topics: ["keep"] });
        assert.deepEqual(
          committed[0].partitions.map((p) => [p.partition, p.offset]).sort(),
          [[0, "-1"], [1, "1"]],
        );
        await admin.disconnect();
      } finally {
        await broker.close();
      }
    }),
});

Deno.test("a second broker on the same data dir is refused while the first one runs", () =>
  withTempDir(async (dataDir) => {
    const first = await startTestBroker({ dataDir });
    try {
      await assert.rejects(
        () => startTestBroker({ dataDir }),
        /Cannot open the data dir ".*": another broker is using it/,
      );
    } finally {
      await first.close();
    }
    const again = await startTestBroker({ dataDir });
    await again.close();
  }));

for (const fsync of ["always", "interval", "never"] as const) {
  Deno.test({
    name: `with fsync "${fsync}" acknowledged records are on disk for the next start`,
    ...opts,
    fn: () =>
      withTempDir(async (dataDir) => {
        let broker = await startTestBroker({ dataDir, fsync, autoCreate: true });
        try {
          const producer = client(broker.bootstrap).producer();
          await producer.connect();
          await producer.send({ topic: "f", acks: -1, messages: [{ value: "1" }, { value: "2" }] });
          await producer.disconnect();
          await broker.close();
          broker = await startTestBroker({ dataDir });
          const got = await readAll(client(broker.bootstrap), "f", 2);
          assert.deepEqual(got, ["0:0=1", "0:1=2"]);
        } finally {
          await broker.close();
        }
      }),
  });
}

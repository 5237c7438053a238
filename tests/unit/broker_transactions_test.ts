/**
 * The transaction coordinator's state machine (lib/broker/transactions.ts), the partition
 * side (txn_index.ts: the last stable offset, aborted ranges, rebuilt from the log on
 * start) and a kafkajs transactional producer against an in-process broker. The same
 * behaviour against Apache Kafka, side by side: tests/engine/broker_transactions_test.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ErrorCode } from "../../lib/broker/error_codes.ts";
import { FileHandles } from "../../lib/broker/log_store.ts";
import { PartitionLog } from "../../lib/broker/partition_log.ts";
import { ProducerStateTable } from "../../lib/broker/producer_state.ts";
import { crc32c } from "../../lib/broker/crc32c.ts";
import {
  ABORT_MARKER,
  type BatchInfo,
  COMMIT_MARKER,
  controlType,
  markerBatch,
  splitBatches,
} from "../../lib/broker/record_batch.ts";
import {
  offsetsPartition,
  type PendingOffset,
  TransactionCoordinator,
} from "../../lib/broker/transactions.ts";
import { PartitionTxns } from "../../lib/broker/txn_index.ts";
import { Kafka, logLevel } from "../../lib/deps/kafkajs.ts";
import { startTestBroker, waitFor, withTempDir } from "../_fixtures.ts";

/** A coordinator over in-memory partitions "t-0" and "t-1", on a clock the test moves. */
function setup(dataDir?: string, logs?: Map<string, PartitionLog>) {
  const clock = { now: 1_000_000 };
  const parts = logs ?? new Map([
    ["t-0", PartitionLog.memory("t", 0)],
    ["t-1", PartitionLog.memory("t", 1)],
  ]);
  const committed: { group: string; offsets: PendingOffset[] }[] = [];
  let nextPid = 100;
  const lines: string[] = [];
  const c = new TransactionCoordinator({
    dataDir,
    sync: false,
    now: () => clock.now,
    log: (l) => lines.push(l),
    warn: (l) => lines.push(l),
    partition: (topic, p) => parts.get(`${topic}-${p}`),
    allocateProducerId: () => nextPid++,
    commitOffsets: (group, offsets) => committed.push({ group, offsets }),
    afterWrite: () => Promise.resolve(),
  });
  return { c, clock, parts, committed, lines };
}

const none = { producerId: -1, producerEpoch: -1 };

/** A transactional data batch of `producerId`/`epoch` (one record), as a producer sends it. */
function txnBatch(producerId: number, epoch: number, seq: number): {
  bytes: Uint8Array;
  batches: BatchInfo[];
} {
  const bytes = markerBatch(producerId, epoch, 0, 1);
  const v = new DataView(bytes.buffer);
  v.setInt16(21, 0x10); // transactional, not control
  v.setInt32(53, seq);
  v.setUint32(17, crc32c(bytes.subarray(21)));
  return { bytes, batches: splitBatches(bytes) as BatchInfo[] };
}

Deno.test("a marker batch is one control record that says commit or abort", () => {
  for (const type of [ABORT_MARKER, COMMIT_MARKER]) {
    const b = markerBatch(7, 3, type, 123);
    const [info] = splitBatches(b) as BatchInfo[];
    assert.equal(info.attributes, 0x30);
    assert.deepEqual([info.producerId, info.producerEpoch, info.baseSequence], [7, 3, -1]);
    assert.equal(controlType(b, 0, b.byteLength), type);
  }
});

Deno.test("a group's __consumer_offsets partition is Kafka's (Java's String.hashCode mod 50)", () => {
  // Apache Kafka 3.9.1 verified frames-group-v4 on partition 29 (the captured frames).
  assert.equal(offsetsPartition("frames-group-v4"), 29);
  assert.equal(offsetsPartition(""), 0);
});

Deno.test("InitProducerId: a new id gets epoch 0, each init after bumps it; bad timeouts are refused", async () => {
  const { c } = setup();
  assert.deepEqual(await c.initProducerId("a", 60_000, none), {
    errorCode: 0,
    producerId: 100,
    producerEpoch: 0,
  });
  assert.deepEqual(await c.initProducerId("a", 60_000, none), {
    errorCode: 0,
    producerId: 100,
    producerEpoch: 1,
  });
  // v3+: a producer naming an epoch that is not the current one is a zombie.
  assert.equal(
    (await c.initProducerId("a", 60_000, { producerId: 100, producerEpoch: 0 })).errorCode,
    ErrorCode.PRODUCER_FENCED,
  );
  for (const t of [0, 900_001]) {
    assert.equal(
      (await c.initProducerId("b", t, none)).errorCode,
      ErrorCode.INVALID_TRANSACTION_TIMEOUT,
    );
  }
  assert.equal(c.get("b"), undefined);
});

Deno.test("a transaction: partitions added, produce checked, commit writes markers and moves the last stable offset", async () => {
  const { c, parts } = setup();
  const { producerId: pid, producerEpoch: e } = await c.initProducerId("a", 60_000, none);
  const log = parts.get("t-0")!;
  // Not added yet: a produce to the partition is refused (KIP-890 verification).
  assert.equal(c.checkProduce("a", pid, e, "t", 0), ErrorCode.INVALID_TXN_STATE);
  const unknown = c.addPartitions("a", pid, e, [
    { topic: "t", partition: 0 },
    { topic: "nope", partition: 0 },
  ]);
  assert.deepEqual([...unknown.values()], [
    ErrorCode.OPERATION_NOT_ATTEMPTED,
    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ]);
  assert.equal(c.get("a")!.state, "Empty");
  const added = c.addPartitions("a", pid, e, [{ topic: "t", partition: 0 }]);
  assert.deepEqual([...added.values()], [0]);
  assert.equal(c.get("a")!.state, "Ongoing");
  assert.equal(c.checkProduce("a", pid, e, "t", 0), ErrorCode.NONE);
  assert.equal(c.checkProduce("a", pid, e, "t", 1), ErrorCode.INVALID_TXN_STATE);
  assert.equal(c.checkProduce("a", pid + 1, e, "t", 0), ErrorCode.INVALID_PRODUCER_ID_MAPPING);

  const { bytes, batches } = txnBatch(pid, e, 0);
  log.append(bytes, batches);
  assert.equal(log.nextOffset, 1);
  assert.equal(log.lastStableOffset, 0, "the open transaction holds it");
  assert.equal(await c.endTxn("a", pid, e, true), ErrorCode.NONE);
  assert.equal(c.get("a")!.state, "CompleteCommit");
  assert.equal(log.nextOffset, 2, "a marker at offset 1");
  assert.equal(log.lastStableOffset, 2);
  assert.deepEqual(log.txns.aborted, []);
  // A retried commit is answered NONE; an abort of it INVALID_TXN_STATE.
  assert.equal(await c.endTxn("a", pid, e, true), ErrorCode.NONE);
  assert.equal(await c.endTxn("a", pid, e, false), ErrorCode.INVALID_TXN_STATE);
  assert.equal(await c.endTxn("a", pid, e + 1, true), ErrorCode.PRODUCER_FENCED);
});

Deno.test("an abort is an aborted range for read_committed; the sequence goes on across transactions", async () => {
  const { c, parts } = setup();
  const { producerId: pid, producerEpoch: e } = await c.initProducerId("a", 60_000, none);
  const log = parts.get("t-1")!;
  c.addPartitions("a", pid, e, [{ topic: "t", partition: 1 }]);
  for (let seq = 0; seq < 2; seq++) {
    const b = txnBatch(pid, e, seq);
    assert.equal(log.checkProducer(b.batches).kind, "append");
    log.append(b.bytes, b.batches);
  }
  assert.equal(await c.endTxn("a", pid, e, false), ErrorCode.NONE);
  assert.deepEqual(log.txns.aborted, [{ producerId: pid, firstOffset: 0, lastOffset: 2 }]);
  assert.deepEqual(log.txns.abortedIn(0, 3), [{ producerId: pid, firstOffset: 0 }]);
  assert.deepEqual(log.txns.abortedIn(3, 10), []);
  // The next transaction of the same epoch continues at sequence 2.
  c.addPartitions("a", pid, e, [{ topic: "t", partition: 1 }]);
  assert.equal(log.checkProducer(txnBatch(pid, e, 2).batches).kind, "append");
  assert.equal(log.checkProducer(txnBatch(pid, e, 5).batches).kind, "refuse", "a gap");
});

Deno.test("a new producer with the id aborts the open transaction with the epoch bumped: the zombie is fenced", async () => {
  const { c, parts } = setup();
  const zombie = await c.initProducerId("a", 60_000, none);
  const log = parts.get("t-0")!;
  c.addPartitions("a", zombie.producerId, zombie.producerEpoch, [{ topic: "t", partition: 0 }]);
  const b = txnBatch(zombie.producerId, zombie.producerEpoch, 0);
  log.append(b.bytes, b.batches);
  // The first InitProducerId aborts (CONCURRENT_TRANSACTIONS, retried); the retry gets e+2.
  assert.equal(
    (await c.initProducerId("a", 60_000, none)).errorCode,
    ErrorCode.CONCURRENT_TRANSACTIONS,
  );
  assert.equal(c.get("a")!.state, "CompleteAbort");
  assert.equal(log.lastStableOffset, log.nextOffset);
  assert.deepEqual(log.producers.get(zombie.producerId)?.epoch, 1, "the marker's epoch");
  const fresh = await c.initProducerId("a", 60_000, none);
  assert.deepEqual([fresh.errorCode, fresh.producerId, fresh.producerEpoch], [0, 100, 2]);
  const z = zombie.producerEpoch;
  assert.equal(
    c.checkProduce("a", zombie.producerId, z, "t", 0),
    ErrorCode.INVALID_PRODUCER_EPOCH,
  );
  assert.deepEqual(
    [...c.addPartitions("a", zombie.producerId, z, [{ topic: "t", partition: 0 }]).values()],
    [ErrorCode.PRODUCER_FENCED],
  );
  assert.equal(await c.endTxn("a", zombie.producerId, z, true), ErrorCode.PRODUCER_FENCED);
  assert.equal(log.checkProducer(txnBatch(zombie.producerId, z, 1).batches).kind, "refuse");
});

Deno.test("TxnOffsetCommit: offsets pending until the commit, dropped by an abort", async () => {
  const { c, committed } = setup();
  const { producerId: pid, producerEpoch: e } = await c.initProducerId("a", 60_000, none);
  const offs = [{ topic: "t", partition: 0, offset: 7, metadata: "m" }];
  assert.equal(c.txnOffsetCommit("a", pid, e, "g", offs), ErrorCode.INVALID_TXN_STATE);
  assert.equal(c.addOffsets("a", pid, e, "g"), ErrorCode.NONE);
  assert.equal(c.txnOffsetCommit("a", pid, e, "g", offs), ErrorCode.NONE);
  assert.ok(c.hasPendingOffset("g", "t", 0));
  assert.equal(await c.endTxn("a", pid, e, true), ErrorCode.NONE);
  assert.deepEqual(committed, [{ group: "g", offsets: offs }]);
  assert.ok(!c.hasPendingOffset("g", "t", 0));
  assert.equal(c.addOffsets("a", pid, e, "g"), ErrorCode.NONE);
  assert.equal(
    c.txnOffsetCommit("a", pid, e, "g", [{ ...offs[0], offset: 9 }]),
    ErrorCode.NONE,
  );
  assert.equal(await c.endTxn("a", pid, e, false), ErrorCode.NONE);
  assert.equal(committed.length, 1, "the aborted offsets are not stored");
  assert.equal(c.txnOffsetCommit("a", pid, e - 1, "g", offs), ErrorCode.PRODUCER_FENCED);
});

Deno.test("a transaction open past its timeout is aborted with the epoch bumped", async () => {
  const { c, clock, parts } = setup();
  const { producerId: pid, producerEpoch: e } = await c.initProducerId("a", 5_000, none);
  c.addPartitions("a", pid, e, [{ topic: "t", partition: 0 }]);
  const b = txnBatch(pid, e, 0);
  parts.get("t-0")!.append(b.bytes, b.batches);
  clock.now += 5_000;
  assert.equal(await c.abortTimedOut(), 0, "not past it yet");
  clock.now += 1;
  assert.equal(await c.abortTimedOut(), 1);
  assert.deepEqual([c.get("a")!.state, c.get("a")!.producerEpoch], ["CompleteAbort", e + 1]);
  assert.equal(parts.get("t-0")!.txns.aborted.length, 1);
  assert.equal(await c.endTxn("a", pid, e, true), ErrorCode.PRODUCER_FENCED);
});

Deno.test("ListTransactions' and DescribeTransactions' view: partitions and a group's offsets partition", async () => {
  const { c } = setup();
  const { producerId: pid, producerEpoch: e } = await c.initProducerId("a", 60_000, none);
  c.addPartitions("a", pid, e, [{ topic: "t", partition: 1 }, { topic: "t", partition: 0 }]);
  c.addOffsets("a", pid, e, "frames-group-v4");
  assert.deepEqual(TransactionCoordinator.topics(c.get("a")!), [
    { topic: "t", partitions: [1, 0] },
    { topic: "__consumer_offsets", partitions: [29] },
  ]);
  const verified = c.addPartitions(
    "a",
    pid,
    e,
    [{ topic: "__consumer_offsets", partition: 29 }, { topic: "t", partition: 3 }],
    true,
  );
  assert.deepEqual([...verified.values()], [0, ErrorCode.INVALID_TXN_STATE]);
});

Deno.test("the coordinator's state survives a restart; a transaction caught preparing is completed", async () => {
  await withTempDir(async (dir) => {
    const first = setup(dir);
    const a = await first.c.initProducerId("a", 60_000, none);
    first.c.addPartitions("a", a.producerId, a.producerEpoch, [{ topic: "t", partition: 0 }]);
    const b = txnBatch(a.producerId, a.producerEpoch, 0);
    first.parts.get("t-0")!.append(b.bytes, b.batches);
    // Reopened on the same partitions: still open, same epoch.
    const again = setup(dir, first.parts);
    await again.c.open({ timer: false });
    assert.deepEqual(
      [again.c.get("a")!.state, again.c.get("a")!.producerEpoch, [...again.c.get("a")!.partitions]],
      ["Ongoing", 0, ["t\x000"]],
    );
    // As if the broker died between PrepareCommit and the markers.
    const path = join(dir, "transactions.json");
    Deno.writeTextFileSync(
      path,
      Deno.readTextFileSync(path).replace('"state":"Ongoing"', '"state":"PrepareCommit"'),
    );
    const third = setup(dir, first.parts);
    await third.c.open({ timer: false });
    assert.equal(third.c.get("a")!.state, "CompleteCommit");
    const log = first.parts.get("t-0")!;
    assert.equal(log.lastStableOffset, log.nextOffset, "the commit marker was written");
    // Completed once: opening again writes no second marker.
    const end = log.nextOffset;
    await setup(dir, first.parts).c.open({ timer: false });
    assert.equal(log.nextOffset, end);
  });
});

Deno.test("a partition's open and aborted transactions are rebuilt from its segments on start", async () => {
  await withTempDir(async (dir) => {
    const handles = new FileHandles(16);
    const env = { dir: join(dir, "t-0"), handles };
    const log = PartitionLog.create("t", 0, env);
    const add = (bytes: Uint8Array) => log.append(bytes, splitBatches(bytes) as BatchInfo[]);
    add(txnBatch(1, 0, 0).bytes); // 0: producer 1
    add(txnBatch(2, 0, 0).bytes); // 1: producer 2
    add(markerBatch(1, 0, ABORT_MARKER, 5)); // 2: producer 1 aborted
    add(txnBatch(1, 0, 1).bytes); // 3: producer 1 again, open
    assert.equal(log.lastStableOffset, 1);
    await log.close();
    const { log: back } = PartitionLog.open("t", 0, { dir: join(dir, "t-0"), handles });
    assert.deepEqual([...back.txns.ongoing], [[2, 1], [1, 3]]);
    assert.deepEqual(back.txns.aborted, [{ producerId: 1, firstOffset: 0, lastOffset: 2 }]);
    assert.equal(back.lastStableOffset, 1);
    // The sequence table knows producer 1 is at sequence 1 (the marker is no batch of it).
    assert.equal(back.checkProducer(txnBatch(1, 0, 2).batches).kind, "append");
    await back.close();
  });
});

Deno.test("PartitionTxns: the last stable offset is the oldest open transaction's first offset", () => {
  const t = new PartitionTxns();
  assert.equal(t.lastStableOffset(10), 10);
  t.onBatch(5, 0x10, 4, -1);
  t.onBatch(6, 0x10, 2, -1);
  t.onBatch(5, 0x10, 7, -1); // not its first
  assert.equal(t.lastStableOffset(10), 2);
  t.onBatch(6, 0x30, 8, COMMIT_MARKER);
  assert.equal(t.lastStableOffset(10), 4);
  t.onBatch(5, 0x30, 9, ABORT_MARKER);
  assert.equal(t.lastStableOffset(10), 10);
  assert.deepEqual(t.aborted, [{ producerId: 5, firstOffset: 4, lastOffset: 9 }]);
  t.prune(10);
  assert.deepEqual(t.aborted, []);
});

Deno.test({
  name: "kafkajs: committed and aborted transactions, read_committed and read_uncommitted",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const broker = await startTestBroker({ autoCreate: true });
    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    try {
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: "tx", numPartitions: 2 }] });
      await admin.disconnect();
      const producer = kafka.producer({ transactionalId: "t1", maxInFlightRequests: 1 });
      await producer.connect();
      for (
        const [values, commit] of [[["c1", "c2"], true], [["a1"], false], [["c3"], true]] as const
      ) {
        const tx = await producer.transaction();
        await tx.send({
          topic: "tx",
          messages: values.map((value, i) => ({ value, partition: i % 2 })),
        });
        await (commit ? tx.commit() : tx.abort());
      }
      await producer.disconnect();
      for (const committed of [true, false]) {
        const consumer = kafka.consumer({
          groupId: `g-${committed}`,
          readUncommitted: !committed,
          maxWaitTimeInMs: 100,
        });
        await consumer.connect();
        await consumer.subscribe({ topic: "tx", fromBeginning: true });
        const got: string[] = [];
        await consumer.run({
          eachMessage: ({ message }) => {
            got.push(String(message.value));
            return Promise.resolve();
          },
        });
        const want = committed ? ["c1", "c2", "c3"] : ["a1", "c1", "c2", "c3"];
        try {
          await waitFor(`${want.length} records`, () => got.length >= want.length, 30_000);
        } finally {
          await consumer.disconnect();
        }
        assert.deepEqual(got.sort(), want);
      }
    } finally {
      await broker.close();
    }
  },
});

Deno.test("producers.snapshot keeps what DescribeProducers shows, and reads a snapshot without it", () => {
  const t = new ProducerStateTable();
  t.record(4, 0, { firstSeq: 0, lastSeq: 1, firstOffset: 0, lastOffset: 1 }, 100, 90);
  t.marker(4, 0, 2, 110, 0, 105);
  const back = ProducerStateTable.deserialize(t.serialize());
  const e = back.get(4)!;
  assert.deepEqual([e.lastTimestamp, e.coordinatorEpoch, e.batches.at(-1)?.lastSeq], [105, 0, 1]);
  // A snapshot written before these fields: unknown (-1), not an error.
  const body = JSON.stringify({
    version: 1,
    coveredUpTo: 2,
    producers: [[4, 0, 100, [[0, 1, 0, 1]]]],
  });
  const old = new TextEncoder().encode(
    `${crc32c(new TextEncoder().encode(body)).toString(16).padStart(8, "0")}\n${body}\n`,
  );
  const e2 = ProducerStateTable.deserialize(old).get(4)!;
  assert.deepEqual([e2.lastTimestamp, e2.coordinatorEpoch], [-1, -1]);
});

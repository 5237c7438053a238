/**
 * The idempotent producer (issue 10 item 2): InitProducerId hands out producer ids that
 * are never reused; a retried batch is answered with its first offset and not appended
 * twice, also after a restart and after retention deleted its segment; a sequence gap gets
 * OUT_OF_ORDER_SEQUENCE_NUMBER and an older epoch INVALID_PRODUCER_EPOCH (transactions:
 * tests/unit/broker_transactions_test.ts and tests/engine/broker_transactions_test.ts).
 */
import assert from "node:assert/strict";
import { ErrorCode } from "../../lib/broker/error_codes.ts";
import { startTestBroker, waitFor, withBroker, withTempDir } from "../_fixtures.ts";
import { Oracle } from "../_broker_oracle.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function initProducerId(o: Oracle, transactionalId: string | null = null) {
  const res = await o.call("InitProducerId", 1, { transactionalId, transactionTimeout: 30000 });
  return { error: res.errorCode, id: Number(res.producerId), epoch: res.producerEpoch };
}

async function highWatermark(o: Oracle, topic: string): Promise<number> {
  const res = await o.call("ListOffsets", 2, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ topic, partitions: [{ partition: 0, timestamp: -1 }] }],
  });
  return Number(res.responses[0].partitions[0].offset);
}

Deno.test({
  name: "a retried idempotent batch is answered with its first offset and appended only once",
  ...opts,
  fn: () =>
    withBroker(async (broker) => {
      const o = await Oracle.open(broker.bootstrap);
      try {
        const { error, id, epoch } = await initProducerId(o);
        assert.equal(error, 0);
        assert.equal(epoch, 0);
        const p = { producerId: id, epoch: 0, seq: 0 };
        assert.deepEqual(await o.produce("idem", 0, ["a", "b", "c"], p), [0, 0]);
        const next = { ...p, seq: 3 };
        assert.deepEqual(await o.produce("idem", 0, ["d", "e"], next), [0, 3]);
        // The client lost the answers and retries both: same offsets, nothing appended.
        assert.deepEqual(await o.produce("idem", 0, ["a", "b", "c"], p), [0, 0]);
        assert.deepEqual(await o.produce("idem", 0, ["d", "e"], next), [0, 3]);
        assert.equal(await highWatermark(o, "idem"), 5);
        // A gap: sequence 9 after 4.
        const [gap] = await o.produce("idem", 0, ["x"], { ...p, seq: 9 });
        assert.equal(gap, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
        // A new epoch (the Java client bumps it after an error) starts at sequence 0 ...
        assert.deepEqual(await o.produce("idem", 0, ["f"], { ...p, epoch: 1, seq: 0 }), [0, 5]);
        const [late] = await o.produce("idem", 0, ["g"], { ...p, epoch: 1, seq: 5 });
        assert.equal(late, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, "a new epoch starts at 0");
        // ... and the old epoch is fenced.
        const [zombie] = await o.produce("idem", 0, ["h"], { ...p, epoch: 0, seq: 5 });
        assert.equal(zombie, ErrorCode.INVALID_PRODUCER_EPOCH);
        assert.equal(await highWatermark(o, "idem"), 6, "nothing refused was appended");
        // Plain producers are not checked.
        assert.deepEqual(await o.produce("idem", 0, ["plain"]), [0, 6]);
      } finally {
        o.close();
      }
    }, { autoCreate: true }),
});

Deno.test({
  name: "producer state is rebuilt after a restart and kept when retention deletes its segment",
  ...opts,
  fn: () =>
    withTempDir(async (dataDir) => {
      let broker = await startTestBroker({ dataDir, autoCreate: true, segmentBytes: 1024 });
      let o = await Oracle.open(broker.bootstrap);
      const ids: number[] = [];
      try {
        const { id } = await initProducerId(o);
        ids.push(id);
        const p = { producerId: id, epoch: 0, seq: 0 };
        assert.deepEqual(await o.produce("keep", 0, ["x".repeat(600)], p), [0, 0]);
        // SIGKILL-like: no clean close, so no snapshot; the log alone has the state.
        o.close();
        await broker.close();
        Deno.removeSync(`${dataDir}/logs/keep/0/producers.snapshot`);
        broker = await startTestBroker({ dataDir, segmentBytes: 1024, retentionBytes: 1000 });
        o = await Oracle.open(broker.bootstrap);
        assert.deepEqual(await o.produce("keep", 0, ["x".repeat(600)], p), [0, 0], "a retry");
        ids.push((await initProducerId(o)).id);
        // Two more batches of the producer, then three plain ones: each rolls a segment, and
        // retention.bytes deletes every segment holding the producer's batches.
        for (let seq = 1; seq <= 2; seq++) {
          const [err] = await o.produce("keep", 0, ["y".repeat(600)], { ...p, seq });
          assert.equal(err, 0);
        }
        for (let i = 0; i < 3; i++) {
          assert.equal((await o.produce("keep", 0, ["p".repeat(600)]))[0], 0);
        }
        o.close();
        await broker.close();
        broker = await startTestBroker({
          dataDir,
          segmentBytes: 1024,
          retentionBytes: 1000,
          maintenanceMs: 50,
        });
        o = await Oracle.open(broker.bootstrap);
        await waitFor("retention to delete the producer's segments", async () => {
          const start = await o.call("ListOffsets", 2, {
            replicaId: -1,
            isolationLevel: 0,
            topics: [{ topic: "keep", partitions: [{ partition: 0, timestamp: -2 }] }],
          });
          return Number(start.responses[0].partitions[0].offset) >= 4;
        });
        // The producer is still known: a gap is still a gap, the next sequence still fits.
        const [gap] = await o.produce("keep", 0, ["z"], { ...p, seq: 7 });
        assert.equal(gap, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert.equal((await o.produce("keep", 0, ["z"], { ...p, seq: 3 }))[0], 0);
        ids.push((await initProducerId(o)).id);
        assert.equal(new Set(ids).size, 3, `producer ids are never handed out twice: ${ids}`);
      } finally {
        o.close();
        await broker.close();
      }
    }),
});

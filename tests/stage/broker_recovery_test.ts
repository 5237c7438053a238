/**
 * Recovery from damaged data (issue 11 item 2). Before: one flipped byte in the middle of
 * a 100,000-record partition cut everything after it (54 %) with one ordinary log line,
 * the next offsets reused numbers consumers had seen, and one flipped byte in offsets.log
 * moved a committed offset back. Now: one damaged batch costs that batch only, said loudly
 * with its records and bytes, its bytes kept in a side file and its offsets never given
 * out again; a damaged header field is repaired without loss; `--on-corruption refuse`
 * stops the broker instead; a damaged offsets.log entry is skipped, naming the commit.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { KafkajsRecord, KafkajsRecordBatch } from "../deps/kafkajs_protocol.ts";
import { splitBatches } from "../../lib/broker/record_batch.ts";
import { segmentFileName } from "../../lib/broker/partition_log.ts";
import { TopicRegistry } from "../../lib/broker/topics.ts";
import { brokerTopicDefaults } from "../../lib/broker/configs.ts";
import { startTestBroker, withTempDir } from "../_fixtures.ts";
import { spawnBrokerProcess } from "../_broker_process.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const RECORDS = 100_000;
const PER_BATCH = 100;

/** Writes `RECORDS` records in batches of `PER_BATCH` to `topic`-0 through the broker's own log code. */
async function fillPartition(dataDir: string, topic: string, records = RECORDS): Promise<string> {
  const e = await KafkajsRecordBatch({
    firstOffset: 0n,
    firstTimestamp: Date.now(),
    maxTimestamp: Date.now(),
    lastOffsetDelta: PER_BATCH - 1,
    records: Array.from({ length: PER_BATCH }, (_, i) =>
      KafkajsRecord({
        offsetDelta: i,
        timestampDelta: 0,
        key: null,
        value: Buffer.from(`record ${i} `.padEnd(40, "x")),
        headers: {},
      })),
  });
  const template = new Uint8Array(e.buffer);
  const reg = await TopicRegistry.open({
    dataDir,
    log: () => {},
    defaults: brokerTopicDefaults({ maxFrameBytes: 1 << 20 }),
  });
  const log = reg.create(topic, 1).partitions[0];
  for (let n = 0; n < records; n += PER_BATCH) {
    const bytes = template.slice();
    const batches = splitBatches(bytes);
    assert.ok(Array.isArray(batches));
    log.append(bytes, batches);
  }
  await reg.close();
  return join(dataDir, "logs", topic, "0", segmentFileName(0));
}

/** Byte positions of every batch in a segment file. */
function batchStarts(bytes: Uint8Array): number[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const starts: number[] = [];
  for (let p = 0; p < bytes.byteLength; p += v.getInt32(p + 8) + 12) starts.push(p);
  return starts;
}

Deno.test({
  name:
    "with --on-corruption refuse the broker does not start on a damaged log and changes nothing",
  ...opts,
  fn: () =>
    withTempDir(async (dataDir) => {
      const path = await fillPartition(dataDir, "strict", 2000);
      const bytes = Deno.readFileSync(path);
      bytes[batchStarts(bytes)[4] + 100] ^= 0xff;
      Deno.writeFileSync(path, bytes);
      await assert.rejects(
        () => startTestBroker({ dataDir, onCorruption: "refuse" }),
        /Cannot open partition strict-0: .* a batch failing its CRC-32C check at byte \d+: .*100 record\(s\).*--on-corruption refuse/,
      );
      assert.deepEqual(Deno.readFileSync(path), bytes, "the log is left as it was");
      // The task exits 1 and says why.
      await assert.rejects(
        () => spawnBrokerProcess(["--data-dir", dataDir, "--on-corruption", "refuse"]),
        /Cannot open partition strict-0/,
      );
      // A torn tail (a crash mid-write) is not damage: refuse mode still starts.
      Deno.writeFileSync(path, bytes.subarray(0, batchStarts(bytes)[4]).slice());
      const tail = Deno.readFileSync(path);
      Deno.writeFileSync(
        path,
        new Uint8Array([...tail, ...bytes.subarray(tail.byteLength, tail.byteLength + 30)]),
      );
      const broker = await startTestBroker({ dataDir, onCorruption: "refuse" });
      await broker.close();
    }),
});

/**
 * Segment files made and read for the broker's recovery tests (unit and stage layers):
 * a partition filled through the broker's own log code, and the batch positions in a segment.
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { KafkajsRecord, KafkajsRecordBatch } from "./deps/kafkajs_protocol.ts";
import { splitBatches } from "../lib/broker/record_batch.ts";
import { segmentFileName } from "../lib/broker/partition_log.ts";
import { TopicRegistry } from "../lib/broker/topics.ts";
import { brokerTopicDefaults } from "../lib/broker/configs.ts";

export const RECORDS = 100_000;

export const PER_BATCH = 100;

/** Writes `RECORDS` records in batches of `PER_BATCH` to `topic`-0 through the broker's own log code. */
export async function fillPartition(
  dataDir: string,
  topic: string,
  records = RECORDS,
): Promise<string> {
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
export function batchStarts(bytes: Uint8Array): number[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const starts: number[] = [];
  for (let p = 0; p < bytes.byteLength; p += v.getInt32(p + 8) + 12) starts.push(p);
  return starts;
}

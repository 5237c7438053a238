/**
 * ListOffsets (key 2), versions 0–8.
 *
 * Behavior:
 * - timestamp -1 (latest) answers the high watermark, -2 (earliest) and -4 (earliest
 *   local: there is no tiered storage) the log start offset, -3 (max timestamp, KIP-734)
 *   the record with the largest timestamp; any other timestamp answers the first record at
 *   or after it, or offset -1 when there is none. Records are found inside their batch
 *   when it is uncompressed or gzip; in snappy, lz4 and zstd batches the answer is the
 *   batch's first offset (by timestamp) or last offset (max timestamp).
 * - Offsets found carry leader epoch 0 (this broker has led every partition since it was
 *   made); unknown topics or partitions get UNKNOWN_TOPIC_OR_PARTITION. As in Kafka, a
 *   partition asked for twice gets INVALID_REQUEST, and -3 before v7 or -4 before v8
 *   UNSUPPORTED_VERSION.
 *
 * Version notes: v0 answers a list of offsets (max_num_offsets, at most one here); v1+
 * one offset with its timestamp; v2+ isolation_level (read_committed: latest is the last
 * stable offset, and no offset at or above it is answered) and
 * throttle_time_ms; v4+ leader epochs; v6+ flexible; v7+ max timestamp; v8+ earliest
 * local.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import type { PartitionLog } from "./partition_log.ts";
import { recordStamps } from "./record_scan.ts";
import { arr } from "./schema.ts";

/** The special timestamps. */
export const LATEST = -1;
/** See LATEST. */
export const EARLIEST = -2;
/** See LATEST. */
export const MAX_TIMESTAMP = -3;
/** See LATEST. */
export const EARLIEST_LOCAL = -4;

export const listOffsets = defineApi({
  key: 2,
  name: "ListOffsets",
  minVersion: 0,
  maxVersion: 8,
  flexibleFrom: 6,
  request: {
    replicaId: "int32",
    isolationLevel: "int8 v2+",
    topics: arr({
      name: "string",
      partitions: arr({
        partitionIndex: "int32",
        currentLeaderEpoch: "int32 v4+ =-1",
        timestamp: "int64",
        maxNumOffsets: "int32 v0 =1",
      }),
    }),
  },
  response: {
    throttleTimeMs: "int32 v2+",
    topics: arr({
      name: "string",
      partitions: arr({
        partitionIndex: "int32",
        errorCode: "int16",
        oldStyleOffsets: "[]int64 v0",
        timestamp: "int64 v1+ =-1",
        offset: "int64 v1+ =-1",
        leaderEpoch: "int32 v4+ =-1",
      }),
    }),
  },
  handle(req, ctx) {
    const v = ctx.apiVersion;
    const seen = new Map<string, number>();
    for (const t of req.topics) {
      for (const p of t.partitions) {
        const key = `${t.name}\0${p.partitionIndex}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }
    }
    return {
      topics: req.topics.map((t) => {
        const topic = ctx.state.topics.get(t.name);
        return {
          name: t.name,
          partitions: t.partitions.map((p) => {
            const fail = (errorCode: number) => ({ partitionIndex: p.partitionIndex, errorCode });
            // Kafka refuses a partition asked for twice, and specs newer than the version.
            if (seen.get(`${t.name}\0${p.partitionIndex}`)! > 1) {
              return fail(ErrorCode.INVALID_REQUEST);
            }
            if (
              (p.timestamp === MAX_TIMESTAMP && v < 7) || (p.timestamp === EARLIEST_LOCAL && v < 8)
            ) {
              return fail(ErrorCode.UNSUPPORTED_VERSION);
            }
            const log = topic?.partitions[p.partitionIndex];
            if (!log) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
            const found = lookup(log, p.timestamp, req.isolationLevel === 1);
            return {
              partitionIndex: p.partitionIndex,
              errorCode: ErrorCode.NONE,
              oldStyleOffsets: found.offset >= 0 && p.maxNumOffsets > 0 ? [found.offset] : [],
              timestamp: found.timestamp,
              offset: found.offset,
              leaderEpoch: found.offset >= 0 ? 0 : -1,
            };
          }),
        };
      }),
    };
  },
});

/** The offset (and its record's timestamp) a ListOffsets timestamp asks for. */
export function lookup(
  log: PartitionLog,
  ts: number,
  readCommitted = false,
): { offset: number; timestamp: number } {
  if (readCommitted && ts !== LATEST && ts !== EARLIEST && ts !== EARLIEST_LOCAL) {
    // Kafka answers nothing at or above the last stable offset to read_committed.
    const found = lookup(log, ts);
    return found.offset >= log.lastStableOffset ? { offset: -1, timestamp: -1 } : found;
  }
  switch (ts) {
    case LATEST:
      return { offset: readCommitted ? log.lastStableOffset : log.nextOffset, timestamp: -1 };
    case EARLIEST:
    case EARLIEST_LOCAL:
      return { offset: log.logStartOffset, timestamp: -1 };
    case MAX_TIMESTAMP: {
      if (log.nextOffset === log.logStartOffset) return { offset: -1, timestamp: -1 };
      const max = log.maxTimestamp;
      const batch = firstBatchFrom(log, log.offsetForTimestamp(max).offset);
      if (!batch) return { offset: -1, timestamp: -1 };
      const stamps = recordStamps(batch);
      const exact = stamps?.find((r) => r.timestamp === max && r.offset >= log.logStartOffset);
      if (exact) return { offset: exact.offset, timestamp: max };
      const v = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
      return { offset: Number(v.getBigInt64(0)) + v.getInt32(23), timestamp: max };
    }
    default: {
      const at = log.offsetForTimestamp(ts);
      if (at.offset < 0) return at;
      const batch = firstBatchFrom(log, at.offset);
      const exact = batch &&
        recordStamps(batch)?.find((r) => r.timestamp >= ts && r.offset >= log.logStartOffset);
      return exact ? { offset: exact.offset, timestamp: exact.timestamp } : at;
    }
  }
}

/** The whole batch holding `offset`, as one array. */
function firstBatchFrom(log: PartitionLog, offset: number): Uint8Array | undefined {
  if (offset < 0) return undefined;
  const { chunks, bytes } = log.read(offset, 1, true);
  if (bytes === 0) return undefined;
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

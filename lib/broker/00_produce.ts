/**
 * Produce (key 0), versions 0–7.
 *
 * Behavior:
 * - Each partition's `records` must be one or more magic-2 record batches; they are
 *   checked (length, CRC-32C), given offsets (base offset patched in place) and appended
 *   as raw bytes, never decoded. Magic 0/1 message sets get UNSUPPORTED_FOR_MESSAGE_FORMAT,
 *   broken batches CORRUPT_MESSAGE; a bad partition does not fail the others.
 * - acks 1 and -1 are the same on one node; acks 0 gets no response at all (clients count
 *   on that). Other acks values get INVALID_REQUIRED_ACKS.
 * - With `fsync: "always"` the response waits for fdatasync of the touched logs.
 * - Unknown topics are auto-created when the broker allows it (all of a request's with one
 *   metadata.json write; a failed write answers KAFKA_STORAGE_ERROR and appends nothing).
 * - Idempotent producers (producer id >= 0): one batch per partition; a retry of one of
 *   the producer's last five batches is answered with the offset it got the first time and
 *   not appended again; a sequence gap gets OUT_OF_ORDER_SEQUENCE_NUMBER, an epoch older
 *   than the producer's current one INVALID_PRODUCER_EPOCH (producer_state.ts). A request
 *   with a transactional id, or a transactional batch, gets
 *   TRANSACTIONAL_ID_AUTHORIZATION_FAILED: transactions are not supported.
 *
 * Version notes: v1+ throttle_time_ms (last field); v2+ log_append_time_ms (always -1:
 * CreateTime); v3+ transactional_id (ignored); v5+ log_start_offset.
 *
 * Not implemented: transactions, message.max.bytes (only the frame limit applies),
 * LogAppendTime topics.
 * @module
 */
import type { Api } from "./api.ts";
import { NO_RESPONSE } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import type { PartitionLog } from "./partition_log.ts";
import { splitBatches } from "./record_batch.ts";

interface PartitionResult {
  index: number;
  error: number;
  baseOffset: number;
  logStartOffset: number;
}

export const produce: Api = {
  key: 0,
  name: "Produce",
  minVersion: 0,
  maxVersion: 7,
  async handle(r, w, ctx) {
    const v = ctx.apiVersion;
    const transactionalId = v >= 3 ? r.nullableString() : null;
    const acks = r.int16();
    r.int32(); // timeout_ms: writes finish before we answer anyway
    // Parse everything first: a malformed request must change nothing.
    const request = r.array((r) => ({
      name: r.string(),
      partitions: r.array((r) => ({ index: r.int32(), records: r.nullableBytes() })),
    }));
    const touched = new Set<PartitionLog>();
    const known = ctx.state.topicsOrCreate(request.map((t) => t.name), true);
    const results = request.map(({ name, partitions }) => ({
      name,
      partitions: partitions.map((p): PartitionResult => {
        const res = { index: p.index, error: ErrorCode.NONE, baseOffset: -1, logStartOffset: -1 };
        if (acks !== 0 && acks !== 1 && acks !== -1) {
          return { ...res, error: ErrorCode.INVALID_REQUIRED_ACKS };
        }
        if (transactionalId !== null) {
          return { ...res, error: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED };
        }
        const topic = known.get(name)!;
        if (typeof topic === "number") return { ...res, error: topic };
        const log = topic.partitions[p.index];
        if (!log) return { ...res, error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
        if (!p.records) return { ...res, error: ErrorCode.CORRUPT_MESSAGE };
        const batches = splitBatches(p.records);
        if (!Array.isArray(batches)) {
          ctx.state.log(
            `refused a produce to ${name}-${p.index} from ${ctx.clientId}: ${batches.message}`,
          );
          return { ...res, error: batches.error };
        }
        const verdict = log.checkProducer(batches);
        if (verdict.kind === "duplicate") {
          return { ...res, baseOffset: verdict.firstOffset, logStartOffset: log.logStartOffset };
        }
        if (verdict.kind === "refuse") {
          ctx.state.log(`refused a produce to ${name}-${p.index}: ${verdict.message}`);
          return { ...res, error: verdict.error };
        }
        try {
          const base = log.append(p.records, batches);
          touched.add(log);
          return { ...res, baseOffset: base, logStartOffset: log.logStartOffset };
        } catch (err) {
          ctx.state.log(`cannot append to ${name}-${p.index}: ${err}`);
          return { ...res, error: ErrorCode.KAFKA_STORAGE_ERROR };
        }
      }),
    }));
    await ctx.state.afterWrite(touched);
    if (acks === 0) return NO_RESPONSE;
    w.array(results, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        w.int32(p.index).int16(p.error).int64(p.baseOffset);
        if (v >= 2) w.int64(-1); // log_append_time_ms
        if (v >= 5) w.int64(p.logStartOffset);
      });
    });
    if (v >= 1) w.int32(0); // throttle_time_ms
    return undefined;
  },
};

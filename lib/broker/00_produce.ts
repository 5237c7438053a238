/**
 * Produce (key 0), versions 0–11.
 *
 * Behavior:
 * - Each partition's `records` are record batches (magic 2); they are checked (length,
 *   CRC-32C), given offsets (base offset patched in place) and appended as raw bytes, never
 *   decoded. A bad partition does not fail the others.
 * - As Kafka 3.9 checks: from v3 the records must be exactly one magic-2 batch, else
 *   INVALID_RECORD; before v7 a zstd batch gets UNSUPPORTED_COMPRESSION_TYPE. Old message
 *   sets (magic 0/1, Produce v0–v2, e.g. kafka-node) get UNSUPPORTED_FOR_MESSAGE_FORMAT
 *   and a log line: Kafka would convert them, this broker does not. Broken batches get
 *   CORRUPT_MESSAGE; a batch over the topic's max.message.bytes MESSAGE_TOO_LARGE; acks=all
 *   on a topic with min.insync.replicas above 1 NOT_ENOUGH_REPLICAS (one replica exists).
 *   From v8 the error comes with a message.
 * - acks 1 and -1 are the same on one node; acks 0 gets no response at all (clients count
 *   on that). Other acks values get INVALID_REQUIRED_ACKS.
 * - With `fsync: "always"` the response waits for fdatasync of the touched logs.
 * - Unknown topics are auto-created when the broker allows it (all of a request's with one
 *   metadata.json write; a failed write answers KAFKA_STORAGE_ERROR and appends nothing).
 * - Idempotent producers (producer id >= 0): a retry of one of the producer's last five
 *   batches is answered with the offset it got the first time and not appended again; a
 *   sequence gap gets OUT_OF_ORDER_SEQUENCE_NUMBER, an epoch older than the producer's
 *   current one INVALID_PRODUCER_EPOCH (producer_state.ts).
 * - Transactional batches: the request's transactional id must hold the producer id and
 *   epoch (INVALID_PRODUCER_ID_MAPPING, INVALID_PRODUCER_EPOCH for a fenced one) and, as
 *   Kafka 3.9 verifies (KIP-890), the partition must be in its open transaction
 *   (INVALID_TXN_STATE, TRANSACTION_ABORTABLE from v11); without a transactional id
 *   TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
 *
 * Version notes: v1+ throttle_time_ms (last field); v2+ log_append_time_ms (always -1:
 * CreateTime); v3+ transactional_id; v5+ log_start_offset; v7+ zstd; v8+ record errors and
 * error message; v9+ flexible; v10+ tagged leader hints (left out: this broker leads
 * everything); v11 same as v10.
 *
 * Not implemented: LogAppendTime topics, conversion of old message sets.
 * @module
 */
import { defineApi, NO_RESPONSE } from "./api.ts";
import { brokerTopicDefaults, topicConfig } from "./configs.ts";
import { ErrorCode, errorName } from "./error_codes.ts";
import type { PartitionLog } from "./partition_log.ts";
import { batchCrcOk, type BatchInfo, splitBatches, TRANSACTIONAL_FLAG } from "./record_batch.ts";
import { arr, obj } from "./schema.ts";

interface PartitionResult {
  index: number;
  errorCode: number;
  baseOffset: number;
  logStartOffset: number;
  errorMessage: string | null;
}

export const produce = defineApi({
  key: 0,
  name: "Produce",
  minVersion: 0,
  maxVersion: 11,
  flexibleFrom: 9,
  request: {
    transactionalId: "string v3+ null3+",
    acks: "int16",
    timeoutMs: "int32",
    topicData: arr({
      name: "string",
      partitionData: arr({ index: "int32", records: "records null" }),
    }),
  },
  response: {
    responses: arr({
      name: "string",
      partitionResponses: arr({
        index: "int32",
        errorCode: "int16",
        baseOffset: "int64",
        logAppendTimeMs: "int64 v2+ =-1",
        logStartOffset: "int64 v5+ =-1",
        recordErrors: arr({ batchIndex: "int32", batchIndexErrorMessage: "string null" }, "v8+"),
        errorMessage: "string v8+ null",
        currentLeader: obj({ leaderId: "int32 =-1", leaderEpoch: "int32 =-1" }, "v10+ tag0"),
      }),
    }),
    throttleTimeMs: "int32 v1+",
    nodeEndpoints: arr(
      { nodeId: "int32", host: "string", port: "int32", rack: "string null" },
      "v10+ tag0",
    ),
  },
  async handle(req, ctx) {
    const v = ctx.apiVersion;
    const { acks } = req;
    const s = ctx.state;
    const defaults = brokerTopicDefaults(s.settings);
    const touched = new Set<PartitionLog>();
    // Unknown topics are created all at once: one metadata.json write.
    const known = s.topicsOrCreate(req.topicData.map((t) => t.name), true);
    const responses = req.topicData.map(({ name, partitionData }) => ({
      name,
      partitionResponses: partitionData.map((p): PartitionResult => {
        const res = {
          index: p.index,
          errorCode: ErrorCode.NONE as number,
          baseOffset: -1,
          logStartOffset: -1,
          errorMessage: null,
        };
        // Errors Kafka finds while appending (its LogValidator) carry the log start offset;
        // those it finds in the request before that, -1.
        const fail = (errorCode: number, errorMessage: string | null = null, logStart = -1) => ({
          ...res,
          errorCode,
          errorMessage,
          logStartOffset: logStart,
        });
        if (acks !== 0 && acks !== 1 && acks !== -1) return fail(ErrorCode.INVALID_REQUIRED_ACKS);
        const topic = known.get(name)!;
        if (typeof topic === "number") return fail(topic);
        const log = topic.partitions[p.index];
        if (!log) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        if (!p.records) return fail(ErrorCode.CORRUPT_MESSAGE);
        const batches = splitBatches(p.records, { checkCrc: false });
        if (!Array.isArray(batches)) {
          const old = batches.error === ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT;
          s.log(
            `refused a produce (v${v}) to ${name}-${p.index} from client "${ctx.clientId}": ${batches.message}${
              old
                ? "; this broker stores record format v2 only, written by Kafka 0.11+ clients"
                : ""
            }`,
          );
          // From v3 Kafka answers an old message set as an invalid record.
          return fail(old && v >= 3 ? ErrorCode.INVALID_RECORD : batches.error, batches.message);
        }
        const refused = requestProblem(v, p.records, batches);
        if (refused) return fail(refused.error, refused.message);
        const problem = batchProblem(p.records, batches);
        if (problem) return fail(problem.error, problem.message, log.logStartOffset);
        const config = topicConfig(topic, defaults);
        const largest = Math.max(...batches.map((b) => b.size));
        if (largest > config.maxMessageBytes) {
          return fail(
            ErrorCode.MESSAGE_TOO_LARGE,
            `a batch of ${largest} bytes is larger than max.message.bytes (${config.maxMessageBytes})`,
            log.logStartOffset,
          );
        }
        if (acks === -1 && config.minInsyncReplicas > 1) {
          return fail(
            ErrorCode.NOT_ENOUGH_REPLICAS,
            `min.insync.replicas is ${config.minInsyncReplicas} but this broker is the only replica`,
            log.logStartOffset,
          );
        }
        if (batches[0].attributes & TRANSACTIONAL_FLAG) {
          const b = batches[0];
          let code = req.transactionalId === null
            ? ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
            : s.txns.checkProduce(
              req.transactionalId,
              b.producerId,
              b.producerEpoch,
              name,
              p.index,
            );
          // A failed verification is TRANSACTION_ABORTABLE from v11 in Kafka 3.9.
          if (code === ErrorCode.INVALID_TXN_STATE && v >= 11) {
            code = ErrorCode.TRANSACTION_ABORTABLE;
          }
          if (code !== ErrorCode.NONE) {
            const why = req.transactionalId === null
              ? "a transactional batch needs the request's transactional id"
              : `transactional id "${req.transactionalId}" (producer ${b.producerId}, epoch ` +
                `${b.producerEpoch}) cannot write to ${name}-${p.index}: ${errorName(code)}`;
            s.log(`refused a produce to ${name}-${p.index}: ${why}`);
            return fail(code, why); // found before appending: no log start offset, as in Kafka
          }
        }
        const verdict = log.checkProducer(batches);
        if (verdict.kind === "duplicate") {
          // A retry of a batch already in the log: its first offset, nothing appended.
          return { ...res, baseOffset: verdict.firstOffset, logStartOffset: log.logStartOffset };
        }
        if (verdict.kind === "refuse") {
          s.log(`refused a produce to ${name}-${p.index}: ${verdict.message}`);
          return fail(verdict.error, verdict.message, log.logStartOffset);
        }
        try {
          const base = log.append(p.records, batches);
          touched.add(log);
          return { ...res, baseOffset: base, logStartOffset: log.logStartOffset };
        } catch (err) {
          s.log(`cannot append to ${name}-${p.index}: ${err}`);
          return fail(ErrorCode.KAFKA_STORAGE_ERROR);
        }
      }),
    }));
    await s.afterWrite(touched);
    if (acks === 0) return NO_RESPONSE;
    return { responses };
  },
});

/** What Kafka refuses in a produce of version `v` before it appends (ProduceRequest). */
function requestProblem(
  v: number,
  records: Uint8Array,
  batches: BatchInfo[],
): { error: number; message: string } | undefined {
  if (v >= 3 && batches.length !== 1) {
    return {
      error: ErrorCode.INVALID_RECORD,
      message:
        `Produce v${v} must carry exactly one record batch per partition, not ${batches.length}`,
    };
  }
  // The compression codec is the low 3 bits of the attributes (int16 at byte 21); zstd = 4.
  if (v < 7 && batches.some((b) => (records[b.start + 22] & 0x07) === 4)) {
    return {
      error: ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
      message: `Produce v${v} cannot carry zstd batches (v7+ can)`,
    };
  }
  return undefined;
}

/** What Kafka's LogValidator refuses in the batches it appends. */
function batchProblem(
  records: Uint8Array,
  batches: BatchInfo[],
): { error: number; message: string } | undefined {
  for (const b of batches) {
    if (!batchCrcOk(records, b.start, b.size)) {
      return { error: ErrorCode.CORRUPT_MESSAGE, message: "a batch fails its CRC-32C check" };
    }
    // The offsets a batch claims must match its record count (int32 at byte 57).
    const count = new DataView(records.buffer, records.byteOffset + b.start + 57, 4).getInt32(0);
    if (count !== b.lastOffsetDelta + 1) {
      return {
        error: ErrorCode.INVALID_RECORD,
        message: `a batch claims ${b.lastOffsetDelta + 1} offsets for ${count} records`,
      };
    }
    // Attributes bit 5: a control batch (transaction markers), which only brokers write.
    if (records[b.start + 22] & 0x20) {
      return { error: ErrorCode.INVALID_RECORD, message: "clients cannot write control batches" };
    }
  }
  return undefined;
}

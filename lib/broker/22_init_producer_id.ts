/**
 * InitProducerId (key 22), versions 0–5.
 *
 * Behavior:
 * - Without a transactional id (an idempotent producer, the Java client's default since
 *   Kafka 3.0): a new producer id with epoch 0, as Kafka gives one, also when the request
 *   (v3+) names the producer's current id and epoch. Ids come from `producer_ids.json` a
 *   block of 1,000 at a time, written before use, so no id is handed out twice across
 *   restarts; when that write fails the answer is COORDINATOR_NOT_AVAILABLE, which clients
 *   retry.
 * - With a transactional id: the transaction coordinator's (transactions.ts): a new id
 *   gets a producer id with epoch 0, a known one its epoch bumped, which fences a zombie
 *   using the same id; an open transaction is aborted first and the answer is
 *   CONCURRENT_TRANSACTIONS (the client retries). A timeout above 900000 ms
 *   (transaction.max.timeout.ms) or below 1 gets INVALID_TRANSACTION_TIMEOUT; v3+ naming
 *   a producer id and epoch that are not the current ones PRODUCER_FENCED
 *   (INVALID_PRODUCER_EPOCH before v4).
 * - The sequence checks themselves are in Produce (producer_state.ts).
 *
 * Version notes: v1 same as v0; v2+ flexible; v3+ producer_id and producer_epoch in the
 * request (a producer resuming after an error); v4 PRODUCER_FENCED; v5
 * TRANSACTION_ABORTABLE (never answered here).
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { TopicError } from "./topics.ts";

export const initProducerId = defineApi({
  key: 22,
  name: "InitProducerId",
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 2,
  request: {
    transactionalId: "string null",
    transactionTimeoutMs: "int32",
    producerId: "int64 v3+ =-1",
    producerEpoch: "int16 v3+ =-1",
  },
  response: {
    throttleTimeMs: "int32",
    errorCode: "int16",
    producerId: "int64 =-1",
    producerEpoch: "int16",
  },
  handle(req, ctx) {
    const refuse = (errorCode: number) => ({ errorCode, producerId: -1, producerEpoch: -1 });
    if (req.transactionalId !== null) {
      return ctx.state.txns.initProducerId(req.transactionalId, req.transactionTimeoutMs, {
        producerId: req.producerId,
        producerEpoch: req.producerEpoch,
      }).then((r) =>
        r.errorCode === ErrorCode.PRODUCER_FENCED && ctx.apiVersion < 4
          ? { ...r, errorCode: ErrorCode.INVALID_PRODUCER_EPOCH }
          : r
      );
    }
    try {
      return {
        errorCode: ErrorCode.NONE,
        producerId: ctx.state.allocateProducerId(),
        producerEpoch: 0,
      };
    } catch (err) {
      ctx.state.log(`cannot hand out a producer id: ${err instanceof Error ? err.message : err}`);
      return refuse(err instanceof TopicError ? err.code : ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
  },
});

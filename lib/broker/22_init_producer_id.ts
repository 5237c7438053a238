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
 * - With a transactional id: TRANSACTIONAL_ID_AUTHORIZATION_FAILED, what a Kafka broker
 *   answers a client that may not use transactions (FindCoordinator answers the same for a
 *   transaction coordinator). Transactions are not offered (AddPartitionsToTxn, EndTxn and
 *   the other transaction APIs are not in the registry); clients report the refusal at
 *   once instead of retrying.
 * - The sequence checks themselves are in Produce (producer_state.ts).
 *
 * Version notes: v1 same as v0; v2+ flexible; v3+ producer_id and producer_epoch in the
 * request (a producer resuming after an error); v4 PRODUCER_FENCED; v5
 * TRANSACTION_ABORTABLE (neither is ever answered here).
 *
 * Not implemented: transactions.
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
      ctx.state.log(
        `refused InitProducerId for transactional id "${req.transactionalId}" from client ` +
          `"${ctx.clientId}": transactions are not supported (an idempotent producer needs ` +
          `no transactional id)`,
      );
      return refuse(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
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

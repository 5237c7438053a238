/**
 * InitProducerId (key 22), versions 0–1.
 *
 * Behavior:
 * - Without a transactional id (an idempotent producer, the Java client's default since
 *   Kafka 3.0): a new producer id with epoch 0, as Kafka gives one. Ids come from
 *   `producer_ids.json` a block of 1,000 at a time, written before use, so no id is handed
 *   out twice across restarts; when that write fails the answer is
 *   COORDINATOR_NOT_AVAILABLE, which clients retry.
 * - With a transactional id: TRANSACTIONAL_ID_AUTHORIZATION_FAILED, what a Kafka broker
 *   answers a client that may not use transactions. Transactions are not offered
 *   (AddPartitionsToTxn, EndTxn and the other transaction APIs are not in the registry);
 *   clients report the refusal at once instead of retrying.
 * - The sequence checks themselves are in Produce (producer_state.ts).
 *
 * Version notes: v1 same as v0; v2+ flexible; v3+ producer_id and producer_epoch in the
 * request (a producer resuming after an error; an idempotent producer gets a new id anyway,
 * as from Kafka); v4 PRODUCER_FENCED; v5 TRANSACTION_ABORTABLE.
 *
 * Not implemented: the flexible versions (v2–v5) until the codec serves flexible response
 * headers; transactions.
 * @module
 */
import type { Api } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { TopicError } from "./topics.ts";

export const initProducerId: Api = {
  key: 22,
  name: "InitProducerId",
  minVersion: 0,
  maxVersion: 1,
  handle(r, w, ctx) {
    const transactionalId = r.nullableString();
    r.int32(); // transaction_timeout_ms
    let error: number = ErrorCode.NONE;
    let producerId = -1;
    let epoch = -1;
    if (transactionalId !== null) {
      error = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
      ctx.state.log(
        `refused InitProducerId for transactional id "${transactionalId}" from ${ctx.clientId}: ` +
          `transactions are not supported (an idempotent producer needs no transactional id)`,
      );
    } else {
      try {
        producerId = ctx.state.allocateProducerId();
        epoch = 0;
      } catch (err) {
        error = err instanceof TopicError ? err.code : ErrorCode.COORDINATOR_NOT_AVAILABLE;
        ctx.state.log(`cannot hand out a producer id: ${err instanceof Error ? err.message : err}`);
      }
    }
    w.int32(0).int16(error).int64(producerId).int16(epoch); // throttle_time_ms first
  },
};

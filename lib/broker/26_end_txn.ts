/**
 * EndTxn (key 26), versions 0–4, as Kafka 3.9 serves them.
 *
 * Behavior: commits or aborts the transactional id's open transaction: its state becomes
 * PrepareCommit/PrepareAbort (written), a marker goes into each of its partitions (a
 * control batch: what WriteTxnMarkers writes in Kafka), a commit stores the group offsets
 * TxnOffsetCommit held pending, and the state becomes CompleteCommit/CompleteAbort. A
 * retried EndTxn of a completed transaction answers NONE; the other outcome
 * INVALID_TXN_STATE, as does ending with no transaction open. Errors as AddPartitionsToTxn
 * answers them (PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2).
 *
 * Version notes: v1 same as v0; v2 PRODUCER_FENCED; v3+ flexible; v4
 * TRANSACTION_ABORTABLE (never answered here).
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";

export const endTxn = defineApi({
  key: 26,
  name: "EndTxn",
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 3,
  request: {
    transactionalId: "string",
    producerId: "int64",
    producerEpoch: "int16",
    committed: "bool",
  },
  response: {
    throttleTimeMs: "int32",
    errorCode: "int16",
  },
  async handle(req, ctx) {
    let errorCode = await ctx.state.txns.endTxn(
      req.transactionalId,
      req.producerId,
      req.producerEpoch,
      req.committed,
    );
    if (errorCode === ErrorCode.PRODUCER_FENCED && ctx.apiVersion < 2) {
      errorCode = ErrorCode.INVALID_PRODUCER_EPOCH;
    }
    return { errorCode };
  },
});

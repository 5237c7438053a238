/**
 * AddOffsetsToTxn (key 25), versions 0–4, as Kafka 3.9 serves them.
 *
 * Behavior: the group's offsets become part of the transactional id's open transaction
 * (one is opened if none is), so TxnOffsetCommit may commit them; errors as
 * AddPartitionsToTxn answers them (INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED —
 * INVALID_PRODUCER_EPOCH before v2 —, CONCURRENT_TRANSACTIONS).
 *
 * Version notes: v1 same as v0; v2 PRODUCER_FENCED; v3+ flexible; v4 same as v3.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";

export const addOffsetsToTxn = defineApi({
  key: 25,
  name: "AddOffsetsToTxn",
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 3,
  request: {
    transactionalId: "string",
    producerId: "int64",
    producerEpoch: "int16",
    groupId: "string",
  },
  response: {
    throttleTimeMs: "int32",
    errorCode: "int16",
  },
  handle(req, ctx) {
    if (!req.groupId) return { errorCode: ErrorCode.INVALID_GROUP_ID };
    let errorCode = ctx.state.txns.addOffsets(
      req.transactionalId,
      req.producerId,
      req.producerEpoch,
      req.groupId,
    );
    if (errorCode === ErrorCode.PRODUCER_FENCED && ctx.apiVersion < 2) {
      errorCode = ErrorCode.INVALID_PRODUCER_EPOCH;
    }
    return { errorCode };
  },
});

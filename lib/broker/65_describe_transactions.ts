/**
 * DescribeTransactions (key 65), version 0 (`kafka-transactions.sh describe`).
 *
 * Behavior: for each transactional id its state (Kafka's names: Empty, Ongoing,
 * PrepareCommit, …), timeout, the start of its open transaction (-1 when none), producer
 * id and epoch and the partitions of the open transaction; an unknown id gets
 * TRANSACTIONAL_ID_NOT_FOUND.
 *
 * Version notes: v0 is flexible.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";
import { TransactionCoordinator } from "./transactions.ts";

export const describeTransactions = defineApi({
  key: 65,
  name: "DescribeTransactions",
  minVersion: 0,
  maxVersion: 0,
  flexibleFrom: 0,
  request: {
    transactionalIds: "[]string",
  },
  response: {
    throttleTimeMs: "int32",
    transactionStates: arr({
      errorCode: "int16",
      transactionalId: "string",
      transactionState: "string",
      transactionTimeoutMs: "int32",
      transactionStartTimeMs: "int64",
      producerId: "int64",
      producerEpoch: "int16",
      topics: arr({ topic: "string", partitions: "[]int32" }),
    }),
  },
  handle(req, ctx) {
    return {
      transactionStates: req.transactionalIds.map((id) => {
        const t = ctx.state.txns.get(id);
        if (!t) {
          return {
            errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND,
            transactionalId: id,
            // Kafka leaves the other fields at their zero defaults.
            transactionState: "",
            transactionTimeoutMs: 0,
            transactionStartTimeMs: 0,
            producerId: 0,
            producerEpoch: 0,
            topics: [],
          };
        }
        return {
          errorCode: ErrorCode.NONE,
          transactionalId: id,
          transactionState: t.state,
          transactionTimeoutMs: t.timeoutMs,
          transactionStartTimeMs: t.startTime,
          producerId: t.producerId,
          producerEpoch: t.producerEpoch,
          topics: TransactionCoordinator.topics(t),
        };
      }),
    };
  },
});

/**
 * AddPartitionsToTxn (key 24), versions 0–5, as Kafka 3.9 serves them.
 *
 * Behavior: the partitions join the transactional id's open transaction (one is opened if
 * none is); the state is written before the answer (transactions.ts). A partition that
 * does not exist gets UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED;
 * an unknown transactional id or producer id INVALID_PRODUCER_ID_MAPPING; an old epoch
 * PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before v2); a transaction being committed or
 * aborted CONCURRENT_TRANSACTIONS.
 *
 * Version notes: v1 same as v0; v2 PRODUCER_FENCED; v3+ flexible; v4+ the batched form
 * brokers send (KIP-890): several transactions per request, each with `verify_only`
 * (check the partitions are in the transaction, INVALID_TXN_STATE when not, adding
 * nothing), and a top-level error code; v5 same as v4.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";
import type { TransactionCoordinator } from "./transactions.ts";

const topicsSpec = { name: "string", partitions: "[]int32" } as const;
const resultSpec = {
  name: "string",
  resultsByPartition: arr({ partitionIndex: "int32", partitionErrorCode: "int16" }),
} as const;

type Topics = { name: string; partitions: number[] }[];

function add(
  txns: TransactionCoordinator,
  id: string,
  producerId: number,
  epoch: number,
  topics: Topics,
  verifyOnly: boolean,
  version: number,
) {
  const parts = topics.flatMap((t) =>
    t.partitions.map((partition) => ({ topic: t.name, partition }))
  );
  const codes = txns.addPartitions(id, producerId, epoch, parts, verifyOnly);
  return topics.map((t) => ({
    name: t.name,
    resultsByPartition: t.partitions.map((p) => {
      let code = codes.get(`${t.name}\0${p}`) ?? ErrorCode.NONE;
      if (code === ErrorCode.PRODUCER_FENCED && version < 2) {
        code = ErrorCode.INVALID_PRODUCER_EPOCH;
      }
      return { partitionIndex: p, partitionErrorCode: code };
    }),
  }));
}

export const addPartitionsToTxn = defineApi({
  key: 24,
  name: "AddPartitionsToTxn",
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 3,
  request: {
    transactions: arr({
      transactionalId: "string",
      producerId: "int64",
      producerEpoch: "int16",
      verifyOnly: "bool",
      topics: arr(topicsSpec),
    }, "v4+"),
    v3AndBelowTransactionalId: "string v0-3",
    v3AndBelowProducerId: "int64 v0-3",
    v3AndBelowProducerEpoch: "int16 v0-3",
    v3AndBelowTopics: arr(topicsSpec, "v0-3"),
  },
  response: {
    throttleTimeMs: "int32",
    errorCode: "int16 v4+",
    resultsByTransaction: arr({ transactionalId: "string", topicResults: arr(resultSpec) }, "v4+"),
    resultsByTopicV3AndBelow: arr(resultSpec, "v0-3"),
  },
  handle(req, ctx) {
    const txns = ctx.state.txns;
    const v = ctx.apiVersion;
    if (v >= 4) {
      return {
        errorCode: ErrorCode.NONE,
        resultsByTransaction: req.transactions.map((t) => ({
          transactionalId: t.transactionalId,
          topicResults: add(
            txns,
            t.transactionalId,
            t.producerId,
            t.producerEpoch,
            t.topics,
            t.verifyOnly,
            v,
          ),
        })),
      };
    }
    return {
      resultsByTopicV3AndBelow: add(
        txns,
        req.v3AndBelowTransactionalId,
        req.v3AndBelowProducerId,
        req.v3AndBelowProducerEpoch,
        req.v3AndBelowTopics,
        false,
        v,
      ),
    };
  },
});

/**
 * DescribeProducers (key 61), version 0 (`kafka-transactions.sh describe-producers` and
 * `find-hanging`).
 *
 * Behavior: for each partition asked, the producers it knows (idempotent and
 * transactional, as producer_state.ts keeps them): producer id and epoch, the last
 * sequence number written (-1 when none in this epoch), the max timestamp of its last batch
 * or marker, the coordinator epoch of its last marker (-1 before one; this broker's
 * coordinator is always epoch 0) and the first offset of its open transaction (-1 when
 * none). An unknown topic or partition gets UNKNOWN_TOPIC_OR_PARTITION.
 *
 * Version notes: v0 is flexible.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";

export const describeProducers = defineApi({
  key: 61,
  name: "DescribeProducers",
  minVersion: 0,
  maxVersion: 0,
  flexibleFrom: 0,
  request: {
    topics: arr({ name: "string", partitionIndexes: "[]int32" }),
  },
  response: {
    throttleTimeMs: "int32",
    topics: arr({
      name: "string",
      partitions: arr({
        partitionIndex: "int32",
        errorCode: "int16",
        errorMessage: "string null",
        activeProducers: arr({
          producerId: "int64",
          producerEpoch: "int32",
          lastSequence: "int32 =-1",
          lastTimestamp: "int64 =-1",
          coordinatorEpoch: "int32",
          currentTxnStartOffset: "int64 =-1",
        }),
      }),
    }),
  },
  handle(req, ctx) {
    return {
      topics: req.topics.map((t) => {
        const topic = ctx.state.topics.get(t.name);
        return {
          name: t.name,
          partitions: t.partitionIndexes.map((partitionIndex) => {
            const log = topic?.partitions[partitionIndex];
            if (!log) {
              return {
                partitionIndex,
                errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                // Apache Kafka 3.9.1's words.
                errorMessage: "This server does not host this topic-partition.",
                activeProducers: [],
              };
            }
            return {
              partitionIndex,
              errorCode: ErrorCode.NONE,
              errorMessage: null,
              activeProducers: [...log.producers.all()].map(([producerId, e]) => ({
                producerId,
                producerEpoch: e.epoch,
                lastSequence: e.batches.at(-1)?.lastSeq ?? -1,
                lastTimestamp: e.lastTimestamp ?? -1,
                coordinatorEpoch: e.coordinatorEpoch ?? -1,
                currentTxnStartOffset: log.txns.ongoing.get(producerId) ?? -1,
              })),
            };
          }),
        };
      }),
    };
  },
});

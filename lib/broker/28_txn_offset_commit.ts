/**
 * TxnOffsetCommit (key 28), versions 0–4, as Kafka 3.9 serves them.
 *
 * Behavior: the offsets are held in the transaction (transactions.ts) and stored for the
 * group only when the transaction commits; until then OffsetFetch does not show them (and
 * answers UNSTABLE_OFFSET_COMMIT to a consumer asking for stable offsets). The group must
 * have been added with AddOffsetsToTxn (else INVALID_TXN_STATE); an old producer epoch gets
 * INVALID_PRODUCER_EPOCH, an unknown producer INVALID_PRODUCER_ID_MAPPING. From v3 a
 * consumer's generation and member id are checked as OffsetCommit checks them (generation
 * -1 without a member id skips the check).
 *
 * Version notes: v1 same as v0; v2+ committed_leader_epoch (kept nowhere: one replica);
 * v3+ flexible, generation id, member id, group instance id; v4 same as v3.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";

export const txnOffsetCommit = defineApi({
  key: 28,
  name: "TxnOffsetCommit",
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 3,
  request: {
    transactionalId: "string",
    groupId: "string",
    producerId: "int64",
    producerEpoch: "int16",
    generationId: "int32 v3+ =-1",
    memberId: "string v3+",
    groupInstanceId: "string v3+ null3+",
    topics: arr({
      name: "string",
      partitions: arr({
        partitionIndex: "int32",
        committedOffset: "int64",
        committedLeaderEpoch: "int32 v2+ =-1",
        committedMetadata: "string null",
      }),
    }),
  },
  response: {
    throttleTimeMs: "int32",
    topics: arr({
      name: "string",
      partitions: arr({ partitionIndex: "int32", errorCode: "int16" }),
    }),
  },
  handle(req, ctx) {
    const s = ctx.state;
    let groupError: number = ErrorCode.NONE;
    if (!req.groupId) groupError = ErrorCode.INVALID_GROUP_ID;
    else if (req.generationId >= 0 || req.memberId) {
      groupError = s.consumerGroups.checkCommit(
        req.groupId,
        req.memberId,
        req.generationId,
        ctx.apiVersion,
        true,
      ) ?? s.groups.checkCommit(req.groupId, req.generationId, req.memberId);
    }
    const codes = new Map<string, number>();
    const offsets: { topic: string; partition: number; offset: number; metadata: string | null }[] =
      [];
    for (const t of req.topics) {
      for (const p of t.partitions) {
        const k = `${t.name}\0${p.partitionIndex}`;
        if (!s.topics.get(t.name)?.partitions[p.partitionIndex]) {
          codes.set(k, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        } else if (groupError) codes.set(k, groupError);
        else {
          offsets.push({
            topic: t.name,
            partition: p.partitionIndex,
            offset: p.committedOffset,
            metadata: p.committedMetadata,
          });
        }
      }
    }
    if (offsets.length) {
      let code = s.txns.txnOffsetCommit(
        req.transactionalId,
        req.producerId,
        req.producerEpoch,
        req.groupId,
        offsets,
      );
      if (code === ErrorCode.PRODUCER_FENCED) code = ErrorCode.INVALID_PRODUCER_EPOCH;
      for (const o of offsets) codes.set(`${o.topic}\0${o.partition}`, code);
    }
    return {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: codes.get(`${t.name}\0${p.partitionIndex}`) ?? ErrorCode.NONE,
        })),
      })),
    };
  },
});

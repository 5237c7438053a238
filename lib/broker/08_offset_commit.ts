/**
 * OffsetCommit (key 8), versions 0–9.
 *
 * Behavior:
 * - Stores committed offsets for the group (persisted in offsets.log with a data dir).
 * - Members must give the current generation and a known member id (else
 *   ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID); commits while the group awaits its sync get
 *   REBALANCE_IN_PROGRESS. Generation -1 with an empty member id is a "simple" commit,
 *   accepted for groups with no members (admin tools).
 * - v0 (offsets kept in ZooKeeper) gets UNSUPPORTED_VERSION for every partition, as a KRaft
 *   Kafka answers.
 * - Unknown topics or partitions get UNKNOWN_TOPIC_OR_PARTITION; metadata over 4096 bytes
 *   OFFSET_METADATA_TOO_LARGE.
 *
 * Version notes: v1+ generation_id, member_id (v1 also a per-partition commit timestamp,
 * ignored); v2–4 retention_time_ms (ignored: offsets never expire); v3+ throttle_time_ms;
 * v6+ committed leader epoch (not kept: OffsetFetch answers -1, so clients skip epoch
 * validation); v7+ group_instance_id; v8+ flexible; v9 KIP-848 member epochs: a consumer
 * group's member must give its current epoch (else STALE_MEMBER_EPOCH, or
 * UNKNOWN_MEMBER_ID), and must use v9+ (else UNSUPPORTED_VERSION); epoch -1 commits to an
 * empty consumer group (admin tools).
 *
 * Not implemented: offset expiry (offsets.retention.minutes).
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";

/** Largest offset metadata string accepted (Kafka's offset.metadata.max.bytes). */
const MAX_METADATA_BYTES = 4096;

export const offsetCommit = defineApi({
  key: 8,
  name: "OffsetCommit",
  minVersion: 0,
  maxVersion: 9,
  flexibleFrom: 8,
  request: {
    groupId: "string",
    generationIdOrMemberEpoch: "int32 v1+ =-1",
    memberId: "string v1+",
    groupInstanceId: "string v7+ null7+",
    retentionTimeMs: "int64 v2-4 =-1",
    topics: arr({
      name: "string",
      partitions: arr({
        partitionIndex: "int32",
        committedOffset: "int64",
        committedLeaderEpoch: "int32 v6+ =-1",
        commitTimestamp: "int64 v1 =-1",
        committedMetadata: "string null",
      }),
    }),
  },
  response: {
    throttleTimeMs: "int32 v3+",
    topics: arr({
      name: "string",
      partitions: arr({ partitionIndex: "int32", errorCode: "int16" }),
    }),
  },
  async handle(req, ctx) {
    const s = ctx.state;
    const { groupId } = req;
    // A consumer group (KIP-848) checks the member epoch; a classic group the generation.
    const groupError = s.consumerGroups.checkCommit(
      groupId,
      req.memberId,
      req.generationIdOrMemberEpoch,
      ctx.apiVersion,
    ) ?? s.groups.checkCommit(groupId, req.generationIdOrMemberEpoch, req.memberId);
    const accepted: {
      topic: string;
      partition: number;
      offset: number;
      metadata: string | null;
    }[] = [];
    const topics = req.topics.map((t) => {
      const topic = s.topics.get(t.name);
      return {
        name: t.name,
        partitions: t.partitions.map((p) => {
          let errorCode: number = ErrorCode.NONE;
          // v0 commits went to ZooKeeper: a KRaft Kafka refuses them, and so does this broker.
          if (ctx.apiVersion === 0) errorCode = ErrorCode.UNSUPPORTED_VERSION;
          // Kafka checks the partition exists before it asks the group.
          else if (!topic?.partitions[p.partitionIndex]) {
            errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          } else if (!groupId) errorCode = ErrorCode.INVALID_GROUP_ID;
          else if (groupError) errorCode = groupError;
          else if (
            new TextEncoder().encode(p.committedMetadata ?? "").byteLength > MAX_METADATA_BYTES
          ) {
            errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE;
          } else {
            accepted.push({
              topic: t.name,
              partition: p.partitionIndex,
              offset: p.committedOffset,
              metadata: p.committedMetadata,
            });
          }
          return { partitionIndex: p.partitionIndex, errorCode };
        }),
      };
    });
    if (accepted.length) {
      s.offsets.commit(groupId, accepted);
      await s.afterWrite([], true);
    }
    return { topics };
  },
});

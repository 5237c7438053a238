/**
 * OffsetFetch (key 9), versions 0–9.
 *
 * Behavior:
 * - Answers the group's committed offset and metadata per partition, or offset -1 with
 *   metadata "" where nothing was committed (as Kafka does, also for unknown topics and
 *   groups). Committed leader epochs are not kept: -1.
 * - v2+: a null topic list answers every partition the group has committed.
 * - v8+: several groups in one request, each answered with its own topics and error.
 *
 * Version notes: v0 (offsets kept in ZooKeeper) gets UNSUPPORTED_VERSION for every
 * partition, as a KRaft Kafka answers; v2+ null topics = all, top-level error_code; v3+
 * throttle_time_ms; v5+ committed leader epoch; v6+ flexible; v7+ require_stable: a
 * partition an open transaction commits an offset for (TxnOffsetCommit) gets
 * UNSTABLE_OFFSET_COMMIT, which read_committed consumers retry; v8+ batched groups; v9
 * KIP-848 member id and epoch: checked for a consumer group (UNKNOWN_MEMBER_ID,
 * STALE_MEMBER_EPOCH for the group), unless both are left out (null, -1: admin tools);
 * ignored for classic groups.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";
import type { BrokerState } from "./state.ts";

const topicsSpec = arr({ name: "string", partitionIndexes: "[]int32" }, "null");
const partitionSpec = {
  partitionIndex: "int32",
  committedOffset: "int64",
  committedLeaderEpoch: "int32 =-1",
  metadata: "string null",
  errorCode: "int16",
} as const;

export const offsetFetch = defineApi({
  key: 9,
  name: "OffsetFetch",
  minVersion: 0,
  maxVersion: 9,
  flexibleFrom: 6,
  request: {
    groupId: "string v0-7",
    topics: arr({ name: "string", partitionIndexes: "[]int32" }, "v0-7 null2-7"),
    groups: arr({
      groupId: "string",
      memberId: "string v9+ null",
      memberEpoch: "int32 v9+ =-1",
      topics: topicsSpec,
    }, "v8+"),
    requireStable: "bool v7+",
  },
  response: {
    throttleTimeMs: "int32 v3+",
    topics: arr({
      name: "string",
      partitions: arr({
        partitionIndex: "int32",
        committedOffset: "int64",
        committedLeaderEpoch: "int32 v5-7 =-1",
        metadata: "string null",
        errorCode: "int16",
      }),
    }, "v0-7"),
    errorCode: "int16 v2-7",
    groups: arr({
      groupId: "string",
      topics: arr({ name: "string", partitions: arr(partitionSpec) }),
      errorCode: "int16",
    }, "v8+"),
  },
  handle(req, ctx) {
    if (ctx.apiVersion >= 8) {
      return {
        groups: req.groups.map((g) => {
          // v9: a consumer group's member must give its current epoch (KIP-848).
          const error = ctx.apiVersion >= 9
            ? ctx.state.consumerGroups.checkFetch(g.groupId, g.memberId, g.memberEpoch)
            : undefined;
          if (error) return { groupId: g.groupId, errorCode: error, topics: [] };
          return {
            groupId: g.groupId,
            ...answer(ctx.state, g.groupId, g.topics, false, req.requireStable),
          };
        }),
      };
    }
    return answer(ctx.state, req.groupId, req.topics, ctx.apiVersion === 0, req.requireStable);
  },
});

function answer(
  s: BrokerState,
  groupId: string,
  asked: { name: string; partitionIndexes: number[] }[] | null,
  v0 = false,
  requireStable = false,
) {
  const committed = s.offsets.forGroup(groupId);
  const topics = asked ??
    [...committed].map(([name, parts]) => ({ name, partitionIndexes: [...parts.keys()] }));
  return {
    errorCode: ErrorCode.NONE,
    topics: topics.map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((p) => {
        const c = v0 ? undefined : committed.get(t.name)?.get(p);
        if (requireStable && s.txns.hasPendingOffset(groupId, t.name, p)) {
          // An open transaction commits an offset here: a read_committed consumer waits.
          return {
            partitionIndex: p,
            committedOffset: -1,
            committedLeaderEpoch: -1,
            metadata: "",
            errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT,
          };
        }
        return {
          partitionIndex: p,
          committedOffset: c ? c.offset : -1,
          committedLeaderEpoch: -1,
          metadata: c ? c.metadata ?? "" : "",
          errorCode: v0 ? ErrorCode.UNSUPPORTED_VERSION : ErrorCode.NONE,
        };
      }),
    })),
  };
}

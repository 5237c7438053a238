/**
 * OffsetDelete (key 47), version 0 (kafka-consumer-groups --delete-offsets).
 *
 * Behavior: forgets a group's committed offsets for the given partitions, as Kafka does:
 * a group with no members and no offsets gets GROUP_ID_NOT_FOUND; a consumer group with
 * members keeps the offsets of topics its members subscribe to (GROUP_SUBSCRIBED_TO_TOPIC
 * per partition) and loses the others; a group of another protocol type with members gets
 * NON_EMPTY_GROUP. Partitions of unknown topics get UNKNOWN_TOPIC_OR_PARTITION.
 *
 * Version notes: one version, not flexible.
 * @module
 */
import { defineApi } from "./api.ts";
import { Reader } from "./codec.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";

export const offsetDelete = defineApi({
  key: 47,
  name: "OffsetDelete",
  minVersion: 0,
  maxVersion: 0,
  request: {
    groupId: "string",
    topics: arr({ name: "string", partitions: arr({ partitionIndex: "int32" }) }),
  },
  response: {
    errorCode: "int16",
    throttleTimeMs: "int32",
    topics: arr({
      name: "string",
      partitions: arr({ partitionIndex: "int32", errorCode: "int16" }),
    }),
  },
  async handle(req, ctx) {
    const s = ctx.state;
    const group = s.groups.groups.get(req.groupId);
    const members = group ? [...group.members.values()] : [];
    const consumer = s.consumerGroups.groups.get(req.groupId);
    if (
      members.length === 0 && !consumer?.members.size &&
      s.offsets.forGroup(req.groupId).size === 0
    ) {
      return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND };
    }
    if (members.length > 0 && group!.protocolType !== "consumer") {
      return { errorCode: ErrorCode.NON_EMPTY_GROUP };
    }
    const subscribed = new Set<string>();
    for (const m of members) {
      // Every protocol a member offers carries the same subscription; the first will do.
      for (const t of subscribedTopics(m.protocols[0]?.metadata)) subscribed.add(t);
    }
    // A consumer group's (KIP-848) members name their topics in their heartbeats.
    for (const m of consumer?.members.values() ?? []) {
      for (const t of m.subscribed) subscribed.add(t);
    }
    const topics = req.topics.map((t) => {
      const topic = s.topics.get(t.name);
      const errorCode = !topic
        ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        : subscribed.has(t.name)
        ? ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC
        : ErrorCode.NONE;
      if (errorCode === ErrorCode.NONE) {
        s.offsets.deletePartitions(req.groupId, t.name, t.partitions.map((p) => p.partitionIndex));
      }
      return {
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
      };
    });
    await s.afterWrite([], true);
    // A group left with no members and no offsets is gone, as in Kafka.
    if (members.length === 0 && s.offsets.forGroup(req.groupId).size === 0) {
      s.groups.groups.delete(req.groupId);
    }
    return { errorCode: ErrorCode.NONE, topics };
  },
});

/** The topics a consumer subscribes to, from its ConsumerProtocolSubscription metadata. */
function subscribedTopics(metadata: Uint8Array | undefined): string[] {
  if (!metadata) return [];
  try {
    const r = new Reader(metadata);
    r.int16(); // version
    return r.array((r) => r.string());
  } catch {
    return [];
  }
}

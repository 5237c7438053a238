/**
 * Metadata (key 3), versions 0–12.
 *
 * Behavior:
 * - One broker: this one, with node id 0 at the bound host and port; it is the
 *   controller, and the leader and only replica of every partition (leader epoch 0).
 * - All topics when the list is null (v1+) or empty (v0); otherwise the named ones.
 *   Unknown topics are auto-created when the broker allows it and the request does (v4+
 *   allow_auto_topic_creation; always before v4); else UNKNOWN_TOPIC_OR_PARTITION. Illegal
 *   names get INVALID_TOPIC_EXCEPTION.
 * - v12: topics may be asked for by id (name null); as in Kafka, once any id is given the
 *   names are ignored, and an unknown id gets UNKNOWN_TOPIC_ID with a null name. Ids in
 *   v10–11 requests, or null names before v12, are an invalid request (connection closed).
 * - Authorized operations (v8+, when asked): everything, as Kafka answers without an
 *   authorizer.
 *
 * Version notes: v1+ rack, controller_id, is_internal, null = all topics; v2+ cluster_id;
 * v3+ throttle_time_ms; v4+ allow_auto_topic_creation; v5+ offline_replicas; v7+
 * leader_epoch; v8+ authorized operations; v9+ flexible; v10+ topic ids; v11 drops cluster
 * authorized operations; v12 topic lookups by id.
 * @module
 */
import { defineApi } from "./api.ts";
import { ALL_CLUSTER_OPERATIONS, ALL_TOPIC_OPERATIONS, NOT_ASKED } from "./acl.ts";
import { MalformedRequestError } from "./codec.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr, ZERO_UUID } from "./schema.ts";
import type { Topic } from "./topics.ts";

export const metadata = defineApi({
  key: 3,
  name: "Metadata",
  minVersion: 0,
  maxVersion: 12,
  flexibleFrom: 9,
  request: {
    topics: arr({ topicId: "uuid v10+", name: "string null10+" }, "null1+"),
    allowAutoTopicCreation: "bool v4+ =true",
    includeClusterAuthorizedOperations: "bool v8-10",
    includeTopicAuthorizedOperations: "bool v8+",
  },
  response: {
    throttleTimeMs: "int32 v3+",
    brokers: arr({ nodeId: "int32", host: "string", port: "int32", rack: "string v1+ null1+" }),
    clusterId: "string v2+ null2+",
    controllerId: "int32 v1+ =-1",
    topics: arr({
      errorCode: "int16",
      name: "string null12+",
      topicId: "uuid v10+",
      isInternal: "bool v1+",
      partitions: arr({
        errorCode: "int16",
        partitionIndex: "int32",
        leaderId: "int32",
        leaderEpoch: "int32 v7+ =-1",
        replicaNodes: "[]int32",
        isrNodes: "[]int32",
        offlineReplicas: "[]int32 v5+",
      }),
      topicAuthorizedOperations: `int32 v8+ =${NOT_ASKED}`,
    }),
    clusterAuthorizedOperations: `int32 v8-10 =${NOT_ASKED}`,
  },
  handle(req, ctx) {
    const v = ctx.apiVersion;
    const s = ctx.state;
    const asked = req.topics;
    for (const t of asked ?? []) {
      if (v < 12 && (t.name === null || t.topicId !== ZERO_UUID)) {
        throw new MalformedRequestError(`Metadata v${v} cannot ask for topics by id`);
      }
    }
    const ids = (asked ?? []).map((t) => t.topicId).filter((id) => id !== ZERO_UUID);
    let topics: { name: string | null; id: string; error: number; topic?: Topic }[];
    if (asked === null || (v === 0 && asked.length === 0)) {
      topics = s.topics.all().map((t) => ({
        name: t.name,
        id: t.id,
        error: ErrorCode.NONE,
        topic: t,
      }));
    } else if (ids.length > 0) {
      const unique = [...new Set(ids)];
      // Kafka lists the unknown ids first.
      topics = [
        ...unique.filter((id) => !s.topics.byId(id))
          .map((id) => ({ name: null, id, error: ErrorCode.UNKNOWN_TOPIC_ID })),
        ...unique.flatMap((id) => {
          const t = s.topics.byId(id);
          return t ? [{ name: t.name, id, error: ErrorCode.NONE, topic: t }] : [];
        }),
      ];
    } else {
      // All unknown names at once: one metadata.json write for thousands of new topics.
      const found = s.topicsOrCreate(
        asked.flatMap((t) => t.name ?? []),
        req.allowAutoTopicCreation,
      );
      topics = [...found].map(([name, t]) =>
        typeof t === "number"
          ? { name, id: ZERO_UUID, error: t }
          : { name, id: t.id, error: ErrorCode.NONE, topic: t }
      );
    }
    const me = [s.nodeId];
    return {
      brokers: [{
        nodeId: s.nodeId,
        host: ctx.listener?.host ?? s.host,
        port: ctx.listener?.port ?? s.port,
        rack: null,
      }],
      clusterId: s.clusterId,
      controllerId: s.nodeId,
      topics: topics.map((t) => ({
        errorCode: t.error,
        name: t.name,
        topicId: t.id,
        partitions: (t.topic?.partitions ?? []).map((p) => ({
          partitionIndex: p.partition,
          leaderId: s.nodeId,
          leaderEpoch: 0,
          replicaNodes: me,
          isrNodes: me,
        })),
        topicAuthorizedOperations: req.includeTopicAuthorizedOperations
          ? ALL_TOPIC_OPERATIONS
          : NOT_ASKED,
      })),
      clusterAuthorizedOperations: req.includeClusterAuthorizedOperations
        ? ALL_CLUSTER_OPERATIONS
        : NOT_ASKED,
    };
  },
});

/**
 * ConsumerGroupHeartbeat (key 68), versions 0–1: the consumer group protocol (KIP-848).
 *
 * Behavior: see consumer_groups.ts. A member joins with epoch 0 (and its own member id, as
 * Kafka 4 clients send, or an empty one the broker fills in), heartbeats with its epoch and
 * the partitions it owns, leaves with -1 (a static member with -2); the answer carries its
 * epoch, the heartbeat interval and, when it changed or the request was a full one, its
 * assignment. Server assignors: `uniform` (default) and `range`.
 *
 * Version notes: flexible from v0; v1 adds subscribed_topic_regex (consumer_groups.ts
 * resolves it; Kafka 3.9 answered INVALID_REQUEST, Kafka 4 serves it).
 * @module
 */
import { defineApi } from "./api.ts";
import { arr, obj } from "./schema.ts";

const topicPartitions = { topicId: "uuid", partitions: "[]int32" } as const;

export const consumerGroupHeartbeat = defineApi({
  key: 68,
  name: "ConsumerGroupHeartbeat",
  minVersion: 0,
  maxVersion: 1,
  flexibleFrom: 0,
  request: {
    groupId: "string",
    memberId: "string",
    memberEpoch: "int32",
    instanceId: "string null",
    rackId: "string null",
    rebalanceTimeoutMs: "int32 =-1",
    subscribedTopicNames: "[]string null",
    subscribedTopicRegex: "string v1+ null",
    serverAssignor: "string null",
    topicPartitions: arr(topicPartitions, "null"),
  },
  response: {
    throttleTimeMs: "int32",
    errorCode: "int16",
    errorMessage: "string null",
    memberId: "string null",
    memberEpoch: "int32",
    heartbeatIntervalMs: "int32",
    assignment: obj({ topicPartitions: arr(topicPartitions) }, "null"),
  },
  handle(req, ctx) {
    return ctx.state.consumerGroups.heartbeat({
      ...req,
      subscribedTopicRegex: ctx.apiVersion >= 1 ? req.subscribedTopicRegex : null,
      clientId: ctx.clientId ?? "",
      clientHost: ctx.clientHost,
    });
  },
});

/**
 * ConsumerGroupDescribe (key 69), versions 0–1: consumer groups (KIP-848) as Kafka 4's
 * Admin.describeConsumerGroups and `kafka-consumer-groups --describe` read them.
 *
 * Behavior: each group's state (Empty, Assigning, Reconciling, Stable), group and
 * assignment epochs, assignor, and members with their epochs, subscriptions, current and
 * target assignments. A group that is not a consumer group (a classic group, or unknown)
 * gets GROUP_ID_NOT_FOUND, on which Kafka's Admin falls back to DescribeGroups.
 * Authorized operations (when asked) are everything a group supports: there is no
 * authorizer.
 *
 * Version notes: flexible from v0; v1 adds member_type (1: the consumer protocol).
 * @module
 */
import { ALL_GROUP_OPERATIONS, NOT_ASKED } from "./acl.ts";
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr, obj } from "./schema.ts";

const assignment = obj({
  topicPartitions: arr({ topicId: "uuid", topicName: "string", partitions: "[]int32" }),
});

export const consumerGroupDescribe = defineApi({
  key: 69,
  name: "ConsumerGroupDescribe",
  minVersion: 0,
  maxVersion: 1,
  flexibleFrom: 0,
  request: {
    groupIds: "[]string",
    includeAuthorizedOperations: "bool",
  },
  response: {
    throttleTimeMs: "int32",
    groups: arr({
      errorCode: "int16",
      errorMessage: "string null",
      groupId: "string",
      groupState: "string",
      groupEpoch: "int32",
      assignmentEpoch: "int32",
      assignorName: "string",
      members: arr({
        memberId: "string",
        instanceId: "string null",
        rackId: "string null",
        memberEpoch: "int32",
        clientId: "string",
        clientHost: "string",
        subscribedTopicNames: "[]string",
        subscribedTopicRegex: "string null",
        assignment,
        targetAssignment: assignment,
        memberType: "int8 v1+ =-1",
      }),
      authorizedOperations: `int32 =${NOT_ASKED}`,
    }),
  },
  handle(req, ctx) {
    const s = ctx.state;
    return {
      groups: req.groupIds.map((groupId) => {
        const d = s.consumerGroups.describe(groupId);
        if (!groupId || !d) {
          // Kafka (3.9) answers no message for an unknown or a classic group.
          return {
            errorCode: groupId ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.INVALID_GROUP_ID,
            groupId,
            groupState: "",
            assignorName: "",
          };
        }
        return {
          errorCode: ErrorCode.NONE,
          groupId,
          groupState: d.groupState,
          groupEpoch: d.groupEpoch,
          assignmentEpoch: d.assignmentEpoch,
          assignorName: d.assignorName,
          // v1's member type: 0 classic (KIP-848's online upgrade), 1 consumer.
          members: d.members.map(({ state: _, classic, ...m }) => ({
            ...m,
            memberType: classic ? 0 : 1,
          })),
          authorizedOperations: req.includeAuthorizedOperations ? ALL_GROUP_OPERATIONS : NOT_ASKED,
        };
      }),
    };
  },
});

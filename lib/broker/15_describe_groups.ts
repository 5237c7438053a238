/**
 * DescribeGroups (key 15), versions 0–5.
 *
 * Behavior: state, protocol and members of each group. A group with committed offsets but
 * no members is "Empty"; an unknown group, or a consumer group (KIP-848: see
 * ConsumerGroupDescribe), is "Dead" with no error, as Kafka answers.
 * Assignments are shown only once the group is Stable. Authorized operations (v3+, when
 * asked) are everything a group supports: there is no authorizer.
 *
 * Version notes: v1+ throttle_time_ms; v3+ authorized operations; v4+ group_instance_id
 * of members; v5+ flexible.
 * @module
 */
import { ALL_GROUP_OPERATIONS, NOT_ASKED } from "./acl.ts";
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";

export const describeGroups = defineApi({
  key: 15,
  name: "DescribeGroups",
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 5,
  request: {
    groups: "[]string",
    includeAuthorizedOperations: "bool v3+",
  },
  response: {
    throttleTimeMs: "int32 v1+",
    groups: arr({
      errorCode: "int16",
      groupId: "string",
      groupState: "string",
      protocolType: "string",
      protocolData: "string",
      members: arr({
        memberId: "string",
        groupInstanceId: "string v4+ null",
        clientId: "string",
        clientHost: "string",
        memberMetadata: "bytes",
        memberAssignment: "bytes",
      }),
      authorizedOperations: `int32 v3+ =${NOT_ASKED}`,
    }),
  },
  handle(req, ctx) {
    const s = ctx.state;
    return {
      groups: req.groups.map((id) => {
        const d = s.groups.describe(id);
        // A consumer group (KIP-848) is no classic group: "Dead", as Kafka answers (v0–5).
        const state = d?.state ??
          (s.offsets.forGroup(id).size && !s.consumerGroups.has(id) ? "Empty" : "Dead");
        return {
          errorCode: id ? ErrorCode.NONE : ErrorCode.INVALID_GROUP_ID,
          groupId: id,
          groupState: state,
          protocolType: d?.protocolType ?? "",
          protocolData: d?.protocol ?? "",
          members: (d?.members ?? []).map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            memberMetadata: m.metadata,
            memberAssignment: m.assignment,
          })),
          authorizedOperations: req.includeAuthorizedOperations ? ALL_GROUP_OPERATIONS : NOT_ASKED,
        };
      }),
    };
  },
});

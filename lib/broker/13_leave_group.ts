/**
 * LeaveGroup (key 13), versions 0–5.
 *
 * Behavior: removes each member at once (no wait for its session timeout) and starts a
 * rebalance for the others, or empties the group. From v3 a request names several members,
 * each answered in its own entry (a static member may be named by its group.instance.id
 * alone); before v3 one member, whose error is the answer's, as Kafka collapses it.
 *
 * Version notes: v1+ throttle_time_ms; v3+ batched members with group_instance_id; v4+
 * flexible; v5+ reason (logged).
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";

export const leaveGroup = defineApi({
  key: 13,
  name: "LeaveGroup",
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 4,
  request: {
    groupId: "string",
    memberId: "string v0-2",
    members: arr({
      memberId: "string",
      groupInstanceId: "string null",
      reason: "string v5+ null",
    }, "v3+"),
  },
  response: {
    throttleTimeMs: "int32 v1+",
    errorCode: "int16",
    members: arr({ memberId: "string", groupInstanceId: "string null", errorCode: "int16" }, "v3+"),
  },
  handle(req, ctx) {
    const groups = ctx.state.groups;
    const cg = ctx.state.consumerGroups;
    // A classic member of a consumer group (KIP-848's online upgrade); a static one by its
    // instance id alone is not implemented there (UNKNOWN_MEMBER_ID).
    const leave = cg.has(req.groupId)
      ? (memberId: string, _instanceId?: string | null) => cg.classicLeave(req.groupId, memberId)
      : (memberId: string, instanceId?: string | null) =>
        groups.leave(req.groupId, memberId, instanceId);
    if (ctx.apiVersion < 3) {
      return { errorCode: leave(req.memberId) };
    }
    const members = req.members.map((m) => {
      if (m.reason) {
        ctx.state.log(
          `group "${req.groupId}": ${m.memberId || m.groupInstanceId} leaves: ${m.reason}`,
        );
      }
      return {
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        errorCode: leave(m.memberId, m.groupInstanceId),
      };
    });
    return { errorCode: ErrorCode.NONE, members };
  },
});

/**
 * Heartbeat (key 12), versions 0–4.
 *
 * Behavior: keeps a member's session alive. Answers REBALANCE_IN_PROGRESS while the group
 * prepares a rebalance (the member must rejoin), ILLEGAL_GENERATION for a stale generation
 * and UNKNOWN_MEMBER_ID for a member the group does not know (evicted or never joined).
 * In a consumer group (KIP-848) a classic member is answered by consumer_groups.ts.
 *
 * Version notes: v1+ throttle_time_ms; v3+ group_instance_id (ignored); v4+ flexible.
 * @module
 */
import { defineApi } from "./api.ts";

export const heartbeat = defineApi({
  key: 12,
  name: "Heartbeat",
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 4,
  request: {
    groupId: "string",
    generationId: "int32",
    memberId: "string",
    groupInstanceId: "string v3+ null3+",
  },
  response: {
    throttleTimeMs: "int32 v1+",
    errorCode: "int16",
  },
  handle(req, ctx) {
    const cg = ctx.state.consumerGroups;
    if (cg.has(req.groupId)) {
      // A classic member of a consumer group (KIP-848's online upgrade).
      return { errorCode: cg.classicHeartbeat(req.groupId, req.memberId, req.generationId) };
    }
    return { errorCode: ctx.state.groups.heartbeat(req.groupId, req.generationId, req.memberId) };
  },
});

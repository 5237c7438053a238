/**
 * SyncGroup (key 14), versions 0–5.
 *
 * Behavior: the leader sends every member's assignment, which completes the rebalance;
 * followers' requests are held until then. Answers REBALANCE_IN_PROGRESS when a new
 * rebalance starts first, ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID as Heartbeat does. In a
 * stable group the member's current assignment is answered at once. From v5 a missing
 * protocol type or name, or one that is not the group's, gets INCONSISTENT_GROUP_PROTOCOL,
 * and the answer names both. In a consumer group (KIP-848) a classic member gets its
 * assigned partitions (consumer_groups.ts).
 *
 * Version notes: v1+ throttle_time_ms; v3+ group_instance_id (ignored); v4+ flexible;
 * v5+ protocol_type and protocol_name.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";

export const syncGroup = defineApi({
  key: 14,
  name: "SyncGroup",
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 4,
  request: {
    groupId: "string",
    generationId: "int32",
    memberId: "string",
    groupInstanceId: "string v3+ null3+",
    protocolType: "string v5+ null",
    protocolName: "string v5+ null",
    assignments: arr({ memberId: "string", assignment: "bytes" }),
  },
  response: {
    throttleTimeMs: "int32 v1+",
    errorCode: "int16",
    protocolType: "string v5+ null",
    protocolName: "string v5+ null",
    assignment: "bytes",
  },
  async handle(req, ctx) {
    const groups = ctx.state.groups;
    if (ctx.apiVersion >= 5 && (req.protocolType === null || req.protocolName === null)) {
      // From v5 both are required, as Kafka checks before anything else.
      return { errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL };
    }
    if (ctx.state.consumerGroups.has(req.groupId)) {
      // A classic member of a consumer group (KIP-848's online upgrade).
      const r = ctx.state.consumerGroups.classicSync(
        req.groupId,
        req.memberId,
        req.generationId,
        req.protocolType,
        req.protocolName,
      );
      const ok = r.error === ErrorCode.NONE;
      return {
        errorCode: r.error,
        protocolType: ok ? req.protocolType : null,
        protocolName: ok ? req.protocolName : null,
        assignment: r.assignment,
      };
    }
    const g = groups.groups.get(req.groupId);
    if (
      g && g.members.has(req.memberId) &&
      ((req.protocolType !== null && req.protocolType !== g.protocolType) ||
        (req.protocolName !== null && g.protocol !== null && req.protocolName !== g.protocol))
    ) {
      return { errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL };
    }
    const res = await groups.sync(req.groupId, req.generationId, req.memberId, req.assignments);
    return {
      errorCode: res.error,
      protocolType: res.protocolType ?? null,
      protocolName: res.protocolName ?? null,
      assignment: res.assignment,
    };
  },
});

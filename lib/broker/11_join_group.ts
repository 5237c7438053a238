/**
 * JoinGroup (key 11), versions 0–9.
 *
 * Behavior: see groups.ts for the state machine. From v4 a new dynamic member (empty
 * member_id, no group_instance_id) first gets MEMBER_ID_REQUIRED with its id (KIP-394) and
 * joins with it on its next request, as Kafka does; before v4 it gets its id at once. An
 * unknown non-empty member_id gets UNKNOWN_MEMBER_ID. The response is held until the
 * rebalance completes; only the leader's lists the members. Into a consumer group (KIP-848)
 * with members a dynamic member joins as a classic member of it (consumer_groups.ts, as
 * Kafka 3.9 admits it: no leader, its generation is its member epoch), a static one gets
 * INCONSISTENT_GROUP_PROTOCOL; an empty consumer group becomes classic.
 *
 * Version notes: v1+ rebalance_timeout_ms (v0 uses the session timeout); v2+
 * throttle_time_ms; v4+ MEMBER_ID_REQUIRED; v5+ group_instance_id; v6+ flexible; v7+
 * protocol_type in the answer and a null protocol_name on errors; v8+ reason (logged);
 * v9+ skip_assignment (always false: the leader assigns).
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";

export const joinGroup = defineApi({
  key: 11,
  name: "JoinGroup",
  minVersion: 0,
  maxVersion: 9,
  flexibleFrom: 6,
  request: {
    groupId: "string",
    sessionTimeoutMs: "int32",
    rebalanceTimeoutMs: "int32 v1+ =-1",
    memberId: "string",
    groupInstanceId: "string v5+ null5+",
    protocolType: "string",
    protocols: arr({ name: "string", metadata: "bytes" }),
    reason: "string v8+ null",
  },
  response: {
    throttleTimeMs: "int32 v2+",
    errorCode: "int16",
    generationId: "int32 =-1",
    protocolType: "string v7+ null",
    protocolName: "string null7+",
    leader: "string",
    skipAssignment: "bool v9+",
    memberId: "string",
    members: arr({ memberId: "string", groupInstanceId: "string v5+ null", metadata: "bytes" }),
  },
  async handle(req, ctx) {
    const v = ctx.apiVersion;
    /** The join as either coordinator takes it. */
    const join = {
      groupId: req.groupId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: v >= 1 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols,
      clientId: ctx.clientId ?? "",
      clientHost: ctx.clientHost,
      requireKnownMemberId: v >= 4,
    };
    const consumer = ctx.state.consumerGroups.groups.get(req.groupId);
    if (consumer && consumer.members.size > 0) {
      if (req.groupInstanceId !== null) {
        // Static classic members inside a consumer group are not implemented.
        return {
          errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
          protocolName: v >= 7 ? null : "",
          memberId: req.memberId,
        };
      }
      const r = ctx.state.consumerGroups.classicJoin(join);
      const ok = r.error === ErrorCode.NONE;
      return {
        errorCode: r.error,
        generationId: r.generationId,
        protocolType: ok ? "consumer" : null,
        protocolName: ok ? r.protocolName : v >= 7 ? null : "",
        memberId: r.memberId,
      };
    }
    // An empty consumer group becomes a classic one, as in Kafka.
    if (consumer) ctx.state.consumerGroups.delete(req.groupId);
    if (req.reason) {
      ctx.state.log(
        `group "${req.groupId}": ${req.memberId || "a new member"} joins: ${req.reason}`,
      );
    }
    const res = await ctx.state.groups.join(join);
    const ok = res.error === ErrorCode.NONE;
    return {
      errorCode: res.error,
      generationId: res.generationId,
      protocolType: ok ? req.protocolType : null,
      protocolName: ok ? res.protocolName : v >= 7 ? null : "",
      leader: res.leader,
      memberId: res.memberId,
      members: res.members,
    };
  },
});

/**
 * JoinGroup (key 11), versions 0–5.
 *
 * Behavior: see groups.ts for the state machine. A new member (empty member_id) gets an
 * id at once (the KIP-394 MEMBER_ID_REQUIRED round trip is skipped; both clients accept
 * that); an unknown non-empty member_id gets UNKNOWN_MEMBER_ID. The response is held until
 * the rebalance completes; only the leader's lists the members.
 *
 * Version notes: v1+ rebalance_timeout_ms (v0 uses the session timeout); v2+
 * throttle_time_ms; v5+ group_instance_id.
 * @module
 */
import type { Api } from "./api.ts";

export const joinGroup: Api = {
  key: 11,
  name: "JoinGroup",
  minVersion: 0,
  maxVersion: 5,
  async handle(r, w, ctx) {
    const v = ctx.apiVersion;
    const groupId = r.string();
    const sessionTimeoutMs = r.int32();
    const rebalanceTimeoutMs = v >= 1 ? r.int32() : sessionTimeoutMs;
    const memberId = r.string();
    const groupInstanceId = v >= 5 ? r.nullableString() : null;
    const protocolType = r.string();
    const protocols = r.array((r) => ({ name: r.string(), metadata: r.bytesCopy() }));
    const res = await ctx.state.groups.join({
      groupId,
      memberId,
      groupInstanceId,
      sessionTimeoutMs,
      rebalanceTimeoutMs,
      protocolType,
      protocols,
      clientId: ctx.clientId ?? "",
      clientHost: ctx.clientHost,
    });
    if (v >= 2) w.int32(0); // throttle_time_ms
    w.int16(res.error).int32(res.generationId).string(res.protocolName);
    w.string(res.leader).string(res.memberId);
    w.array(res.members, (w, m) => {
      w.string(m.memberId);
      if (v >= 5) w.nullableString(m.groupInstanceId);
      w.bytes(m.metadata);
    });
  },
};

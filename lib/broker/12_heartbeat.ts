/**
 * Heartbeat (key 12), versions 0–3.
 *
 * Behavior: keeps a member's session alive. Answers REBALANCE_IN_PROGRESS while the group
 * prepares a rebalance (the member must rejoin), ILLEGAL_GENERATION for a stale generation
 * and UNKNOWN_MEMBER_ID for a member the group does not know (evicted or never joined).
 *
 * Version notes: v1+ throttle_time_ms; v3+ group_instance_id (ignored).
 * @module
 */
import type { Api } from "./api.ts";

export const heartbeat: Api = {
  key: 12,
  name: "Heartbeat",
  minVersion: 0,
  maxVersion: 3,
  handle(r, w, ctx) {
    const v = ctx.apiVersion;
    const groupId = r.string();
    const generation = r.int32();
    const memberId = r.string();
    if (v >= 3) r.nullableString(); // group_instance_id
    if (v >= 1) w.int32(0); // throttle_time_ms
    w.int16(ctx.state.groups.heartbeat(groupId, generation, memberId));
  },
};

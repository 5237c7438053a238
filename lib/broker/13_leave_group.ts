/**
 * LeaveGroup (key 13), versions 0–1.
 *
 * Behavior: removes the member at once (no wait for its session timeout) and starts a
 * rebalance for the others, or empties the group.
 *
 * Version notes: v1+ throttle_time_ms. v3's batch of members is not offered.
 * @module
 */
import type { Api } from "./api.ts";

export const leaveGroup: Api = {
  key: 13,
  name: "LeaveGroup",
  minVersion: 0,
  maxVersion: 1,
  handle(r, w, ctx) {
    const groupId = r.string();
    const memberId = r.string();
    if (ctx.apiVersion >= 1) w.int32(0); // throttle_time_ms
    w.int16(ctx.state.groups.leave(groupId, memberId));
  },
};

/**
 * SyncGroup (key 14), versions 0–3.
 *
 * Behavior: the leader sends every member's assignment, which completes the rebalance;
 * followers' requests are held until then. Answers REBALANCE_IN_PROGRESS when a new
 * rebalance starts first, ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID as Heartbeat does. In a
 * stable group the member's current assignment is answered at once.
 *
 * Version notes: v1+ throttle_time_ms; v3+ group_instance_id (ignored).
 * @module
 */
import type { Api } from "./api.ts";

export const syncGroup: Api = {
  key: 14,
  name: "SyncGroup",
  minVersion: 0,
  maxVersion: 3,
  async handle(r, w, ctx) {
    const v = ctx.apiVersion;
    const groupId = r.string();
    const generation = r.int32();
    const memberId = r.string();
    if (v >= 3) r.nullableString(); // group_instance_id
    const assignments = r.array((r) => ({ memberId: r.string(), assignment: r.bytesCopy() }));
    const res = await ctx.state.groups.sync(groupId, generation, memberId, assignments);
    if (v >= 1) w.int32(0); // throttle_time_ms
    w.int16(res.error).bytes(res.assignment);
  },
};

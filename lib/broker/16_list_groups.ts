/**
 * ListGroups (key 16), versions 0–2.
 *
 * Behavior: every group with members or committed offsets, with its protocol type
 * ("" for a group that only has offsets).
 *
 * Version notes: v1+ throttle_time_ms. v4's state filter is not offered.
 * @module
 */
import type { Api } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";

export const listGroups: Api = {
  key: 16,
  name: "ListGroups",
  minVersion: 0,
  maxVersion: 2,
  handle(_r, w, ctx) {
    const s = ctx.state;
    const groups = new Map<string, string>();
    for (const id of s.offsets.groupIds()) groups.set(id, "");
    for (const [id, g] of s.groups.groups) {
      if (g.members.size > 0 || groups.has(id)) groups.set(id, g.protocolType ?? "");
    }
    if (ctx.apiVersion >= 1) w.int32(0); // throttle_time_ms
    w.int16(ErrorCode.NONE);
    w.array([...groups].sort(), (w, [id, type]) => w.string(id).string(type));
  },
};

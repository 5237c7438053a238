/**
 * ListGroups (key 16), versions 0–4.
 *
 * Behavior: every group with members or committed offsets, with its protocol type ("" for
 * a group that only has offsets) and, from v4, its state; a v4 states filter (matched
 * without regard to case, as Kafka does) keeps only groups in those states.
 *
 * Version notes: v1+ throttle_time_ms; v3+ flexible; v4+ states filter and group state.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";

export const listGroups = defineApi({
  key: 16,
  name: "ListGroups",
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 3,
  request: {
    statesFilter: "[]string v4+",
  },
  response: {
    throttleTimeMs: "int32 v1+",
    errorCode: "int16",
    groups: arr({ groupId: "string", protocolType: "string", groupState: "string v4+" }),
  },
  handle(req, ctx) {
    const s = ctx.state;
    const groups = new Map<string, { protocolType: string; groupState: string }>();
    for (const id of s.offsets.groupIds()) {
      groups.set(id, { protocolType: "", groupState: "Empty" });
    }
    for (const [id, g] of s.groups.groups) {
      if (g.members.size > 0 || groups.has(id)) {
        groups.set(id, { protocolType: g.protocolType ?? "", groupState: g.state });
      }
    }
    const wanted = new Set(req.statesFilter.map((st) => st.toLowerCase()));
    return {
      errorCode: ErrorCode.NONE,
      groups: [...groups]
        .filter(([, g]) => wanted.size === 0 || wanted.has(g.groupState.toLowerCase()))
        .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
        .map(([groupId, g]) => ({ groupId, ...g })),
    };
  },
});

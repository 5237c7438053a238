/**
 * ListGroups (key 16), versions 0–5.
 *
 * Behavior: every group with members or committed offsets, with its protocol type ("" for
 * a group that only has offsets, "consumer" for a consumer group of KIP-848) and, from v4,
 * its state; a v4 states filter (matched without regard to case, as Kafka does) keeps only
 * groups in those states. From v5 each group says its type ("classic" or "consumer") and
 * a types filter (also without regard to case) keeps only groups of those types.
 *
 * Version notes: v1+ throttle_time_ms; v3+ flexible; v4+ states filter and group state;
 * v5+ types filter and group type.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";

export const listGroups = defineApi({
  key: 16,
  name: "ListGroups",
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 3,
  request: {
    statesFilter: "[]string v4+",
    typesFilter: "[]string v5+",
  },
  response: {
    throttleTimeMs: "int32 v1+",
    errorCode: "int16",
    groups: arr({
      groupId: "string",
      protocolType: "string",
      groupState: "string v4+",
      groupType: "string v5+",
    }),
  },
  handle(req, ctx) {
    const s = ctx.state;
    const groups = new Map<
      string,
      { protocolType: string; groupState: string; groupType: string }
    >();
    for (const id of s.offsets.groupIds()) {
      groups.set(id, { protocolType: "", groupState: "Empty", groupType: "classic" });
    }
    for (const [id, g] of s.groups.groups) {
      if (g.members.size > 0 || groups.has(id)) {
        groups.set(id, {
          protocolType: g.protocolType ?? "",
          groupState: g.state,
          groupType: "classic",
        });
      }
    }
    for (const [id, g] of s.consumerGroups.groups) {
      groups.set(id, { protocolType: "consumer", groupState: g.state, groupType: "consumer" });
    }
    const states = new Set(req.statesFilter.map((st) => st.toLowerCase()));
    const types = new Set(req.typesFilter.map((t) => t.toLowerCase()));
    return {
      errorCode: ErrorCode.NONE,
      groups: [...groups]
        .filter(([, g]) => states.size === 0 || states.has(g.groupState.toLowerCase()))
        .filter(([, g]) => types.size === 0 || types.has(g.groupType))
        .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
        .map(([groupId, g]) => ({ groupId, ...g })),
    };
  },
});

/**
 * DeleteGroups (key 42), versions 0–2.
 *
 * Behavior: deletes a group's committed offsets and its (empty) state, classic or consumer
 * group (KIP-848). A group with
 * members gets NON_EMPTY_GROUP; a group the broker knows nothing of, GROUP_ID_NOT_FOUND.
 *
 * Version notes: v1 is v0 (v1 only changed throttling semantics); v2 flexible.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";

export const deleteGroups = defineApi({
  key: 42,
  name: "DeleteGroups",
  minVersion: 0,
  maxVersion: 2,
  flexibleFrom: 2,
  request: {
    groupsNames: "[]string",
  },
  response: {
    throttleTimeMs: "int32",
    results: arr({ groupId: "string", errorCode: "int16" }),
  },
  async handle(req, ctx) {
    const s = ctx.state;
    const results = req.groupsNames.map((groupId) => {
      const group = s.groups.groups.get(groupId);
      const consumer = s.consumerGroups.groups.get(groupId);
      if ((group?.members.size ?? 0) > 0 || (consumer?.members.size ?? 0) > 0) {
        return { groupId, errorCode: ErrorCode.NON_EMPTY_GROUP };
      }
      if (!group && !consumer && s.offsets.forGroup(groupId).size === 0) {
        return { groupId, errorCode: ErrorCode.GROUP_ID_NOT_FOUND };
      }
      s.groups.groups.delete(groupId);
      s.consumerGroups.delete(groupId);
      s.offsets.deleteGroup(groupId);
      return { groupId, errorCode: ErrorCode.NONE };
    });
    await s.afterWrite([], true);
    return { results };
  },
});

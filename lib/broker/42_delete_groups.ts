/**
 * DeleteGroups (key 42), versions 0–1.
 *
 * Behavior: deletes a group's committed offsets and its (empty) state. A group with
 * members gets NON_EMPTY_GROUP; a group the broker knows nothing of, GROUP_ID_NOT_FOUND.
 *
 * Version notes: v1 is v0 (v1 only changed throttling semantics); throttle_time_ms first.
 * @module
 */
import type { Api } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";

export const deleteGroups: Api = {
  key: 42,
  name: "DeleteGroups",
  minVersion: 0,
  maxVersion: 1,
  async handle(r, w, ctx) {
    const s = ctx.state;
    const ids = r.array((r) => r.string());
    const results = ids.map((id) => {
      const group = s.groups.groups.get(id);
      if (group && group.members.size > 0) return { id, error: ErrorCode.NON_EMPTY_GROUP };
      if (!group && s.offsets.forGroup(id).size === 0) {
        return { id, error: ErrorCode.GROUP_ID_NOT_FOUND };
      }
      s.groups.groups.delete(id);
      s.offsets.deleteGroup(id);
      return { id, error: ErrorCode.NONE };
    });
    await s.afterWrite([], true);
    w.int32(0); // throttle_time_ms
    w.array(results, (w, g) => w.string(g.id).int16(g.error));
  },
};

/**
 * DescribeGroups (key 15), versions 0–2.
 *
 * Behavior: state, protocol and members of each group. A group with committed offsets but
 * no members is "Empty"; an unknown group is "Dead" with no error, as Kafka answers.
 * Assignments are shown only once the group is Stable.
 *
 * Version notes: v1+ throttle_time_ms. v3's authorized operations are not offered.
 * @module
 */
import type { Api } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";

export const describeGroups: Api = {
  key: 15,
  name: "DescribeGroups",
  minVersion: 0,
  maxVersion: 2,
  handle(r, w, ctx) {
    const ids = r.array((r) => r.string());
    const s = ctx.state;
    if (ctx.apiVersion >= 1) w.int32(0); // throttle_time_ms
    w.array(ids, (w, id) => {
      const d = s.groups.describe(id);
      const state = d?.state ?? (s.offsets.forGroup(id).size ? "Empty" : "Dead");
      w.int16(id ? ErrorCode.NONE : ErrorCode.INVALID_GROUP_ID).string(id).string(state);
      w.string(d?.protocolType ?? "").string(d?.protocol ?? "");
      w.array(d?.members ?? [], (w, m) => {
        w.string(m.memberId).string(m.clientId).string(m.clientHost);
        w.bytes(m.metadata).bytes(m.assignment);
      });
    });
  },
};

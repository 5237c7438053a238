/**
 * OffsetFetch (key 9), versions 0–4.
 *
 * Behavior:
 * - Answers the group's committed offset and metadata per partition, or offset -1 with
 *   metadata "" where nothing was committed (as Kafka does, also for unknown topics).
 * - v2+: a null topic list answers every partition the group has committed.
 *
 * Version notes: v2+ null topics = all, top-level error_code; v3+ throttle_time_ms.
 * v0 reads the same store as v1+ (Kafka kept v0 offsets in ZooKeeper).
 * @module
 */
import type { Api } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";

export const offsetFetch: Api = {
  key: 9,
  name: "OffsetFetch",
  minVersion: 0,
  maxVersion: 4,
  handle(r, w, ctx) {
    const v = ctx.apiVersion;
    const groupId = r.string();
    let topics = r.nullableArray((r) => ({
      name: r.string(),
      partitions: r.array((r) => r.int32()),
    }));
    const committed = ctx.state.offsets.forGroup(groupId);
    if (topics === null) {
      topics = [...committed].map(([name, parts]) => ({ name, partitions: [...parts.keys()] }));
    }
    if (v >= 3) w.int32(0); // throttle_time_ms
    w.array(topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        const c = committed.get(t.name)?.get(p);
        w.int32(p).int64(c ? c.offset : -1).nullableString(c ? c.metadata ?? "" : "");
        w.int16(ErrorCode.NONE);
      });
    });
    if (v >= 2) w.int16(groupId ? ErrorCode.NONE : ErrorCode.INVALID_GROUP_ID);
  },
};

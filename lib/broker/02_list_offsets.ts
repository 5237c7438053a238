/**
 * ListOffsets (key 2), versions 0–2.
 *
 * Behavior:
 * - timestamp -1 (latest) answers the high watermark, -2 (earliest) the log start offset;
 *   any other timestamp answers the base offset of the first batch whose max timestamp is
 *   at or after it (batch precision: records are never decoded), or -1 when none is.
 * - Unknown topics or partitions get UNKNOWN_TOPIC_OR_PARTITION.
 *
 * Version notes: v0 answers a list of offsets (max_num_offsets, at most one here); v1+
 * one offset with its timestamp; v2+ isolation_level (both levels read the same) and
 * throttle_time_ms.
 * @module
 */
import type { Api } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";

export const listOffsets: Api = {
  key: 2,
  name: "ListOffsets",
  minVersion: 0,
  maxVersion: 2,
  handle(r, w, ctx) {
    const v = ctx.apiVersion;
    r.int32(); // replica_id
    if (v >= 2) r.int8(); // isolation_level
    const topics = r.array((r) => ({
      name: r.string(),
      partitions: r.array((r) => {
        const index = r.int32();
        const timestamp = r.int64();
        if (v === 0) r.int32(); // max_num_offsets
        return { index, timestamp };
      }),
    }));
    if (v >= 2) w.int32(0); // throttle_time_ms
    w.array(topics, (w, t) => {
      const topic = ctx.state.topics.get(t.name);
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        const log = topic?.partitions[p.index];
        let offset = -1;
        let timestamp = -1;
        if (log && p.timestamp === -1) offset = log.nextOffset;
        else if (log && p.timestamp === -2) offset = log.logStartOffset;
        else if (log) ({ offset, timestamp } = log.offsetForTimestamp(p.timestamp));
        w.int32(p.index).int16(log ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        if (v === 0) {
          w.array(log && offset >= 0 ? [offset] : [], (w, o) => w.int64(o));
        } else {
          w.int64(timestamp).int64(offset);
        }
      });
    });
  },
};

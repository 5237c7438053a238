/**
 * OffsetCommit (key 8), versions 0–5.
 *
 * Behavior:
 * - Stores committed offsets for the group (persisted in offsets.log with a data dir).
 * - Members must give the current generation and a known member id (else
 *   ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID); commits while the group awaits its sync get
 *   REBALANCE_IN_PROGRESS. Generation -1 with an empty member id (and every v0 commit) is a
 *   "simple" commit, accepted for groups with no members (admin tools).
 * - Unknown topics or partitions get UNKNOWN_TOPIC_OR_PARTITION; metadata over 4096 bytes
 *   OFFSET_METADATA_TOO_LARGE.
 *
 * Version notes: v1+ generation_id, member_id (v1 also a per-partition commit timestamp,
 * ignored); v2–4 retention_time_ms (ignored: offsets never expire); v3+ throttle_time_ms.
 *
 * Not implemented: offset expiry (offsets.retention.minutes), committed leader epochs.
 * @module
 */
import type { Api } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";

/** Largest offset metadata string accepted (Kafka's offset.metadata.max.bytes). */
const MAX_METADATA_BYTES = 4096;

export const offsetCommit: Api = {
  key: 8,
  name: "OffsetCommit",
  minVersion: 0,
  maxVersion: 5,
  async handle(r, w, ctx) {
    const v = ctx.apiVersion;
    const groupId = r.string();
    const generation = v >= 1 ? r.int32() : -1;
    const memberId = v >= 1 ? r.string() : "";
    if (v >= 2 && v <= 4) r.int64(); // retention_time_ms
    const topics = r.array((r) => ({
      name: r.string(),
      partitions: r.array((r) => {
        const index = r.int32();
        const offset = r.int64();
        if (v === 1) r.int64(); // commit_timestamp
        return { index, offset, metadata: r.nullableString(), error: ErrorCode.NONE as number };
      }),
    }));
    const s = ctx.state;
    const groupError = v === 0
      ? s.groups.checkCommit(groupId, -1, "")
      : s.groups.checkCommit(groupId, generation, memberId);
    const accepted: {
      topic: string;
      partition: number;
      offset: number;
      metadata: string | null;
    }[] = [];
    for (const t of topics) {
      const topic = s.topics.get(t.name);
      for (const p of t.partitions) {
        if (!groupId) p.error = ErrorCode.INVALID_GROUP_ID;
        else if (groupError) p.error = groupError;
        else if (!topic?.partitions[p.index]) p.error = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else if (new TextEncoder().encode(p.metadata ?? "").byteLength > MAX_METADATA_BYTES) {
          p.error = ErrorCode.OFFSET_METADATA_TOO_LARGE;
        } else {
          accepted.push({
            topic: t.name,
            partition: p.index,
            offset: p.offset,
            metadata: p.metadata,
          });
        }
      }
    }
    if (accepted.length) {
      s.offsets.commit(groupId, accepted);
      await s.afterWrite([], true);
    }
    if (v >= 3) w.int32(0); // throttle_time_ms
    w.array(topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => w.int32(p.index).int16(p.error));
    });
  },
};

/**
 * Metadata (key 3), versions 0–4.
 *
 * Behavior:
 * - One broker: this one, with node id 0 at the bound host and port; it is the
 *   controller, and the leader and only replica of every partition.
 * - All topics when the list is null (v1+) or empty (v0); otherwise the named ones.
 *   Unknown topics are auto-created when the broker allows it and the request does (v4+
 *   allow_auto_topic_creation; always before v4); else UNKNOWN_TOPIC_OR_PARTITION. Illegal
 *   names get INVALID_TOPIC_EXCEPTION.
 *
 * Version notes: v1+ rack, controller_id, is_internal, null = all topics; v2+ cluster_id;
 * v3+ throttle_time_ms; v4+ allow_auto_topic_creation.
 * @module
 */
import type { Api } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import type { Topic } from "./topics.ts";

export const metadata: Api = {
  key: 3,
  name: "Metadata",
  minVersion: 0,
  maxVersion: 4,
  handle(r, w, ctx) {
    const v = ctx.apiVersion;
    const s = ctx.state;
    const names = r.nullableArray((r) => r.string());
    const allowCreate = v >= 4 ? r.bool() : true;
    let topics: { name: string; error: number; topic?: Topic }[];
    if (names === null || (v === 0 && names.length === 0)) {
      topics = s.topics.all().map((t) => ({ name: t.name, error: ErrorCode.NONE, topic: t }));
    } else {
      // All unknown names at once: one metadata.json write for thousands of new topics.
      const found = s.topicsOrCreate(names, allowCreate);
      topics = [...found].map(([name, t]) =>
        typeof t === "number" ? { name, error: t } : { name, error: ErrorCode.NONE, topic: t }
      );
    }
    if (v >= 3) w.int32(0); // throttle_time_ms
    w.array([s.nodeId], (w, id) => {
      w.int32(id).string(s.host).int32(s.port);
      if (v >= 1) w.nullableString(null); // rack
    });
    if (v >= 2) w.nullableString(s.clusterId);
    if (v >= 1) w.int32(s.nodeId); // controller_id
    w.array(topics, (w, t) => {
      w.int16(t.error).string(t.name);
      if (v >= 1) w.bool(false); // is_internal
      w.array(t.topic?.partitions ?? [], (w, p) => {
        w.int16(ErrorCode.NONE).int32(p.partition).int32(s.nodeId);
        w.array([s.nodeId], (w, id) => w.int32(id)); // replicas
        w.array([s.nodeId], (w, id) => w.int32(id)); // isr
      });
    });
  },
};

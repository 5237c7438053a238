/**
 * DeleteTopics (key 20), versions 0–1.
 *
 * Behavior: deletes each topic, its logs and every group's committed offsets for it;
 * waiting fetches on it answer UNKNOWN_TOPIC_OR_PARTITION. Unknown topics get
 * UNKNOWN_TOPIC_OR_PARTITION.
 *
 * Version notes: v1+ throttle_time_ms.
 * @module
 */
import type { Api } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { TopicError } from "./topics.ts";

export const deleteTopics: Api = {
  key: 20,
  name: "DeleteTopics",
  minVersion: 0,
  maxVersion: 1,
  async handle(r, w, ctx) {
    const s = ctx.state;
    const names = r.array((r) => r.string());
    r.int32(); // timeout_ms
    const results: { name: string; error: number }[] = [];
    for (const name of names) {
      if (!s.topics.get(name)) {
        results.push({ name, error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
        continue;
      }
      try {
        await s.topics.delete(name);
      } catch (err) {
        if (!(err instanceof TopicError)) throw err;
        s.log(`could not delete topic "${name}": ${err.message}`);
        results.push({ name, error: err.code }); // metadata.json not written: still there
        continue;
      }
      s.offsets.deleteTopic(name);
      results.push({ name, error: ErrorCode.NONE });
    }
    if (ctx.apiVersion >= 1) w.int32(0); // throttle_time_ms
    w.array(results, (w, t) => w.string(t.name).int16(t.error));
  },
};

/**
 * CreateTopics (key 19), versions 0–3.
 *
 * Behavior:
 * - Creates each topic with num_partitions (or, for -1, the broker's default; or as many
 *   as the manual assignment lists). Replication factor must be -1 or 1 (one broker), else
 *   INVALID_REPLICATION_FACTOR; illegal names get INVALID_TOPIC_EXCEPTION, existing ones
 *   TOPIC_ALREADY_EXISTS, a name given twice INVALID_REQUEST, bad counts INVALID_PARTITIONS.
 * - Configs are validated (unknown names and bad values get INVALID_CONFIG) and stored;
 *   segment.*, retention.* and cleanup.policy are applied (topic_config.ts).
 * - A failed write of metadata.json gets KAFKA_STORAGE_ERROR and creates nothing.
 * - validate_only (v1+) checks without creating.
 * - The topic's partitions exist (and metadata.json is written) before the answer.
 *
 * Version notes: v1+ validate_only, error_message; v2+ throttle_time_ms; v3 same as v2.
 * @module
 */
import type { Api } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { TopicError, topicNameProblem } from "./topics.ts";
import { validateTopicConfigs } from "./topic_config.ts";

/** Most partitions one topic may have here. */
const MAX_PARTITIONS = 10_000;

export const createTopics: Api = {
  key: 19,
  name: "CreateTopics",
  minVersion: 0,
  maxVersion: 3,
  handle(r, w, ctx) {
    const v = ctx.apiVersion;
    const s = ctx.state;
    const topics = r.array((r) => ({
      name: r.string(),
      numPartitions: r.int32(),
      replicationFactor: r.int16(),
      assignments: r.array((r) => ({ index: r.int32(), brokers: r.array((r) => r.int32()) })),
      configs: r.array((r) => ({ name: r.string(), value: r.nullableString() })),
    }));
    r.int32(); // timeout_ms
    const validateOnly = v >= 1 ? r.bool() : false;
    const counts = new Map<string, number>();
    for (const t of topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    const results: { name: string; error: number; message: string | null }[] = [];
    for (const t of topics) {
      const fail = (error: number, message: string) =>
        results.push({ name: t.name, error, message });
      const nameProblem = topicNameProblem(t.name);
      let partitions = t.numPartitions === -1 ? s.settings.partitions : t.numPartitions;
      if (t.assignments.length) partitions = t.assignments.length;
      if (counts.get(t.name)! > 1) {
        fail(ErrorCode.INVALID_REQUEST, `topic "${t.name}" is listed more than once`);
      } else if (nameProblem) {
        fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
      } else if (s.topics.get(t.name)) {
        fail(ErrorCode.TOPIC_ALREADY_EXISTS, `topic "${t.name}" already exists`);
      } else if (t.assignments.length && t.numPartitions !== -1) {
        fail(ErrorCode.INVALID_REQUEST, "give either num_partitions or an assignment, not both");
      } else if (partitions < 1 || partitions > MAX_PARTITIONS) {
        fail(
          ErrorCode.INVALID_PARTITIONS,
          `${partitions} partitions: must be 1 to ${MAX_PARTITIONS}`,
        );
      } else if (t.replicationFactor !== -1 && t.replicationFactor !== 1 && !t.assignments.length) {
        fail(
          ErrorCode.INVALID_REPLICATION_FACTOR,
          `replication factor ${t.replicationFactor} is larger than the 1 broker available`,
        );
      } else if (t.assignments.some((a) => a.brokers.some((b) => b !== s.nodeId))) {
        fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `the only broker is ${s.nodeId}`);
      } else {
        const configs: Record<string, string> = {};
        for (const c of t.configs) if (c.value !== null) configs[c.name] = c.value;
        const configProblem = validateTopicConfigs(configs);
        if (configProblem) {
          fail(ErrorCode.INVALID_CONFIG, configProblem);
          continue;
        }
        if (!validateOnly) {
          try {
            s.topics.create(t.name, partitions, configs);
          } catch (err) {
            if (!(err instanceof TopicError)) throw err;
            fail(err.code, err.message); // KAFKA_STORAGE_ERROR: metadata.json not written
            continue;
          }
        }
        results.push({ name: t.name, error: ErrorCode.NONE, message: null });
      }
    }
    if (v >= 2) w.int32(0); // throttle_time_ms
    w.array(results, (w, t) => {
      w.string(t.name).int16(t.error);
      if (v >= 1) w.nullableString(t.message);
    });
  },
};

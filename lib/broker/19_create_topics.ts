/**
 * CreateTopics (key 19), versions 0–7.
 *
 * Behavior:
 * - Creates each topic with num_partitions and replication_factor, where -1 means the
 *   broker's default (KIP-464: the --partitions setting, and 1), or as many partitions as a
 *   manual assignment lists. A replication factor above 1 gets INVALID_REPLICATION_FACTOR
 *   (one broker); illegal names INVALID_TOPIC_EXCEPTION, existing ones TOPIC_ALREADY_EXISTS,
 *   a name given twice INVALID_REQUEST, bad counts INVALID_PARTITIONS, unknown configs or
 *   bad values INVALID_CONFIG (configs.ts knows Kafka 3.9's topic configs).
 * - Configs are stored with the topic; those the broker acts on (configs.ts) apply at once.
 * - validate_only (v1+) checks without creating.
 * - The topic's partitions exist (and metadata.json is written) before the answer.
 *
 * Version notes: v1+ validate_only, error_message; v2+ throttle_time_ms; v3, v4 same as v2
 * (v4 is where clients may send -1 defaults); v5+ flexible, and the answer repeats the
 * topic's partitions, replication factor and configs; v6 same as v5; v7+ topic id.
 * @module
 */
import { defineApi } from "./api.ts";
import { brokerTopicDefaults, describeTopicConfigs, topicConfigProblems } from "./configs.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr, ZERO_UUID } from "./schema.ts";
import { topicNameProblem } from "./topics.ts";

/** Most partitions one topic may have here. */
export const MAX_PARTITIONS = 10_000;

export const createTopics = defineApi({
  key: 19,
  name: "CreateTopics",
  minVersion: 0,
  maxVersion: 7,
  flexibleFrom: 5,
  request: {
    topics: arr({
      name: "string",
      numPartitions: "int32",
      replicationFactor: "int16",
      assignments: arr({ partitionIndex: "int32", brokerIds: "[]int32" }),
      configs: arr({ name: "string", value: "string null" }),
    }),
    timeoutMs: "int32 =60000",
    validateOnly: "bool v1+",
  },
  response: {
    throttleTimeMs: "int32 v2+",
    topics: arr({
      name: "string",
      topicId: "uuid v7+",
      errorCode: "int16",
      errorMessage: "string v1+ null",
      topicConfigErrorCode: "int16 v5+ tag0",
      numPartitions: "int32 v5+ =-1",
      replicationFactor: "int16 v5+ =-1",
      configs: arr({
        name: "string",
        value: "string null",
        readOnly: "bool",
        configSource: "int8 =-1",
        isSensitive: "bool",
      }, "v5+ null"),
    }),
  },
  handle(req, ctx) {
    const s = ctx.state;
    const defaults = brokerTopicDefaults(s.settings);
    const counts = new Map<string, number>();
    for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    const topics = req.topics.map((t) => {
      const fail = (errorCode: number, errorMessage: string) => ({
        name: t.name,
        errorCode,
        errorMessage,
        configs: [],
      });
      const nameProblem = topicNameProblem(t.name);
      let partitions = t.numPartitions === -1 ? s.settings.partitions : t.numPartitions;
      if (t.assignments.length) partitions = t.assignments.length;
      const rf = t.replicationFactor === -1 ? 1 : t.replicationFactor;
      const configProblems = topicConfigProblems(t.configs);
      if (counts.get(t.name)! > 1) {
        return fail(ErrorCode.INVALID_REQUEST, `topic "${t.name}" is listed more than once`);
      } else if (nameProblem) {
        return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
      } else if (s.topics.get(t.name)) {
        return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `topic "${t.name}" already exists`);
      } else if (
        t.assignments.length && (t.numPartitions !== -1 || t.replicationFactor !== -1)
      ) {
        return fail(
          ErrorCode.INVALID_REQUEST,
          "a manual assignment needs num_partitions and replication_factor set to -1",
        );
      } else if (partitions < 1 || partitions > MAX_PARTITIONS) {
        return fail(
          ErrorCode.INVALID_PARTITIONS,
          `${partitions} partitions: must be 1 to ${MAX_PARTITIONS}`,
        );
      } else if (rf < 1) {
        return fail(
          ErrorCode.INVALID_REPLICATION_FACTOR,
          `replication factor ${t.replicationFactor}: must be 1, or -1 for the default`,
        );
      } else if (rf > 1) {
        return fail(
          ErrorCode.INVALID_REPLICATION_FACTOR,
          `replication factor ${rf} is larger than the 1 broker available`,
        );
      } else if (t.assignments.some((a) => a.brokerIds.some((b) => b !== s.nodeId))) {
        return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `the only broker is ${s.nodeId}`);
      } else if (configProblems.length) {
        return fail(ErrorCode.INVALID_CONFIG, configProblems.join("; "));
      }
      const configs: Record<string, string> = {};
      for (const c of t.configs) configs[c.name] = c.value!.trim();
      const id = req.validateOnly ? ZERO_UUID : s.topics.create(t.name, partitions, configs).id;
      return {
        name: t.name,
        topicId: id,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        numPartitions: partitions,
        replicationFactor: 1,
        configs: describeTopicConfigs(configs, defaults).map((c) => ({
          name: c.name,
          value: c.value,
          readOnly: c.readOnly,
          configSource: c.configSource,
          isSensitive: c.isSensitive,
        })),
      };
    });
    return { topics };
  },
});

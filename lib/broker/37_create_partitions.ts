/**
 * CreatePartitions (key 37), versions 0–3 (kafka-topics --alter --partitions).
 *
 * Behavior: grows each topic to `count` partitions; new partitions start empty. A count not
 * above the current one gets INVALID_PARTITIONS, an unknown topic
 * UNKNOWN_TOPIC_OR_PARTITION, a topic named twice INVALID_REQUEST, and a manual assignment
 * that does not give each new partition exactly this broker INVALID_REPLICA_ASSIGNMENT, as
 * Kafka answers. validate_only checks without changing anything. Consumers see the new
 * partitions at their next metadata refresh, as with Kafka.
 *
 * Version notes: v1 same as v0; v2+ flexible; v3 same as v2.
 * @module
 */
import { defineApi } from "./api.ts";
import { MAX_PARTITIONS } from "./19_create_topics.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";

export const createPartitions = defineApi({
  key: 37,
  name: "CreatePartitions",
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: 2,
  request: {
    topics: arr({
      name: "string",
      count: "int32",
      assignments: arr({ brokerIds: "[]int32" }, "null"),
    }),
    timeoutMs: "int32",
    validateOnly: "bool",
  },
  response: {
    throttleTimeMs: "int32",
    results: arr({ name: "string", errorCode: "int16", errorMessage: "string null" }),
  },
  handle(req, ctx) {
    const s = ctx.state;
    const counts = new Map<string, number>();
    for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    const results = req.topics.map((t) => {
      const fail = (errorCode: number, errorMessage: string) => ({
        name: t.name,
        errorCode,
        errorMessage,
      });
      const topic = s.topics.get(t.name);
      const have = topic?.partitions.length ?? 0;
      if (counts.get(t.name)! > 1) {
        return fail(ErrorCode.INVALID_REQUEST, `topic "${t.name}" is listed more than once`);
      }
      if (!topic) {
        return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${t.name}" does not exist`);
      }
      if (t.count === have) {
        return fail(
          ErrorCode.INVALID_PARTITIONS,
          `topic "${t.name}" already has ${have} partitions`,
        );
      }
      if (t.count < have) {
        return fail(
          ErrorCode.INVALID_PARTITIONS,
          `topic "${t.name}" has ${have} partitions: ${t.count} would not be an increase`,
        );
      }
      if (t.count > MAX_PARTITIONS) {
        return fail(
          ErrorCode.INVALID_PARTITIONS,
          `${t.count} partitions: at most ${MAX_PARTITIONS}`,
        );
      }
      if (t.assignments !== null) {
        if (t.assignments.length !== t.count - have) {
          return fail(
            ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            `${
              t.count - have
            } new partitions need as many assignments, not ${t.assignments.length}`,
          );
        }
        const bad = t.assignments.find((a) =>
          a.brokerIds.length !== 1 || a.brokerIds[0] !== s.nodeId
        );
        if (bad) {
          return fail(
            ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            `the assignment [${bad.brokerIds}] is not this one broker (${s.nodeId})`,
          );
        }
      }
      if (!req.validateOnly) s.topics.addPartitions(t.name, t.count);
      return { name: t.name, errorCode: ErrorCode.NONE, errorMessage: null };
    });
    return { results };
  },
});

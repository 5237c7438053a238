/**
 * IncrementalAlterConfigs (key 44), versions 0–1 (kafka-configs --alter, admin clients).
 *
 * Behavior:
 * - Topics (resource type 2): SET, DELETE, APPEND and SUBTRACT (lists only) of the configs
 *   Kafka 3.9 knows, checked as Kafka checks them: an unknown name, a bad value or a list
 *   operation on a non-list gets INVALID_CONFIG, a name given twice INVALID_REQUEST, an
 *   unknown topic UNKNOWN_TOPIC_OR_PARTITION. All of a resource's changes apply or none.
 *   The new configs are persisted (metadata.json) before the answer and take effect at
 *   once (configs.ts: segments, retention, max.message.bytes, min.insync.replicas).
 * - The broker (type 4): its settings come from its flags and cannot change while it runs:
 *   INVALID_REQUEST. Other resource types: INVALID_REQUEST.
 * - validate_only checks without changing anything.
 *
 * Version notes: v1 flexible.
 * @module
 */
import { ResourceType } from "./32_describe_configs.ts";
import { defineApi } from "./api.ts";
import { alterTopicConfigs, TOPIC_CONFIGS } from "./configs.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";

export const incrementalAlterConfigs = defineApi({
  key: 44,
  name: "IncrementalAlterConfigs",
  minVersion: 0,
  maxVersion: 1,
  flexibleFrom: 1,
  request: {
    resources: arr({
      resourceType: "int8",
      resourceName: "string",
      configs: arr({ name: "string", configOperation: "int8", value: "string null" }),
    }),
    validateOnly: "bool",
  },
  response: {
    throttleTimeMs: "int32",
    responses: arr({
      errorCode: "int16",
      errorMessage: "string null",
      resourceType: "int8",
      resourceName: "string",
    }),
  },
  handle(req, ctx) {
    const s = ctx.state;
    return {
      responses: req.resources.map((r) => {
        const result = (errorCode: number, errorMessage: string | null) => ({
          errorCode,
          errorMessage,
          resourceType: r.resourceType,
          resourceName: r.resourceName,
        });
        if (r.resourceType === ResourceType.BROKER) {
          return result(
            ErrorCode.INVALID_REQUEST,
            "this broker's settings come from its flags and cannot be changed while it runs",
          );
        }
        if (r.resourceType !== ResourceType.TOPIC) {
          return result(
            ErrorCode.INVALID_REQUEST,
            `resource type ${r.resourceType} has no configs on this broker`,
          );
        }
        const topic = s.topics.get(r.resourceName);
        if (!topic) {
          return result(
            ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            `topic "${r.resourceName}" does not exist`,
          );
        }
        const next = alterTopicConfigs(topic.configs, r.configs);
        if ("error" in next) return result(next.error, next.message);
        if (!req.validateOnly) {
          const changed = r.configs.map((c) => c.name);
          topic.configs = next.configs;
          s.topics.persist();
          const inert = changed.filter((n) => !TOPIC_CONFIGS.get(n)?.applied);
          s.log(
            `topic "${topic.name}": configs ${changed.join(", ")} changed${
              inert.length ? ` (${inert.join(", ")} stored, not applied by this broker)` : ""
            }`,
          );
        }
        return result(ErrorCode.NONE, null);
      }),
    };
  },
});

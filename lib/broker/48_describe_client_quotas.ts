/**
 * DescribeClientQuotas (key 48), versions 0–1 (Kafka 3.9's).
 *
 * Behavior: this broker keeps no client quotas (throttle_time is always 0), so every
 * filter matches nothing: an empty list of entries. Served because `kafka-configs
 * --describe --entity-type users` asks for a user's quotas beside its SCRAM credentials.
 *
 * Version notes: v1 flexible.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";

export const describeClientQuotas = defineApi({
  key: 48,
  name: "DescribeClientQuotas",
  minVersion: 0,
  maxVersion: 1,
  flexibleFrom: 1,
  request: {
    components: arr({ entityType: "string", matchType: "int8", match: "string null" }),
    strict: "bool",
  },
  response: {
    throttleTimeMs: "int32",
    errorCode: "int16",
    errorMessage: "string null",
    entries: arr({
      entity: arr({ entityType: "string", entityName: "string null" }),
      values: arr({ key: "string", value: "float64" }),
    }, "null"),
  },
  handle() {
    return { errorCode: ErrorCode.NONE, errorMessage: "", entries: [] }; // Kafka sends "", not null
  },
});

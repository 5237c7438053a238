/**
 * DescribeUserScramCredentials (key 50), version 0 (Kafka 3.9's).
 *
 * Behavior: the SCRAM mechanisms and iteration counts of the users asked for (all users
 * when the list is null or empty), never a salt or key. An unknown user gets
 * RESOURCE_NOT_FOUND, a user asked for twice DUPLICATE_RESOURCE, with Kafka's messages.
 *
 * Version notes: v0 is flexible.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";
import { SCRAM_MECHANISMS } from "./scram.ts";

export const describeUserScramCredentials = defineApi({
  key: 50,
  name: "DescribeUserScramCredentials",
  minVersion: 0,
  maxVersion: 0,
  flexibleFrom: 0,
  request: { users: arr({ name: "string" }, "null") },
  response: {
    throttleTimeMs: "int32",
    errorCode: "int16",
    errorMessage: "string null",
    results: arr({
      user: "string",
      errorCode: "int16",
      errorMessage: "string null",
      credentialInfos: arr({ mechanism: "int8", iterations: "int32" }),
    }),
  },
  handle(req, ctx) {
    const store = ctx.listener?.scram;
    const asked = req.users?.length ? req.users.map((u) => u.name) : store?.names() ?? [];
    const seen = new Map<string, number>();
    for (const u of asked) seen.set(u, (seen.get(u) ?? 0) + 1);
    const results = [...seen].map(([user, n]) => {
      if (n > 1) {
        return {
          user,
          errorCode: ErrorCode.DUPLICATE_RESOURCE,
          errorMessage:
            "Cannot describe SCRAM credentials for the same user twice in a single request",
          credentialInfos: [],
        };
      }
      const mechs = store?.mechanisms(user) ?? [];
      if (mechs.length === 0) {
        return {
          user,
          errorCode: ErrorCode.RESOURCE_NOT_FOUND,
          errorMessage: "Attempt to describe a user credential that does not exist",
          credentialInfos: [],
        };
      }
      return {
        user,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        // In the order of the mechanisms' ids (SCRAM-SHA-256 first), as Kafka's controller
        // walks its ScramMechanism values, not in the order they were added.
        credentialInfos: mechs.map((m) => ({
          mechanism: SCRAM_MECHANISMS[m].id,
          iterations: store!.get(user, m)!.iterations,
        })).sort((a, b) => a.mechanism - b.mechanism),
      };
    });
    return { errorCode: ErrorCode.NONE, errorMessage: null, results };
  },
});

/**
 * AlterUserScramCredentials (key 51), version 0 (Kafka 3.9's).
 *
 * Behavior: deletes and upserts SCRAM credentials (the client sends the salted password,
 * which becomes StoredKey and ServerKey; the salted password itself is not kept), one
 * result per user, with Kafka's errors and messages: an unknown mechanism
 * UNSUPPORTED_SASL_MECHANISM, fewer than 4096 or more than 16384 iterations or an empty
 * user name UNACCEPTABLE_CREDENTIAL, deleting what does not exist RESOURCE_NOT_FOUND, a
 * user named twice in one request (even for two mechanisms) DUPLICATE_RESOURCE. A user with any error has none of its
 * changes applied. Changes are kept in the data dir (scram.ts).
 *
 * Version notes: v0 is flexible.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";
import {
  credentialFromSalted,
  SCRAM_MAX_ITERATIONS,
  SCRAM_MECHANISMS,
  SCRAM_MIN_ITERATIONS,
  type ScramMechanism,
} from "./scram.ts";

const BY_ID = new Map(
  Object.entries(SCRAM_MECHANISMS).map(([name, m]) => [m.id as number, name as ScramMechanism]),
);

export const alterUserScramCredentials = defineApi({
  key: 51,
  name: "AlterUserScramCredentials",
  minVersion: 0,
  maxVersion: 0,
  flexibleFrom: 0,
  request: {
    deletions: arr({ name: "string", mechanism: "int8" }),
    upsertions: arr({
      name: "string",
      mechanism: "int8",
      iterations: "int32",
      salt: "bytes",
      saltedPassword: "bytes",
    }),
  },
  response: {
    throttleTimeMs: "int32",
    results: arr({ user: "string", errorCode: "int16", errorMessage: "string null" }),
  },
  async handle(req, ctx) {
    const store = ctx.listener?.scram;
    const errors = new Map<string, [number, string]>();
    const fail = (user: string, code: number, message: string) => {
      if (!errors.has(user)) errors.set(user, [code, message]);
    };
    const users: string[] = [];
    const seen = new Set<string>();
    const changes = [
      ...req.deletions.map((d) => ({ ...d, upsert: undefined })),
      ...req.upsertions.map((u) => ({ name: u.name, mechanism: u.mechanism, upsert: u })),
    ];
    for (const c of changes) {
      if (!users.includes(c.name)) users.push(c.name);
      const mech = BY_ID.get(c.mechanism);
      // As Kafka: a user may appear once per request, whatever the mechanisms.
      const key = c.name;
      if (seen.has(key)) {
        fail(
          c.name,
          ErrorCode.DUPLICATE_RESOURCE,
          "A user credential cannot be altered twice in the same request",
        );
      }
      seen.add(key);
      if (!store) {
        fail(
          c.name,
          ErrorCode.UNSUPPORTED_SASL_MECHANISM,
          "This broker keeps no SCRAM credentials",
        );
      }
      if (!c.name) fail(c.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, "Username must not be empty");
      if (!mech) fail(c.name, ErrorCode.UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism");
      else if (!c.upsert && !store?.get(c.name, mech)) {
        fail(
          c.name,
          ErrorCode.RESOURCE_NOT_FOUND,
          "Attempt to delete a user credential that does not exist",
        );
      }
      if (c.upsert && c.upsert.iterations < SCRAM_MIN_ITERATIONS) {
        fail(c.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, "Too few iterations");
      } else if (c.upsert && c.upsert.iterations > SCRAM_MAX_ITERATIONS) {
        fail(c.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, "Too many iterations");
      }
    }
    let changed = false;
    for (const c of changes) {
      if (errors.has(c.name)) continue;
      const mech = BY_ID.get(c.mechanism)!;
      if (c.upsert) {
        store!.set(
          c.name,
          mech,
          credentialFromSalted(
            mech,
            c.upsert.salt.slice(),
            c.upsert.iterations,
            c.upsert.saltedPassword,
          ),
        );
      } else {
        store!.delete(c.name, mech);
      }
      changed = true;
    }
    if (changed) {
      await store!.save();
      ctx.state.log(
        `SCRAM credentials changed for ${users.filter((u) => !errors.has(u)).join(", ")} by ` +
          `${ctx.session?.principal ?? "an unauthenticated client"} from ${ctx.clientHost}`,
      );
    }
    return {
      results: users.map((user) => {
        const e = errors.get(user);
        return { user, errorCode: e?.[0] ?? ErrorCode.NONE, errorMessage: e?.[1] ?? null };
      }),
    };
  },
});

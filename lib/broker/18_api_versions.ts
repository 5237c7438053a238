/**
 * ApiVersions (key 18), versions 0–4, as Kafka 3.9 serves them.
 *
 * Behavior:
 * - Lists every API in the registry with its version range, so what is advertised is
 *   exactly what is dispatched.
 * - A version above 4 gets a v0-shaped answer with UNSUPPORTED_VERSION listing only
 *   ApiVersions' own range, as Kafka answers; the client retries with a version it knows.
 *
 * Version notes: v1+ throttle_time_ms; v4 only lets a feature's min version be 0 (KAFKA-17011;
 * this broker lists no features), so it is v3 on the wire; v3 is flexible (librdkafka and the Java client open
 * with it): the request carries the client's software name and version (ignored) and the
 * response a compact list, but the response header stays v0 (no tags), always, for this
 * API. The v3 tagged fields (supported and finalized features) are left out: there are no
 * features to finalize on this broker.
 * @module
 */
import { type Api, defineApi, type RequestContext } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";

function ranges(ctx: RequestContext): { apiKey: number; minVersion: number; maxVersion: number }[] {
  return [...ctx.apis.values()]
    .sort((a: Api, b: Api) => a.key - b.key)
    .map((a) => ({ apiKey: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion }));
}

export const apiVersions = defineApi({
  key: 18,
  name: "ApiVersions",
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 3,
  responseHeaderV0: true,
  request: {
    clientSoftwareName: "string v3+",
    clientSoftwareVersion: "string v3+",
  },
  response: {
    errorCode: "int16",
    apiKeys: arr({ apiKey: "int16", minVersion: "int16", maxVersion: "int16" }),
    throttleTimeMs: "int32 v1+",
  },
  handle(_req, ctx) {
    return { errorCode: ErrorCode.NONE, apiKeys: ranges(ctx) };
  },
  answerUnsupported(ctx) {
    const self = ctx.apis.get(18)!;
    return {
      version: 0,
      response: {
        errorCode: ErrorCode.UNSUPPORTED_VERSION,
        apiKeys: [{ apiKey: 18, minVersion: self.minVersion, maxVersion: self.maxVersion }],
      },
    };
  },
});

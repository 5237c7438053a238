/**
 * ApiVersions (key 18), versions 0–3.
 *
 * Behavior: lists every API in the registry with its version range, so what is
 * advertised is exactly what is dispatched. A version above 3 gets a v0-shaped answer with
 * UNSUPPORTED_VERSION and the list, as Kafka does; the client retries with one it knows.
 *
 * Version notes: v1+ throttle_time_ms; v3 is flexible (librdkafka opens with it): the
 * request header carries tagged fields and the body compact strings (client software name
 * and version, ignored); the response body uses a compact array and tagged fields, but the
 * response header stays v0 (no tags), always, for this API.
 * @module
 */
import type { Api, RequestContext } from "./api.ts";
import type { Writer } from "./codec.ts";
import { ErrorCode } from "./error_codes.ts";

function ranges(ctx: RequestContext): Api[] {
  return [...ctx.apis.values()].sort((a, b) => a.key - b.key);
}

export const apiVersions: Api = {
  key: 18,
  name: "ApiVersions",
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: 3,
  handle(r, w, ctx) {
    const v = ctx.apiVersion;
    if (v >= 3) {
      r.compactNullableString(); // client_software_name
      r.compactNullableString(); // client_software_version
      r.skipTags();
      w.int16(ErrorCode.NONE);
      w.compactArray(ranges(ctx), (w, a) => {
        w.int16(a.key).int16(a.minVersion).int16(a.maxVersion).emptyTags();
      });
      w.int32(0).emptyTags(); // throttle_time_ms, tags
      return;
    }
    w.int16(ErrorCode.NONE);
    w.array(ranges(ctx), (w, a) => w.int16(a.key).int16(a.minVersion).int16(a.maxVersion));
    if (v >= 1) w.int32(0); // throttle_time_ms
  },
  answerUnsupported(w: Writer, ctx: RequestContext) {
    w.int16(ErrorCode.UNSUPPORTED_VERSION);
    w.array(ranges(ctx), (w, a) => w.int16(a.key).int16(a.minVersion).int16(a.maxVersion));
  },
};

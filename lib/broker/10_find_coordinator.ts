/**
 * FindCoordinator (key 10), versions 0–2.
 *
 * Behavior: this broker coordinates every group. Transaction coordinators (key_type 1)
 * are refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, what Kafka answers a client
 * that may not use a transactional id: clients fail at once (a retriable code such as
 * COORDINATOR_NOT_AVAILABLE would have them retry until they time out).
 *
 * Version notes: v1+ key_type, throttle_time_ms, error_message.
 * @module
 */
import type { Api } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";

export const findCoordinator: Api = {
  key: 10,
  name: "FindCoordinator",
  minVersion: 0,
  maxVersion: 2,
  handle(r, w, ctx) {
    const v = ctx.apiVersion;
    const s = ctx.state;
    r.string(); // key
    const keyType = v >= 1 ? r.int8() : 0;
    if (v >= 1) w.int32(0); // throttle_time_ms
    if (keyType !== 0) {
      w.int16(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      if (v >= 1) w.nullableString("transactions are not supported by this broker");
      w.int32(-1).string("").int32(-1);
      return;
    }
    w.int16(ErrorCode.NONE);
    if (v >= 1) w.nullableString(null);
    w.int32(s.nodeId).string(s.host).int32(s.port);
  },
};

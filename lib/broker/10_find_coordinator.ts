/**
 * FindCoordinator (key 10), versions 0–4.
 *
 * Behavior: this broker coordinates every group (key_type 0) and every transactional id
 * (key_type 1); other key types get INVALID_REQUEST.
 *
 * Version notes: v1+ key_type, throttle_time_ms, error_message; v3+ flexible; v4+ several
 * keys per request, each answered in its own entry.
 * @module
 */
import { defineApi } from "./api.ts";
import type { ListenerInfo } from "./sasl.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";
import type { BrokerState } from "./state.ts";

export const findCoordinator = defineApi({
  key: 10,
  name: "FindCoordinator",
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 3,
  request: {
    key: "string v0-3",
    keyType: "int8 v1+",
    coordinatorKeys: "[]string v4+",
  },
  response: {
    throttleTimeMs: "int32 v1+",
    errorCode: "int16 v0-3",
    errorMessage: "string v1-3 null",
    nodeId: "int32 v0-3",
    host: "string v0-3",
    port: "int32 v0-3",
    coordinators: arr({
      key: "string",
      nodeId: "int32",
      host: "string",
      port: "int32",
      errorCode: "int16",
      errorMessage: "string null",
    }, "v4+"),
  },
  handle(req, ctx) {
    const s = ctx.state;
    if (ctx.apiVersion >= 4) {
      return {
        coordinators: req.coordinatorKeys.map((k) => find(s, k, req.keyType, ctx.listener)),
      };
    }
    const { key: _, ...one } = find(s, req.key, req.keyType, ctx.listener);
    // Kafka names success "NONE" in v1–v3 (and "" in v4's entries).
    return { ...one, errorMessage: one.errorCode === ErrorCode.NONE ? "NONE" : one.errorMessage };
  },
});

function find(s: BrokerState, key: string, keyType: number, listener?: ListenerInfo) {
  const refuse = (errorCode: number, errorMessage: string) => ({
    key,
    nodeId: -1,
    host: "",
    port: -1,
    errorCode,
    errorMessage,
  });
  if (keyType !== 0 && keyType !== 1) {
    return refuse(ErrorCode.INVALID_REQUEST, `unknown key type ${keyType}`);
  }
  return {
    key,
    nodeId: s.nodeId,
    host: listener?.host ?? s.host,
    port: listener?.port ?? s.port,
    errorCode: 0,
    errorMessage: "",
  };
}

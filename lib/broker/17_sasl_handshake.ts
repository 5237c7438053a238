/**
 * SaslHandshake (key 17), versions 0–1 (Kafka 3.9's).
 *
 * Behavior: on a SASL listener, chooses the mechanism for the SaslAuthenticate requests that
 * follow, answering the enabled mechanisms; a mechanism not enabled gets
 * UNSUPPORTED_SASL_MECHANISM and the connection is closed, as Kafka closes it. Sent again
 * after authenticating, it starts a re-authentication (KIP-368), which must keep the
 * mechanism. On a listener without SASL: ILLEGAL_SASL_STATE, as Kafka answers.
 *
 * Version notes: v1 means SaslAuthenticate requests follow (v0: raw tokens, not supported,
 * see sasl.ts).
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";

export const saslHandshake = defineApi({
  key: 17,
  name: "SaslHandshake",
  minVersion: 0,
  maxVersion: 1,
  request: { mechanism: "string" },
  response: { errorCode: "int16", mechanisms: "[]string" },
  handle(req, ctx) {
    const session = ctx.session;
    if (!session) return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] };
    const mechanisms = session.config.mechanisms;
    const result = session.handshake(req.mechanism);
    if (result === "ok") return { errorCode: ErrorCode.NONE, mechanisms };
    session.failed = true;
    ctx.state.log(
      result === "unsupported"
        ? `refused SASL mechanism "${req.mechanism}" from ${ctx.clientHost} on ` +
          `${session.listener.name} (enabled: ${mechanisms.join(", ")})`
        : `refused re-authentication of ${session.principal} with ${req.mechanism}: it ` +
          `authenticated with ${session.mechanism}`,
    );
    return {
      errorCode: result === "unsupported"
        ? ErrorCode.UNSUPPORTED_SASL_MECHANISM
        : ErrorCode.ILLEGAL_SASL_STATE,
      mechanisms,
    };
  },
});

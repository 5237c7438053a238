/**
 * SaslAuthenticate (key 36), versions 0–2 (Kafka 3.9's).
 *
 * Behavior: one step of the mechanism chosen by SaslHandshake (sasl.ts, scram.ts, iam.ts).
 * A failed step answers SASL_AUTHENTICATION_FAILED with Kafka's message for the mechanism
 * (SCRAM: "Authentication failed during authentication due to invalid credentials with SASL
 * mechanism …"; PLAIN: "Authentication failed: Invalid username or password"), logs the
 * exact reason (never the secret) and closes the connection. On a listener without SASL:
 * ILLEGAL_SASL_STATE, as Kafka answers.
 *
 * Version notes: v1+ session_lifetime_ms (KIP-368); v2 flexible.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { ReauthPrincipalChange } from "./sasl.ts";
import { AuthFailure } from "./scram.ts";

export const saslAuthenticate = defineApi({
  key: 36,
  name: "SaslAuthenticate",
  minVersion: 0,
  maxVersion: 2,
  flexibleFrom: 2,
  request: { authBytes: "bytes" },
  response: {
    errorCode: "int16",
    errorMessage: "string null",
    authBytes: "bytes",
    sessionLifetimeMs: "int64 v1+",
  },
  async handle(req, ctx) {
    const session = ctx.session;
    const empty = new Uint8Array(0);
    if (!session) {
      return {
        errorCode: ErrorCode.ILLEGAL_SASL_STATE,
        errorMessage: "SaslAuthenticate request received after successful authentication",
        authBytes: empty,
        sessionLifetimeMs: 0,
      };
    }
    try {
      const { challenge, lifetimeMs } = await session.authenticate(req.authBytes);
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        authBytes: challenge,
        sessionLifetimeMs: lifetimeMs,
      };
    } catch (err) {
      if (!(err instanceof AuthFailure) && !(err instanceof ReauthPrincipalChange)) throw err;
      session.failed = true;
      ctx.state.log(
        `refused ${session.mechanism} authentication from ${ctx.clientHost} on ` +
          `${session.listener.name}: ${err.message}`,
      );
      return {
        errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
        errorMessage: err instanceof AuthFailure
          ? err.clientMessage
          : "Cannot change principals during re-authentication",
        authBytes: empty,
        sessionLifetimeMs: 0,
      };
    }
  },
});

/**
 * Which Confluent code a Kafka client failure gets. kafkajs wraps the failure it retried in
 * `KafkaJSNumberOfRetriesExceeded` (marked not retriable), so the wrapper alone would turn a
 * broker outage into a permanent 50002; the cause chain says what really happened. The rule:
 * authentication 40101, authorization 40301, a Kafka protocol error the protocol calls
 * permanent 50002, anything else (connection refused or lost, timeouts, leader changes, a
 * retry budget spent on those) 50003: retriable, a later attempt may pass.
 * @module
 */
import { HttpError } from "./http.ts";

interface KafkaJsLike {
  name?: string;
  type?: string;
  code?: number;
  retriable?: boolean;
  message?: string;
  cause?: unknown;
  originalError?: unknown;
}

/** The errors of `err`'s chain, outermost first. */
function chain(err: unknown): KafkaJsLike[] {
  const out: KafkaJsLike[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur && typeof cur === "object" && depth < 8; depth++) {
    const e = cur as KafkaJsLike;
    out.push(e);
    cur = e.cause ?? e.originalError;
  }
  return out;
}

/** The Confluent per-record / whole-request error code for a Kafka client failure. */
export function kafkaErrorCode(err: unknown): number {
  const errs = chain(err);
  for (const e of errs) {
    const t = e.type ?? "";
    if (e.name === "KafkaJSSASLAuthenticationError" || /AUTHENTICATION/.test(t)) return 40101;
    if (/AUTHORIZATION/.test(t)) return 40301;
  }
  // The innermost protocol error decides; without one it was the network or a timeout.
  const protocol = errs.filter((e) => e.name === "KafkaJSProtocolError" || e.type).pop();
  if (protocol && protocol.retriable === false) return 50002;
  return 50003;
}

/** The message of the innermost error, which names the broker's answer or the socket error. */
export function kafkaErrorMessage(err: unknown): string {
  const errs = chain(err);
  const msgs = errs.map((e) => e.message).filter((m): m is string => !!m);
  if (msgs.length <= 1) return msgs[0] ?? String(err);
  const inner = msgs[msgs.length - 1];
  return msgs[0].includes(inner) ? msgs[0] : `${msgs[0]}: ${inner}`;
}

/** A whole-request failure for a Kafka client error, as Confluent's exception mapper answers. */
export function kafkaHttpError(err: unknown, what: string): HttpError {
  const code = kafkaErrorCode(err);
  const msg = `${what}: ${kafkaErrorMessage(err)}`;
  if (code === 40101) return new HttpError(401, 40101, `Kafka authentication failed: ${msg}`);
  if (code === 40301) return new HttpError(403, 40301, `Kafka authorization failed: ${msg}`);
  if (code === 50002) return new HttpError(500, 50002, `Kafka error: ${msg}`);
  return new HttpError(500, 50003, `Retriable Kafka error: ${msg}`);
}

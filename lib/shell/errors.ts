/**
 * The error classes every task shares, so `runMain` can pick the exit code and
 * `retry` can tell passing failures from permanent ones.
 * @module
 */

/** Bad flags, environment or configuration: exit code 2, nothing was touched. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure that may pass on its own (network, 5xx, 429, retriable Kafka codes). */
export class RetriableError extends Error {
  override name = "RetriableError";
  readonly retriable = true;
  /** Milliseconds the server asked us to wait (Retry-After), if it said. */
  readonly retryAfterMs?: number;
  constructor(message: string, options?: ErrorOptions & { retryAfterMs?: number }) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** True when `err` says a retry may succeed (`retriable: true` anywhere on it). */
export function isRetriable(err: unknown): boolean {
  return typeof err === "object" && err !== null &&
    (err as { retriable?: unknown }).retriable === true;
}

/** The message of `err` and of each of its causes, joined with ": ", without stacks. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 6; depth++) {
    const msg = cur instanceof Error ? cur.message : String(cur);
    if (msg && !parts.some((p) => p.includes(msg))) parts.push(msg);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(": ");
}

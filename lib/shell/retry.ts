/**
 * One retry helper for every task: capped exponential backoff with full jitter, retrying
 * only errors that say `retriable: true` (or that a caller's predicate accepts), and
 * honouring a server's Retry-After.
 * @module
 */
import { isRetriable } from "./errors.ts";

/** How `retry` behaves. */
export interface RetryOptions {
  /** Attempts in all, the first included. Default 8. */
  maxAttempts?: number;
  /** First delay in ms. Default 100. */
  baseMs?: number;
  /** Largest delay in ms. Default 5000. */
  maxMs?: number;
  /** Stops waiting (and retrying) when aborted. */
  signal?: AbortSignal;
  /** Overrides which errors are retried. Default: `isRetriable`. */
  retriable?: (err: unknown) => boolean;
  /** Called before each wait, e.g. to count retries. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Source of randomness for jitter (tests pass a fixed one). */
  random?: () => number;
}

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The backoff before retry number `attempt` (1-based): full jitter under a capped doubling. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random = Math.random) {
  const cap = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.round(cap / 2 + random() * (cap / 2));
}

/** Runs `fn` until it succeeds, a non-retriable error is thrown, or attempts run out. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}) {
  const max = opts.maxAttempts ?? 8;
  const base = opts.baseMs ?? 100;
  const cap = opts.maxMs ?? 5000;
  const canRetry = opts.retriable ?? isRetriable;
  for (let attempt = 1;; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= max || !canRetry(err) || opts.signal?.aborted) throw err;
      const asked = (err as { retryAfterMs?: number }).retryAfterMs;
      const wait = Math.min(
        cap,
        Math.max(asked ?? 0, backoffMs(attempt, base, cap, opts.random)),
      );
      opts.onRetry?.(err, attempt, wait);
      await delay(wait, opts.signal);
    }
  }
}

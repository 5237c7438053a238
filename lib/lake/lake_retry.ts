/**
 * How the sink waits out a lake that fails for a while (an S3 endpoint restarting, throttling,
 * a dropped route): every lake call it makes goes through `LakeRetry.run`, which retries what
 * `isRetriableLakeError` says may pass, with capped exponential backoff, for a bounded time
 * (Kafka Connect's `errors.retry.timeout`), keeps the consumer's group membership alive while
 * it waits and while a slow attempt is in flight, logs that the lake is unreachable and for
 * how long, and gives up early when the caller says the work is no longer wanted (the sink is
 * stopping, the group is rebalancing). It never abandons an attempt in flight: a write that
 * may still land is always awaited, so no object can appear after its partition moved on.
 * @module
 */
import { describeError } from "../shell/errors.ts";
import { backoffMs } from "../shell/retry.ts";
import { isRetriableLakeError } from "./lake.ts";

/** Time as the sink sees it; tests pass a virtual one. */
export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  /** Resolves after `ms`, or rejects with an `AbortError` once `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The clock of the process: `performance.now()` and timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError());
      const onAbort = () => {
        clearTimeout(t);
        reject(abortError());
      };
      const t = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/** A wait as people say it: `800 ms`, `12 s`, `5 min`, `1 min 30 s`. */
export function fmtWait(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms < 10_000 ? Math.round(ms / 100) / 10 : Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s - m * 60);
  return rest ? `${m} min ${rest} s` : `${m} min`;
}

function abortError(): Error {
  return new DOMException("The wait was cut short", "AbortError");
}

/** Thrown when the caller no longer wants a failing lake call retried; `cause` says why. */
export class LakeCallAbandoned extends Error {
  override name = "LakeCallAbandoned";
}

/** Thrown when the lake kept failing for the whole retry timeout, or failed for good. */
export class LakeFailed extends Error {
  override name = "LakeFailed";
}

/** What a caller of `LakeRetry.run` lends it while it waits. */
export interface LakeCallContext {
  /** Keeps this member in its group (kafkajs heartbeats only when asked). */
  heartbeat?: () => Promise<void>;
  /** A reason to stop retrying now (stop requested, partition gone), or undefined. */
  abandon?: () => string | undefined;
  /** True for a heartbeat error that means the group is rebalancing. */
  isRebalance?: (err: unknown) => boolean;
  /** A shorter retry budget than the configured one (a sink that is stopping)... */
  timeoutMs?: number;
  /** ...and what messages call it instead of the flag, e.g. "a stopping sink's 5 s". */
  timeoutName?: string;
}

/** How `LakeRetry` behaves. */
export interface LakeRetryOptions {
  /** The lake as people see it (`s3://…`), for messages. */
  lakeUrl: string;
  /** How long a lake call is retried before the sink gives up; 0 = not at all. */
  timeoutMs: number;
  clock?: Clock;
  log?: (line: string) => void;
  /** First backoff; default 200 ms. */
  baseMs?: number;
  /** Largest backoff; default 5 s. */
  maxMs?: number;
  /** How often a long outage is logged again; default 10 s. */
  logEveryMs?: number;
  /** The flag that sets `timeoutMs`, named in messages. */
  flag?: string;
  random?: () => number;
}

/** Heartbeats are sent at least this often while a lake call waits or is in flight. */
const HEARTBEAT_EVERY_MS = 1000;

/** Retries lake calls through an outage, for a bounded time; one per sink. */
export class LakeRetry {
  /** When the lake began failing, with no success since; undefined while it answers. */
  downSince?: number;
  /** What the lake last failed with, for progress lines. */
  lastError?: unknown;
  private loggedAt = -Infinity;
  private readonly clock: Clock;

  constructor(readonly opts: LakeRetryOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  /** Milliseconds the lake has been failing, or 0 while it answers. */
  downMs(): number {
    return this.downSince === undefined ? 0 : this.clock.now() - this.downSince;
  }

  /**
   * Runs `fn` until it succeeds; retries what may pass, for up to the retry timeout counted
   * from this call's first failure; throws `LakeFailed` (the time ran out, or the error is
   * permanent: `cause`) or `LakeCallAbandoned` (the context gave a reason).
   */
  async run<T>(what: () => string, fn: () => Promise<T>, ctx: LakeCallContext = {}): Promise<T> {
    const timeout = Math.min(this.opts.timeoutMs, ctx.timeoutMs ?? Infinity);
    let failingSince: number | undefined;
    for (let attempt = 1;; attempt++) {
      let result: { ok: true; value: T } | { ok: false; err: unknown };
      let rebalance: unknown;
      try {
        const value = await this.heartbeating(fn(), ctx, (e) => rebalance ??= e);
        result = { ok: true, value };
      } catch (err) {
        result = { ok: false, err };
      }
      const now = this.clock.now();
      if (result.ok) {
        this.recovered(now);
        return result.value;
      }
      const err = result.err;
      if (!isRetriableLakeError(err)) {
        throw new LakeFailed(`Cannot ${what()}: ${describeError(err)}`, { cause: err });
      }
      failingSince ??= now;
      this.failing(now, err, timeout);
      if (now - failingSince >= timeout) {
        throw new LakeFailed(
          `Cannot ${what()}: the lake still failed after ${
            fmtWait(now - failingSince)
          } of retries (${
            timeout < this.opts.timeoutMs && ctx.timeoutName
              ? ctx.timeoutName
              : `${this.opts.flag ?? "retry timeout"} ${fmtWait(timeout)}`
          }): ${describeError(err)}`,
          { cause: err },
        );
      }
      const why = rebalance !== undefined ? "the group is rebalancing" : ctx.abandon?.();
      if (why) {
        throw new LakeCallAbandoned(`Stopped retrying to ${what()}: ${why}`, {
          cause: rebalance ?? err,
        });
      }
      const wait = Math.min(
        backoffMs(attempt, this.opts.baseMs ?? 200, this.opts.maxMs ?? 5000, this.opts.random),
        Math.max(0, failingSince + timeout - now),
      );
      const reason = await this.pause(wait, ctx);
      if (reason) {
        throw new LakeCallAbandoned(`Stopped retrying to ${what()}: ${reason.why}`, {
          cause: reason.cause ?? err,
        });
      }
    }
  }

  /** Awaits `p`, heartbeating every second meanwhile; reports a rebalance seen in a heartbeat. */
  private async heartbeating<T>(
    p: Promise<T>,
    ctx: LakeCallContext,
    onRebalance: (err: unknown) => void,
  ): Promise<T> {
    if (!ctx.heartbeat) return await p;
    let settled = false;
    const done = p.finally(() => settled = true);
    const ticker = new AbortController();
    try {
      while (!settled) {
        const tick = this.clock.sleep(HEARTBEAT_EVERY_MS, ticker.signal).then(
          () => "tick",
          () => "tick",
        );
        if (await Promise.race([done.then(() => "done", () => "done"), tick]) === "done") break;
        await this.beat(ctx, onRebalance);
      }
    } finally {
      ticker.abort();
    }
    return await done;
  }

  /** Waits `ms` in steps, heartbeating; returns why to stop early, if there is a reason. */
  private async pause(
    ms: number,
    ctx: LakeCallContext,
  ): Promise<{ why: string; cause?: unknown } | undefined> {
    const end = this.clock.now() + ms;
    for (;;) {
      let rebalance: unknown;
      await this.beat(ctx, (e) => rebalance ??= e);
      if (rebalance !== undefined) return { why: "the group is rebalancing", cause: rebalance };
      const why = ctx.abandon?.();
      if (why) return { why };
      const left = end - this.clock.now();
      if (left <= 0) return undefined;
      await this.clock.sleep(Math.min(left, HEARTBEAT_EVERY_MS));
    }
  }

  private async beat(ctx: LakeCallContext, onRebalance: (err: unknown) => void): Promise<void> {
    if (!ctx.heartbeat) return;
    try {
      await ctx.heartbeat();
    } catch (err) {
      // Other heartbeat failures (Kafka briefly unreachable) are kafkajs's to handle.
      if (ctx.isRebalance?.(err)) onRebalance(err);
    }
  }

  private failing(now: number, err: unknown, timeout: number): void {
    this.lastError = err;
    this.downSince ??= now;
    if (now - this.loggedAt < (this.opts.logEveryMs ?? 10_000)) return;
    this.loggedAt = now;
    const down = now - this.downSince;
    this.opts.log?.(
      `sink: the lake "${this.opts.lakeUrl}" is unreachable${
        down >= 1000 ? ` for ${fmtWait(down)}` : ""
      } (${describeError(err)}); retrying for up to ${fmtWait(timeout)}${
        this.opts.flag ? ` (${this.opts.flag})` : ""
      }, nothing is committed past what it holds`,
    );
  }

  private recovered(now: number): void {
    if (this.downSince === undefined) return;
    const down = now - this.downSince;
    this.downSince = undefined;
    this.lastError = undefined;
    this.loggedAt = -Infinity;
    this.opts.log?.(
      `sink: the lake "${this.opts.lakeUrl}" answers again after ${fmtWait(down)}`,
    );
  }
}

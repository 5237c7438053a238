/**
 * The posting emulator: draws posting keys (the original's seeded random sequence, or
 * every key in order), reads each posting's three rows from a source (the built-in
 * dataset or MySQL), and sends them as records to a target (a Confluent v2 REST proxy,
 * Kafka, or an NDJSON file) in batches with a bounded number of requests in flight, an
 * optional rate limit, and an honest tally: a record counts as acknowledged only when the
 * target said so.
 *
 * Delivery is at-least-once: a request whose answer is lost (a dropped connection, a
 * timeout) is sent again, and the proxy may already have written it. The lake's cleaning
 * drops exact duplicates (SPEC §4), so a replayed record is harmless.
 *
 * Folder `lib/ingest/`: getting postings into Kafka: the emulator (emulator.ts, with the
 * original's random sequence in py_random.ts) and its targets: Kafka through a producer in a
 * worker thread (kafka_target.ts, kafka_send.ts, kafka_send_worker.ts), a REST proxy
 * (rest_client.ts) and NDJSON (ndjson_target.ts). May import: `lib/source/`, `lib/kafka/`,
 * `lib/shell/`, `lib/deps/`.
 * @module
 */
import type { Dataset, PostingSource } from "../source/dataset.ts";
import { delay, retry } from "../shell/retry.ts";
import { describeError } from "../shell/errors.ts";
import { redact } from "../shell/redact.ts";
import { fmtInt, fmtRate, fmtSec, Progress, silentSink } from "../shell/progress.ts";
import { PyRandom } from "./py_random.ts";
import { topicsFor } from "../kafka/topics.ts";

export { topicsFor } from "../kafka/topics.ts";
export type { PostingSource } from "../source/dataset.ts";

/** One Kafka record: key = the posting key as a decimal string, value = the row. */
export interface OutRecord {
  key: string;
  value: object;
}

/** Callbacks a target reports progress through while it sends. */
export interface SendHooks {
  /** These records (of those handed to `send`) were acknowledged. */
  onAck(records: readonly OutRecord[]): void;
  /** A retriable failure; the target waits `delayMs` and tries again. */
  onRetry(err: unknown, attempt: number, delayMs: number): void;
}

/** Where records go. */
export interface Target {
  /** How to show the target in messages: `the REST proxy at http://…`. */
  readonly name: string;
  /**
   * Sends `records` to `topic`; resolves once every one is acknowledged, rejects (after
   * its retries) when any is not. Acknowledgements are reported through `hooks.onAck`.
   */
  send(topic: string, records: OutRecord[], hooks: SendHooks): Promise<void>;
  /**
   * Checks, before the first send, what would fail every send at once (a topic that does
   * not exist), so the run stops with one clear error instead of after its retries.
   */
  prepare?(topics: string[]): Promise<void>;
  close(): Promise<void>;
}

/** How the emulation runs. */
export interface EmulateOptions {
  /** Topics `<prefix>.pin`, `<prefix>.geo`, `<prefix>.user`. */
  prefix: string;
  /** `random`: the original's seeded draws; `sequential`: keys 0, 1, 2 … once each. */
  mode: "random" | "sequential";
  /** Seed of the random key sequence (Python-compatible). */
  seed: number;
  /** Postings to send; default: unlimited in random mode, every key once in sequential. */
  count?: number;
  /** Stop reading new postings after this many ms. */
  durationMs?: number;
  /** Postings per second; 0 = as fast as the target takes them. */
  rate: number;
  /** Records per request (per topic). */
  batch: number;
  /** Requests in flight at once. */
  concurrency: number;
}

/** What the emulation needs besides options. */
export interface EmulateDeps {
  source: PostingSource;
  target: Target;
  /** Progress reporter (default: none). */
  progress?: Progress;
  /** Aborting stops reading new postings; what is in flight is finished. */
  signal?: AbortSignal;
}

/** The tally of a run. */
export interface EmulateResult {
  source: string;
  target: string;
  mode: "random" | "sequential";
  topics: string[];
  /** Postings read from the source. */
  postingsRead: number;
  /** Keys drawn that the source did not have. */
  missing: number;
  /** Records handed to the target (retries not counted again). */
  recordsSent: number;
  /** Records the target acknowledged. */
  acknowledged: number;
  /** Records sent but not acknowledged. */
  failed: number;
  /**
   * The keys of the records not acknowledged, by topic: how many, and the first
   * FAILED_KEYS_KEPT of them in the order they were sent.
   */
  failedKeys: Record<string, { count: number; keys: string[] }>;
  /** Retries after retriable failures. */
  retries: number;
  /** Failures seen, retriable or not. */
  errors: number;
  elapsedSec: number;
  postingsPerSec: number;
  recordsPerSec: number;
  /** True when stopped by the signal (Ctrl-C). */
  interrupted: boolean;
  /** The failure that stopped the run, if one did. */
  error?: Error;
}

/** A source over the built-in dataset. */
export function datasetSource(ds: Dataset): PostingSource {
  return {
    rows: ds.rows,
    name: `dataset (${fmtInt(ds.rows)} rows, seed ${ds.seed})`,
    read: (keys) => keys.map((k) => ds.posting(k)),
  };
}

/**
 * The keys to emulate: `random` replays Python's `random.seed(seed)` then, per posting,
 * `randrange(0, 2)` (the original's sleep, discarded) and `randint(0, rows - 1)`;
 * `sequential` yields 0 … rows-1 and starts over.
 */
export function* keySequence(
  mode: "random" | "sequential",
  rows: number,
  seed: number,
): Generator<number, void, undefined> {
  if (rows <= 0) return;
  const r = mode === "random" ? new PyRandom(seed) : undefined;
  for (let k = 0;; k = (k + 1) % rows) {
    if (!r) {
      yield k;
    } else {
      r.below(2);
      yield r.randint(0, rows - 1);
    }
  }
}

/** Failed keys kept per topic in the result (and its JSON); the rest are only counted. */
export const FAILED_KEYS_KEPT = 100;
/** Failed keys the summary lists per topic. */
export const FAILED_KEYS_SHOWN = 10;

/** Runs the emulation until count, duration, the signal or a fatal error stops it. */
export async function emulate(opts: EmulateOptions, deps: EmulateDeps): Promise<EmulateResult> {
  const { source, target, signal } = deps;
  const topics = topicsFor(opts.prefix);
  const started = performance.now();
  const limit = opts.count ?? (opts.mode === "sequential" ? source.rows : Infinity);
  const deadline = opts.durationMs ? started + opts.durationMs : Infinity;
  // Under a rate limit, send about ten batches a second so postings go out on time.
  const batch = opts.rate > 0
    ? Math.max(1, Math.min(opts.batch, Math.round(opts.rate / 10)))
    : opts.batch;
  const concurrency = Math.max(1, opts.concurrency);
  const tally = new Tally(
    {
      source: source.name,
      target: target.name,
      mode: opts.mode,
      topics: [topics.pin, topics.geo, topics.user],
    },
    deps.progress ?? new Progress("emulate", { sink: silentSink }),
    limit,
  );
  const res = tally.res;
  const keys = keySequence(opts.mode, source.rows, opts.seed);
  let drawn = 0;
  try {
    await target.prepare?.(res.topics);
    while (drawn < limit && !res.error) {
      if (signal?.aborted) {
        res.interrupted = true;
        break;
      }
      if (performance.now() >= deadline) break;
      if (opts.rate > 0 && !await waitForRate(started + (drawn / opts.rate) * 1000)) break;
      const want: number[] = [];
      const n = Math.min(batch, limit - drawn);
      while (want.length < n) {
        const k = keys.next();
        if (k.done) break;
        want.push(k.value);
      }
      if (want.length === 0) break;
      drawn += want.length;
      const postings = await tally.read(source, want);
      if (postings.length === 0) continue;
      const groups: [string, OutRecord[]][] = [
        [topics.pin, postings.map((p) => ({ key: String(p.key), value: p.pin }))],
        [topics.geo, postings.map((p) => ({ key: String(p.key), value: p.geo }))],
        [topics.user, postings.map((p) => ({ key: String(p.key), value: p.user }))],
      ];
      for (const [topic, records] of groups) {
        await tally.room(concurrency);
        if (res.error) break;
        tally.launch(target, topic, records);
      }
      tally.show();
    }
  } catch (err) {
    // A failing source stops the run like a failing target: flush, then report.
    res.error ??= err instanceof Error ? err : new Error(String(err));
  }
  await tally.room(1);
  if (signal?.aborted) res.interrupted = true;
  return tally.finish(started);

  /** Waits until `due` (or the deadline); false when the run must stop instead. */
  async function waitForRate(due: number): Promise<boolean> {
    const wait = Math.min(due, deadline) - performance.now();
    if (wait <= 0) return true;
    try {
      await delay(wait, signal);
    } catch {
      res.interrupted = true;
      return false;
    }
    return performance.now() < deadline;
  }
}

/**
 * The tally of a run as it goes: the counts, the sends in flight, the keys of the records
 * that failed, and the progress line.
 */
class Tally {
  readonly res: EmulateResult;
  private readonly inflight = new Set<Promise<void>>();
  private readonly failedKeys = new Map<string, { count: number; keys: string[] }>();
  private shown = -Infinity;

  constructor(
    what: Pick<EmulateResult, "source" | "target" | "mode" | "topics">,
    private readonly progress: Progress,
    private readonly limit: number,
  ) {
    this.res = {
      ...what,
      postingsRead: 0,
      missing: 0,
      recordsSent: 0,
      acknowledged: 0,
      failed: 0,
      failedKeys: {},
      retries: 0,
      errors: 0,
      elapsedSec: 0,
      postingsPerSec: 0,
      recordsPerSec: 0,
      interrupted: false,
    };
  }

  /** Reads `keys` from `source`, retrying a retriable failure (a dropped MySQL connection). */
  async read(source: PostingSource, keys: number[]) {
    const postings = await retry(() => Promise.resolve(source.read(keys)), {
      maxAttempts: 5,
      baseMs: 200,
      onRetry: (err, attempt, delayMs) => {
        this.res.retries++;
        this.res.errors++;
        this.progress.log(
          `retrying a read from ${source.name} in ${fmtSec(delayMs / 1000)} (attempt ${
            attempt + 1
          }): ${describeError(err)}`,
        );
      },
    });
    this.res.postingsRead += postings.length;
    this.res.missing += keys.length - postings.length;
    return postings;
  }

  /** Waits until fewer than `max` sends are in flight. */
  async room(max: number): Promise<void> {
    while (this.inflight.size >= max) await Promise.race(this.inflight);
  }

  /** Starts sending `records` to `topic`, counting what is acknowledged and what is not. */
  launch(target: Target, topic: string, records: OutRecord[]): void {
    const res = this.res;
    const acked: (readonly OutRecord[])[] = [];
    let ackedCount = 0;
    res.recordsSent += records.length;
    const hooks: SendHooks = {
      onAck: (done) => {
        acked.push(done);
        ackedCount += done.length;
        res.acknowledged += done.length;
        this.show();
      },
      onRetry: (err, attempt, delayMs) => {
        res.retries++;
        res.errors++;
        if (attempt === 1 || attempt % 5 === 0) {
          this.progress.log(
            `retrying ${records.length} records to "${topic}" in ${
              fmtSec(delayMs / 1000)
            } (attempt ${attempt + 1}): ${describeError(err)}`,
          );
        }
        this.show();
      },
    };
    const p: Promise<void> = target.send(topic, records, hooks).catch((err) => {
      res.errors++;
      res.error ??= err instanceof Error ? err : new Error(String(err));
    }).finally(() => {
      if (ackedCount < records.length) this.fail(topic, records, acked);
      this.inflight.delete(p);
    });
    this.inflight.add(p);
  }

  /** Counts the records of a send that were not acknowledged, keeping their keys. */
  private fail(topic: string, records: OutRecord[], acked: (readonly OutRecord[])[]): void {
    const done = new Set(acked.flat());
    const entry = this.failedKeys.get(topic) ?? { count: 0, keys: [] };
    this.failedKeys.set(topic, entry);
    for (const r of records) {
      if (done.has(r)) continue;
      this.res.failed++;
      entry.count++;
      if (entry.keys.length < FAILED_KEYS_KEPT) entry.keys.push(r.key);
    }
  }

  /** Updates the live line; formatting costs at 100k records/s, so at most every 100 ms. */
  show(force = false): void {
    const now = performance.now();
    if (!force && now - this.shown < 100) return;
    this.shown = now;
    const res = this.res;
    // With a bound (--postings, sequential) the line has a bar and an ETA: three records a posting.
    // Retries and errors only once there are some: the line must fit a terminal's width.
    const trouble = (res.retries ? `, ${fmtInt(res.retries)} retries` : "") +
      (res.errors ? `, ${fmtInt(res.errors)} errors` : "");
    this.progress.update(
      `${fmtInt(res.postingsRead)} postings, ${fmtInt(res.acknowledged)}/${
        fmtInt(res.recordsSent)
      } records acked${trouble}`,
      {
        done: res.acknowledged,
        total: Number.isFinite(this.limit) ? this.limit * 3 : undefined,
        unit: "records",
        force,
      },
    );
  }

  /** The result once every send settled: rates, elapsed, failed keys in topic order. */
  finish(started: number): EmulateResult {
    const res = this.res;
    res.elapsedSec = (performance.now() - started) / 1000;
    res.postingsPerSec = res.elapsedSec > 0 ? res.postingsRead / res.elapsedSec : 0;
    res.recordsPerSec = res.elapsedSec > 0 ? res.acknowledged / res.elapsedSec : 0;
    for (const t of res.topics) {
      const f = this.failedKeys.get(t);
      if (f) res.failedKeys[t] = f;
    }
    this.progress.done(summarize(res));
    return res;
  }
}

/**
 * One line: counts, rate, elapsed; when records failed, a second line with the first
 * FAILED_KEYS_SHOWN keys per topic (and how many more).
 */
export function summarize(r: EmulateResult): string {
  const missing = r.missing ? `, ${fmtInt(r.missing)} keys missing from the source` : "";
  const stop = r.interrupted ? " (interrupted)" : "";
  const line = `${fmtInt(r.postingsRead)} postings read, ${fmtInt(r.recordsSent)} records sent, ${
    fmtInt(r.acknowledged)
  } acknowledged, ${fmtInt(r.failed)} failed, ${fmtInt(r.retries)} retries${missing} in ${
    fmtSec(r.elapsedSec)
  } (${fmtRate(r.acknowledged, r.elapsedSec)} records)${stop}`;
  const failed = Object.entries(r.failedKeys).map(([topic, f]) => {
    const shown = f.keys.slice(0, FAILED_KEYS_SHOWN);
    const more = f.count - shown.length;
    return `${topic} ${shown.join(", ")}${more ? ` and ${fmtInt(more)} more` : ""}`;
  });
  return failed.length ? `${line}\nkeys not acknowledged: ${failed.join("; ")}` : line;
}

/** The result as plain JSON (the error as its message). */
export function resultJson(r: EmulateResult): Record<string, unknown> {
  const { error, ...rest } = r;
  return {
    ...rest,
    source: redact(r.source),
    target: redact(r.target),
    elapsedSec: Number(r.elapsedSec.toFixed(3)),
    postingsPerSec: Math.round(r.postingsPerSec),
    recordsPerSec: Math.round(r.recordsPerSec),
    ...(error ? { error: describeError(error) } : {}),
  };
}

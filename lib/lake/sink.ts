/**
 * The sink: consumes every topic matching a regex in a consumer group and lands the records
 * in the Confluent S3 sink's layout (SPEC §3, lib/lake/lake.ts objectKey) on disk or on S3, with
 * exactly-once output across crashes.
 *
 * How exactly-once holds:
 * - An object covers a contiguous run of one partition's offsets and is named by the offset
 *   of its first record; it is written whole and durable (`Lake.putMany`: fsync + rename, or
 *   an acknowledged S3 PUT) before the offset after it is committed (kafkajs `eachBatch`,
 *   autoCommit off, explicit `commitOffsets`). Offsets are committed only at object
 *   boundaries, so after any crash the group resumes exactly at the start of an object.
 * - Objects written after the last commit ("orphans": durable, not yet committed) are the
 *   only ones a replay can touch, and cuts are not always reproducible: size cuts are, but
 *   a time-based rotation (`rotateIntervalMs`, so a quiet partition still lands its tail), a
 *   drain at the end of `--once` or a Ctrl-C flush cut wherever the stream happened to be.
 *   So before writing a partition, the sink lists the lake for that partition's objects at
 *   or after the resume offset and makes their start offsets mandatory cut points: the
 *   replay starts a new object at each of them, so it overwrites every orphan with an
 *   object of the same key. Every orphan but the last therefore gets the same records back;
 *   the last one may come back shorter or longer, but no object follows it, so nothing can
 *   overlap. The same happens after a rebalance or any rewind (an offset below the one
 *   expected): the partition's buffer is dropped and the lake listed again.
 * - Records whose value is not a JSON document go to `quarantine/<topic>/partition=<p>/`,
 *   one object per record named by its own offset (so replays overwrite them too), and are
 *   counted, never dropped.
 * - A long-running sink looks for new matching topics every few seconds; when one appears
 *   it lands what it holds, commits, and makes its consumer again with the larger set (the
 *   same resume rules apply). `once` lands the topics and end offsets seen at its start.
 * - A commit refused because the group is rebalancing (the member was evicted, a new
 *   generation began, the coordinator moved) is not an error: the objects are durable, the
 *   commit is tried again once the partition is ours again, and if the partition moved on
 *   the next owner replays from the last commit onto the same keys. Long writes (thousands
 *   of objects at flush size 1) heartbeat between chunks so the member is not evicted.
 * - Before consuming, the sink removes the temp files a killed writer left in the lake, and
 *   refuses a group that already committed records this lake does not hold (a new lake, a
 *   wrong `--lake`): they would never be landed. `fromBeginning` lands everything instead.
 * @module
 */
import { Buffer } from "node:buffer";
import type { Admin, Consumer, EachBatchPayload, Kafka } from "../deps/kafkajs.ts";
import { objectKey, parseObjectKey, QUARANTINE_DIR, TOPICS_DIR } from "./lake.ts";
import { isRetriableLakeError } from "./lake.ts";
import type { Lake } from "./lake.ts";
import { describeError } from "../shell/errors.ts";
import { fmtInt } from "../shell/progress.ts";
import { retry } from "../shell/retry.ts";

/** How the sink runs. */
export interface SinkOptions {
  kafka: Kafka;
  lake: Lake;
  /** Topics to land (matched against every topic name, anchored). */
  topicsRegex: RegExp;
  /** Consumer group; its committed offsets are the sink's progress. */
  groupId: string;
  /** Records per object (`flush.size`). */
  flushSize: number;
  /** Land a partition's buffered records after this long even below flush size; 0 = never. */
  rotateIntervalMs: number;
  /** Drain to the end offsets seen at start, land everything, and stop. */
  once?: boolean;
  /** Called about once a second with the running figures (progress lines). */
  onProgress?: (s: SinkSummary) => void;
  /** Log lines (topic choice, rewinds, retries). */
  log?: (line: string) => void;
  /**
   * How long the group waits for a silent member (a killed sink) before handing its
   * partitions on; a restarted sink waits this long to rejoin. Default 30 s.
   */
  sessionTimeoutMs?: number;
  /** How often a long-running sink looks for new matching topics. Default 5 s. */
  topicRefreshMs?: number;
  /** kafkajs fetch sizing; defaults 1 MiB per partition, 4 MiB per fetch. */
  maxBytesPerPartition?: number;
  maxBytes?: number;
  /**
   * Land every record from the start of each partition's log: the group's committed
   * offsets are moved back to the log start first (the group must have no running member).
   */
  fromBeginning?: boolean;
  /**
   * Where partitions the group has no committed offset for start, by `topic:partition`
   * (default: the log start). The demo on a user's Kafka lands only its own run this way.
   */
  startOffsets?: Map<string, number>;
  /** Kafka as messages name it, e.g. `Kafka at 127.0.0.1:9092`. Default `Kafka`. */
  kafkaName?: string;
}

/** What the sink did. */
export interface SinkSummary {
  topics: string[];
  /** Temp files of killed writers removed from the lake at the start. */
  tempsRemoved?: number;
  /** Records consumed and landed (quarantined ones included). */
  records: number;
  /** Objects written under topics/. */
  objects: number;
  /** Bytes written (topics and quarantine). */
  bytes: number;
  /** Records that were not JSON, written under quarantine/. */
  quarantined: number;
  /** Records behind the end of the log, as last seen (0 after a drain). */
  lag: number;
  elapsedSec: number;
}

interface Buffered {
  offset: number;
  /** The record as one JSON line, or undefined when it is quarantined. */
  line?: string;
  bad?: Quarantined;
}

interface Quarantined {
  topic: string;
  partition: number;
  offset: number;
  timestamp: string;
  key: string | null;
  value: string | null;
  value_base64: string | null;
  reason: string;
}

interface PartitionState {
  topic: string;
  partition: number;
  /** Next offset expected; -1 before the first batch (or after a rewind). */
  next: number;
  buf: Buffered[];
  openedAt: number;
  /** Start offsets of objects already in the lake at or after the resume point. */
  forced: number[];
  /** Everything below this offset is durable in the lake. */
  durable: number;
  committed: number;
  high: number;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Objects written between two heartbeats of a long write. */
const WRITE_CHUNK = 1024;

/**
 * Kafka's answers to a commit or heartbeat while the group changes: the member must rejoin,
 * and nothing is wrong with the data.
 */
const REBALANCE_TYPES = new Set([
  "UNKNOWN_MEMBER_ID",
  "ILLEGAL_GENERATION",
  "REBALANCE_IN_PROGRESS",
  "NOT_COORDINATOR",
  "COORDINATOR_NOT_AVAILABLE",
  "COORDINATOR_LOAD_IN_PROGRESS",
  "FENCED_INSTANCE_ID",
]);

/**
 * True for a Kafka error that passes with a rejoin or a retry. kafkajs marks retriable ones,
 * but wraps a rebalance answer it gave up on (`UNKNOWN_MEMBER_ID` from a commit) in a
 * non-retriable error, so the causes are looked at too.
 */
function passingKafkaError(err: unknown): boolean {
  const top = err as { retriable?: unknown };
  if (top?.retriable === true) return true;
  for (
    let e = err as { type?: string; name?: string; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    e = e.cause as typeof e, depth++
  ) {
    if (REBALANCE_TYPES.has(e.type ?? "") || e.name === "KafkaJSRebalanceInProgress") return true;
  }
  return false;
}

/** Errors that stop the sink (a lake that refuses writes); others go back to kafkajs. */
const fatalErrors = new WeakSet<object>();
function fatal(err: Error): Error {
  fatalErrors.add(err);
  return err;
}

/** Runs the sink until `signal` aborts (or, with `once`, until drained); resolves with a summary. */
export async function runSink(
  opts: SinkOptions,
  ctx: { signal?: AbortSignal } = {},
): Promise<SinkSummary> {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const summary: SinkSummary = {
    topics: [],
    records: 0,
    objects: 0,
    bytes: 0,
    quarantined: 0,
    lag: 0,
    elapsedSec: 0,
  };
  const finish = () => {
    summary.elapsedSec = (performance.now() - t0) / 1000;
    return summary;
  };
  const where = opts.kafkaName ?? "Kafka";
  await opts.lake.check?.();
  const admin = opts.kafka.admin();
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`Cannot connect to ${where}: ${describeError(err)}`, { cause: err });
  }
  let topics: string[];
  let targets: Map<string, number> | undefined;
  let logs = new Map<string, { topic: string; partition: number; low: number; high: number }>();
  /** Where partitions start instead of their commit (`fromBeginning`, `startOffsets`). */
  const seekPlan = new Map<string, number>();
  try {
    topics = await waitForTopics(admin, opts, ctx.signal, log);
    summary.topics = topics;
    if (topics.length) {
      summary.tempsRemoved = await removeTemps(opts.lake, topics);
      if (summary.tempsRemoved) {
        log(
          `sink: removed ${
            fmtInt(summary.tempsRemoved)
          } temp file(s) that an interrupted write left in ${opts.lake.url}`,
        );
      }
      // On a cluster that just started, the group coordinator may still be loading.
      const settle = <T>(fn: () => Promise<T>) =>
        retry(fn, {
          maxAttempts: 12,
          baseMs: 200,
          maxMs: 2000,
          signal: ctx.signal,
          retriable: passingKafkaError,
        });
      logs = await settle(() => logOffsets(admin, topics));
      const committed = await settle(() => committedOffsets(admin, opts.groupId, topics));
      if (opts.fromBeginning) {
        log(`sink: landing ${topics.join(", ")} from the beginning of the log`);
        for (const [id, o] of logs) seekPlan.set(id, o.low);
      } else {
        await refuseUnlandedCommits(opts, logs, committed);
        for (const [id, offset] of opts.startOffsets ?? []) {
          if ((committed.get(id) ?? -1) < 0 && logs.has(id)) seekPlan.set(id, offset);
        }
      }
      if (opts.once) {
        targets = new Map([...logs].map(([tp, o]) => [tp, o.high]));
        for (const [tp, high] of targets) {
          const c = committed.get(tp) ?? -1;
          const from = seekPlan.get(tp) ?? (c >= 0 ? c : logs.get(tp)!.low);
          if (from >= high) targets.delete(tp);
          else summary.lag += high - from;
        }
      }
    }
  } catch (err) {
    await admin.disconnect();
    throw err;
  }
  if (topics.length === 0 || targets?.size === 0) {
    await admin.disconnect();
    return finish();
  }

  const newConsumer = (): Consumer =>
    opts.kafka.consumer({
      groupId: opts.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: Math.min(3000, Math.floor((opts.sessionTimeoutMs ?? 30_000) / 3)),
      maxBytesPerPartition: opts.maxBytesPerPartition ?? 1024 * 1024,
      maxBytes: opts.maxBytes ?? 4 * 1024 * 1024,
      maxWaitTimeInMs: 250,
      retry: { retries: 10 },
    });
  let consumer: Consumer = newConsumer();
  const states = new Map<string, PartitionState>();
  /** The partitions this member holds in the current generation (`topic:partition`). */
  let assigned = new Set<string>();
  /** The partitions already sent to their `seekPlan` offset (once per run). */
  const rewound = new Set<string>();
  // One lock per partition: its buffer, write and commit happen in order, while
  // partitions write concurrently (their fsyncs overlap).
  const locks = new Map<string, Promise<unknown>>();
  const locked = <T>(id: string, fn: () => Promise<T>): Promise<T> => {
    const p = (locks.get(id) ?? Promise.resolve()).then(fn);
    locks.set(id, p.catch(() => {}));
    return p;
  };
  let stopped = false;
  let commitDeferred = false;
  // A consumer generation ends when the run should stop, or when new topics match and the
  // consumer must be made again to subscribe to them; a failure rejects it.
  let stopRequested = false;
  // Off while a generation ends: a batch arriving then is left uncommitted for the next.
  let accepting = true;
  let wake: (why: "stop" | "topics") => void = () => {};
  let rejectDone: (err: unknown) => void = () => {};
  const resolveDone = () => {
    stopRequested = true;
    wake("stop");
  };

  /** Turns a partition's buffer into objects to write; the buffer is emptied. */
  const cut = (st: PartitionState, out: { key: string; body: Uint8Array }[]) => {
    if (!st.buf.length) return;
    const lines: string[] = [];
    let first = -1;
    for (const b of st.buf) {
      if (b.line !== undefined) {
        if (first < 0) first = b.offset;
        lines.push(b.line);
      } else if (b.bad) {
        out.push({
          key: objectKey(st.topic, st.partition, b.offset, QUARANTINE_DIR),
          body: new TextEncoder().encode(`${JSON.stringify(b.bad)}\n`),
        });
        summary.quarantined++;
      }
    }
    if (first >= 0) {
      out.push({
        key: objectKey(st.topic, st.partition, first),
        body: new TextEncoder().encode(`${lines.join("\n")}\n`),
      });
      summary.objects++;
    }
    st.buf = [];
  };

  /** Writes `out` to the lake, retrying only what may pass; a failure stops the sink. */
  const write = async (
    out: { key: string; body: Uint8Array }[],
    heartbeat?: () => Promise<void>,
  ) => {
    for (let i = 0; i < out.length; i += WRITE_CHUNK) {
      const chunk = out.slice(i, i + WRITE_CHUNK);
      try {
        await retry(() => opts.lake.putMany(chunk), {
          maxAttempts: 6,
          retriable: (err) => !stopped && isRetriableLakeError(err),
          onRetry: (err, n, ms) =>
            log(
              `sink: writing to ${opts.lake.url} failed (${
                describeError(err)
              }); retry ${n} in ${ms} ms`,
            ),
        });
      } catch (err) {
        throw fatal(
          new Error(
            `Cannot write ${
              chunk.length === 1 ? `"${chunk[0].key}"` : `${chunk.length} objects`
            } to the lake "${opts.lake.url}": ${describeError(err)}`,
            { cause: err },
          ),
        );
      }
      for (const o of chunk) summary.bytes += o.body.length;
      // A long write must not cost the member its place in the group.
      if (heartbeat && i + WRITE_CHUNK < out.length) await heartbeat().catch(() => {});
    }
  };

  /**
   * Commits the durable point of each of `touched` that moved. A refusal while the group
   * changes is logged and left for later (the objects are durable; see the module header).
   */
  const commit = async (touched: PartitionState[]) => {
    const commits = [];
    for (const st of touched) {
      if (st.durable > st.committed) {
        commits.push({ topic: st.topic, partition: st.partition, offset: String(st.durable) });
      }
    }
    if (!commits.length) return;
    try {
      await consumer.commitOffsets(commits);
    } catch (err) {
      if (!passingKafkaError(err)) {
        throw fatal(
          new Error(
            `Cannot commit the sink's offsets in group "${opts.groupId}": ${describeError(err)}`,
            {
              cause: err,
            },
          ),
        );
      }
      if (!commitDeferred) {
        log(
          `sink: commit deferred while the group changes (${
            describeError(err)
          }); the objects are in the lake and the commit is retried`,
        );
      }
      commitDeferred = true;
      return;
    }
    commitDeferred = false;
    for (const c of commits) {
      const st = states.get(`${c.topic}:${c.partition}`)!;
      st.committed = Math.max(st.committed, Number(c.offset));
    }
  };

  /** Writes `out`, then commits every partition whose durable point moved. */
  const land = async (
    out: { key: string; body: Uint8Array }[],
    touched: PartitionState[],
    heartbeat?: () => Promise<void>,
  ) => {
    if (out.length) await write(out, heartbeat);
    for (const st of touched) st.durable = st.buf.length ? st.buf[0].offset : st.next;
    await commit(touched);
  };

  const orphans = async (topic: string, partition: number, from: number): Promise<number[]> => {
    const starts: number[] = [];
    const dir = `${TOPICS_DIR}/${topic}/partition=${partition}/`;
    // This member now holds the partition: nobody else writes these keys any more.
    for (const d of [dir, `${QUARANTINE_DIR}/${topic}/partition=${partition}/`]) {
      await opts.lake.removeTemps?.(d);
    }
    for await (const o of opts.lake.list(dir)) {
      const k = parseObjectKey(o.key);
      if (k && k.topic === topic && k.partition === partition && k.startOffset >= from) {
        starts.push(k.startOffset);
      }
    }
    if (starts.length) {
      log(
        `sink: ${topic}[${partition}] resumes at ${from}; ${starts.length} object(s) from an earlier run will be rewritten at the same offsets`,
      );
    }
    return starts.sort((a, b) => a - b);
  };

  const checkDrained = () => {
    if (!targets) return;
    for (const [tp, high] of targets) {
      const st = states.get(tp);
      if (!st || st.committed < high) return;
    }
    resolveDone();
  };

  const onBatch = async (
    { batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload,
  ) => {
    if (!isRunning() || isStale() || !accepting) return;
    const { topic, partition } = batch;
    const id = `${topic}:${partition}`;
    await locked(id, async () => {
      let st = states.get(id);
      if (!st) {
        st = {
          topic,
          partition,
          next: -1,
          buf: [],
          openedAt: 0,
          forced: [],
          durable: -1,
          committed: -1,
          high: 0,
        };
        states.set(id, st);
      }
      st.high = Number(batch.highWatermark);
      const out: { key: string; body: Uint8Array }[] = [];
      for (const m of batch.messages) {
        const off = Number(m.offset);
        if (st.next < 0 || off < st.next) {
          if (st.next >= 0) log(`sink: ${topic}[${partition}] rewound to ${off}; re-reading`);
          summary.records -= st.buf.length;
          st.buf = [];
          st.forced = await orphans(topic, partition, off);
          st.durable = off;
          if (st.committed < 0) st.committed = off;
        }
        if (st.forced.length && off >= st.forced[0]) {
          cut(st, out);
          while (st.forced.length && st.forced[0] <= off) st.forced.shift();
        }
        if (!st.buf.length) st.openedAt = performance.now();
        st.buf.push(toBuffered(topic, partition, m));
        st.next = off + 1;
        summary.records++;
        if (st.buf.length >= opts.flushSize) cut(st, out);
      }
      if (targets && st.next >= (targets.get(id) ?? Infinity)) cut(st, out);
      await land(out, [st], heartbeat);
      if (batch.messages.length) resolveOffset(batch.messages[batch.messages.length - 1].offset);
    });
    await heartbeat();
    checkDrained();
  };

  /** Commits left for later (see `commit`), for partitions this member holds again. */
  let retrying: Promise<void> | undefined;
  const retryCommits = () => {
    if (!commitDeferred || stopped || retrying) return;
    const due = [...states.entries()].filter(([id, st]) =>
      assigned.has(id) && st.durable > st.committed && !st.buf.length
    );
    retrying = Promise.all(due.map(([id, st]) => locked(id, () => commit([st]))))
      .then(() => checkDrained())
      .catch((err) => rejectDone(err))
      .finally(() => retrying = undefined);
  };

  const rotate = async () => {
    if (stopped) return;
    const now = performance.now();
    const due = [...states.entries()].filter(([, st]) =>
      st.buf.length && now - st.openedAt >= opts.rotateIntervalMs
    );
    await Promise.all(due.map(([id, st]) =>
      locked(id, async () => {
        if (stopped || !st.buf.length || now - st.openedAt < opts.rotateIntervalMs) return;
        const out: { key: string; body: Uint8Array }[] = [];
        cut(st, out);
        await land(out, [st]);
      })
    ));
  };

  const report = () => {
    let lag = 0;
    for (const st of states.values()) lag += Math.max(0, st.high - Math.max(st.next, 0));
    summary.lag = lag;
    summary.elapsedSec = (performance.now() - t0) / 1000;
    opts.onProgress?.({ ...summary });
  };

  const onAbort = () => resolveDone();
  ctx.signal?.addEventListener("abort", onAbort, { once: true });
  if (ctx.signal?.aborted) resolveDone();
  const timers: ReturnType<typeof setInterval>[] = [];
  let rotating: Promise<void> | undefined;
  let listing: Promise<void> | undefined;
  const flushAll = () =>
    Promise.all([...states.entries()].map(([id, st]) =>
      locked(id, async () => {
        const out: { key: string; body: Uint8Array }[] = [];
        cut(st, out);
        await land(out, [st]);
      })
    ));
  try {
    timers.push(setInterval(() => {
      report();
      retryCommits();
    }, 1000));
    if (opts.rotateIntervalMs > 0) {
      const every = Math.max(10, Math.min(1000, Math.floor(opts.rotateIntervalMs / 4)));
      timers.push(setInterval(() => {
        rotating ??= rotate().catch((err) => rejectDone(err)).finally(() => rotating = undefined);
      }, every));
    }
    if (!opts.once) {
      // Topics created after the start (the REST proxy auto-creates them on first use).
      timers.push(setInterval(() => {
        listing ??= admin.listTopics().then((all) => {
          const more = all.filter((t) =>
            !t.startsWith("__") && opts.topicsRegex.test(t) && !topics.includes(t)
          );
          if (more.length) {
            topics = [...topics, ...more].sort();
            summary.topics = topics;
            log(`sink: new topic(s) ${more.join(", ")}; subscribing`);
            wake("topics");
          }
        }).catch(() => {}).finally(() => listing = undefined);
      }, opts.topicRefreshMs ?? 5000));
    }
    while (!stopRequested) {
      const phase = new Promise<"stop" | "topics">((resolve, reject) => {
        wake = resolve;
        rejectDone = reject;
      });
      consumer.on(consumer.events.CRASH, (e) => {
        if (!e.payload.restart) rejectDone(e.payload.error);
      });
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        const held = new Set<string>();
        for (const [t, ps] of Object.entries(e.payload.memberAssignment)) {
          for (const p of ps as number[]) held.add(`${t}:${p}`);
        }
        assigned = held;
        // Before the first fetch of each partition: start at the log, not the commit.
        for (const id of held) {
          if (rewound.has(id) || !seekPlan.has(id)) continue;
          rewound.add(id);
          const [topic, partition] = [
            id.slice(0, id.lastIndexOf(":")),
            id.slice(id.lastIndexOf(":") + 1),
          ];
          consumer.seek({
            topic,
            partition: Number(partition),
            offset: String(seekPlan.get(id)),
          });
        }
      });
      accepting = true;
      try {
        await consumer.connect();
        await consumer.subscribe({ topics, fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: 4,
          eachBatch: (payload) =>
            onBatch(payload).catch((err) => {
              // The lake refused the write even after retries, or Kafka refused for good:
              // stop rather than skip records. A rebalance goes back to kafkajs, which
              // rejoins; the partition is then re-read from its last commit.
              if (fatalErrors.has(err) || !passingKafkaError(err)) rejectDone(err);
              throw err;
            }),
        });
        if (stopRequested) wake("stop");
        await phase;
        accepting = false;
        // Stopping or resubscribing: land what is buffered (cuts are safe anywhere) so
        // nothing waits for a restart.
        await flushAll();
      } finally {
        await consumer.disconnect().catch(() => {});
      }
      if (!stopRequested) consumer = newConsumer();
    }
    stopped = true;
  } finally {
    stopped = true;
    for (const t of timers) clearInterval(t);
    ctx.signal?.removeEventListener("abort", onAbort);
    await admin.disconnect().catch(() => {});
  }
  report();
  if (targets) summary.lag = 0;
  return finish();
}

/** The record as a JSON line, or a quarantine entry when its value is not JSON. */
function toBuffered(
  topic: string,
  partition: number,
  m: { offset: string; key: Buffer | null; value: Buffer | null; timestamp: string },
): Buffered {
  const offset = Number(m.offset);
  let reason: string;
  if (m.value === null) {
    reason = "the value is null (a tombstone)";
  } else {
    try {
      const text = decoder.decode(m.value);
      const parsed = JSON.parse(text);
      // A line must be one record: JSON with raw line breaks (pretty-printed) is re-serialized
      // compactly, as JsonConverter would; anything else is kept byte for byte.
      return { offset, line: /[\r\n]/.test(text) ? JSON.stringify(parsed) : text.trim() };
    } catch (err) {
      reason = `the value is not JSON: ${(err as Error).message}`;
    }
  }
  const text = (b: Buffer | null) => {
    if (b === null) return null;
    try {
      return decoder.decode(b);
    } catch {
      return null;
    }
  };
  return {
    offset,
    bad: {
      topic,
      partition,
      offset,
      timestamp: m.timestamp,
      key: text(m.key),
      value: text(m.value),
      value_base64: m.value === null ? null : Buffer.from(m.value).toString("base64"),
      reason,
    },
  };
}

async function waitForTopics(
  admin: Admin,
  opts: SinkOptions,
  signal: AbortSignal | undefined,
  log: (l: string) => void,
): Promise<string[]> {
  let said = false;
  for (;;) {
    const all = await admin.listTopics();
    const topics = all.filter((t) => !t.startsWith("__") && opts.topicsRegex.test(t)).sort();
    if (topics.length || opts.once || signal?.aborted) return topics;
    if (!said) log(`sink: no topic matches ${opts.topicsRegex}; waiting for one`);
    said = true;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** Removes killed writers' temp files under the topics' folders; returns how many. */
async function removeTemps(lake: Lake, topics: string[]): Promise<number> {
  if (!lake.removeTemps) return 0;
  let n = 0;
  for (const t of topics) {
    for (const dir of [TOPICS_DIR, QUARANTINE_DIR]) n += await lake.removeTemps(`${dir}/${t}/`);
  }
  return n;
}

/** The log start and end offsets of every partition of `topics`, by `topic:partition`. */
async function logOffsets(
  admin: Admin,
  topics: string[],
): Promise<Map<string, { topic: string; partition: number; low: number; high: number }>> {
  const out = new Map<string, { topic: string; partition: number; low: number; high: number }>();
  for (const t of topics) {
    for (const p of await admin.fetchTopicOffsets(t)) {
      out.set(`${t}:${p.partition}`, {
        topic: t,
        partition: p.partition,
        low: Number(p.low),
        high: Number(p.high),
      });
    }
  }
  return out;
}

/**
 * Refuses to run when the group already committed records of a partition that the lake
 * has no object of at all: those records would never be landed in this lake (a new lake,
 * a mistyped one, or a group shared with another lake).
 */
async function refuseUnlandedCommits(
  opts: SinkOptions,
  logs: Map<string, { topic: string; partition: number; low: number }>,
  committed: Map<string, number>,
): Promise<void> {
  let records = 0;
  const missing: string[] = [];
  for (const [tp, o] of logs) {
    const c = committed.get(tp) ?? -1;
    if (c <= o.low) continue;
    if (await holdsAny(opts.lake, o.topic, o.partition)) continue;
    records += c - o.low;
    missing.push(`${o.topic}[${o.partition}]`);
  }
  if (!missing.length) return;
  missing.sort((x, y) => x.localeCompare(y, "en", { numeric: true }));
  const shown = missing.length > 4
    ? `${missing.slice(0, 4).join(", ")} and ${missing.length - 4} more`
    : missing.join(", ");
  throw new Error(
    `Cannot land into "${opts.lake.url}" with group "${opts.groupId}": the group already committed ${
      fmtInt(records)
    } records of ${shown}, and this lake holds no object of ${
      missing.length === 1 ? "that partition" : "those partitions"
    }, so they would never be landed here: pass --from-beginning to land every record from the start of the log (or use the lake this group wrote to)`,
  );
}

/** True when the lake has any object (landed or quarantined) of the partition. */
async function holdsAny(lake: Lake, topic: string, partition: number): Promise<boolean> {
  for (const dir of [TOPICS_DIR, QUARANTINE_DIR]) {
    for await (const _ of lake.list(`${dir}/${topic}/partition=${partition}/`)) return true;
  }
  return false;
}

async function committedOffsets(
  admin: Admin,
  groupId: string,
  topics: string[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const t of await admin.fetchOffsets({ groupId, topics })) {
    for (const p of t.partitions) out.set(`${t.topic}:${p.partition}`, Number(p.offset));
  }
  return out;
}

/** `^(?:regex)$`, as Kafka Connect matches `topics.regex`. */
export function topicsRegex(source: string): RegExp {
  return new RegExp(`^(?:${source})$`);
}

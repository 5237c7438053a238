/**
 * The sink: consumes every topic matching a regex in a consumer group and lands the records
 * in the Confluent S3 sink's layout (SPEC §3, lib/lake/lake.ts objectKey) on disk or on S3, with
 * exactly-once output across crashes and lake outages.
 *
 * Its parts: `runSink` settles where to start (sink_plan.ts) and runs a `Sink`, which owns the
 * consumer generations (one per set of topics), a `PartitionWriter` per partition
 * (partition_writer.ts: buffer, cuts, writes, commit point), the `Rotation` loop
 * (rotation.ts), and one `LakeRetry` (lake_retry.ts) through which every lake call goes. All
 * of them take an injected clock, lake and consumer (sink_consumer.ts), so the unit tests
 * drive them through every failure with a fault-injecting lake and a fake consumer.
 *
 * How exactly-once holds:
 * - An object covers a contiguous run of one partition's offsets and is named by the offset
 *   of its first record; it is written whole and durable (`Lake.putMany`: fsync + rename, or
 *   an acknowledged S3 PUT) before the offset after it is committed (kafkajs `eachBatch`,
 *   autoCommit off, explicit `commitOffsets`). Offsets are committed only at object
 *   boundaries, so after any crash the group resumes exactly at the start of an object.
 * - What may be committed is a partition's durable point, and only a successful write moves
 *   it, past the objects written and no further, in offset order. A write that fails keeps
 *   its objects: the next attempt writes the same keys with the same bytes, and records read
 *   after them wait behind them, so a later batch can never carry the commit past a write
 *   that failed. A write that fails for good marks its partition failed (nothing more is
 *   written or committed there) and stops the sink.
 * - Transient lake errors (refused or reset connections, timeouts, 5xx, SlowDown) are retried
 *   with capped backoff for `lakeRetryTimeoutMs`, logged as an outage. Meanwhile the batch
 *   waits, so kafkajs fetches nothing more from that broker (memory stays bounded), and the
 *   member heartbeats, so it keeps its partitions. When the time runs out the sink stops
 *   with an error naming the lake and, per partition, the offset the next run resumes at.
 * - Stopping (Ctrl-C, `once` drained, new topics) lands what is buffered, retrying for at
 *   most a few seconds; a write still failing is abandoned, not committed, and logged with the
 *   offset the next run re-reads from. An attempt in flight is always awaited, never left to
 *   land after the partition moved on.
 * - Objects written after the last commit ("orphans": durable, not yet committed, or written
 *   by a PUT whose answer was lost) are the only ones a replay can touch, and cuts are not
 *   always reproducible: size cuts are, but a time-based rotation (`rotateIntervalMs`, so a
 *   quiet partition still lands its tail), a drain at the end of `--once` or a Ctrl-C flush
 *   cut wherever the stream happened to be. So before writing a partition, the sink lists
 *   the lake for that partition's objects at or after the resume offset and makes their start
 *   offsets mandatory cut points: the replay starts a new object at each of them, so it
 *   overwrites every orphan with an object of the same key. Every orphan but the last
 *   therefore gets the same records back; the last one may come back shorter or longer, but
 *   no object follows it, so nothing can overlap. The same happens after a rebalance or any
 *   rewind (an offset below the one expected): what the partition holds from there on is
 *   dropped and the lake listed again.
 * - Records whose value is not a JSON document go to `quarantine/<topic>/partition=<p>/`,
 *   one object per record named by its own offset (so replays overwrite them too), and are
 *   counted, never dropped.
 * - A long-running sink looks for new matching topics every few seconds; when one appears
 *   it lands what it holds, commits, and makes its consumer again with the larger set (the
 *   same resume rules apply). `once` lands the topics and end offsets seen at its start.
 * - A commit refused because the group is rebalancing (the member was evicted, a new
 *   generation began, the coordinator moved) is not an error: the objects are durable, the
 *   commit is tried again once the partition is ours again, and if the partition moved on
 *   the next owner replays from the last commit onto the same keys. A partition that moved
 *   on is forgotten here, and a retry of its write abandoned.
 * - Before consuming, the sink removes the temp files a killed writer left in the lake, and
 *   refuses a group that already committed records this lake does not hold (a new lake, a
 *   wrong `--lake`): they would never be landed. `fromBeginning` lands everything instead.
 * - Every wait has a bound that names its flag: joining the group (`assignTimeoutMs`,
 *   `--assign-timeout`) and the lake (`--lake-retry-timeout`).
 * @module
 */
import type { Kafka } from "../deps/kafkajs.ts";
import type { Lake } from "./lake.ts";
import { describeError } from "../shell/errors.ts";
import { fmtWait, LakeCallAbandoned, LakeFailed, LakeRetry, systemClock } from "./lake_retry.ts";
import type { Clock, LakeCallContext } from "./lake_retry.ts";
import { PartitionWriter } from "./partition_writer.ts";
import { Rotation } from "./rotation.ts";
import { planSink } from "./sink_plan.ts";
import { isRebalance, kafkajsConsumer, passingKafkaError } from "./sink_consumer.ts";
import type { SinkBatchPayload, SinkConsumer } from "./sink_consumer.ts";

/** Records per object by default: the S3 connector's `flush.size` as pinpipe deploys it. */
export const DEFAULT_FLUSH_SIZE = 1000;
/** A partition's tail lands after this long below flush size, by default. */
export const DEFAULT_ROTATE_INTERVAL_MS = 10_000;
/** How long the group waits for a silent member before handing its partitions on. */
export const DEFAULT_SESSION_TIMEOUT_MS = 30_000;
/** How long lake calls are retried through an outage by default (`--lake-retry-timeout`). */
export const DEFAULT_LAKE_RETRY_TIMEOUT_MS = 5 * 60_000;
/** How long a consumer may take to join its group by default (`--assign-timeout`). */
export const DEFAULT_ASSIGN_TIMEOUT_MS = 60_000;
/** How long a stop waits for a join kafkajs started to finish, so it can leave the group. */
const JOIN_WAIT_MS = 10_000;
/** How long a stopping sink retries the lake for what it still holds. */
const STOP_RETRY_MS = 5_000;

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
  /** How long a failing lake is retried before the sink stops. Default 5 min. */
  lakeRetryTimeoutMs?: number;
  /** How long a consumer may take to join the group (and, with `once`, get a partition). */
  assignTimeoutMs?: number;
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
  /** Seconds the lake has been failing, while it does (progress lines). */
  lakeDownSec?: number;
}

/** Runs the sink until `signal` aborts (or, with `once`, until drained); resolves with a summary. */
export async function runSink(
  opts: SinkOptions,
  ctx: { signal?: AbortSignal } = {},
): Promise<SinkSummary> {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const where = opts.kafkaName ?? "Kafka";
  const retry = new LakeRetry({
    lakeUrl: opts.lake.url,
    timeoutMs: opts.lakeRetryTimeoutMs ?? DEFAULT_LAKE_RETRY_TIMEOUT_MS,
    log,
    flag: "--lake-retry-timeout",
  });
  const empty = (topics: string[] = [], extra: Partial<SinkSummary> = {}): SinkSummary => ({
    topics,
    records: 0,
    objects: 0,
    bytes: 0,
    quarantined: 0,
    lag: 0,
    elapsedSec: (performance.now() - t0) / 1000,
    ...extra,
  });
  await opts.lake.check?.();
  const admin = opts.kafka.admin();
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`Cannot connect to ${where}: ${describeError(err)}`, { cause: err });
  }
  try {
    let plan;
    try {
      plan = await planSink(admin, opts, { signal: ctx.signal, retry, log });
    } catch (err) {
      // Interrupted while settling: nothing was read, so nothing is lost (exit 130, not a
      // bare "The signal has been aborted").
      if (ctx.signal?.aborted) return empty();
      throw err;
    }
    const extra = { tempsRemoved: plan.tempsRemoved, lag: plan.lag };
    if (!plan.topics.length || plan.targets?.size === 0 || ctx.signal?.aborted) {
      return empty(plan.topics, extra);
    }
    const sink = new Sink({
      ...opts,
      kafkaName: where,
      retry,
      topics: plan.topics,
      targets: plan.targets,
      seekPlan: plan.seekPlan,
      startedAt: t0,
      initial: extra,
      newConsumer: () => kafkajsConsumer(opts.kafka, opts),
      // Topics created after the start (the REST proxy auto-creates them on first use).
      listTopics: opts.once
        ? undefined
        : async () =>
          (await admin.listTopics()).filter((t) => !t.startsWith("__") && opts.topicsRegex.test(t)),
    });
    return await sink.run(ctx.signal);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** What a `Sink` is made of: its settings and the parts it is given. */
export interface SinkParts {
  lake: Lake;
  groupId: string;
  flushSize: number;
  rotateIntervalMs: number;
  /** The topics to consume (sorted). */
  topics: string[];
  /** Makes the consumer of each generation. */
  newConsumer: () => SinkConsumer;
  /** With `once`: the end offset to land each partition to, by `topic:partition`. */
  targets?: Map<string, number>;
  /** Partitions that start elsewhere than their commit, at their first assignment. */
  seekPlan?: Map<string, number>;
  /** The matching topics now, for a long-running sink to subscribe to new ones. */
  listTopics?: () => Promise<string[]>;
  topicRefreshMs?: number;
  lakeRetryTimeoutMs?: number;
  assignTimeoutMs?: number;
  kafkaName?: string;
  onProgress?: (s: SinkSummary) => void;
  log?: (line: string) => void;
  clock?: Clock;
  /** The lake retry policy (default: one made from `lakeRetryTimeoutMs` and `clock`). */
  retry?: LakeRetry;
  /** `clock.now()` when the run began (default: at construction). */
  startedAt?: number;
  /** Figures settled before the run (temp files removed, the lag to drain). */
  initial?: Partial<SinkSummary>;
}

type Phase = "stop" | "topics" | "fail";

/** The consumer generation loop, the partitions' writers and the loops beside them. */
export class Sink {
  readonly summary: SinkSummary;
  private readonly writers = new Map<string, PartitionWriter>();
  /** The partitions this member holds in the current generation (`topic:partition`). */
  private assigned = new Set<string>();
  /** The partitions already sent to their `seekPlan` offset (once per run). */
  private readonly rewound = new Set<string>();
  private readonly clock: Clock;
  private readonly retry: LakeRetry;
  private readonly rotation: Rotation;
  private readonly log: (line: string) => void;
  private readonly startedAt: number;
  private topics: string[];
  private consumer?: SinkConsumer;
  private stopRequested = false;
  /** The error that stops the sink (the first one). */
  private failure?: unknown;
  /** Off while a generation ends: a batch arriving then is left for the next one. */
  private accepting = false;
  private wake: (why: Phase) => void = () => {};
  private joined: (assignment: Set<string>) => void = () => {};
  /** The heartbeat of the last batch, for writes that happen outside one (rotation, flush). */
  private heartbeat?: () => Promise<void>;
  private commitDeferred = false;
  private retrying?: Promise<void>;
  /** Aborted when the run ends: stops the background loops. */
  private readonly closing = new AbortController();

  constructor(private readonly parts: SinkParts) {
    this.clock = parts.clock ?? systemClock;
    this.log = parts.log ?? (() => {});
    this.startedAt = parts.startedAt ?? this.clock.now();
    this.topics = parts.topics;
    this.retry = parts.retry ?? new LakeRetry({
      lakeUrl: parts.lake.url,
      timeoutMs: parts.lakeRetryTimeoutMs ?? DEFAULT_LAKE_RETRY_TIMEOUT_MS,
      clock: this.clock,
      log: this.log,
      flag: "--lake-retry-timeout",
    });
    this.summary = {
      topics: parts.topics,
      records: 0,
      objects: 0,
      bytes: 0,
      quarantined: 0,
      lag: 0,
      elapsedSec: 0,
      ...parts.initial,
    };
    this.rotation = new Rotation(
      parts.rotateIntervalMs,
      this.clock,
      () => [...this.writers.values()].filter((w) => this.assigned.has(w.id)),
      (w, now) => this.rotate(w, now),
    );
  }

  /** Consumes until stopped (`signal`, `stop()`, or drained with targets); the summary. */
  async run(signal?: AbortSignal): Promise<SinkSummary> {
    const onAbort = () => this.stop();
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) this.stop();
    const loops = [
      this.every(1000, () => {
        this.report();
        this.retryCommits();
      }),
      this.rotation.run(this.closing.signal),
      this.parts.listTopics
        ? this.every(this.parts.topicRefreshMs ?? 5000, () => this.newTopics())
        : undefined,
    ];
    try {
      while (!this.stopRequested && this.failure === undefined) await this.generation();
    } finally {
      this.closing.abort();
      await Promise.all(loops);
      signal?.removeEventListener("abort", onAbort);
    }
    this.report();
    if (this.failure !== undefined) throw this.finalError(this.failure);
    if (this.parts.targets) this.summary.lag = 0;
    return this.summary;
  }

  /** Asks the sink to land what it holds and stop. */
  stop(): void {
    this.stopRequested = true;
    this.wake("stop");
  }

  /** One consumer, from joining the group to leaving it; lands what is buffered at the end. */
  private async generation(): Promise<void> {
    const consumer = this.parts.newConsumer();
    this.consumer = consumer;
    const phase = new Promise<Phase>((resolve) => this.wake = resolve);
    if (this.stopRequested) this.wake("stop");
    const joined = new Promise<Set<string>>((resolve) => this.joined = resolve);
    const waiting = new AbortController();
    consumer.onCrash((err, restart) => {
      if (!restart) this.fail(err);
    });
    consumer.onGroupJoin((assignment) => this.onAssigned(consumer, assignment));
    this.accepting = true;
    // kafkajs' run() resolves once the member joined its group. A disconnect before that
    // leaves the join going on without us: a member nobody stops, holding partitions a later
    // consumer of the group (the demo's drain) then waits for. So a stop waits for it first.
    let running: Promise<void> | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: this.topics, fromBeginning: true });
      running = consumer.run((p) => this.onBatch(p)).catch((err) => this.fail(err));
      const limit = this.parts.assignTimeoutMs ?? DEFAULT_ASSIGN_TIMEOUT_MS;
      const first = await Promise.race([
        joined.then(() => "joined" as const),
        phase,
        this.clock.sleep(limit, waiting.signal).then(
          () => "timeout" as const,
          () => "joined" as const,
        ),
      ]);
      waiting.abort();
      if (first === "timeout") this.fail(new Error(this.assignTimeoutMessage(limit)));
      const why = await phase;
      this.accepting = false;
      if (why !== "fail") await this.flushAll(why === "stop").catch((err) => this.fail(err));
    } finally {
      waiting.abort();
      this.accepting = false;
      if (running) {
        // Bounded: a join kafkajs keeps retrying must not hold the stop (or a failure) long.
        const bound = new AbortController();
        await Promise.race([running, this.clock.sleep(JOIN_WAIT_MS, bound.signal).catch(() => {})]);
        bound.abort();
      }
      await consumer.disconnect().catch(() => {});
    }
  }

  /** The error for a consumer that got nothing within the assign timeout. */
  private assignTimeoutMessage(ms: number): string {
    const topics = this.topics.length > 3
      ? `${this.topics.slice(0, 3).join(", ")} and ${this.topics.length - 3} more`
      : this.topics.join(", ");
    const what = this.parts.targets
      ? `no partition of ${topics} was assigned to this sink within ${
        fmtWait(ms)
      }: another member of the group may hold them all, or the group coordinator is not ready`
      : `the consumer did not join the group within ${
        fmtWait(ms)
      }: the group coordinator may not be ready, or a member that left is still being waited for`;
    return `Cannot consume ${topics} in group "${this.parts.groupId}" from ${
      this.parts.kafkaName ?? "Kafka"
    }: ${what} (--assign-timeout lengthens the wait)`;
  }

  /** After a join: the partitions held now; the ones gone are forgotten; plan seeks applied. */
  private onAssigned(consumer: SinkConsumer, assignment: Record<string, number[]>): void {
    const held = new Set<string>();
    for (const [t, ps] of Object.entries(assignment)) for (const p of ps) held.add(`${t}:${p}`);
    this.assigned = held;
    // kafkajs reads every partition again from the group's commit after a join, and one that
    // moved on may have been written by another member meanwhile: each writer starts over
    // (after the write it may be doing; one of a partition gone is abandoned).
    for (const w of this.writers.values()) w.locked(() => Promise.resolve(w.reset()));
    // Before the first fetch of each partition: start at the plan, not the commit.
    for (const id of held) {
      const offset = this.parts.seekPlan?.get(id);
      if (offset === undefined || this.rewound.has(id)) continue;
      this.rewound.add(id);
      const cut = id.lastIndexOf(":");
      consumer.seek({
        topic: id.slice(0, cut),
        partition: Number(id.slice(cut + 1)),
        offset: String(offset),
      });
    }
    const targets = this.parts.targets;
    if (!targets || [...held].some((id) => targets.has(id))) this.joined(held);
  }

  private writer(topic: string, partition: number): PartitionWriter {
    const id = `${topic}:${partition}`;
    let w = this.writers.get(id);
    if (!w) {
      w = new PartitionWriter(topic, partition, {
        lake: this.parts.lake,
        retry: this.retry,
        clock: this.clock,
        flushSize: this.parts.flushSize,
        tally: this.summary,
        log: this.log,
      });
      this.writers.set(id, w);
    }
    return w;
  }

  /** What a lake call of `w` may do while it waits: heartbeat, and when to give up. */
  private callContext(w: PartitionWriter, heartbeat?: () => Promise<void>): LakeCallContext {
    return {
      heartbeat,
      isRebalance,
      abandon: () => {
        if (this.failure !== undefined) return "the sink failed";
        if (this.stopRequested) return "the sink is stopping";
        if (!this.assigned.has(w.id)) return `${w.name} went to another member of the group`;
        return undefined;
      },
    };
  }

  private async onBatch(p: SinkBatchPayload): Promise<void> {
    if (!p.isRunning() || p.isStale() || !this.accepting) return;
    this.heartbeat = p.heartbeat;
    const { topic, partition, messages, highWatermark } = p.batch;
    const w = this.writer(topic, partition);
    const ctx = this.callContext(w, p.heartbeat);
    try {
      await w.locked(async () => {
        // Checked again: the sink may have failed, or a seek made the batch stale, meanwhile.
        if (!this.accepting || w.failed || p.isStale()) return;
        w.high = Number(highWatermark);
        await w.take(messages, ctx);
        if (this.parts.targets && w.next >= (this.parts.targets.get(w.id) ?? Infinity)) w.cut();
        await this.land(w, ctx);
        if (messages.length) p.resolveOffset(messages[messages.length - 1].offset);
      });
    } catch (err) {
      if (err instanceof LakeCallAbandoned) {
        // A rebalance goes back to kafkajs, which rejoins; the partition is then re-read
        // from its last commit. Otherwise the sink is stopping: the batch is left unread.
        if (isRebalance(err.cause)) throw err.cause;
        return;
      }
      // The lake refused the write for good, or Kafka refused for good: stop rather than
      // skip records. A rebalance goes back to kafkajs.
      if (!passingKafkaError(err)) this.fail(err);
      throw err;
    }
    await p.heartbeat();
    this.checkDrained();
  }

  /** Writes what `w` has cut, then commits its durable point. */
  private async land(w: PartitionWriter, ctx: LakeCallContext): Promise<void> {
    await w.write(ctx);
    await this.commit([w]);
  }

  /** The rotation's landing of one partition, under its lock. */
  private rotate(w: PartitionWriter, now: number): Promise<void> {
    return w.locked(async () => {
      if (!this.accepting || w.failed || !this.assigned.has(w.id)) return;
      if (!w.rotateDue(now, this.parts.rotateIntervalMs)) return;
      w.cut();
      await this.land(w, this.callContext(w, this.heartbeat));
    }).catch((err) => {
      // Abandoned: the objects stay cut, and the next write of the partition takes them.
      if (!(err instanceof LakeCallAbandoned)) this.fail(err);
    });
  }

  /**
   * Commits the durable point of each of `ws` that moved. A refusal while the group changes
   * is logged and left for later (the objects are durable; see the module header).
   */
  private async commit(ws: PartitionWriter[]): Promise<void> {
    const commits: { w: PartitionWriter; offset: number }[] = [];
    for (const w of ws) {
      const offset = w.commitPoint();
      if (offset !== undefined) commits.push({ w, offset });
    }
    if (!commits.length || !this.consumer) return;
    try {
      await this.consumer.commitOffsets(
        commits.map(({ w, offset }) => ({
          topic: w.topic,
          partition: w.partition,
          offset: String(offset),
        })),
      );
    } catch (err) {
      if (!passingKafkaError(err)) {
        throw new Error(
          `Cannot commit the sink's offsets in group "${this.parts.groupId}": ${
            describeError(err)
          }`,
          { cause: err },
        );
      }
      if (!this.commitDeferred) {
        this.log(
          `sink: commit deferred while the group changes (${
            describeError(err)
          }); the objects are in the lake and the commit is retried`,
        );
      }
      this.commitDeferred = true;
      return;
    }
    this.commitDeferred = false;
    for (const { w, offset } of commits) w.committed = Math.max(w.committed, offset);
  }

  /** Commits left for later (see `commit`), for partitions this member holds again. */
  private retryCommits(): void {
    // Every partition is looked at, not only the one refused last: another partition's
    // commit that succeeded since says nothing about this one's.
    if (this.retrying || this.closing.signal.aborted) return;
    const due = [...this.writers.values()].filter((w) =>
      this.assigned.has(w.id) && w.commitPoint() !== undefined
    );
    if (!due.length) return;
    this.retrying = Promise.all(due.map((w) => w.locked(() => this.commit([w]))))
      .then(() => this.checkDrained())
      .catch((err) => this.fail(err))
      .finally(() => this.retrying = undefined);
  }

  /**
   * Lands what every partition holds (a generation ends: cuts are safe anywhere). When the
   * sink stops, a failing lake is retried only briefly: what it cannot take is logged, left
   * uncommitted, and read again by the next run.
   */
  private async flushAll(stopping: boolean): Promise<void> {
    await Promise.all([...this.writers.values()].map((w) =>
      w.locked(async () => {
        if (w.failed || !this.assigned.has(w.id)) return;
        w.cut();
        const ctx = this.callContext(w, this.heartbeat);
        try {
          await this.land(w, {
            ...ctx,
            abandon: () => this.failure !== undefined ? "the sink failed" : undefined,
            timeoutMs: stopping ? STOP_RETRY_MS : undefined,
            timeoutName: `a stopping sink retries for ${fmtWait(STOP_RETRY_MS)}`,
          });
        } catch (err) {
          if (err instanceof LakeCallAbandoned) return;
          if (stopping && err instanceof LakeFailed) {
            this.log(
              `sink: ${w.pending} record(s) of ${w.name} not landed, the lake "${this.parts.lake.url}" still failing (${
                describeError(err.cause ?? err)
              }); the next run reads them again from offset ${w.committed}`,
            );
            return;
          }
          throw err;
        }
      })
    ));
    if (!stopping) return;
    for (const w of this.writers.values()) this.summary.records -= w.pending;
  }

  private checkDrained(): void {
    const targets = this.parts.targets;
    if (!targets) return;
    for (const [id, high] of targets) {
      const w = this.writers.get(id);
      if (!w || w.committed < high) return;
    }
    this.stop();
  }

  private async newTopics(): Promise<void> {
    const all = await this.parts.listTopics!();
    const more = all.filter((t) => !this.topics.includes(t));
    if (!more.length) return;
    this.topics = [...this.topics, ...more].sort();
    this.summary.topics = this.topics;
    this.log(`sink: new topic(s) ${more.join(", ")}; subscribing`);
    this.wake("topics");
  }

  /** The sink cannot go on: the generation ends without landing more. */
  private fail(err: unknown): void {
    if (this.failure === undefined) {
      this.failure = err ?? new Error("Cannot go on: unknown failure");
    }
    this.accepting = false;
    this.wake("fail");
  }

  /** The failure, naming per partition the offset the next run resumes at. */
  private finalError(err: unknown): unknown {
    const behind = [...this.writers.values()]
      .filter((w) => w.committed >= 0 && (w.next > w.committed || w.pending > 0))
      .sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }))
      .map((w) => `${w.name} at offset ${w.committed}`);
    if (!behind.length || !(err instanceof Error)) return err;
    const shown = behind.length > 8
      ? `${behind.slice(0, 8).join(", ")} and ${behind.length - 8} more`
      : behind.join(", ");
    return new Error(`${err.message}; not landed yet, the next run resumes there: ${shown}`, {
      cause: err.cause ?? err,
    });
  }

  private report(): void {
    let lag = 0;
    for (const w of this.writers.values()) lag += Math.max(0, w.high - Math.max(w.next, 0));
    if (this.writers.size || !this.parts.targets) this.summary.lag = lag;
    const down = this.retry.downMs();
    if (down > 0) this.summary.lakeDownSec = down / 1000;
    else delete this.summary.lakeDownSec;
    this.summary.elapsedSec = (this.clock.now() - this.startedAt) / 1000;
    this.parts.onProgress?.({ ...this.summary });
  }

  /** Calls `fn` every `ms` until the run ends (one call at a time; its errors ignored). */
  private async every(ms: number, fn: () => void | Promise<void>): Promise<void> {
    const signal = this.closing.signal;
    while (!signal.aborted) {
      try {
        await this.clock.sleep(ms, signal);
        await fn();
      } catch {
        // Aborted, or a listing that failed: the next round tries again.
      }
    }
  }
}

/** `^(?:regex)$`, as Kafka Connect matches `topics.regex`. */
export function topicsRegex(source: string): RegExp {
  return new RegExp(`^(?:${source})$`);
}

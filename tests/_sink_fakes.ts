/**
 * In-process stand-ins for the sink's unit tests (tests/unit/sink_unit_test.ts): a virtual clock,
 * an in-memory lake that fails where a test says (before or after an object is durable, with
 * the errors the AWS SDK v3 really throws), and a Kafka with one group whose consumer behaves
 * as kafkajs's does where the sink depends on it: a rejoin re-reads from the commit, an
 * unresolved batch is fetched again, a batch being handled holds the next fetch, heartbeats
 * happen only when asked. Every commit is checked against the lake as it is at that moment.
 * Nothing here spawns a process or opens a socket.
 * @module
 */
import { Buffer } from "node:buffer";
import { setImmediate } from "node:timers";
import type { Lake, LakeObject } from "../lib/lake/lake.ts";
import { parseObjectKey } from "../lib/lake/lake.ts";
import type { Clock } from "../lib/lake/lake_retry.ts";
import type {
  SinkBatchPayload,
  SinkConsumer,
  TopicPartitionOffset,
} from "../lib/lake/sink_consumer.ts";

/** A clock that moves only when told: `advance` wakes the sleepers that are due. */
export class VirtualClock implements Clock {
  private t = 0;
  private seq = 0;
  private sleepers: { at: number; seq: number; wake: () => void }[] = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new DOMException("aborted", "AbortError"));
      const s = {
        at: this.t + Math.max(0, ms),
        seq: this.seq++,
        wake: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.sleepers = this.sleepers.filter((x) => x !== s);
        reject(new DOMException("aborted", "AbortError"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.sleepers.push(s);
    });
  }

  /** Moves to the earliest sleeper's time and wakes all due then; false when none sleeps. */
  advanceToNext(): boolean {
    if (!this.sleepers.length) return false;
    const at = Math.min(...this.sleepers.map((s) => s.at));
    this.t = Math.max(this.t, at);
    const due = this.sleepers.filter((s) => s.at <= this.t).sort((a, b) => a.seq - b.seq);
    this.sleepers = this.sleepers.filter((s) => s.at > this.t);
    for (const s of due) s.wake();
    return true;
  }
}

/** Lets every pending promise chain run (a macrotask: setImmediate, 100x cheaper than setTimeout). */
export function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/**
 * Runs virtual time until `p` settles (or `cond` holds): each round lets the program run,
 * then wakes the next sleepers. Throws when `limitMs` of virtual time pass first.
 */
export async function drive<T>(
  clock: VirtualClock,
  p: Promise<T>,
  limitMs = 6 * 3600_000,
): Promise<T> {
  let done = false;
  const watched = p.finally(() => done = true);
  watched.catch(() => {});
  for (;;) {
    await settle();
    if (done) return await watched;
    if (clock.now() > limitMs) throw new Error(`Still running after ${limitMs} ms of virtual time`);
    if (!clock.advanceToNext()) await settle();
  }
}

/** Runs virtual time until `cond()` holds. */
export async function driveUntil(
  clock: VirtualClock,
  what: string,
  cond: () => boolean,
  limitMs = 6 * 3600_000,
): Promise<void> {
  for (;;) {
    await settle();
    if (cond()) return;
    if (clock.now() > limitMs) throw new Error(`Timed out (virtual) waiting for ${what}`);
    if (!clock.advanceToNext()) await settle();
  }
}

/** The errors the lake fails with, shaped as the AWS SDK v3 and Deno throw them. */
export type FaultKind = "refused" | "reset" | "unavailable" | "slowdown" | "full" | "denied";

/** An error as the lake would throw it (see tests/unit/lake_test.ts for where the shapes come from). */
export function lakeError(kind: FaultKind): Error {
  const meta = { attempts: 3, totalRetryDelay: 106 };
  switch (kind) {
    case "refused":
      return Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:4568"), {
        errno: -111,
        code: "ECONNREFUSED",
        syscall: "connect",
        address: "127.0.0.1",
        port: 4568,
        $metadata: meta,
      });
    case "reset":
      return Object.assign(new Error("socket hang up"), {
        name: "TimeoutError",
        code: "ECONNRESET",
        $metadata: meta,
      });
    case "unavailable":
    case "slowdown": {
      const code = kind === "slowdown" ? "SlowDown" : "ServiceUnavailable";
      return Object.assign(new Error(code), {
        name: code,
        Code: code,
        $fault: "server",
        $metadata: { ...meta, httpStatusCode: 503 },
      });
    }
    case "full":
      return new Error("No space left on device (os error 28)");
    case "denied":
      return Object.assign(new Error("Access Denied"), {
        name: "AccessDenied",
        Code: "AccessDenied",
        $fault: "client",
        $metadata: { ...meta, httpStatusCode: 403 },
      });
  }
}

/** How one lake call fails. */
export interface Fault {
  kind: FaultKind;
  /** The objects are stored first (durable), then the call fails: an answer that was lost. */
  after?: boolean;
  /** Only the first `stored` objects are stored before the call fails. */
  stored?: number;
}

/** One lake call, as a fault rule sees it. */
export interface LakeCall {
  op: "putMany" | "list" | "get" | "delete";
  /** The keys written (putMany) or the prefix (list). */
  keys: string[];
  /** How many calls of any kind came before (1-based). */
  n: number;
}

/** An in-memory lake that fails where its rules say. */
export class FaultyLake implements Lake {
  readonly url = "s3://fake-lake/pinpipe";
  readonly objects = new Map<string, Uint8Array>();
  /** Rules asked before each call; the first to answer a fault decides. */
  rules: ((call: LakeCall) => Fault | undefined)[] = [];
  /** Every call fails as refused while true (the endpoint is down). */
  down = false;
  /** Virtual milliseconds each write takes. */
  writeMs = 0;
  calls = 0;
  failures = 0;
  /** Writes in flight right now, and the most there were at once. */
  inFlight = 0;
  writes = 0;

  constructor(private clock: VirtualClock) {}

  private fault(call: Omit<LakeCall, "n">): Fault | undefined {
    const c = { ...call, n: ++this.calls };
    if (this.down) return { kind: "refused" };
    for (const r of this.rules) {
      const f = r(c);
      if (f) return f;
    }
    return undefined;
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    await this.putMany([{ key, body }]);
  }

  async putMany(objects: { key: string; body: Uint8Array }[]): Promise<void> {
    const f = this.fault({ op: "putMany", keys: objects.map((o) => o.key) });
    this.inFlight++;
    try {
      if (this.writeMs) await this.clock.sleep(this.writeMs);
      if (this.down && !f) throw lakeError("refused");
      if (f) {
        const n = f.after ? objects.length : f.stored ?? 0;
        for (const o of objects.slice(0, n)) this.objects.set(o.key, o.body.slice());
        this.failures++;
        throw lakeError(f.kind);
      }
      for (const o of objects) this.objects.set(o.key, o.body.slice());
      this.writes++;
    } finally {
      this.inFlight--;
    }
  }

  get(key: string): Promise<Uint8Array | undefined> {
    const f = this.fault({ op: "get", keys: [key] });
    if (f) return Promise.reject(lakeError(f.kind));
    return Promise.resolve(this.objects.get(key));
  }

  async *list(prefix: string): AsyncIterable<LakeObject> {
    const f = this.fault({ op: "list", keys: [prefix] });
    if (f) {
      this.failures++;
      throw lakeError(f.kind);
    }
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    for (const key of keys) yield { key, size: this.objects.get(key)!.length };
  }

  delete(key: string): Promise<void> {
    this.objects.delete(key);
    return Promise.resolve();
  }

  /** Per `topic:partition`, every offset held under topics/ and quarantine/, with its line. */
  holdings(): Map<string, { offset: number; key: string; line: unknown }[]> {
    const out = new Map<string, { offset: number; key: string; line: unknown }[]>();
    const dec = new TextDecoder();
    for (const [key, body] of this.objects) {
      const k = parseObjectKey(key);
      if (!k) throw new Error(`Unexpected key in the lake: ${key}`);
      const id = `${k.topic}:${k.partition}`;
      const list = out.get(id) ?? [];
      out.set(id, list);
      for (const text of dec.decode(body).split("\n").filter(Boolean)) {
        const line = JSON.parse(text);
        // Test records carry their offset (`o`); quarantine entries name theirs.
        list.push({ offset: k.dir === "quarantine" ? line.offset : line.o, key, line });
      }
    }
    return out;
  }
}

/** A Kafka error as kafkajs gives it for a group that is rebalancing. */
export function rebalanceError(): Error {
  return Object.assign(new Error("The group is rebalancing, so a rejoin is needed"), {
    name: "KafkaJSProtocolError",
    type: "REBALANCE_IN_PROGRESS",
    code: 27,
    retriable: false,
  });
}

/** One record of a fake topic: the value as produced (`null` for a tombstone). */
type FakeRecord = string | null;

/** A Kafka of fake topics and one consumer group, checking each commit against the lake. */
export class FakeKafka {
  readonly logs = new Map<string, FakeRecord[][]>();
  readonly committed = new Map<string, number>();
  /** Commits that covered an offset the lake did not hold at that moment. */
  readonly violations: string[] = [];
  /** Decide each commit's fate (1-based count of commit calls). */
  commitRules: ((n: number) => "rebalance" | "fatal" | undefined)[] = [];
  commits = 0;
  heartbeats = 0;
  /** Batches handed to the sink, in all. */
  delivered = 0;
  /** The next heartbeat or commit of the member says the group is rebalancing. */
  rebalancing = false;

  constructor(readonly lake: FaultyLake, readonly clock: VirtualClock) {}

  createTopic(topic: string, partitions: number): void {
    this.logs.set(topic, Array.from({ length: partitions }, () => []));
  }

  /** Appends `n` records to each partition: `{"t","p","o"}` JSON, or `bad(offset)`'s value. */
  produce(
    topic: string,
    n: number,
    bad: (p: number, o: number) => FakeRecord | undefined = () => undefined,
  ): void {
    const parts = this.logs.get(topic)!;
    parts.forEach((log, p) => {
      for (let i = 0; i < n; i++) {
        const o = log.length;
        const b = bad(p, o);
        log.push(b !== undefined ? b : JSON.stringify({ t: topic, p, o }));
      }
    });
  }

  /** Where each partition's log ends, by `topic:partition`. */
  ends(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [t, parts] of this.logs) parts.forEach((l, p) => out.set(`${t}:${p}`, l.length));
    return out;
  }

  /**
   * A member of the group: `batchSize` records per batch; `joins: false` never joins;
   * `stutter: n` starts every third fetch of a partition n records before its position
   * (a fetch repeated after a failure, or one that overlapped another).
   */
  consumer(opts: { batchSize?: number; joins?: boolean; stutter?: number } = {}): FakeConsumer {
    return new FakeConsumer(this, opts.batchSize ?? 7, opts.joins ?? true, opts.stutter ?? 0);
  }

  /** A commit from the member: refused or failed where the rules say, else checked and kept. */
  commit(offsets: TopicPartitionOffset[]): void {
    const n = ++this.commits;
    if (this.rebalancing) throw rebalanceError();
    for (const r of this.commitRules) {
      const f = r(n);
      if (f === "rebalance") throw rebalanceError();
      if (f === "fatal") {
        throw Object.assign(new Error("The coordinator is not aware of this topic"), {
          name: "KafkaJSProtocolError",
          type: "UNKNOWN_TOPIC_OR_PARTITION",
          retriable: false,
        });
      }
    }
    const held = this.lake.holdings();
    for (const o of offsets) {
      const id = `${o.topic}:${o.partition}`;
      const upTo = Number(o.offset);
      const have = new Set((held.get(id) ?? []).map((h) => h.offset));
      for (let off = 0; off < upTo; off++) {
        if (!have.has(off)) {
          this.violations.push(`commit ${id}@${upTo} while offset ${off} is not in the lake`);
          break;
        }
      }
      this.committed.set(id, upTo);
    }
  }
}

/** A member of the fake group: the behaviour of kafkajs's consumer the sink relies on. */
export class FakeConsumer implements SinkConsumer {
  private topics: string[] = [];
  private running = false;
  private loop?: Promise<void>;
  private positions = new Map<string, number>();
  private seeks = new Map<string, number>();
  private joinFns: ((a: Record<string, number[]>) => void)[] = [];
  private crashFns: ((e: unknown, restart: boolean) => void)[] = [];
  private rejoin = true;
  /** Virtual milliseconds `disconnect` takes before the fetch loop stops (batches go on). */
  disconnectMs = 0;
  /** Virtual milliseconds `run` takes to resolve: kafkajs's run() resolves once joined. */
  joinMs = 0;
  /** What happened to this member, in order: "joined", "disconnect". */
  readonly events: string[] = [];

  private fetches = 0;

  constructor(
    private kafka: FakeKafka,
    private batchSize: number,
    private joins: boolean,
    private stutter: number,
  ) {}

  connect(): Promise<void> {
    return Promise.resolve();
  }

  subscribe(s: { topics: string[] }): Promise<void> {
    this.topics = s.topics;
    return Promise.resolve();
  }

  onGroupJoin(fn: (a: Record<string, number[]>) => void): void {
    this.joinFns.push(fn);
  }

  onCrash(fn: (e: unknown, restart: boolean) => void): void {
    this.crashFns.push(fn);
  }

  seek(o: TopicPartitionOffset): void {
    this.seeks.set(`${o.topic}:${o.partition}`, Number(o.offset));
  }

  commitOffsets(offsets: TopicPartitionOffset[]): Promise<void> {
    try {
      this.kafka.commit(offsets);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async run(eachBatch: (p: SinkBatchPayload) => Promise<void>): Promise<void> {
    this.running = true;
    this.loop = this.fetchLoop(eachBatch);
    if (this.joinMs) await this.kafka.clock.sleep(this.joinMs);
    this.events.push("joined");
  }

  async disconnect(): Promise<void> {
    this.events.push("disconnect");
    if (this.disconnectMs) await this.kafka.clock.sleep(this.disconnectMs);
    this.running = false;
    await this.loop;
  }

  /** Joins (every partition of the topics: one member), then fetches and hands out batches. */
  private async fetchLoop(eachBatch: (p: SinkBatchPayload) => Promise<void>): Promise<void> {
    const { kafka } = this;
    let failures = 0;
    while (this.running) {
      if (this.rejoin || kafka.rebalancing) {
        if (!this.joins) {
          await kafka.clock.sleep(1000);
          continue;
        }
        kafka.rebalancing = false;
        this.rejoin = false;
        this.positions.clear();
        const assignment: Record<string, number[]> = {};
        for (const t of this.topics) {
          assignment[t] = kafka.logs.get(t)!.map((_, p) => p);
          for (const p of assignment[t]) {
            this.positions.set(`${t}:${p}`, kafka.committed.get(`${t}:${p}`) ?? 0);
          }
        }
        for (const fn of this.joinFns) fn(assignment);
      }
      for (const [id, off] of this.seeks) this.positions.set(id, off);
      this.seeks.clear();
      const batches = this.fetch();
      if (!batches.length) {
        await kafka.clock.sleep(250);
        continue;
      }
      // One fetch's batches are handled together; the next fetch waits for all of them.
      const results = await Promise.allSettled(batches.map((b) => this.hand(b, eachBatch)));
      // A fetch takes time on a network; here one virtual millisecond.
      await kafka.clock.sleep(1);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (!failed) {
        failures = 0;
        continue;
      }
      if ((failed.reason as { type?: string }).type === "REBALANCE_IN_PROGRESS") {
        this.rejoin = true;
        continue;
      }
      // kafkajs retries the fetch (from the positions resolved) before it gives up.
      if (++failures > 5) {
        this.running = false;
        for (const fn of this.crashFns) fn(failed.reason, false);
      }
    }
  }

  private fetch() {
    const out = [];
    for (let [id, pos] of this.positions) {
      const cut = id.lastIndexOf(":");
      const topic = id.slice(0, cut);
      const partition = Number(id.slice(cut + 1));
      const log = this.kafka.logs.get(topic)![partition];
      if (pos >= log.length) continue;
      if (this.stutter && ++this.fetches % 3 === 0) pos = Math.max(0, pos - this.stutter);
      const messages = log.slice(pos, pos + this.batchSize).map((v, i) => ({
        offset: String(pos + i),
        key: Buffer.from(String(pos + i)),
        value: v === null ? null : Buffer.from(v),
        timestamp: "1700000000000",
      }));
      out.push({ topic, partition, highWatermark: String(log.length), messages });
    }
    return out;
  }

  private async hand(
    batch: SinkBatchPayload["batch"],
    eachBatch: (p: SinkBatchPayload) => Promise<void>,
  ): Promise<void> {
    const id = `${batch.topic}:${batch.partition}`;
    const kafka = this.kafka;
    kafka.delivered++;
    await eachBatch({
      batch,
      resolveOffset: (o) => this.positions.set(id, Number(o) + 1),
      heartbeat: () => {
        kafka.heartbeats++;
        return kafka.rebalancing ? Promise.reject(rebalanceError()) : Promise.resolve();
      },
      isRunning: () => this.running,
      isStale: () => this.seeks.has(id),
    });
  }
}

/**
 * Asserts that the lake holds every record of every partition exactly once, with its value,
 * in objects named by their first offset, each a contiguous run, none past a gap.
 */
export function lakeProblems(kafka: FakeKafka): string[] {
  const problems: string[] = [];
  const held = kafka.lake.holdings();
  for (const [topic, parts] of kafka.logs) {
    parts.forEach((log, p) => {
      const id = `${topic}:${p}`;
      const lines = held.get(id) ?? [];
      const seen = new Map<number, string>();
      for (const h of lines) {
        if (seen.has(h.offset)) {
          problems.push(`${id} offset ${h.offset} in ${h.key} and ${seen.get(h.offset)}`);
        }
        seen.set(h.offset, h.key);
      }
      for (let o = 0; o < log.length; o++) {
        if (!seen.has(o)) {
          problems.push(`${id} offset ${o} is missing`);
          break;
        }
      }
      if (seen.size > log.length) {
        problems.push(`${id} holds ${seen.size} offsets, the log ${log.length}`);
      }
      for (const h of lines) {
        const v = log[h.offset];
        const good = v !== null && isJson(v);
        if (good && JSON.stringify(h.line) !== JSON.stringify(JSON.parse(v!))) {
          problems.push(
            `${id} offset ${h.offset}: ${JSON.stringify(h.line)} is not what was produced`,
          );
        }
        if (!good && !h.key.startsWith("quarantine/")) {
          problems.push(`${id} bad offset ${h.offset} under topics/`);
        }
      }
      // Each object: named by its first line, lines consecutive among the good offsets.
      const byKey = new Map<string, number[]>();
      for (const h of lines) {
        if (!h.key.startsWith("quarantine/")) {
          byKey.set(h.key, [...byKey.get(h.key) ?? [], h.offset]);
        }
      }
      for (const [key, offs] of byKey) {
        const start = parseObjectKey(key)!.startOffset;
        if (offs[0] !== start) problems.push(`${key} starts with offset ${offs[0]}`);
        for (let i = 1; i < offs.length; i++) {
          for (let o = offs[i - 1] + 1; o < offs[i]; o++) {
            if (log[o] !== null && isJson(log[o]!)) problems.push(`${key} skips offset ${o}`);
          }
        }
      }
    });
  }
  return problems;
}

function isJson(v: string): boolean {
  try {
    JSON.parse(v);
    return true;
  } catch {
    return false;
  }
}

/**
 * The transaction coordinator: what Kafka's TransactionCoordinator does for one broker.
 * Each transactional id has a producer id and epoch, a state (Empty, Ongoing,
 * PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort, PrepareEpochFence), the
 * partitions its open transaction wrote to and the offsets it commits for consumer groups.
 *
 * - InitProducerId bumps the epoch, which fences a zombie with the same transactional id:
 *   its requests get PRODUCER_FENCED (INVALID_PRODUCER_EPOCH to old versions and to
 *   Produce). An open transaction is aborted first with the epoch bumped (its markers fence
 *   the zombie on every partition), and that InitProducerId answers CONCURRENT_TRANSACTIONS;
 *   the client retries and gets the epoch after it, as from Kafka.
 * - EndTxn writes a marker (a control batch, WriteTxnMarkers' job in Kafka) into each
 *   partition of the transaction, and on commit stores its group offsets
 *   (TxnOffsetCommit's are pending, invisible, until then).
 * - A transaction open longer than its timeout is aborted with the epoch bumped.
 * - The state is kept in `transactions.json` in the data dir, rewritten at every change
 *   before it is answered (Kafka's __transaction_state). On start a transaction caught
 *   preparing is completed: markers go to the partitions where the producer's transaction
 *   is still open.
 * @module
 */
import { join } from "node:path";
import { ErrorCode } from "./error_codes.ts";
import { writeFileAtomicSync } from "./log_store.ts";
import type { PartitionLog } from "./partition_log.ts";
import { ABORT_MARKER, COMMIT_MARKER } from "./record_batch.ts";

/** A transactional id's state, named as Kafka names it (DescribeTransactions, ListTransactions). */
export type TxnStateName =
  | "Empty"
  | "Ongoing"
  | "PrepareCommit"
  | "PrepareAbort"
  | "CompleteCommit"
  | "CompleteAbort"
  | "Dead"
  | "PrepareEpochFence";

/** Every state name, for ListTransactions' filters. */
export const TXN_STATES: readonly TxnStateName[] = [
  "Empty",
  "Ongoing",
  "PrepareCommit",
  "PrepareAbort",
  "CompleteCommit",
  "CompleteAbort",
  "Dead",
  "PrepareEpochFence",
];

/** The topic a group's transactional offsets go to in Kafka (shown, never written, here). */
export const OFFSETS_TOPIC = "__consumer_offsets";
/** Kafka's offsets.topic.num.partitions default. */
const OFFSETS_PARTITIONS = 50;

/** The __consumer_offsets partition of `group` in Kafka: Java's String.hashCode, mod 50. */
export function offsetsPartition(group: string): number {
  let h = 0;
  for (let i = 0; i < group.length; i++) h = (Math.imul(h, 31) + group.charCodeAt(i)) | 0;
  // Kafka's Utils.abs: Integer.MIN_VALUE becomes 0.
  return (h === -2147483648 ? 0 : Math.abs(h)) % OFFSETS_PARTITIONS;
}

/** Kafka's transaction.max.timeout.ms default. */
export const TRANSACTION_MAX_TIMEOUT_MS = 900_000;
/** How often open transactions are checked against their timeout. */
export const TXN_TIMEOUT_CHECK_MS = 1000;
/** The highest epoch before a new producer id is given (Kafka: Short.MaxValue - 1). */
const MAX_EPOCH = 32766;

/** An offset a transaction commits for a group, pending until the commit. */
export interface PendingOffset {
  topic: string;
  partition: number;
  offset: number;
  metadata: string | null;
}

/** One transactional id. */
export interface TxnMeta {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  timeoutMs: number;
  state: TxnStateName;
  /** The partitions of the open transaction, as "topic\0partition". */
  partitions: Set<string>;
  /** Groups added (AddOffsetsToTxn) and the offsets committed for them. */
  groups: Map<string, PendingOffset[]>;
  /** When the last transaction started (-1 before the first). */
  startTime: number;
  lastUpdate: number;
}

/** What the coordinator needs from the broker. */
export interface TxnEnv {
  dataDir?: string;
  /** fsync transactions.json at each change (fsync policy "always"). */
  sync: boolean;
  now: () => number;
  log: (line: string) => void;
  warn: (line: string) => void;
  /** A partition's log, if the topic and partition exist. */
  partition: (topic: string, partition: number) => PartitionLog | undefined;
  allocateProducerId: () => number;
  /** Stores group offsets (a commit). */
  commitOffsets: (group: string, offsets: PendingOffset[]) => void;
  /** Applies the fsync policy after markers were appended to `logs`. */
  afterWrite: (logs: Iterable<PartitionLog>, offsets: boolean) => Promise<void>;
}

/** An answer to InitProducerId. */
export interface InitResult {
  errorCode: number;
  producerId: number;
  producerEpoch: number;
}

const key = (topic: string, partition: number) => `${topic}\0${partition}`;
const unkey = (k: string): [string, number] => {
  const i = k.lastIndexOf("\0");
  return [k.slice(0, i), Number(k.slice(i + 1))];
};

/** The transaction coordinator of one broker. */
export class TransactionCoordinator {
  private readonly txns = new Map<string, TxnMeta>();
  private timer?: ReturnType<typeof setInterval>;
  /** Serializes marker writing (EndTxn, timeouts) so one transaction ends once. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly env: TxnEnv) {}

  private get path(): string | undefined {
    return this.env.dataDir ? join(this.env.dataDir, "transactions.json") : undefined;
  }

  /** Reads transactions.json and completes transactions caught preparing; starts the timer. */
  async open(opts: { timer?: boolean } = {}): Promise<void> {
    const path = this.path;
    if (path) {
      let text: string | undefined;
      try {
        text = Deno.readTextFileSync(path);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
      if (text !== undefined) {
        try {
          this.load(JSON.parse(text));
        } catch (err) {
          this.env.warn(
            `${path} cannot be read (${err instanceof Error ? err.message : err}): ` +
              `transactional ids start over; open transactions stay open in their partitions`,
          );
        }
      }
    }
    for (const t of this.txns.values()) {
      if (t.state === "PrepareCommit" || t.state === "PrepareAbort") {
        this.env.log(
          `completing transaction "${t.transactionalId}" (${t.state}) found on start`,
        );
        await this.complete(t, t.state === "PrepareCommit", true);
      }
    }
    if (opts.timer !== false) {
      this.timer = setInterval(() => {
        this.abortTimedOut().catch((err) =>
          this.env.log(`aborting timed-out transactions failed: ${err}`)
        );
      }, TXN_TIMEOUT_CHECK_MS);
      Deno.unrefTimer(this.timer);
    }
  }

  /** Stops the timeout timer. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private load(json: {
    version: number;
    txns: {
      id: string;
      pid: number;
      epoch: number;
      timeoutMs: number;
      state: TxnStateName;
      partitions: string[];
      groups: [string, PendingOffset[]][];
      startTime: number;
      lastUpdate: number;
    }[];
  }): void {
    if (json.version !== 1) throw new Error(`it has version ${json.version}, not 1`);
    for (const t of json.txns) {
      if (!TXN_STATES.includes(t.state)) throw new Error(`unknown state "${t.state}"`);
      this.txns.set(t.id, {
        transactionalId: t.id,
        producerId: t.pid,
        producerEpoch: t.epoch,
        timeoutMs: t.timeoutMs,
        state: t.state,
        partitions: new Set(t.partitions),
        groups: new Map(t.groups),
        startTime: t.startTime,
        lastUpdate: t.lastUpdate,
      });
    }
  }

  /** Writes every transactional id's state (throws when it cannot). */
  private persist(): void {
    const path = this.path;
    if (!path) return;
    const txns = [...this.txns.values()].map((t) => ({
      id: t.transactionalId,
      pid: t.producerId,
      epoch: t.producerEpoch,
      timeoutMs: t.timeoutMs,
      state: t.state,
      partitions: [...t.partitions],
      groups: [...t.groups],
      startTime: t.startTime,
      lastUpdate: t.lastUpdate,
    }));
    writeFileAtomicSync(path, JSON.stringify({ version: 1, txns }) + "\n", {
      sync: this.env.sync,
    });
  }

  /** Applies `change` and persists; undoes it (and answers false) when the write fails. */
  private commitChange(t: TxnMeta, change: () => void): boolean {
    const before = snapshot(t);
    change();
    t.lastUpdate = this.env.now();
    try {
      this.persist();
      return true;
    } catch (err) {
      Object.assign(t, before);
      this.env.log(
        `cannot write the state of transaction "${t.transactionalId}": ${
          err instanceof Error ? err.message : err
        }`,
      );
      return false;
    }
  }

  /** The state of `transactionalId`, if known. */
  get(transactionalId: string): TxnMeta | undefined {
    return this.txns.get(transactionalId);
  }

  /** Every transactional id. */
  all(): TxnMeta[] {
    return [...this.txns.values()];
  }

  /** Runs `job` after every marker-writing job before it. */
  private serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.chain.then(job, job);
    this.chain = run.catch(() => {});
    return run;
  }

  /** InitProducerId with a transactional id. */
  initProducerId(
    transactionalId: string,
    timeoutMs: number,
    expected: { producerId: number; producerEpoch: number },
  ): Promise<InitResult> {
    return this.serial(async () => {
      const fail = (errorCode: number): InitResult => ({
        errorCode,
        producerId: -1,
        producerEpoch: -1,
      });
      if (transactionalId === "") return fail(ErrorCode.INVALID_REQUEST);
      if (timeoutMs <= 0 || timeoutMs > TRANSACTION_MAX_TIMEOUT_MS) {
        return fail(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
      }
      let t = this.txns.get(transactionalId);
      if (!t) {
        let producerId: number;
        try {
          producerId = this.env.allocateProducerId();
        } catch {
          return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
        }
        t = {
          transactionalId,
          producerId,
          producerEpoch: 0,
          timeoutMs,
          state: "Empty",
          partitions: new Set(),
          groups: new Map(),
          startTime: -1,
          lastUpdate: this.env.now(),
        };
        this.txns.set(transactionalId, t);
        try {
          this.persist();
        } catch (err) {
          this.txns.delete(transactionalId);
          this.env.log(`cannot write the state of transaction "${transactionalId}": ${err}`);
          return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
        }
        return { errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
      }
      if (
        expected.producerId >= 0 &&
        (expected.producerId !== t.producerId || expected.producerEpoch !== t.producerEpoch)
      ) {
        return fail(ErrorCode.PRODUCER_FENCED);
      }
      switch (t.state) {
        case "PrepareCommit":
        case "PrepareAbort":
        case "PrepareEpochFence":
          return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
        case "Ongoing": {
          // Abort it with the epoch bumped: its markers fence the old producer everywhere.
          const meta = t;
          if (!this.commitChange(meta, () => meta.producerEpoch++)) {
            return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
          }
          this.env.log(
            `aborting the open transaction of "${transactionalId}": a new producer with its ` +
              `id initialized (epoch now ${meta.producerEpoch})`,
          );
          await this.end(meta, false);
          return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
        }
        default: {
          const meta = t;
          let pid = meta.producerId;
          let epoch = meta.producerEpoch + 1;
          if (epoch > MAX_EPOCH) {
            try {
              pid = this.env.allocateProducerId();
            } catch {
              return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
            }
            epoch = 0;
          }
          const ok = this.commitChange(meta, () => {
            meta.producerId = pid;
            meta.producerEpoch = epoch;
            meta.timeoutMs = timeoutMs;
            meta.state = "Empty";
            meta.partitions = new Set();
            meta.groups = new Map();
            // The last transaction's start stays, as Kafka keeps it (DescribeTransactions).
          });
          if (!ok) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
          return { errorCode: ErrorCode.NONE, producerId: pid, producerEpoch: epoch };
        }
      }
    });
  }

  /** The error for a request naming `producerId`/`epoch` of `t` (or NONE). */
  private check(t: TxnMeta | undefined, producerId: number, epoch: number): number {
    if (!t || t.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (t.producerEpoch !== epoch) return ErrorCode.PRODUCER_FENCED;
    if (t.state === "PrepareCommit" || t.state === "PrepareAbort") {
      return ErrorCode.CONCURRENT_TRANSACTIONS;
    }
    if (t.state === "PrepareEpochFence" || t.state === "Dead") {
      return ErrorCode.CONCURRENT_TRANSACTIONS;
    }
    return ErrorCode.NONE;
  }

  /**
   * AddPartitionsToTxn for one transaction: each partition's error code. Unknown
   * partitions get UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED; with
   * `verifyOnly` nothing is added, and a partition not in the transaction gets
   * INVALID_TXN_STATE.
   */
  addPartitions(
    transactionalId: string,
    producerId: number,
    epoch: number,
    partitions: { topic: string; partition: number }[],
    verifyOnly = false,
  ): Map<string, number> {
    const out = new Map<string, number>();
    const all = (code: number) => {
      for (const p of partitions) out.set(key(p.topic, p.partition), code);
      return out;
    };
    const t = this.txns.get(transactionalId);
    if (verifyOnly) {
      const err = this.check(t, producerId, epoch);
      for (const p of partitions) {
        const k = key(p.topic, p.partition);
        out.set(
          k,
          err !== ErrorCode.NONE
            ? err
            : t!.state === "Ongoing" && (t!.partitions.has(k) || groupPartition(t!, p))
            ? ErrorCode.NONE
            : ErrorCode.INVALID_TXN_STATE,
        );
      }
      return out;
    }
    const unknown = partitions.filter((p) => !this.env.partition(p.topic, p.partition));
    if (unknown.length) {
      all(ErrorCode.OPERATION_NOT_ATTEMPTED);
      for (const p of unknown) {
        out.set(key(p.topic, p.partition), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      }
      return out;
    }
    const err = this.check(t, producerId, epoch);
    if (err !== ErrorCode.NONE) return all(err);
    const meta = t!;
    const fresh = partitions.filter((p) => !meta.partitions.has(key(p.topic, p.partition)));
    if (fresh.length === 0 && meta.state === "Ongoing") return all(ErrorCode.NONE);
    const ok = this.commitChange(meta, () => {
      if (meta.state !== "Ongoing") this.begin(meta);
      for (const p of fresh) meta.partitions.add(key(p.topic, p.partition));
    });
    return all(ok ? ErrorCode.NONE : ErrorCode.COORDINATOR_NOT_AVAILABLE);
  }

  private begin(t: TxnMeta): void {
    t.state = "Ongoing";
    t.startTime = this.env.now();
    t.partitions = new Set();
    t.groups = new Map();
  }

  /** AddOffsetsToTxn: the group's offsets become part of the transaction. */
  addOffsets(transactionalId: string, producerId: number, epoch: number, group: string): number {
    const t = this.txns.get(transactionalId);
    const err = this.check(t, producerId, epoch);
    if (err !== ErrorCode.NONE) return err;
    const meta = t!;
    if (meta.state === "Ongoing" && meta.groups.has(group)) return ErrorCode.NONE;
    const ok = this.commitChange(meta, () => {
      if (meta.state !== "Ongoing") this.begin(meta);
      meta.groups.set(group, []);
    });
    return ok ? ErrorCode.NONE : ErrorCode.COORDINATOR_NOT_AVAILABLE;
  }

  /** TxnOffsetCommit: offsets pending in the transaction (NONE or the error for them all). */
  txnOffsetCommit(
    transactionalId: string,
    producerId: number,
    epoch: number,
    group: string,
    offsets: PendingOffset[],
  ): number {
    const t = this.txns.get(transactionalId);
    if (!t || t.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (epoch < t.producerEpoch) return ErrorCode.PRODUCER_FENCED;
    if (epoch !== t.producerEpoch || t.state !== "Ongoing" || !t.groups.has(group)) {
      return ErrorCode.INVALID_TXN_STATE;
    }
    const ok = this.commitChange(t, () => {
      const pending = t.groups.get(group)!.filter((o) =>
        !offsets.some((n) => n.topic === o.topic && n.partition === o.partition)
      );
      t.groups.set(group, [...pending, ...offsets]);
    });
    return ok ? ErrorCode.NONE : ErrorCode.COORDINATOR_NOT_AVAILABLE;
  }

  /** True when an open transaction holds an offset for the group's partition (OffsetFetch). */
  hasPendingOffset(group: string, topic: string, partition: number): boolean {
    for (const t of this.txns.values()) {
      if (t.state !== "Ongoing" && t.state !== "PrepareCommit") continue;
      const pending = t.groups.get(group);
      if (pending?.some((o) => o.topic === topic && o.partition === partition)) return true;
    }
    return false;
  }

  /** The error a transactional Produce gets (NONE when it may be appended). */
  checkProduce(
    transactionalId: string,
    producerId: number,
    epoch: number,
    topic: string,
    partition: number,
  ): number {
    const t = this.txns.get(transactionalId);
    if (!t || t.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (epoch < t.producerEpoch) return ErrorCode.INVALID_PRODUCER_EPOCH;
    if (epoch > t.producerEpoch) return ErrorCode.INVALID_PRODUCER_EPOCH;
    // KIP-890 (part 1, Kafka 3.6+): the partition must have been added to the transaction.
    if (t.state !== "Ongoing" || !t.partitions.has(key(topic, partition))) {
      return ErrorCode.INVALID_TXN_STATE;
    }
    return ErrorCode.NONE;
  }

  /** EndTxn. */
  endTxn(
    transactionalId: string,
    producerId: number,
    epoch: number,
    commit: boolean,
  ): Promise<number> {
    return this.serial(async () => {
      const t = this.txns.get(transactionalId);
      if (!t || t.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
      if (t.producerEpoch !== epoch) return ErrorCode.PRODUCER_FENCED;
      switch (t.state) {
        case "Ongoing":
          return await this.end(t, commit);
        case "CompleteCommit":
          return commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE;
        case "CompleteAbort":
          return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE;
        case "PrepareCommit":
          return commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE;
        case "PrepareAbort":
          return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS;
        default:
          return ErrorCode.INVALID_TXN_STATE;
      }
    });
  }

  /** Prepares, writes the markers and completes an open transaction. */
  private async end(t: TxnMeta, commit: boolean): Promise<number> {
    if (!this.commitChange(t, () => t.state = commit ? "PrepareCommit" : "PrepareAbort")) {
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    return await this.complete(t, commit, false);
  }

  /**
   * Writes the markers of a prepared transaction, stores its group offsets on commit, and
   * completes it. `recovering`: only where the producer's transaction is still open.
   */
  private async complete(t: TxnMeta, commit: boolean, recovering: boolean): Promise<number> {
    const touched = new Set<PartitionLog>();
    const type = commit ? COMMIT_MARKER : ABORT_MARKER;
    for (const k of t.partitions) {
      const [topic, p] = unkey(k);
      const log = this.env.partition(topic, p);
      if (!log) continue; // the topic was deleted: nothing to mark
      if (recovering && !log.txns.ongoing.has(t.producerId)) continue;
      try {
        log.appendMarker(t.producerId, t.producerEpoch, type);
        touched.add(log);
      } catch (err) {
        // Stays prepared: the next start (or EndTxn retry) writes the markers again.
        this.env.log(`cannot write a transaction marker to ${topic}-${p}: ${err}`);
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
      }
    }
    let offsets = false;
    if (commit) {
      for (const [group, pending] of t.groups) {
        if (!pending.length) continue;
        try {
          this.env.commitOffsets(group, pending);
          offsets = true;
        } catch (err) {
          this.env.log(`cannot store the offsets of transaction "${t.transactionalId}": ${err}`);
          return ErrorCode.COORDINATOR_NOT_AVAILABLE;
        }
      }
    }
    await this.env.afterWrite(touched, offsets);
    this.commitChange(t, () => {
      t.state = commit ? "CompleteCommit" : "CompleteAbort";
      t.partitions = new Set();
      t.groups = new Map();
    });
    return ErrorCode.NONE;
  }

  /** Aborts, with the epoch bumped, every transaction open longer than its timeout. */
  abortTimedOut(now = this.env.now()): Promise<number> {
    return this.serial(async () => {
      let n = 0;
      for (const t of this.txns.values()) {
        if (t.state !== "Ongoing" || now - t.startTime <= t.timeoutMs) continue;
        if (!this.commitChange(t, () => t.producerEpoch++)) continue;
        this.env.log(
          `aborting transaction "${t.transactionalId}": open for ${now - t.startTime} ms, ` +
            `longer than its timeout of ${t.timeoutMs} ms (epoch now ${t.producerEpoch})`,
        );
        await this.end(t, false);
        n++;
      }
      return n;
    });
  }

  /**
   * The partitions of `t`'s transaction, by topic (DescribeTransactions), with the
   * __consumer_offsets partition of each group added, as Kafka shows them.
   */
  static topics(t: TxnMeta): { topic: string; partitions: number[] }[] {
    const by = new Map<string, number[]>();
    const add = (topic: string, p: number) => {
      let ps = by.get(topic);
      if (!ps) by.set(topic, ps = []);
      if (!ps.includes(p)) ps.push(p);
    };
    for (const k of t.partitions) add(...unkey(k));
    for (const g of t.groups.keys()) add(OFFSETS_TOPIC, offsetsPartition(g));
    return [...by].map(([topic, partitions]) => ({ topic, partitions }));
  }
}

/** Whether `p` is the __consumer_offsets partition of a group in `t`'s transaction. */
function groupPartition(t: TxnMeta, p: { topic: string; partition: number }): boolean {
  if (p.topic !== OFFSETS_TOPIC) return false;
  for (const g of t.groups.keys()) if (offsetsPartition(g) === p.partition) return true;
  return false;
}

function snapshot(t: TxnMeta): Partial<TxnMeta> {
  return {
    producerId: t.producerId,
    producerEpoch: t.producerEpoch,
    timeoutMs: t.timeoutMs,
    state: t.state,
    partitions: new Set(t.partitions),
    groups: new Map([...t.groups].map(([g, o]) => [g, [...o]])),
    startTime: t.startTime,
    lastUpdate: t.lastUpdate,
  };
}

/**
 * One partition: its log as a list of segments (each a `LogStore` of raw batches named by
 * the offset of its first batch, `00000000000000000000.log` on disk), a small in-memory
 * index per segment (base offset, byte position and the running maximum of the batches'
 * max timestamps, in typed arrays: 24 bytes a batch), the high watermark, the log start
 * offset, its idempotent producers, and the long-poll waiters Fetch registers to hear
 * about new data. Offset and timestamp lookups are binary searches.
 *
 * The active (last) segment rolls when an append would take it past `segment.bytes` or it
 * is older than `segment.ms`. Retention deletes whole segments from the front
 * (`retention.ms` by the newest timestamp in a segment, `retention.bytes` by the
 * partition's size) and moves the log start offset; `deleteRecordsBefore` moves it to any
 * offset (DeleteRecords). Offsets are never reused: a hole left by a damaged region stays
 * a hole, and Fetch skips over it.
 * @module
 */
import { join } from "node:path";
import { type BatchInfo, splitBatches } from "./record_batch.ts";
import {
  CONTROL_FLAG,
  controlType,
  markerBatch,
  patchBatch,
  TRANSACTIONAL_FLAG,
} from "./record_batch.ts";
import {
  FileHandles,
  FileLogStore,
  type LogStore,
  MemoryLogStore,
  readAt,
  syncDirAsync,
  writeAllSync,
  writeFileAtomicSync,
} from "./log_store.ts";
import { type Damage, scanSegment } from "./log_recovery.ts";
import { type TopicConfig, topicConfig } from "./configs.ts";
import { lastSequence, ProducerStateTable, type SequenceVerdict } from "./producer_state.ts";
import { ErrorCode } from "./error_codes.ts";
import { PartitionTxns } from "./txn_index.ts";

/** A read from the log: whole batches, as chunks. */
export interface LogRead {
  chunks: Uint8Array[];
  bytes: number;
}

/** What to do with a damaged region found on start. */
export type CorruptionPolicy = "truncate" | "refuse";

/** What a partition log needs from the broker. */
export interface LogEnv {
  /** The partition's directory (segments, producers.snapshot); undefined = in memory. */
  dir?: string;
  /** Open segment files, shared by every partition (required with `dir`). */
  handles?: FileHandles;
  /** The topic's config, read at each decision (it can change while the broker runs). */
  config?: () => TopicConfig;
  /** The clock (tests move it). */
  now?: () => number;
  /** Bytes held by in-memory segments, across the broker (its memory cap). */
  memory?: { used: number };
  /** Segments roll at this size even when segment.bytes is larger (in memory). */
  maxSegmentBytes?: number;
  /** Where recovery keeps the bytes it cuts (default: `<dir>/corrupt`). */
  quarantineDir?: string;
  /** "refuse" makes a damaged log (anything but a torn tail) an error instead of a cut. */
  onCorruption?: CorruptionPolicy;
  /** fsync the directory after creating a segment file (fsync policy other than never). */
  syncDirs?: boolean;
  /** Offsets remembered from before (checkpoints.json): never go below them. */
  floor?: { logStartOffset: number; nextOffset: number };
}

/** One region recovery cut from a segment. */
export interface RecoveryCut extends Damage {
  /** The segment file it was cut from. */
  file: string;
  /** The side file keeping its bytes (absent when they could not be saved). */
  savedTo?: string;
}

/** What opening a partition's segments found and did. */
export interface RecoveryReport {
  segments: number;
  bytes: number;
  batches: number;
  /** Header fields repaired in place ("<file>: …"). */
  repairs: string[];
  cuts: RecoveryCut[];
  /** The offset after the last batch kept, and the next offset given out (higher after a cut). */
  lastKept: number;
  nextOffset: number;
}

/** A log found damaged on start with `onCorruption: "refuse"`. */
export class CorruptLogError extends Error {
  override name = "CorruptLogError";
}

const SEGMENT_NAME = /^(\d{20})\.log$/;
/** The file name of the segment whose first offset is `base`. */
export function segmentFileName(base: number): string {
  return `${String(base).padStart(20, "0")}.log`;
}
const SNAPSHOT = "producers.snapshot";
/** A topic with no configs of its own (a log opened on its own, in tests). */
const NO_CONFIGS = { configs: {} };

function grow(a: Float64Array): Float64Array<ArrayBuffer> {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}

/** One segment: its bytes and the index of its batches. */
class Segment {
  private bases = new Float64Array(8);
  private positions = new Float64Array(8);
  /** Running maximum of the batches' max timestamps, within this segment. */
  private runMax = new Float64Array(8);
  count = 0;
  /** The offset after its last batch (= base while empty). */
  next: number;
  /** Newest record timestamp in it (-1 while empty), for retention.ms. */
  maxTimestamp = -1;

  constructor(
    readonly base: number,
    readonly store: LogStore,
    /** Position of its first byte in the partition's bytes ever appended (for bytesFrom). */
    readonly vstart: number,
    /** When it was started (ms), for segment.ms. */
    public createdAt: number,
  ) {
    this.next = base;
  }

  get size(): number {
    return this.store.size;
  }

  index(base: number, pos: number, ts: number, next: number): void {
    if (this.count === this.bases.length) {
      this.bases = grow(this.bases);
      this.positions = grow(this.positions);
      this.runMax = grow(this.runMax);
    }
    this.bases[this.count] = base;
    this.positions[this.count] = pos;
    this.maxTimestamp = this.count ? Math.max(this.maxTimestamp, ts) : ts;
    this.runMax[this.count] = this.maxTimestamp;
    this.count++;
    this.next = next;
  }

  /** Index of the batch holding `offset` (base <= offset < next). */
  find(offset: number): number {
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.bases[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  position(i: number): number {
    return this.positions[i];
  }

  end(i: number): number {
    return i + 1 < this.count ? this.positions[i + 1] : this.store.size;
  }

  baseOf(i: number): number {
    return this.bases[i];
  }

  /** The first batch whose max timestamp is >= ts (this segment's max must be >= ts). */
  firstAtOrAfter(ts: number): { offset: number; timestamp: number } {
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.runMax[mid] >= ts) hi = mid;
      else lo = mid + 1;
    }
    return { offset: this.bases[lo], timestamp: this.runMax[lo] };
  }
}

/** A single partition's segments and index. */
export class PartitionLog {
  /** Called (and cleared) whenever records are appended: Fetch long-polls wait here. */
  readonly waiters = new Set<() => void>();
  /** The idempotent producers that wrote here. */
  producers = new ProducerStateTable();
  /** Its open and aborted transactions (the last stable offset, read_committed fetches). */
  readonly txns = new PartitionTxns();
  private segments: Segment[] = [];
  private dirMade = false;
  /** A segment file was created since the directory was last fsynced. */
  private dirDirty = false;
  /** The next offset to assign: the high watermark (and the last stable offset). */
  nextOffset = 0;
  /** The first offset that can be fetched. */
  logStartOffset = 0;

  private constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly env: LogEnv,
  ) {}

  /** A partition kept in memory. */
  static memory(topic: string, partition: number, env: LogEnv = {}): PartitionLog {
    return PartitionLog.create(topic, partition, { ...env, dir: undefined });
  }

  /** A new, empty partition (in `env.dir` when given: nothing is written until an append). */
  static create(topic: string, partition: number, env: LogEnv): PartitionLog {
    const log = new PartitionLog(topic, partition, env);
    log.segments.push(new Segment(0, log.newStore(0), 0, log.now()));
    return log;
  }

  /**
   * The partition in `env.dir`, recovered: each segment scanned, damaged regions cut out
   * (their bytes kept in a side file) or refused (CorruptLogError), producers rebuilt.
   */
  static open(topic: string, partition: number, env: LogEnv): {
    log: PartitionLog;
    report: RecoveryReport;
  } {
    const dir = env.dir!;
    const log = new PartitionLog(topic, partition, env);
    const report: RecoveryReport = {
      segments: 0,
      bytes: 0,
      batches: 0,
      repairs: [],
      cuts: [],
      lastKept: 0,
      nextOffset: 0,
    };
    const bases: number[] = [];
    try {
      for (const e of Deno.readDirSync(dir)) {
        const m = SEGMENT_NAME.exec(e.name);
        if (m && e.isFile) bases.push(Number(m[1]));
      }
      log.dirMade = true;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    bases.sort((a, b) => a - b);
    log.loadSnapshot();
    const replayFrom = log.producers.coveredUpTo;
    let floor = env.floor?.nextOffset ?? 0;
    let vstart = 0;
    for (let k = 0; k < bases.length; k++) {
      const base = bases[k];
      const path = join(dir, segmentFileName(base));
      const store = new FileLogStore(path, env.handles!);
      const seg = new Segment(base, store, vstart, log.now());
      let firstTs = -1;
      const scan = scanSegment(path, base, (b) => {
        const next = b.baseOffset + b.lastOffsetDelta + 1;
        seg.index(b.baseOffset, b.position, b.maxTimestamp, next);
        if (firstTs < 0) firstTs = b.maxTimestamp;
        if (b.producerId >= 0 && b.attributes & (CONTROL_FLAG | TRANSACTIONAL_FLAG)) {
          log.txns.onBatch(b.producerId, b.attributes, b.baseOffset, b.controlType);
        }
        if (b.producerId >= 0 && b.baseOffset >= replayFrom && b.attributes & CONTROL_FLAG) {
          log.producers.marker(b.producerId, b.producerEpoch, next - 1, b.maxTimestamp, 0);
        } else if (b.producerId >= 0 && b.baseOffset >= replayFrom) {
          log.producers.record(b.producerId, b.producerEpoch, {
            firstSeq: b.baseSequence,
            lastSeq: lastSequence(b.baseSequence, b.lastOffsetDelta),
            firstOffset: b.baseOffset,
            lastOffset: next - 1,
          }, b.maxTimestamp);
        }
      });
      for (const r of scan.repairs) report.repairs.push(`${path}: ${r}`);
      if (scan.damage) {
        const d = scan.damage;
        if (env.onCorruption === "refuse" && !(d.torn && k === bases.length - 1)) {
          throw new CorruptLogError(
            `Cannot open partition ${topic}-${partition}: ${describeCut({ ...d, file: path })}; ` +
              `the broker refuses to start (--on-corruption refuse): move the data dir aside, ` +
              `or start with --on-corruption truncate to cut the damaged bytes out (they are ` +
              `kept in a side file)`,
          );
        }
        const cut: RecoveryCut = { ...d, file: path };
        cut.savedTo = log.quarantine(path, d);
        if (d.resumeOffset !== undefined) {
          // What follows the damage becomes a segment of its own, named by its first offset.
          const tail = join(dir, segmentFileName(d.resumeOffset));
          copyRange(path, d.end, tail);
          bases.splice(k + 1, 0, d.resumeOffset);
        }
        Deno.truncateSync(path, d.start);
        report.cuts.push(cut);
        floor = Math.max(floor, d.offsetFloor);
      }
      store.size = scan.validBytes;
      if (seg.count) seg.createdAt = Math.min(log.now(), Math.max(firstTs, 0) || log.now());
      if (scan.validBytes === 0 && k < bases.length - 1) {
        Deno.removeSync(path); // an empty segment before others: nothing to keep
        continue;
      }
      log.segments.push(seg);
      vstart += scan.validBytes;
      report.segments++;
      report.bytes += scan.validBytes;
      report.batches += seg.count;
    }
    const last = log.segments.at(-1);
    report.lastKept = last ? last.next : 0;
    log.nextOffset = Math.max(report.lastKept, floor);
    if (!last || last.next < log.nextOffset) {
      // A new active segment where offsets go on (after a hole, when something was cut).
      if (last && last.size === 0) {
        last.store.remove();
        log.segments.pop();
      }
      const seg = new Segment(log.nextOffset, log.newStore(log.nextOffset), vstart, log.now());
      log.segments.push(seg);
      if (last && seg.store instanceof FileLogStore) {
        // Made now, empty: its name keeps the next offset even without checkpoints.json.
        Deno.openSync(seg.store.path, { write: true, create: true }).close();
      }
    }
    const first = log.segments[0];
    log.logStartOffset = Math.min(
      log.nextOffset,
      Math.max(first.count ? first.baseOf(0) : first.base, env.floor?.logStartOffset ?? 0),
    );
    report.nextOffset = log.nextOffset;
    return { log, report };
  }

  private now(): number {
    return this.env.now ? this.env.now() : Date.now();
  }

  private config(): TopicConfig {
    return this.env.config ? this.env.config() : topicConfig(NO_CONFIGS);
  }

  private newStore(base: number): LogStore {
    if (!this.env.dir) return new MemoryLogStore(this.env.memory);
    return new FileLogStore(join(this.env.dir, segmentFileName(base)), this.env.handles!);
  }

  /** Saves the damaged bytes of `path` to a side file; answers its path. */
  private quarantine(path: string, d: Damage): string | undefined {
    const qdir = this.env.quarantineDir ?? join(this.env.dir!, "corrupt");
    const stamp = new Date(this.now()).toISOString().replace(/[:.]/g, "-");
    const name = `${this.topic}-${this.partition}-${
      segmentFileName(d.firstOffset).replace(".log", "")
    }-at-${d.start}-${stamp}.bin`;
    const out = join(qdir, name);
    try {
      Deno.mkdirSync(qdir, { recursive: true });
      copyRange(path, d.start, out, d.end);
      return out;
    } catch {
      return undefined;
    }
  }

  private loadSnapshot(): void {
    if (!this.env.dir) return;
    let data: Uint8Array;
    try {
      data = Deno.readFileSync(join(this.env.dir, SNAPSHOT));
    } catch {
      return;
    }
    try {
      this.producers = ProducerStateTable.deserialize(data);
    } catch {
      // Rebuilt from the log alone; only producers whose batches were all deleted are lost.
      this.producers = new ProducerStateTable();
    }
  }

  /** Writes the producer table beside the segments (before segments go, and on close). */
  private writeSnapshot(sync: boolean): void {
    if (!this.env.dir || (this.producers.size === 0 && !this.dirMade)) return;
    if (this.producers.size === 0) {
      try {
        Deno.removeSync(join(this.env.dir, SNAPSHOT));
      } catch { /* none */ }
      return;
    }
    this.ensureDir();
    writeFileAtomicSync(join(this.env.dir, SNAPSHOT), this.producers.serialize(), {
      fault: this.env.handles?.fault,
      sync,
    });
  }

  private ensureDir(): void {
    if (this.dirMade || !this.env.dir) return;
    Deno.mkdirSync(this.env.dir, { recursive: true });
    this.dirMade = true;
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1];
  }

  /** Batches in the index. */
  get batchCount(): number {
    let n = 0;
    for (const s of this.segments) n += s.count;
    return n;
  }

  /** Segments (including the active one). */
  get segmentCount(): number {
    return this.segments.length;
  }

  /** Bytes stored across all segments. */
  get size(): number {
    return this.active.vstart + this.active.size - this.segments[0].vstart;
  }

  /** When the oldest segment was started (for the memory cap: oldest goes first). */
  get oldestSegmentTime(): number {
    return this.segments[0].createdAt;
  }

  /**
   * Whether `batches` (one produce request's records for this partition) may be appended,
   * as far as idempotent producers go: a retry already in the log is a duplicate (answer
   * its first offset, append nothing), a gap or an old epoch is refused.
   */
  checkProducer(batches: BatchInfo[]): SequenceVerdict {
    const b = batches[0];
    if (batches.every((x) => x.producerId < 0 && (x.attributes & CONTROL_FLAG) === 0)) {
      return { kind: "append" };
    }
    const refuse = (error: number, message: string): SequenceVerdict => ({
      kind: "refuse",
      error,
      message,
    });
    if (batches.some((x) => x.attributes & CONTROL_FLAG)) {
      return refuse(ErrorCode.INVALID_RECORD, "clients cannot write control batches");
    }
    if (batches.length > 1) {
      return refuse(
        ErrorCode.INVALID_RECORD,
        `an idempotent producer sent ${batches.length} batches for one partition: one is allowed`,
      );
    }
    if (b.baseSequence < 0 || b.producerEpoch < 0) {
      return refuse(
        ErrorCode.INVALID_RECORD,
        `producer ${b.producerId} sent sequence ${b.baseSequence}, epoch ${b.producerEpoch}`,
      );
    }
    return this.producers.check(
      b.producerId,
      b.producerEpoch,
      b.baseSequence,
      lastSequence(b.baseSequence, b.lastOffsetDelta),
    );
  }

  /**
   * Appends the produced `records` (already split into `batches` covering all of it),
   * assigning offsets in place. Returns the base offset of the first batch. Throws (and
   * changes nothing) when the bytes cannot be stored.
   */
  append(records: Uint8Array, batches: BatchInfo[]): number {
    const now = this.now();
    let seg = this.active;
    if (seg.size > 0) {
      const cfg = this.config();
      if (
        seg.size + records.byteLength >
          Math.min(cfg.segmentBytes, this.env.maxSegmentBytes ?? Infinity) ||
        now - seg.createdAt >= cfg.segmentMs
      ) {
        seg = this.roll(now);
      }
    }
    const base = this.nextOffset;
    let next = base;
    for (const b of batches) {
      patchBatch(records, b.start, next);
      next += b.lastOffsetDelta + 1;
    }
    const at = seg.size;
    if (at === 0) {
      this.ensureDir();
      seg.createdAt = now;
    }
    seg.store.append(records);
    if (at === 0 && this.env.dir && this.env.syncDirs) this.dirDirty = true;
    next = base;
    for (const b of batches) {
      const after = next + b.lastOffsetDelta + 1;
      seg.index(next, at + b.start, b.maxTimestamp, after);
      if (b.producerId >= 0 && b.attributes & (CONTROL_FLAG | TRANSACTIONAL_FLAG)) {
        this.txns.onBatch(
          b.producerId,
          b.attributes,
          next,
          b.attributes & CONTROL_FLAG ? controlType(records, b.start, b.size) : -1,
        );
        if (b.attributes & CONTROL_FLAG) {
          this.producers.marker(b.producerId, b.producerEpoch, after - 1, now, 0, b.maxTimestamp);
          next = after;
          continue;
        }
      }
      if (b.producerId >= 0) {
        this.producers.record(
          b.producerId,
          b.producerEpoch,
          {
            firstSeq: b.baseSequence,
            lastSeq: lastSequence(b.baseSequence, b.lastOffsetDelta),
            firstOffset: next,
            lastOffset: after - 1,
          },
          now,
          b.maxTimestamp,
        );
      }
      next = after;
    }
    this.nextOffset = next;
    if (this.waiters.size) {
      const ws = [...this.waiters];
      this.waiters.clear();
      for (const w of ws) w();
    }
    return base;
  }

  /** Starts a new active segment at the next offset (unless the active one is empty). */
  roll(now = this.now()): Segment {
    const a = this.active;
    if (a.size === 0) return a;
    const seg = new Segment(
      this.nextOffset,
      this.newStore(this.nextOffset),
      a.vstart + a.size,
      now,
    );
    if (seg.store instanceof FileLogStore) {
      // The (empty) file is made now: its name keeps the next offset if every segment
      // before it is deleted, so a restart never gives out a lower one.
      this.env.handles!.get(seg.store.path, true);
    }
    this.segments.push(seg);
    return seg;
  }

  /** Deletes the oldest segment (never the last one); answers the bytes freed. */
  private dropFirst(): number {
    if (this.segments.length < 2) return 0;
    if (this.producers.size) this.writeSnapshot(true);
    const s = this.segments.shift()!;
    const bytes = s.size;
    s.store.remove();
    this.logStartOffset = Math.max(this.logStartOffset, this.segments[0].base);
    this.txns.prune(this.logStartOffset);
    return bytes;
  }

  /**
   * DeleteRecords: makes `offset` (-1 = the high watermark) the log start offset and
   * deletes the segments wholly below it. Answers the new log start offset, or
   * OFFSET_OUT_OF_RANGE's code as `{ error }` when `offset` is past the high watermark.
   */
  deleteRecordsBefore(offset: number): { logStartOffset: number } | { error: number } {
    const to = offset === -1 ? this.nextOffset : offset;
    if (to < 0 || to > this.nextOffset) return { error: ErrorCode.OFFSET_OUT_OF_RANGE };
    if (to > this.logStartOffset) this.logStartOffset = to;
    if (this.active.size > 0 && this.active.next <= this.logStartOffset) this.roll();
    while (this.segments.length > 1 && this.segments[0].next <= this.logStartOffset) {
      this.dropFirst();
    }
    return { logStartOffset: this.logStartOffset };
  }

  /** Applies retention.ms and retention.bytes; answers the bytes deleted. */
  enforceRetention(now = this.now()): number {
    const cfg = this.config();
    if (!cfg.deleteRetention) return 0;
    let freed = 0;
    if (cfg.retentionMs >= 0) {
      for (;;) {
        const s = this.segments[0];
        if (s.count === 0 || s.maxTimestamp >= now - cfg.retentionMs) break;
        if (s === this.active) this.roll(now);
        freed += this.dropFirst();
      }
    }
    if (cfg.retentionBytes >= 0) {
      while (this.segments.length > 1 && this.size - this.segments[0].size >= cfg.retentionBytes) {
        freed += this.dropFirst();
      }
    }
    return freed;
  }

  /** Deletes the oldest segment, rolling first if it is the only one; answers the bytes freed. */
  dropOldestSegment(): number {
    if (this.segments.length === 1) this.roll();
    return this.dropFirst();
  }

  /** Where the batch holding `offset` is: its segment and index, skipping holes; or undefined. */
  private locate(offset: number): { seg: Segment; i: number } | undefined {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid].base <= offset) lo = mid;
      else hi = mid - 1;
    }
    for (let s = lo; s < this.segments.length; s++) {
      const seg = this.segments[s];
      if (seg.count === 0) continue;
      if (offset < seg.next) return { seg, i: offset < seg.baseOf(0) ? 0 : seg.find(offset) };
    }
    return undefined;
  }

  /** True when `offset` can be fetched (it may equal the high watermark: nothing yet). */
  inRange(offset: number): boolean {
    return offset >= this.logStartOffset && offset <= this.nextOffset;
  }

  /** Bytes stored from the batch holding `offset` to the end. */
  bytesFrom(offset: number): number {
    if (offset >= this.nextOffset) return 0;
    const at = this.locate(offset);
    if (!at) return 0;
    return this.active.vstart + this.active.size - (at.seg.vstart + at.seg.position(at.i));
  }

  /**
   * Whole batches from the one holding `offset` (or the first after it, past a hole), up
   * to `maxBytes` and the end of its segment (at least one batch when `atLeastOne`, even if
   * it is larger).
   */
  read(offset: number, maxBytes: number, atLeastOne: boolean, limit?: number): LogRead {
    if (offset >= (limit ?? this.nextOffset)) return { chunks: [], bytes: 0 };
    const at = this.locate(offset);
    if (!at) return { chunks: [], bytes: 0 };
    const { seg } = at;
    let i = at.i;
    if (limit !== undefined && seg.baseOf(i) >= limit) return { chunks: [], bytes: 0 };
    const start = seg.position(i);
    let end = seg.end(i);
    if (end - start > maxBytes && !atLeastOne) return { chunks: [], bytes: 0 };
    if (limit === undefined) {
      while (i + 1 < seg.count && seg.end(i + 1) - start <= maxBytes) end = seg.end(++i);
    } else {
      // read_committed: only batches below the last stable offset.
      while (i + 1 < seg.count && seg.baseOf(i + 1) < limit && seg.end(i + 1) - start <= maxBytes) {
        end = seg.end(++i);
      }
    }
    return { chunks: seg.store.read(start, end - start), bytes: end - start };
  }

  /** The last stable offset: the high watermark, or the first offset of an open transaction. */
  get lastStableOffset(): number {
    return this.txns.ongoing.size ? this.txns.lastStableOffset(this.nextOffset) : this.nextOffset;
  }

  /**
   * Appends a transaction marker (a control batch, as Kafka's WriteTxnMarkers does) ending
   * `producerId`'s transaction here; answers its offset. Throws when it cannot be stored.
   */
  appendMarker(producerId: number, producerEpoch: number, type: number): number {
    const bytes = markerBatch(producerId, producerEpoch, type, this.now());
    const batches = splitBatches(bytes, { checkCrc: false }) as BatchInfo[];
    return this.append(bytes, batches);
  }

  /** The largest record timestamp in the log (-1 when empty). */
  get maxTimestamp(): number {
    let max = -1;
    for (const s of this.segments) if (s.count && s.maxTimestamp > max) max = s.maxTimestamp;
    return max;
  }

  /** The first offset whose batch has a timestamp >= `ts` (batch precision), or -1. */
  offsetForTimestamp(ts: number): { offset: number; timestamp: number } {
    for (const seg of this.segments) {
      if (seg.count && seg.maxTimestamp >= ts) {
        const hit = seg.firstAtOrAfter(ts);
        return { offset: Math.max(hit.offset, this.logStartOffset), timestamp: hit.timestamp };
      }
    }
    return { offset: -1, timestamp: -1 };
  }

  /** Makes every appended byte durable (and new segment files' directory entries). */
  async sync(): Promise<void> {
    if (this.dirDirty && this.env.dir) {
      this.dirDirty = false;
      await syncDirAsync(this.env.dir);
    }
    if (this.segments.length === 1) return this.active.store.sync();
    await Promise.all(this.segments.map((s) => s.store.sync()));
  }

  /** Forgets producers idle for `maxAgeMs`; answers how many. */
  expireProducers(now: number, maxAgeMs?: number): number {
    return this.producers.expire(now, maxAgeMs);
  }

  /** Wakes every waiter (used when the broker closes or the topic goes away). */
  wakeAll(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  /** Flushes and closes every segment (and writes the producer table beside them). */
  async close(): Promise<void> {
    this.wakeAll();
    try {
      this.writeSnapshot(false);
    } catch { /* rebuilt from the log on the next start */ }
    await Promise.all(this.segments.map((s) => s.store.close()));
  }

  /** Closes every segment without keeping anything (the topic is being deleted). */
  discard(): void {
    this.wakeAll();
    for (const s of this.segments) s.store.remove();
  }
}

/** One sentence about a region recovery cut (or would cut). */
export function describeCut(c: RecoveryCut): string {
  const bytes = c.end - c.start;
  const count = `${
    c.partialCount ? "at least " : ""
  }${c.records} record(s) in ${c.batches} batch(es)`;
  const offsets = c.offsetFloor > c.firstOffset
    ? `offsets ${c.firstOffset}–${c.offsetFloor - 1}`
    : `offsets from ${c.firstOffset}`;
  return `${c.file} has ${c.reason} at byte ${c.start}: ${bytes} byte(s), ${count}, ${offsets}${
    c.resumeOffset !== undefined ? `; valid batches resume at offset ${c.resumeOffset}` : ""
  }`;
}

/** Copies bytes [from, to) of `src` (to its end by default) into a new file `dest`. */
function copyRange(src: string, from: number, dest: string, to?: number): void {
  const s = Deno.openSync(src, { read: true });
  const d = Deno.openSync(dest, { write: true, create: true, truncate: true });
  try {
    const end = to ?? s.statSync().size;
    for (let pos = from; pos < end;) {
      const chunk = readAt(s, pos, Math.min(8 * 1024 * 1024, end - pos));
      if (chunk.byteLength === 0) break;
      writeAllSync(d, chunk);
      pos += chunk.byteLength;
    }
    d.syncDataSync();
  } finally {
    s.close();
    d.close();
  }
}

/**
 * One partition: its `LogStore` of raw batches plus a small in-memory index (base offset,
 * byte position and the running maximum of the batches' max timestamps, in typed arrays:
 * 24 bytes a batch), the high watermark, and the long-poll waiters Fetch registers to hear
 * about new data. Offset and timestamp lookups are binary searches.
 * @module
 */
import { ErrorCode } from "./error_codes.ts";
import type { BatchInfo } from "./record_batch.ts";
import { patchBatch } from "./record_batch.ts";
import { FileLogStore, type LogStore, MemoryLogStore, type ScanResult } from "./log_store.ts";

/** A read from the log: whole batches, as chunks. */
export interface LogRead {
  chunks: Uint8Array[];
  bytes: number;
}

/** A single partition's log and index. */
export class PartitionLog {
  /** Called (and cleared) whenever records are appended: Fetch long-polls wait here. */
  readonly waiters = new Set<() => void>();
  private bases = new Float64Array(16);
  private positions = new Float64Array(16);
  private maxTs = new Float64Array(16);
  private count = 0;
  /** The next offset to assign: the high watermark (and the last stable offset). */
  nextOffset = 0;
  /** The first offset in the log. */
  logStartOffset = 0;

  constructor(readonly topic: string, readonly partition: number, readonly store: LogStore) {}

  /** A partition kept in memory. */
  static memory(topic: string, partition: number): PartitionLog {
    return new PartitionLog(topic, partition, new MemoryLogStore());
  }

  /** A partition in the file at `path`, recovered by scanning it. */
  static openFile(
    topic: string,
    partition: number,
    path: string,
  ): { log: PartitionLog; scan: ScanResult } {
    const pending: { base: number; pos: number; ts: number; next: number }[] = [];
    let expected = -1;
    const { store, scan } = FileLogStore.open(path, (b) => {
      if (expected !== -1 && b.baseOffset !== expected) {
        return `an offset jump from ${expected} to ${b.baseOffset}`;
      }
      expected = b.baseOffset + b.lastOffsetDelta + 1;
      pending.push({ base: b.baseOffset, pos: b.position, ts: b.maxTimestamp, next: expected });
      return undefined;
    });
    const log = new PartitionLog(topic, partition, store);
    for (const p of pending) log.index(p.base, p.pos, p.ts);
    if (pending.length) {
      log.logStartOffset = pending[0].base;
      log.nextOffset = pending[pending.length - 1].next;
    }
    return { log, scan };
  }

  /** Batches in the index. */
  get batchCount(): number {
    return this.count;
  }

  private index(base: number, pos: number, ts: number): void {
    if (this.count === this.bases.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.bases = grow(this.bases);
      this.positions = grow(this.positions);
      this.maxTs = grow(this.maxTs);
    }
    this.bases[this.count] = base;
    this.positions[this.count] = pos;
    // A running maximum, so "the first batch with a timestamp >= t" is a binary search.
    this.maxTs[this.count] = this.count ? Math.max(this.maxTs[this.count - 1], ts) : ts;
    this.count++;
  }

  /**
   * Appends the produced `records` (already split into `batches` covering all of it),
   * assigning offsets in place. Returns the base offset of the first batch.
   */
  append(records: Uint8Array, batches: BatchInfo[]): number {
    const base = this.nextOffset;
    let next = base;
    for (const b of batches) {
      patchBatch(records, b.start, next);
      next += b.lastOffsetDelta + 1;
    }
    const at = this.store.size;
    this.store.append(records);
    next = base;
    for (const b of batches) {
      this.index(next, at + b.start, b.maxTimestamp);
      next += b.lastOffsetDelta + 1;
    }
    this.nextOffset = next;
    if (this.waiters.size) {
      const ws = [...this.waiters];
      this.waiters.clear();
      for (const w of ws) w();
    }
    return base;
  }

  /** Index of the batch holding `offset` (offset must be in [logStart, nextOffset)). */
  private find(offset: number): number {
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.bases[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private end(i: number): number {
    return i + 1 < this.count ? this.positions[i + 1] : this.store.size;
  }

  /** True when `offset` can be fetched (it may equal the high watermark: nothing yet). */
  inRange(offset: number): boolean {
    return offset >= this.logStartOffset && offset <= this.nextOffset;
  }

  /** Bytes stored from the batch holding `offset` to the end. */
  bytesFrom(offset: number): number {
    if (offset >= this.nextOffset || this.count === 0) return 0;
    return this.store.size - this.positions[this.find(offset)];
  }

  /**
   * Whole batches from the one holding `offset`, up to `maxBytes` (at least one batch
   * when `atLeastOne`, even if it is larger).
   */
  read(offset: number, maxBytes: number, atLeastOne: boolean): LogRead {
    if (offset >= this.nextOffset || this.count === 0) return { chunks: [], bytes: 0 };
    const first = this.find(offset);
    const start = this.positions[first];
    let i = first;
    let end = this.end(i);
    if (end - start > maxBytes && !atLeastOne) return { chunks: [], bytes: 0 };
    while (i + 1 < this.count && this.end(i + 1) - start <= maxBytes) end = this.end(++i);
    return { chunks: this.store.read(start, end - start), bytes: end - start };
  }

  /** The largest record timestamp in the log (-1 when empty). */
  get maxTimestamp(): number {
    return this.count ? this.maxTs[this.count - 1] : -1;
  }

  /** The first offset whose batch has a timestamp >= `ts` (batch precision), or -1. */
  offsetForTimestamp(ts: number): { offset: number; timestamp: number } {
    if (this.count === 0 || this.maxTs[this.count - 1] < ts) return { offset: -1, timestamp: -1 };
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.maxTs[mid] >= ts) hi = mid;
      else lo = mid + 1;
    }
    // Where the running maximum first reaches ts, it is that batch's own max timestamp.
    return { offset: Math.max(this.bases[lo], this.logStartOffset), timestamp: this.maxTs[lo] };
  }

  /**
   * Moves the log start offset to `offset` (-1: the high watermark), for DeleteRecords;
   * records before it are no longer served. Answers the new log start offset, or
   * OFFSET_OUT_OF_RANGE for an offset past the high watermark.
   */
  deleteRecordsBefore(offset: number): { logStartOffset: number } | { error: number } {
    const to = offset === -1 ? this.nextOffset : offset;
    if (to < 0 || to > this.nextOffset) return { error: ErrorCode.OFFSET_OUT_OF_RANGE };
    if (to > this.logStartOffset) this.logStartOffset = to;
    return { logStartOffset: this.logStartOffset };
  }

  /** Wakes every waiter (used when the broker closes or the topic goes away). */
  wakeAll(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }
}

/**
 * The transactions of one partition, as Fetch and the last stable offset need them: the
 * first offset of each producer's open transaction (the last stable offset is the lowest
 * of them, or the high watermark when none is open) and the aborted transactions
 * (producer id, first offset, offset of the abort marker), oldest first, which Fetch hands
 * to read_committed consumers so they skip those records (Kafka keeps them in .txnindex
 * files; here they are rebuilt from the batch headers the start-up scan reads anyway).
 * @module
 */
import { ABORT_MARKER, CONTROL_FLAG, TRANSACTIONAL_FLAG } from "./record_batch.ts";

/** One aborted transaction in a partition. */
export interface AbortedTxn {
  producerId: number;
  firstOffset: number;
  /** The offset of its abort marker. */
  lastOffset: number;
}

/** Open and aborted transactions of one partition. */
export class PartitionTxns {
  /** Producer id → the first offset of its open transaction. */
  readonly ongoing = new Map<number, number>();
  /** Aborted transactions, by marker offset (ascending). */
  aborted: AbortedTxn[] = [];

  /** Notes a batch appended (or found on start) at `baseOffset`. */
  onBatch(
    producerId: number,
    attributes: number,
    baseOffset: number,
    controlType: number,
  ): void {
    if (attributes & CONTROL_FLAG) {
      const first = this.ongoing.get(producerId);
      this.ongoing.delete(producerId);
      if (controlType === ABORT_MARKER && first !== undefined) {
        this.aborted.push({ producerId, firstOffset: first, lastOffset: baseOffset });
      }
    } else if (attributes & TRANSACTIONAL_FLAG && !this.ongoing.has(producerId)) {
      this.ongoing.set(producerId, baseOffset);
    }
  }

  /** The last stable offset: below it every transaction is decided. */
  lastStableOffset(highWatermark: number): number {
    let lso = highWatermark;
    for (const first of this.ongoing.values()) if (first < lso) lso = first;
    return lso;
  }

  /** The aborted transactions overlapping offsets [from, to), as Fetch returns them. */
  abortedIn(from: number, to: number): { producerId: number; firstOffset: number }[] {
    const a = this.aborted;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid].lastOffset < from) lo = mid + 1;
      else hi = mid;
    }
    const out: { producerId: number; firstOffset: number }[] = [];
    for (let i = lo; i < a.length; i++) {
      if (a[i].firstOffset < to) {
        out.push({ producerId: a[i].producerId, firstOffset: a[i].firstOffset });
      }
    }
    return out;
  }

  /** Forgets aborted transactions wholly below the log start offset. */
  prune(logStartOffset: number): void {
    let n = 0;
    while (n < this.aborted.length && this.aborted[n].lastOffset < logStartOffset) n++;
    if (n) this.aborted = this.aborted.slice(n);
  }
}

/**
 * Time-based rotation (the S3 connector's `rotate.interval.ms`): a partition whose oldest
 * buffered record has waited the interval is cut and landed even below flush size, so a quiet
 * partition's tail reaches the lake. One tick at a time: while a tick waits out a lake
 * outage, the next one does not start.
 * @module
 */
import type { Clock } from "./lake_retry.ts";
import type { PartitionWriter } from "./partition_writer.ts";

/** Lands partitions whose buffer is older than the interval. */
export class Rotation {
  constructor(
    readonly intervalMs: number,
    private clock: Clock,
    /** The partitions this member may write now. */
    private writers: () => Iterable<PartitionWriter>,
    /** Cuts and lands one partition (under its lock, if still due). */
    private land: (w: PartitionWriter, now: number) => Promise<void>,
  ) {}

  /** How often the loop looks: a quarter of the interval, between 10 ms and 1 s. */
  get everyMs(): number {
    return Math.max(10, Math.min(1000, Math.floor(this.intervalMs / 4)));
  }

  /** Lands every partition that is due now; resolves when they are landed (or failed). */
  async tick(): Promise<void> {
    const now = this.clock.now();
    const due = [...this.writers()].filter((w) => w.rotateDue(now, this.intervalMs));
    await Promise.all(due.map((w) => this.land(w, now)));
  }

  /** Ticks until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.intervalMs <= 0) return;
    while (!signal.aborted) {
      try {
        await this.clock.sleep(this.everyMs, signal);
      } catch {
        return;
      }
      await this.tick();
    }
  }
}

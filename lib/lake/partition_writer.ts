/**
 * One partition's share of the sink: the records read and not yet in the lake, where they
 * are cut into objects, the writes, and the offset that may be committed. See the header of
 * `sink.ts` for why this gives exactly-once output; the rules that matter here:
 *
 * - `durable` moves only when a write of cut objects succeeded, and only past them, in
 *   offset order; the offset committed is never above it. A failed write keeps its objects
 *   (`unwritten`), so the next attempt writes the same keys with the same bytes, and nothing
 *   read after them can be committed first.
 * - A batch that starts below the offset expected (a rejoin re-reads from the commit, a
 *   repeated fetch) drops what the writer holds from that offset on and lists the lake for
 *   objects at or after it: their start offsets become mandatory cut points, so the replay
 *   overwrites each of them under its own key.
 * @module
 */
import { Buffer } from "node:buffer";
import { objectKey, parseObjectKey, QUARANTINE_DIR, TOPICS_DIR } from "./lake.ts";
import type { Lake } from "./lake.ts";
import { LakeFailed } from "./lake_retry.ts";
import type { Clock, LakeCallContext, LakeRetry } from "./lake_retry.ts";
import type { SinkMessage } from "./sink_consumer.ts";

/** One record read, as it will be written. */
export interface Buffered {
  offset: number;
  /** The record as one JSON line, or undefined when it is quarantined. */
  line?: string;
  bad?: Quarantined;
}

/** What `quarantine/` holds for a record whose value is not JSON. */
export interface Quarantined {
  topic: string;
  partition: number;
  offset: number;
  timestamp: string;
  key: string | null;
  value: string | null;
  value_base64: string | null;
  reason: string;
}

/** Objects cut from a run of records, written together before anything after them. */
interface Segment {
  /**
   * The records' offsets. Not the records: they are in the bodies, and keeping both alive
   * until the write is done costs the sink ~40 MB more peak memory (strings that outlive a
   * young-generation GC); a rewind that needs them back rebuilds them (`uncut`).
   */
  offsets: Float64Array;
  objects: { key: string; body: Uint8Array }[];
  /** The offset after the last record: durable once the segment is written. */
  end: number;
}

/** The sink's running figures, which writers add to. */
export interface Tally {
  /** Records read and held or landed (dropped ones are taken off again). */
  records: number;
  objects: number;
  bytes: number;
  quarantined: number;
}

/** What a writer needs from the sink. */
export interface WriterDeps {
  lake: Lake;
  retry: LakeRetry;
  clock: Clock;
  /** Records per object (`flush.size`). */
  flushSize: number;
  tally: Tally;
  log: (line: string) => void;
}

/** Objects written by one `putMany` (a long write heartbeats while it is in flight). */
const WRITE_CHUNK = 1024;

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** One partition's buffer, cuts, writes and commit point. */
export class PartitionWriter {
  readonly id: string;
  /** Offset expected next; -1 before the first batch of a generation. */
  next = -1;
  /** Every record below this offset is durable in the lake; -1 while unknown. */
  durable = -1;
  /** What this member last committed (or found committed) for the partition. */
  committed = -1;
  /** The log end as the last batch saw it. */
  high = 0;
  /** When the oldest buffered record was read (for rotation). */
  openedAt = 0;
  /** Set when a write failed for good: nothing more is written or committed here. */
  failed?: Error;
  /** Records read, not yet cut. */
  private buf: Buffered[] = [];
  /** Cut, not yet durable, in offset order; a failed write keeps them. */
  private unwritten: Segment[] = [];
  /** Start offsets of objects already in the lake past the resume point: mandatory cuts. */
  private forced: number[] = [];
  /** Set by a rewind until the lake has been listed from this offset (see `listOrphans`). */
  private listFrom?: number;
  private lock: Promise<unknown> = Promise.resolve();

  constructor(readonly topic: string, readonly partition: number, private deps: WriterDeps) {
    this.id = `${topic}:${partition}`;
  }

  /** `topic[partition]`, for messages. */
  get name(): string {
    return `${this.topic}[${this.partition}]`;
  }

  /** Runs `fn` after everything queued on this partition: its reads, writes, commits in order. */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.lock.then(fn);
    this.lock = p.catch(() => {});
    return p;
  }

  /** Records read and not yet durable (buffered or cut). */
  get pending(): number {
    let n = this.buf.length;
    for (const s of this.unwritten) n += s.offsets.length;
    return n;
  }

  /** True when the oldest buffered record has waited `intervalMs`. */
  rotateDue(now: number, intervalMs: number): boolean {
    return this.buf.length > 0 && now - this.openedAt >= intervalMs;
  }

  /** Takes a batch's records in order: rewinds when one is below `next`, cuts by size. */
  async take(messages: SinkMessage[], ctx: LakeCallContext = {}): Promise<void> {
    for (const m of messages) {
      const off = Number(m.offset);
      // Fetched again within one generation (a repeated or overlapping fetch): what is
      // durable was landed by this writer already, and nobody else wrote it.
      if (this.next >= 0 && off < this.durable) continue;
      if (this.next < 0 || off < this.next) this.rewind(off);
      // Before anything past the resume point is cut; if the listing failed, the next batch
      // tries it again.
      if (this.listFrom !== undefined) await this.listOrphans(ctx);
      if (this.forced.length && off >= this.forced[0]) {
        this.cut();
        while (this.forced.length && this.forced[0] <= off) this.forced.shift();
      }
      if (!this.buf.length) this.openedAt = this.deps.clock.now();
      this.buf.push(toBuffered(this.topic, this.partition, m));
      this.next = off + 1;
      this.deps.tally.records++;
      if (this.buf.length >= this.deps.flushSize) this.cut();
    }
  }

  /** Cuts the buffer into objects; they are written, in order, by `write`. */
  cut(): void {
    if (!this.buf.length) return;
    const records = this.buf;
    this.buf = [];
    const objects: { key: string; body: Uint8Array }[] = [];
    const lines: string[] = [];
    let first = -1;
    for (const b of records) {
      if (b.line !== undefined) {
        if (first < 0) first = b.offset;
        lines.push(b.line);
      } else if (b.bad) {
        objects.push({
          key: objectKey(this.topic, this.partition, b.offset, QUARANTINE_DIR),
          body: encoder.encode(`${JSON.stringify(b.bad)}\n`),
        });
      }
    }
    if (first >= 0) {
      objects.push({
        key: objectKey(this.topic, this.partition, first),
        body: encoder.encode(`${lines.join("\n")}\n`),
      });
    }
    const offsets = new Float64Array(records.length);
    for (let i = 0; i < records.length; i++) offsets[i] = records[i].offset;
    this.unwritten.push({ offsets, objects, end: records[records.length - 1].offset + 1 });
  }

  /**
   * Writes what was cut, in order, retrying through outages (see `LakeRetry`); `durable`
   * moves past each chunk once it is written. A failure leaves the rest cut and unwritten;
   * one that is final (`LakeFailed`) also marks the writer failed.
   */
  async write(ctx: LakeCallContext = {}): Promise<void> {
    if (this.failed) throw this.failed;
    while (this.unwritten.length) {
      let n = 0;
      let count = 0;
      while (
        n < this.unwritten.length &&
        (n === 0 || count + this.unwritten[n].objects.length <= WRITE_CHUNK)
      ) {
        count += this.unwritten[n++].objects.length;
      }
      const segments = this.unwritten.slice(0, n);
      const objects = segments.flatMap((s) => s.objects);
      try {
        if (objects.length) {
          await this.deps.retry.run(
            () =>
              `write ${
                objects.length === 1 ? `"${objects[0].key}"` : `${objects.length} objects`
              } to the lake "${this.deps.lake.url}"`,
            () => this.deps.lake.putMany(objects),
            ctx,
          );
        }
      } catch (err) {
        if (err instanceof LakeFailed) this.failed = err;
        throw err;
      }
      this.unwritten.splice(0, n);
      const t = this.deps.tally;
      for (const s of segments) {
        this.durable = s.end;
        for (const o of s.objects) {
          t.bytes += o.body.length;
          if (o.key.startsWith(`${QUARANTINE_DIR}/`)) t.quarantined++;
          else t.objects++;
        }
      }
    }
  }

  /**
   * The offset to commit now, if it moved: the durable point (also after a write failed for
   * good: what lies below it is in the lake).
   */
  commitPoint(): number | undefined {
    return this.durable > this.committed ? this.durable : undefined;
  }

  /**
   * Forgets everything but the lake and its own last commit: after a group join the
   * partition is read again from the group's commit (or is another member's now), and
   * another member may have written it meanwhile, so this writer's own idea of what is
   * durable no longer counts. `committed` stays: the group's commit only moves on from it,
   * and a drained partition gets no batch to learn it from again.
   */
  reset(): void {
    this.deps.tally.records -= this.pending;
    this.buf = [];
    this.unwritten = [];
    this.forced = [];
    this.listFrom = undefined;
    this.next = -1;
    this.durable = -1;
  }

  /**
   * Starts (the first batch of a generation) or resumes at `off`, below what was expected
   * but not below `durable`: whatever is held from `off` on is dropped (a segment that
   * straddles it goes back to the buffer, cut short), and the lake's objects at or after
   * `off` become cut points (listed before the next record is taken), so a replay
   * overwrites any object a write left there, acknowledged or not.
   */
  private rewind(off: number): void {
    if (this.next >= 0) {
      this.deps.log(`sink: ${this.name} rewound to ${off}; re-reading`);
    }
    let dropped = 0;
    const keep: Segment[] = [];
    let head: Buffered[] = [];
    for (const s of this.unwritten) {
      if (s.end <= off) {
        keep.push(s);
      } else {
        const before = s.offsets.findIndex((o) => o >= off);
        if (before > 0) head = uncut(s, before);
        dropped += s.offsets.length - Math.max(0, before);
      }
    }
    const kept = head.length ? head : this.buf.filter((b) => b.offset < off);
    dropped += this.buf.length - (head.length ? 0 : kept.length);
    this.unwritten = keep;
    this.buf = kept;
    this.deps.tally.records -= dropped;
    if (this.durable < 0) this.durable = off;
    if (this.committed < 0) this.committed = off;
    this.next = off;
    this.forced = [];
    this.listFrom = off;
  }

  /** Makes the start offsets of this partition's objects at or after `listFrom` cut points. */
  private async listOrphans(ctx: LakeCallContext): Promise<void> {
    const from = this.listFrom!;
    const { lake, retry } = this.deps;
    const dir = `${TOPICS_DIR}/${this.topic}/partition=${this.partition}/`;
    // This member now holds the partition: nobody else writes these keys any more.
    for (const d of [dir, `${QUARANTINE_DIR}/${this.topic}/partition=${this.partition}/`]) {
      if (lake.removeTemps) {
        await retry.run(
          () => `remove temp files under "${d}" in the lake "${lake.url}"`,
          () => lake.removeTemps!(d),
          ctx,
        );
      }
    }
    const starts = await retry.run(
      () => `list "${dir}" in the lake "${lake.url}"`,
      async () => {
        const found: number[] = [];
        for await (const o of lake.list(dir)) {
          const k = parseObjectKey(o.key);
          if (
            k && k.topic === this.topic && k.partition === this.partition &&
            k.startOffset >= from
          ) {
            found.push(k.startOffset);
          }
        }
        return found;
      },
      ctx,
    );
    if (starts.length) {
      this.deps.log(
        `sink: ${this.name} resumes at ${from}; ${starts.length} object(s) from an earlier run will be rewritten at the same offsets`,
      );
    }
    this.forced = starts.sort((a, b) => a - b);
    this.listFrom = undefined;
  }
}

/** The first `n` records of a segment, back from its objects. */
function uncut(s: Segment, n: number): Buffered[] {
  const bad = new Map<number, Quarantined>();
  let lines: string[] = [];
  for (const o of s.objects) {
    const text = decoder.decode(o.body);
    if (o.key.startsWith(`${QUARANTINE_DIR}/`)) {
      const q = JSON.parse(text) as Quarantined;
      bad.set(q.offset, q);
    } else {
      lines = text.slice(0, -1).split("\n");
    }
  }
  const out: Buffered[] = [];
  let line = 0;
  for (let i = 0; i < n; i++) {
    const offset = s.offsets[i];
    const q = bad.get(offset);
    out.push(q ? { offset, bad: q } : { offset, line: lines[line++] });
  }
  return out;
}

/** The record as a JSON line, or a quarantine entry when its value is not JSON. */
export function toBuffered(topic: string, partition: number, m: SinkMessage): Buffered {
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

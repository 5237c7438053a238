/**
 * Committed consumer-group offsets, in memory and (with a data dir) in `offsets.log`: an
 * append log of entries framed as `length u32 | CRC-32C u32 | JSON`, replayed on start.
 * A torn or corrupt tail is cut off; the file is rewritten compactly when most of its
 * entries are superseded.
 * @module
 */
import { join } from "node:path";
import { crc32c } from "./crc32c.ts";

/** One committed offset. */
export interface CommittedOffset {
  offset: number;
  metadata: string | null;
  /** When it was committed (ms since the epoch). */
  timestamp: number;
}

type Entry =
  | { g: string; t: string; p: number; o: number; m: string | null; ts: number }
  | { deleteTopic: string }
  | { deleteGroup: string }
  | { deleteOffsets: string; t: string; p: number[] };

const ENC = new TextEncoder();
const DEC = new TextDecoder();

function frameEntries(entries: Entry[]): Uint8Array {
  const bodies = entries.map((e) => ENC.encode(JSON.stringify(e)));
  const out = new Uint8Array(bodies.reduce((n, b) => n + 8 + b.byteLength, 0));
  const v = new DataView(out.buffer);
  let at = 0;
  for (const b of bodies) {
    v.setUint32(at, b.byteLength);
    v.setUint32(at + 4, crc32c(b));
    out.set(b, at + 8);
    at += 8 + b.byteLength;
  }
  return out;
}

/** Committed offsets by group, topic and partition. */
export class OffsetStore {
  private groups = new Map<string, Map<string, Map<number, CommittedOffset>>>();
  private file: Deno.FsFile | undefined;
  private entries = 0;
  private dirty = false;
  private syncing: Promise<void> | null = null;

  private constructor(private readonly path: string | undefined) {}

  /** Opens the store: empty in memory, or replayed from `<dataDir>/offsets.log`. */
  static open(dataDir: string | undefined, log: (line: string) => void): OffsetStore {
    if (!dataDir) return new OffsetStore(undefined);
    const path = join(dataDir, "offsets.log");
    const store = new OffsetStore(path);
    let data: Uint8Array;
    try {
      data = Deno.readFileSync(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      data = new Uint8Array(0);
    }
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let at = 0;
    let reason = "";
    while (at < data.byteLength) {
      if (at + 8 > data.byteLength) {
        reason = "a torn entry header";
        break;
      }
      const len = v.getUint32(at);
      if (at + 8 + len > data.byteLength) {
        reason = "a torn entry";
        break;
      }
      const body = data.subarray(at + 8, at + 8 + len);
      if (crc32c(body) !== v.getUint32(at + 4)) {
        reason = "an entry failing its CRC-32C check";
        break;
      }
      try {
        store.apply(JSON.parse(DEC.decode(body)) as Entry);
      } catch {
        reason = "an unreadable entry";
        break;
      }
      store.entries++;
      at += 8 + len;
    }
    if (at < data.byteLength) {
      log(`recovered offsets.log: cut ${data.byteLength - at} bytes after ${reason}`);
    }
    store.file = Deno.openSync(path, { read: true, write: true, create: true });
    store.file.truncateSync(at);
    store.file.seekSync(at, Deno.SeekMode.Start);
    if (store.entries > 1000 && store.entries > 4 * store.liveCount()) store.compact();
    return store;
  }

  private apply(e: Entry): void {
    if ("deleteTopic" in e) {
      for (const topics of this.groups.values()) topics.delete(e.deleteTopic);
      return;
    }
    if ("deleteGroup" in e) {
      this.groups.delete(e.deleteGroup);
      return;
    }
    if ("deleteOffsets" in e) {
      const topics = this.groups.get(e.deleteOffsets);
      const parts = topics?.get(e.t);
      for (const p of e.p) parts?.delete(p);
      if (parts?.size === 0) topics!.delete(e.t);
      if (topics?.size === 0) this.groups.delete(e.deleteOffsets);
      return;
    }
    let topics = this.groups.get(e.g);
    if (!topics) this.groups.set(e.g, topics = new Map());
    let parts = topics.get(e.t);
    if (!parts) topics.set(e.t, parts = new Map());
    parts.set(e.p, { offset: e.o, metadata: e.m, timestamp: e.ts });
  }

  private liveCount(): number {
    let n = 0;
    for (const topics of this.groups.values()) {
      for (const parts of topics.values()) n += parts.size;
    }
    return n;
  }

  private write(entries: Entry[]): void {
    if (!this.file) return;
    const bytes = frameEntries(entries);
    let done = 0;
    while (done < bytes.byteLength) done += this.file.writeSync(bytes.subarray(done));
    this.entries += entries.length;
    this.dirty = true;
    if (this.entries > 10_000 && this.entries > 4 * this.liveCount()) this.compact();
  }

  /** Rewrites the log with one entry per live offset (temp file, fsync, rename). */
  private compact(): void {
    if (this.syncing) return; // never close the file under a running fdatasync; next time
    const live: Entry[] = [];
    for (const [g, topics] of this.groups) {
      for (const [t, parts] of topics) {
        for (const [p, c] of parts) {
          live.push({ g, t, p, o: c.offset, m: c.metadata, ts: c.timestamp });
        }
      }
    }
    const tmp = `${this.path}.tmp`;
    const bytes = frameEntries(live);
    Deno.writeFileSync(tmp, bytes);
    const f = Deno.openSync(tmp, { read: true, write: true });
    f.syncDataSync();
    f.close();
    this.file?.close();
    Deno.renameSync(tmp, this.path!);
    this.file = Deno.openSync(this.path!, { read: true, write: true });
    this.file.seekSync(0, Deno.SeekMode.End);
    this.entries = live.length;
  }

  /** Stores the offsets of one commit request (one write to the log). */
  commit(
    group: string,
    offsets: { topic: string; partition: number; offset: number; metadata: string | null }[],
    now = Date.now(),
  ): void {
    const entries: Entry[] = offsets.map((o) => ({
      g: group,
      t: o.topic,
      p: o.partition,
      o: o.offset,
      m: o.metadata,
      ts: now,
    }));
    this.write(entries);
    for (const e of entries) this.apply(e);
  }

  /** The committed offset of a group for one partition. */
  get(group: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(group)?.get(topic)?.get(partition);
  }

  /** Every committed offset of a group, by topic. */
  forGroup(group: string): Map<string, Map<number, CommittedOffset>> {
    return this.groups.get(group) ?? new Map();
  }

  /** Groups that have committed offsets. */
  groupIds(): string[] {
    return [...this.groups.entries()].filter(([, t]) => t.size > 0).map(([g]) => g);
  }

  /** Forgets every group's offsets for a deleted topic. */
  deleteTopic(topic: string): void {
    const e: Entry = { deleteTopic: topic };
    this.write([e]);
    this.apply(e);
  }

  /** Forgets every offset a group committed. */
  deleteGroup(group: string): void {
    const e: Entry = { deleteGroup: group };
    this.write([e]);
    this.apply(e);
  }

  /** Forgets a group's offsets for some partitions of one topic (OffsetDelete). */
  deletePartitions(group: string, topic: string, partitions: number[]): void {
    const e: Entry = { deleteOffsets: group, t: topic, p: partitions };
    this.write([e]);
    this.apply(e);
  }

  /** fdatasyncs the log if it has unsynced entries. */
  sync(): Promise<void> {
    if (this.syncing) return this.syncing.then(() => this.sync());
    if (!this.file || !this.dirty) return Promise.resolve();
    this.dirty = false;
    this.syncing = this.file.syncData().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  /** Syncs and closes the log. */
  async close(): Promise<void> {
    await this.sync().catch(() => {});
    this.file?.close();
    this.file = undefined;
  }
}

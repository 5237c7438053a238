/**
 * Committed consumer-group offsets, in memory and (with a data dir) in `offsets.log`: an
 * append log of entries framed as `length u32 | CRC-32C u32 | JSON`, replayed on start.
 * A torn last entry is cut off. A damaged entry that one changed byte explains (length,
 * CRC or body) is repaired, losslessly; one that cannot be is skipped, loudly, naming the
 * commit it held and whether a later one supersedes it (a damaged entry never moves a
 * committed offset back silently), its bytes kept in `corrupt/`. The file is rewritten
 * compactly when most of its entries are superseded.
 * @module
 */
import { join } from "node:path";
import { crc32c } from "./crc32c.ts";
import { writeFileAtomicSync } from "./log_store.ts";

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
const DEC_STRICT = new TextDecoder("utf-8", { fatal: true });

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

/** How OffsetStore.open treats damage and failures. */
export interface OffsetStoreOptions {
  /** "refuse" makes damage before the last entry an error instead of a cut (default "truncate"). */
  onCorruption?: "truncate" | "refuse";
  /** Lines about lost or damaged commits (default: the ordinary logger). */
  warn?: (line: string) => void;
  /** Test hook: throwing fails the write (see log_store.ts). */
  fault?: (path: string) => void;
}

/** Longest entry a scan accepts; a length field claiming more is damage. */
const MAX_ENTRY = 16 * 1024 * 1024;

/** One readable entry of offsets.log, with where it was. */
interface Framed {
  at: number;
  len: number;
  entry: Entry;
}

/** The entry framed at `at` in `data`, if its length, CRC-32C and JSON are all good. */
function entryAt(data: Uint8Array, v: DataView, at: number): Framed | undefined {
  if (at + 8 > data.byteLength) return undefined;
  const len = v.getUint32(at);
  if (len < 2 || len > MAX_ENTRY || at + 8 + len > data.byteLength) return undefined;
  const body = data.subarray(at + 8, at + 8 + len);
  if (crc32c(body) !== v.getUint32(at + 4)) return undefined;
  try {
    const entry = JSON.parse(DEC.decode(body)) as Entry;
    return entry && typeof entry === "object" ? { at, len, entry } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The entry framed at [at, end) restored, when one damaged byte explains it: the length
 * field (the CRC matches the bytes up to the next entry), the CRC field (it differs from
 * the computed one in one byte), or one byte of a short body (the one change that makes
 * the CRC match). Undefined when none does.
 */
function repairEntry(
  data: Uint8Array,
  v: DataView,
  at: number,
  end: number,
): { entry: Entry; how: string } | undefined {
  if (at + 8 >= end) return undefined;
  const len = v.getUint32(at);
  const stored = v.getUint32(at + 4);
  const parse = (body: Uint8Array): Entry | undefined => {
    try {
      const e = JSON.parse(DEC_STRICT.decode(body));
      return e && typeof e === "object" ? e as Entry : undefined;
    } catch {
      return undefined;
    }
  };
  const body = data.slice(at + 8, end);
  const crc = crc32c(body);
  if (crc === stored && len !== body.byteLength) {
    const e = parse(body);
    if (e) return { entry: e, how: `the length field (${len} → ${body.byteLength})` };
  }
  if (len !== body.byteLength) return undefined;
  let diff = 0;
  for (let s = 0; s < 32; s += 8) if (((crc >>> s) & 0xff) !== ((stored >>> s) & 0xff)) diff++;
  if (diff === 1) {
    const e = parse(body);
    if (e) return { entry: e, how: "the CRC field" };
  }
  if (body.byteLength > 2048) return undefined;
  for (let i = 0; i < body.byteLength; i++) {
    const orig = body[i];
    for (let d = 1; d < 256; d++) {
      body[i] = orig ^ d;
      if (crc32c(body) === stored) {
        const e = parse(body);
        if (e) return { entry: e, how: `byte ${at + 8 + i}` };
      }
    }
    body[i] = orig;
  }
  return undefined;
}

/** The group, topic and partition a damaged entry seems to be about (its text, read loosely). */
function guessKey(bytes: Uint8Array): string | undefined {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  const m = /"g":"([^"]*)","t":"([^"]*)","p":(\d+)/.exec(text);
  return m ? `${m[1]}\u0000${m[2]}\u0000${m[3]}` : undefined;
}

/** Committed offsets by group, topic and partition. */
export class OffsetStore {
  private groups = new Map<string, Map<string, Map<number, CommittedOffset>>>();
  private file: Deno.FsFile | undefined;
  private size = 0;
  private entries = 0;
  private dirty = false;
  private syncing: Promise<void> | null = null;

  private constructor(
    private readonly path: string | undefined,
    private readonly fault?: (path: string) => void,
  ) {}

  /**
   * Opens the store: empty in memory, or replayed from `<dataDir>/offsets.log`. A damaged
   * entry is skipped (the entries after it still count), said loudly with the group and
   * partition it was about, and its bytes kept in `<dataDir>/corrupt/`; with
   * `onCorruption: "refuse"` it is an error instead. A torn last entry is cut.
   */
  static open(
    dataDir: string | undefined,
    log: (line: string) => void,
    opts: OffsetStoreOptions = {},
  ): OffsetStore {
    if (!dataDir) return new OffsetStore(undefined);
    const warn = opts.warn ?? log;
    const path = join(dataDir, "offsets.log");
    const store = new OffsetStore(path, opts.fault);
    let data: Uint8Array;
    try {
      data = Deno.readFileSync(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      data = new Uint8Array(0);
    }
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const kept: Framed[] = [];
    const damaged: { at: number; end: number; key?: string }[] = [];
    const repaired: string[] = [];
    let at = 0;
    let tornAt = -1;
    while (at < data.byteLength) {
      const f = entryAt(data, v, at);
      if (f) {
        kept.push(f);
        at += 8 + f.len;
        continue;
      }
      // Find where readable entries start again.
      let q = at + 1;
      while (q < data.byteLength && !entryAt(data, v, q)) q++;
      const fixed = repairEntry(data, v, at, q);
      if (fixed) {
        kept.push({ at, len: q - at - 8, entry: fixed.entry });
        repaired.push(`${fixed.how} of the entry at byte ${at}`);
        at = q;
        continue;
      }
      if (q >= data.byteLength) {
        const len = at + 8 <= data.byteLength ? v.getUint32(at) : 0;
        if (at + 8 > data.byteLength || (len <= MAX_ENTRY && at + 8 + len > data.byteLength)) {
          tornAt = at; // the last write was cut short: nothing was acknowledged for it
          break;
        }
      }
      damaged.push({ at, end: q, key: guessKey(data.subarray(at, q)) });
      at = q;
    }
    if (damaged.length && opts.onCorruption === "refuse") {
      const d = damaged[0];
      throw new Error(
        `Cannot open ${path}: ${damaged.length} damaged region(s), the first at byte ${d.at} ` +
          `(${d.end - d.at} bytes), with commits after it; the broker refuses to start ` +
          `(--on-corruption refuse): start with --on-corruption truncate to skip the damaged ` +
          `entries (their bytes are kept in a side file)`,
      );
    }
    for (const f of kept) {
      store.apply(f.entry);
      store.entries++;
    }
    if (damaged.length) {
      const saved = store.quarantine(dataDir, data, damaged);
      const latest = new Map<string, number>();
      for (const f of kept) {
        const e = f.entry;
        if ("g" in e) latest.set(`${e.g}\u0000${e.t}\u0000${e.p}`, f.at);
      }
      for (const d of damaged) {
        const what = `WARNING: offsets.log: skipped ${
          d.end - d.at
        } damaged byte(s) at byte ${d.at}`;
        if (!d.key) {
          warn(
            `${what}; which group's commit they held cannot be read, so a group may resume ` +
              `from an earlier offset${saved}`,
          );
          continue;
        }
        const [g, t, p] = d.key.split("\u0000");
        const after = (latest.get(d.key) ?? -1) > d.at;
        const now = store.get(g, t, Number(p));
        warn(
          `${what}: a commit of group "${g}" for ${t}-${p}; ${
            after
              ? "a later commit of the same partition is intact, so nothing is lost"
              : now
              ? `the group goes back to its previous commit, offset ${now.offset}, and will ` +
                `re-read from there`
              : "the group has no other commit for it and will start by its reset policy"
          }${saved}`,
        );
      }
    }
    for (const r of repaired) warn(`offsets.log: repaired ${r}; no commit was lost`);
    const end = tornAt >= 0 ? tornAt : data.byteLength;
    if (tornAt >= 0) {
      log(`recovered offsets.log: cut a torn last entry (${data.byteLength - tornAt} bytes)`);
    }
    store.file = Deno.openSync(path, { read: true, write: true, create: true });
    store.size = end;
    if (damaged.length || repaired.length) {
      store.compact(); // rewrite without the damaged bytes
    } else {
      store.file.truncateSync(end);
      store.file.seekSync(end, Deno.SeekMode.Start);
      if (store.entries > 1000 && store.entries > 4 * store.liveCount()) store.compact();
    }
    return store;
  }

  /** Keeps damaged regions of offsets.log in a side file; answers a note for the log line. */
  private quarantine(
    dataDir: string,
    data: Uint8Array,
    damaged: { at: number; end: number }[],
  ): string {
    try {
      const dir = join(dataDir, "corrupt");
      Deno.mkdirSync(dir, { recursive: true });
      const out = join(dir, `offsets.log-${new Date().toISOString().replace(/[:.]/g, "-")}.bin`);
      const parts = damaged.map((d) => data.subarray(d.at, d.end));
      const all = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
      let k = 0;
      for (const p of parts) {
        all.set(p, k);
        k += p.byteLength;
      }
      Deno.writeFileSync(out, all);
      return ` (the damaged bytes are kept in ${out})`;
    } catch {
      return " (the damaged bytes could NOT be saved)";
    }
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

  /** Appends entries; a failed write is cut back off and thrown (nothing half-written stays). */
  private write(entries: Entry[]): void {
    if (!this.file) return;
    const bytes = frameEntries(entries);
    try {
      this.fault?.(this.path!);
      this.file.seekSync(this.size, Deno.SeekMode.Start);
      let done = 0;
      while (done < bytes.byteLength) done += this.file.writeSync(bytes.subarray(done));
    } catch (err) {
      try {
        this.file.truncateSync(this.size);
      } catch { /* the scan on the next start cuts it instead */ }
      throw new Error(`Cannot write ${entries.length} commit(s) to "${this.path}"`, {
        cause: err,
      });
    }
    this.size += bytes.byteLength;
    this.entries += entries.length;
    this.dirty = true;
    if (this.entries > 10_000 && this.entries > 4 * this.liveCount()) {
      try {
        this.compact();
      } catch { /* the log stays as it is, whole; compaction is tried again later */ }
    }
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
    const bytes = frameEntries(live);
    writeFileAtomicSync(this.path!, bytes, { fault: this.fault });
    this.file?.close();
    this.file = Deno.openSync(this.path!, { read: true, write: true });
    this.size = bytes.byteLength;
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

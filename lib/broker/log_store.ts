/**
 * Where the bytes of one log segment live: `MemoryLogStore` (no data dir) or
 * `FileLogStore`, one append-only file of raw Kafka batches. Only bytes are stored here;
 * offsets and the index are `PartitionLog`'s.
 *
 * File segments do not hold a file descriptor each: `FileHandles` opens a segment's file
 * when it is read or written and keeps at most `max` of them open, closing the least
 * recently used (a partition count never turns into an open-file count: running out of
 * descriptors is a panic in Deno, not an error). A segment file is created on its first
 * append, so an empty partition costs no file at all.
 * @module
 */

/** Bytes of one segment. Positions are byte offsets from the start of the segment. */
export interface LogStore {
  /** Bytes stored. */
  readonly size: number;
  /** Appends `data` (copied or written out; the caller may reuse its buffer afterwards). */
  append(data: Uint8Array): void;
  /** The bytes in [pos, pos + len), as one or more chunks. */
  read(pos: number, len: number): Uint8Array[];
  /** Makes appended bytes durable (fdatasync); a no-op when nothing changed or in memory. */
  sync(): Promise<void>;
  /** Releases the file; pending syncs finish first. */
  close(): Promise<void>;
  /** Closes and deletes the segment's bytes. */
  remove(): void;
}

/**
 * Test hook, kfake-style: called before the broker writes to a file, with the file's path;
 * throwing simulates a failed write (a full disk, say). Never set in production.
 */
export type WriteFault = (path: string) => void;

/** A segment kept in memory as a list of appended chunks. */
export class MemoryLogStore implements LogStore {
  private chunks: Uint8Array[] = [];
  private starts: number[] = [];
  size = 0;

  /** `account` is told of every byte added or removed (the broker's memory cap). */
  constructor(private readonly account?: { used: number }) {}

  append(data: Uint8Array): void {
    this.chunks.push(data.slice());
    this.starts.push(this.size);
    this.size += data.byteLength;
    if (this.account) this.account.used += data.byteLength;
  }

  read(pos: number, len: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    const end = pos + len;
    for (let i = lo; i < this.chunks.length && this.starts[i] < end; i++) {
      const c = this.chunks[i];
      const from = Math.max(0, pos - this.starts[i]);
      const to = Math.min(c.byteLength, end - this.starts[i]);
      out.push(from === 0 && to === c.byteLength ? c : c.subarray(from, to));
    }
    return out;
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.remove();
    return Promise.resolve();
  }

  remove(): void {
    if (this.account) this.account.used -= this.size;
    this.chunks = [];
    this.starts = [];
    this.size = 0;
  }
}

interface Handle {
  file: Deno.FsFile;
  /** Async operations (fdatasync) running on it: it is not closed under them. */
  pins: number;
  closeWhenUnpinned: boolean;
}

/** Open segment files, at most `max` of them, least recently used closed first. */
export class FileHandles {
  private handles = new Map<string, Handle>();
  /** Files opened over the broker's life (for tests and figures). */
  opened = 0;

  constructor(public max: number, readonly fault?: WriteFault) {}

  /** Files open now. */
  get count(): number {
    return this.handles.size;
  }

  /** The open file at `path` (opened, and created when `create`, if need be). */
  get(path: string, create: boolean): Deno.FsFile {
    const h = this.handles.get(path);
    if (h) {
      this.handles.delete(path); // most recently used goes last
      this.handles.set(path, h);
      return h.file;
    }
    const file = Deno.openSync(path, { read: true, write: true, create });
    this.opened++;
    this.handles.set(path, { file, pins: 0, closeWhenUnpinned: false });
    this.evict();
    return file;
  }

  /** Like `get`, and keeps the file open until `unpin`. */
  pin(path: string): Deno.FsFile {
    const file = this.get(path, false);
    this.handles.get(path)!.pins++;
    return file;
  }

  /** Ends a `pin`. */
  unpin(path: string): void {
    const h = this.handles.get(path);
    if (!h) return;
    h.pins--;
    if (h.pins === 0 && h.closeWhenUnpinned) this.close(path);
    else this.evict();
  }

  private evict(): void {
    if (this.handles.size <= this.max) return;
    for (const [path, h] of this.handles) {
      if (this.handles.size <= this.max) break;
      if (h.pins > 0) continue;
      this.handles.delete(path);
      try {
        h.file.close();
      } catch { /* already closed */ }
    }
  }

  /** Closes the file at `path` (once no operation runs on it). */
  close(path: string): void {
    const h = this.handles.get(path);
    if (!h) return;
    if (h.pins > 0) {
      h.closeWhenUnpinned = true;
      return;
    }
    this.handles.delete(path);
    try {
      h.file.close();
    } catch { /* already closed */ }
  }
}

function readFully(file: Deno.FsFile, pos: number, into: Uint8Array): number {
  file.seekSync(pos, Deno.SeekMode.Start);
  let got = 0;
  while (got < into.byteLength) {
    const n = file.readSync(into.subarray(got));
    if (n === null || n === 0) break;
    got += n;
  }
  return got;
}

/** Reads `len` bytes at `pos` of an open file (fewer at its end). */
export function readAt(file: Deno.FsFile, pos: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  const got = readFully(file, pos, out);
  return got === len ? out : out.subarray(0, got);
}

/** Writes all of `bytes` at the current position of `file`. */
export function writeAllSync(file: Deno.FsFile, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += file.writeSync(bytes.subarray(done));
}

/** fsyncs a directory, so the files just created or renamed in it survive a crash. */
export function syncDir(dir: string): void {
  try {
    const d = Deno.openSync(dir, { read: true });
    try {
      d.syncSync();
    } finally {
      d.close();
    }
  } catch { /* not every platform can open a directory; the data itself is synced */ }
}

/** Like syncDir, without blocking. */
export async function syncDirAsync(dir: string): Promise<void> {
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch { /* as syncDir */ }
}

/** Writes `bytes` to `path` atomically: a temp file, fsync (unless `sync` is false), rename. */
export function writeFileAtomicSync(
  path: string,
  bytes: Uint8Array | string,
  opts: { fault?: WriteFault; sync?: boolean } = {},
): void {
  const tmp = `${path}.tmp`;
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  try {
    opts.fault?.(path);
    const f = Deno.openSync(tmp, { write: true, create: true, truncate: true });
    try {
      writeAllSync(f, data);
      if (opts.sync !== false) f.syncDataSync();
    } finally {
      f.close();
    }
    Deno.renameSync(tmp, path);
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch { /* nothing to clean */ }
    throw err;
  }
}

/** A segment in one append-only file, opened through the shared `FileHandles`. */
export class FileLogStore implements LogStore {
  private dirty = false;
  private syncing: Promise<void> | null = null;
  private closed = false;

  /** A segment at `path` holding `size` valid bytes (0 and no file yet for a new one). */
  constructor(readonly path: string, private readonly handles: FileHandles, public size = 0) {}

  append(data: Uint8Array): void {
    const before = this.size;
    let file: Deno.FsFile | undefined;
    try {
      this.handles.fault?.(this.path);
      file = this.handles.get(this.path, true);
      file.seekSync(before, Deno.SeekMode.Start);
      writeAllSync(file, data);
    } catch (err) {
      // Leave no half batch behind: the log must stay a sequence of whole batches.
      try {
        file?.truncateSync(before);
      } catch { /* the scan on the next start cuts it instead */ }
      throw new Error(`Cannot append ${data.byteLength} bytes to "${this.path}"`, { cause: err });
    }
    this.size = before + data.byteLength;
    this.dirty = true;
  }

  read(pos: number, len: number): Uint8Array[] {
    const out = readAt(this.handles.get(this.path, false), pos, len);
    if (out.byteLength < len) {
      throw new Error(
        `Cannot read ${len} bytes at ${pos} from "${this.path}": got ${out.byteLength}`,
      );
    }
    return [out];
  }

  sync(): Promise<void> {
    if (this.syncing) return this.syncing.then(() => this.sync());
    if (!this.dirty || this.closed) return Promise.resolve();
    this.dirty = false;
    let file: Deno.FsFile;
    try {
      file = this.handles.pin(this.path);
    } catch (err) {
      this.dirty = true;
      return Promise.reject(err);
    }
    this.syncing = file.syncData().finally(() => {
      this.handles.unpin(this.path);
      this.syncing = null;
    });
    return this.syncing;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.sync().catch(() => {});
    this.closed = true;
    this.handles.close(this.path);
  }

  remove(): void {
    this.closed = true;
    this.handles.close(this.path);
    try {
      Deno.removeSync(this.path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}

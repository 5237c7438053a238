/**
 * Where a partition's record batches live: `MemoryLogStore` (no data dir) or
 * `FileLogStore`, one append-only file of raw Kafka batches per partition. Only the
 * bytes are stored here; the offset index is kept by `PartitionLog`. Opening a file
 * scans it batch by batch (length, magic, CRC-32C, offset continuity) and cuts off a
 * torn or corrupt tail, so everything before it is served.
 * @module
 */
import { BATCH_HEADER_BYTES, batchCrcOk, batchHeader } from "./record_batch.ts";

/** Bytes of one partition's log. Positions are byte offsets from the start of the log. */
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
}

/** A log kept in memory as a list of appended chunks. */
export class MemoryLogStore implements LogStore {
  private chunks: Uint8Array[] = [];
  private starts: number[] = [];
  size = 0;

  append(data: Uint8Array): void {
    this.chunks.push(data.slice());
    this.starts.push(this.size);
    this.size += data.byteLength;
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
    this.chunks = [];
    this.starts = [];
    return Promise.resolve();
  }
}

/** One batch found while scanning a log file. */
export interface ScannedBatch {
  baseOffset: number;
  position: number;
  size: number;
  lastOffsetDelta: number;
  maxTimestamp: number;
}

/** What opening a log file found. */
export interface ScanResult {
  /** Bytes kept (the valid prefix). */
  validBytes: number;
  /** Bytes cut off the end (a torn or corrupt tail). */
  cutBytes: number;
  /** Why the scan stopped early, if it did. */
  reason?: string;
}

const SCAN_CHUNK = 4 * 1024 * 1024;
/** Largest batch a scan accepts; anything claiming more is corruption. */
const MAX_BATCH_BYTES = 1024 * 1024 * 1024;

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

/** A log in one append-only file of raw record batches. */
export class FileLogStore implements LogStore {
  private dirty = false;
  private syncing: Promise<void> | null = null;
  private closed = false;

  private constructor(readonly path: string, private file: Deno.FsFile, public size: number) {}

  /**
   * Opens (or creates) the log at `path`, calls `onBatch` for each valid batch in order and
   * truncates the file after the last one. `onBatch` may refuse a batch (returns a reason),
   * which ends the valid prefix there.
   */
  static open(
    path: string,
    onBatch: (b: ScannedBatch) => string | undefined,
  ): { store: FileLogStore; scan: ScanResult } {
    const file = Deno.openSync(path, { read: true, write: true, create: true });
    try {
      const fileSize = file.statSync().size;
      let buf = new Uint8Array(Math.min(SCAN_CHUNK, Math.max(fileSize, BATCH_HEADER_BYTES)));
      let bufPos = 0; // file position of buf[0]
      let bufLen = 0;
      let pos = 0;
      let reason: string | undefined;
      const ensure = (n: number): boolean => {
        if (pos + n <= bufPos + bufLen) return true;
        if (n > buf.byteLength) buf = new Uint8Array(n);
        bufPos = pos;
        bufLen = readFully(file, pos, buf.subarray(0, Math.min(buf.byteLength, fileSize - pos)));
        return bufLen >= n;
      };
      while (pos < fileSize) {
        if (!ensure(BATCH_HEADER_BYTES)) {
          reason = `a torn batch header at byte ${pos}`;
          break;
        }
        const at = pos - bufPos;
        const h = batchHeader(buf, at);
        if (h.magic !== 2 || h.size < BATCH_HEADER_BYTES || h.size > MAX_BATCH_BYTES) {
          reason = `a corrupt batch header at byte ${pos}`;
          break;
        }
        if (pos + h.size > fileSize || !ensure(h.size)) {
          reason = `a torn batch at byte ${pos} (${h.size} bytes claimed, ${
            fileSize - pos
          } present)`;
          break;
        }
        const at2 = pos - bufPos;
        if (!batchCrcOk(buf, at2, h.size)) {
          reason = `a batch failing its CRC-32C check at byte ${pos}`;
          break;
        }
        const refused = onBatch({
          baseOffset: h.baseOffset,
          position: pos,
          size: h.size,
          lastOffsetDelta: h.lastOffsetDelta,
          maxTimestamp: h.maxTimestamp,
        });
        if (refused) {
          reason = `${refused} at byte ${pos}`;
          break;
        }
        pos += h.size;
      }
      if (pos < fileSize) file.truncateSync(pos);
      return {
        store: new FileLogStore(path, file, pos),
        scan: { validBytes: pos, cutBytes: fileSize - pos, reason },
      };
    } catch (err) {
      file.close();
      throw err;
    }
  }

  append(data: Uint8Array): void {
    const before = this.size;
    try {
      this.file.seekSync(before, Deno.SeekMode.Start);
      let done = 0;
      while (done < data.byteLength) done += this.file.writeSync(data.subarray(done));
    } catch (err) {
      // Leave no half batch behind: the log must stay a sequence of whole batches.
      try {
        this.file.truncateSync(before);
      } catch { /* the scan on the next start cuts it instead */ }
      throw new Error(`Cannot append ${data.byteLength} bytes to "${this.path}"`, { cause: err });
    }
    this.size = before + data.byteLength;
    this.dirty = true;
  }

  read(pos: number, len: number): Uint8Array[] {
    const out = new Uint8Array(len);
    const got = readFully(this.file, pos, out);
    if (got < len) {
      throw new Error(`Cannot read ${len} bytes at ${pos} from "${this.path}": got ${got}`);
    }
    return [out];
  }

  sync(): Promise<void> {
    if (this.syncing) return this.syncing.then(() => this.sync());
    if (!this.dirty || this.closed) return Promise.resolve();
    this.dirty = false;
    this.syncing = this.file.syncData().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.sync().catch(() => {});
    this.closed = true;
    this.file.close();
  }
}

/**
 * Scanning one segment file on start: every batch is checked (magic, length, CRC-32C of
 * attributes-to-end, base offset continuing the one before), and what fails is repaired
 * when that loses nothing, or reported as a damaged region otherwise.
 *
 * Repairs (one damaged header field, the batch's data intact): a base offset that does not
 * continue the log (it is outside the CRC), a magic byte (also outside), a CRC field that
 * differs from the computed one in a single byte, a length field when the CRC over the
 * bytes up to the next valid batch matches.
 *
 * A damaged region ends where a valid batch (CRC-checked, offsets going on) starts again,
 * found by its length field or, failing that, by looking at every byte for one; the
 * caller cuts the region out (keeping its bytes in a side file) and keeps what follows,
 * so one flipped byte costs one batch, not the rest of the log. The region's batch headers
 * say, as far as they can be read, how many records and which offsets it held.
 * @module
 */
import { crc32c } from "./crc32c.ts";
import { BATCH_HEADER_BYTES, batchHeader, CONTROL_FLAG, controlType } from "./record_batch.ts";

/** Largest batch a scan accepts; anything claiming more is corruption. */
export const MAX_BATCH_BYTES = 1024 * 1024 * 1024;
const CHUNK = 4 * 1024 * 1024;

/** One valid batch found by the scan. */
export interface ScannedBatch {
  baseOffset: number;
  position: number;
  size: number;
  lastOffsetDelta: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  /** Attributes (transactional bit 4, control bit 5). */
  attributes: number;
  /** A control batch's record type (ABORT_MARKER, COMMIT_MARKER), else -1. */
  controlType: number;
}

/** A region of a segment that holds no valid batch. */
export interface Damage {
  /** Byte position where it starts (the file's valid prefix ends here). */
  start: number;
  /** Where a valid batch starts again, or the file's size when none does. */
  end: number;
  /** Base offset of the batch at `end`, when there is one. */
  resumeOffset?: number;
  /** Why the batch at `start` was refused. */
  reason: string;
  /** The file ends inside its last batch (a write cut short), nothing follows. */
  torn: boolean;
  /** Batches and records in the region, as far as its headers can be read. */
  batches: number;
  records: number;
  /** True when the headers could not be followed to the end of the region (counts are a minimum). */
  partialCount: boolean;
  /** First offset the region held, and the offset after the last one it may have held. */
  firstOffset: number;
  offsetFloor: number;
}

/** What scanning a segment found. */
export interface SegmentScan {
  /** Bytes of valid batches before the damage (the whole file when there is none). */
  validBytes: number;
  /** The offset after the last valid batch. */
  nextOffset: number;
  /** Header fields repaired in place, one line each. */
  repairs: string[];
  damage?: Damage;
}

/** Random and sequential reads over a file, through one growing buffer. */
class Window {
  private buf: Uint8Array;
  private at = 0;
  private len = 0;

  constructor(private readonly file: Deno.FsFile, readonly size: number) {
    this.buf = new Uint8Array(Math.min(CHUNK, Math.max(size, BATCH_HEADER_BYTES)));
  }

  /** The bytes [pos, pos + n) (a view valid until the next call), or null past the end. */
  view(pos: number, n: number): Uint8Array | null {
    if (pos + n > this.size) return null;
    if (pos < this.at || pos + n > this.at + this.len) {
      if (n > this.buf.byteLength) this.buf = new Uint8Array(n);
      this.file.seekSync(pos, Deno.SeekMode.Start);
      const want = Math.min(this.buf.byteLength, this.size - pos);
      let got = 0;
      while (got < want) {
        const r = this.file.readSync(this.buf.subarray(got, want));
        if (r === null || r === 0) break;
        got += r;
      }
      this.at = pos;
      this.len = got;
      if (got < n) return null;
    }
    return this.buf.subarray(pos - this.at, pos - this.at + n);
  }

  /** Forgets what was read (the file was just written to). */
  invalidate(): void {
    this.len = 0;
  }

  /** The first position q >= from whose byte q + 16 is 2 (a magic byte candidate), or -1. */
  nextMagic(from: number): number {
    for (let q = from; q + BATCH_HEADER_BYTES <= this.size;) {
      const span = Math.min(CHUNK, this.size - q);
      const v = this.view(q, span);
      if (!v) return -1;
      for (let i = 16; i < v.byteLength; i++) if (v[i] === 2) return q + i - 16;
      q += span - 16;
      if (span < CHUNK) break;
    }
    return -1;
  }
}

function differsInOneByte(a: number, b: number): boolean {
  let n = 0;
  for (let s = 0; s < 32; s += 8) if (((a >>> s) & 0xff) !== ((b >>> s) & 0xff)) n++;
  return n === 1;
}

/**
 * Scans the segment file `path` (its name says its first batch is at `baseOffset`):
 * calls `onBatch` for each valid batch in order, repairs single damaged header fields in
 * place, and stops at the first damage it cannot repair.
 */
export function scanSegment(
  path: string,
  baseOffset: number,
  onBatch: (b: ScannedBatch) => void,
): SegmentScan {
  const file = Deno.openSync(path, { read: true, write: true });
  try {
    const size = file.statSync().size;
    const w = new Window(file, size);
    const repairs: string[] = [];
    const patch = (pos: number, bytes: Uint8Array, what: string) => {
      file.seekSync(pos, Deno.SeekMode.Start);
      let done = 0;
      while (done < bytes.byteLength) done += file.writeSync(bytes.subarray(done));
      w.invalidate();
      if (repairs.length > 1000) throw new Error(`Cannot repair "${path}": too many repairs`);
      repairs.push(`${what} of the batch at byte ${pos}`);
    };
    const validAt = (q: number, minBase: number): ReturnType<typeof batchHeader> | undefined => {
      const head = w.view(q, BATCH_HEADER_BYTES);
      if (!head) return undefined;
      const h = batchHeader(head);
      if (h.magic !== 2 || h.size < BATCH_HEADER_BYTES || h.size > MAX_BATCH_BYTES) return;
      if (q + h.size > size || h.baseOffset < minBase || h.lastOffsetDelta < 0) return;
      if (h.baseOffset > minBase + 2 ** 40) return;
      const all = w.view(q, h.size);
      if (!all || crc32c(all.subarray(21)) !== h.crc) return;
      return h;
    };
    /** The next position after `from` where a valid batch with offsets >= `minBase` starts. */
    const resync = (from: number, minBase: number): number => {
      for (let q = w.nextMagic(from); q >= 0; q = w.nextMagic(q + 1)) {
        if (validAt(q, minBase)) return q;
      }
      return -1;
    };

    let pos = 0;
    let expected = baseOffset;
    while (pos < size) {
      const head = w.view(pos, BATCH_HEADER_BYTES);
      let problem: string;
      if (!head) {
        problem = `a batch header cut short (${size - pos} bytes left)`;
      } else {
        const h = batchHeader(head);
        const sizeOk = h.size >= BATCH_HEADER_BYTES && h.size <= MAX_BATCH_BYTES &&
          pos + h.size <= size;
        const body = sizeOk ? w.view(pos, h.size) : null;
        const crc = body ? crc32c(body.subarray(21)) : -1;
        const crcOk = crc === h.crc;
        if (sizeOk && crcOk && h.magic === 2 && h.baseOffset === expected) {
          onBatch({
            baseOffset: h.baseOffset,
            position: pos,
            size: h.size,
            lastOffsetDelta: h.lastOffsetDelta,
            maxTimestamp: h.maxTimestamp,
            producerId: h.producerId,
            producerEpoch: h.producerEpoch,
            baseSequence: h.baseSequence,
            attributes: h.attributes,
            controlType: h.attributes & CONTROL_FLAG ? controlType(body!, 0, h.size) : -1,
          });
          expected = h.baseOffset + h.lastOffsetDelta + 1;
          pos += h.size;
          continue;
        }
        // The data (attributes onward) is intact: only fields outside the CRC are wrong.
        if (sizeOk && crcOk && h.lastOffsetDelta >= 0) {
          if (h.magic !== 2) patch(pos + 16, Uint8Array.of(2), `magic byte ${h.magic} → 2`);
          if (h.baseOffset !== expected) {
            const b = new Uint8Array(8);
            new DataView(b.buffer).setBigInt64(0, BigInt(expected));
            patch(pos, b, `base offset ${h.baseOffset} → ${expected}`);
          }
          continue; // scanned again, now valid
        }
        if (sizeOk && h.magic === 2 && h.baseOffset === expected && differsInOneByte(crc, h.crc)) {
          const b = new Uint8Array(4);
          new DataView(b.buffer).setUint32(0, crc);
          patch(pos + 17, b, `CRC field ${h.crc.toString(16)} → ${crc.toString(16)}`);
          continue;
        }
        // A damaged length field: the CRC matches the bytes up to where the next batch starts.
        if (h.magic === 2 && h.baseOffset === expected) {
          const next = resync(pos + 1, expected + 1);
          const end = next >= 0 ? next : size;
          const data = end - pos > BATCH_HEADER_BYTES && end - pos <= MAX_BATCH_BYTES
            ? w.view(pos, end - pos)
            : null;
          if (data && crc32c(data.subarray(21)) === h.crc && (!sizeOk || !crcOk)) {
            const b = new Uint8Array(4);
            new DataView(b.buffer).setInt32(0, end - pos - 12);
            patch(pos + 8, b, `length field ${h.size - 12} → ${end - pos - 12}`);
            continue;
          }
        }
        problem = !sizeOk && h.magic === 2 && h.baseOffset === expected &&
            h.size >= BATCH_HEADER_BYTES && pos + h.size > size
          ? `a batch cut short (${h.size} bytes claimed, ${size - pos} present)`
          : h.magic !== 2 || !sizeOk
          ? `a damaged batch header (magic ${h.magic}, length ${h.size - 12})`
          : !crcOk
          ? `a batch failing its CRC-32C check`
          : `a batch at offset ${h.baseOffset} where ${expected} was expected`;
      }
      const next = resync(pos + 1, expected);
      const end = next >= 0 ? next : size;
      const damage: Damage = {
        start: pos,
        end,
        reason: problem,
        torn: next < 0 && /cut short/.test(problem),
        batches: 0,
        records: 0,
        partialCount: false,
        firstOffset: expected,
        offsetFloor: expected,
      };
      if (next >= 0) {
        damage.resumeOffset = batchHeader(w.view(next, BATCH_HEADER_BYTES)!).baseOffset;
      }
      countDamage(w, damage, size);
      return { validBytes: pos, nextOffset: expected, repairs, damage };
    }
    return { validBytes: pos, nextOffset: expected, repairs };
  } finally {
    file.close();
  }
}

/** Follows the batch headers through a damaged region to count what it held. */
function countDamage(w: Window, d: Damage, size: number): void {
  let p = d.start;
  let next = d.firstOffset;
  while (p < d.end) {
    const have = Math.min(BATCH_HEADER_BYTES, size - p);
    const head = w.view(p, have);
    if (!head || have < 27) {
      d.partialCount = true;
      break;
    }
    // A header cut short still tells its base offset and last offset delta.
    const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const claimed = v.getInt32(8) + 12;
    const magic = v.getInt8(16);
    const lod = v.getInt32(23);
    const rc = have >= BATCH_HEADER_BYTES ? v.getInt32(57) : -1;
    if (magic !== 2 || claimed < BATCH_HEADER_BYTES || claimed > MAX_BATCH_BYTES) {
      d.partialCount = true;
      break;
    }
    // One flipped byte leaves at least one of the two counts right; take the larger if sane.
    const counts = [rc, lod + 1].filter((c) => c > 0 && c <= claimed);
    const n = counts.length ? Math.max(...counts) : 1;
    d.batches++;
    d.records += n;
    const b = Number(v.getBigInt64(0));
    const base = b >= next && b < next + 2 ** 31 ? b : next;
    next = base + n;
    p += claimed;
  }
  if (d.resumeOffset !== undefined) d.offsetFloor = Math.max(d.offsetFloor, d.resumeOffset);
  else d.offsetFloor = Math.max(d.offsetFloor, next);
}

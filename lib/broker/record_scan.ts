/**
 * Reads the offsets and timestamps of the records inside one stored batch, for the lookups
 * that need a record's exact offset (ListOffsets by timestamp and by max timestamp). The
 * broker otherwise never decodes records. Uncompressed and gzip batches are read; for
 * snappy, lz4 and zstd (no codec here) the answer is undefined and callers fall back to
 * batch precision.
 * @module
 */
import { gunzipSync } from "node:zlib";

/** One record's place in its batch. */
export interface RecordStamp {
  offset: number;
  timestamp: number;
}

class VarReader {
  pos = 0;
  constructor(readonly b: Uint8Array) {}

  /** A zigzag varint (varlong: up to 2^53 here). */
  varint(): number {
    let value = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.b.byteLength) throw new RangeError("a record is cut short");
      const byte = this.b[this.pos++];
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) break;
      shift += 7;
      if (shift > 63) throw new RangeError("a varint is too long");
    }
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  }

  skip(n: number): void {
    if (n > 0) this.pos += n;
  }
}

/**
 * The records of the batch at the start of `batch` (which must hold the whole batch),
 * or undefined when its compression cannot be read here or it does not parse.
 */
export function recordStamps(batch: Uint8Array): RecordStamp[] | undefined {
  const v = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  const size = v.getInt32(8) + 12;
  const baseOffset = Number(v.getBigInt64(0));
  const attributes = v.getInt16(21);
  const baseTimestamp = Number(v.getBigInt64(27));
  const maxTimestamp = Number(v.getBigInt64(35));
  const count = v.getInt32(57);
  const logAppendTime = (attributes & 0x08) !== 0;
  let body = batch.subarray(61, size);
  switch (attributes & 0x07) {
    case 0:
      break;
    case 1:
      try {
        body = gunzipSync(body);
      } catch {
        return undefined;
      }
      break;
    default:
      return undefined;
  }
  const r = new VarReader(body);
  const out: RecordStamp[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const length = r.varint();
      const end = r.pos + length;
      r.skip(1); // attributes
      const timestampDelta = r.varint();
      const offsetDelta = r.varint();
      out.push({
        offset: baseOffset + offsetDelta,
        timestamp: logAppendTime ? maxTimestamp : baseTimestamp + timestampDelta,
      });
      r.pos = end;
    }
  } catch {
    return undefined;
  }
  return out;
}

/**
 * The few fields of a Kafka RecordBatch (magic 2) the broker reads or writes. Records are
 * never decoded: a produced batch is checked (length, magic, CRC-32C), its base offset and
 * leader epoch are overwritten, and it is stored as is. The CRC covers `attributes` to the
 * end, so patching the first 16 bytes keeps it valid.
 *
 * Layout: baseOffset i64 @0, batchLength i32 @8, partitionLeaderEpoch i32 @12, magic i8 @16,
 * crc u32 @17, attributes i16 @21, lastOffsetDelta i32 @23, baseTimestamp i64 @27,
 * maxTimestamp i64 @35, producerId i64 @43, producerEpoch i16 @51, baseSequence i32 @53,
 * recordCount i32 @57, records @61.
 * @module
 */
import { crc32c } from "./crc32c.ts";
import { ErrorCode } from "./error_codes.ts";

/** Bytes before the records in a v2 batch. */
export const BATCH_HEADER_BYTES = 61;
/** baseOffset + batchLength: the bytes not counted by batchLength. */
export const LOG_OVERHEAD = 12;

/** What the broker keeps about one batch. */
export interface BatchInfo {
  /** Position of the batch in the buffer it was found in. */
  start: number;
  /** Whole batch size in bytes (batchLength + 12). */
  size: number;
  /** Records in the batch minus one, as offsets go. */
  lastOffsetDelta: number;
  /** Largest record timestamp (ms). */
  maxTimestamp: number;
  /** Attributes: compression (bits 0–2), timestamp type (3), transactional (4), control (5). */
  attributes: number;
  /** Idempotent producer id, or -1 for a plain producer. */
  producerId: number;
  /** Producer epoch (-1 for a plain producer). */
  producerEpoch: number;
  /** Sequence number of the first record (-1 for a plain producer). */
  baseSequence: number;
}

/** Attribute bit of a batch that belongs to a transaction. */
export const TRANSACTIONAL_FLAG = 0x10;
/** Attribute bit of a control batch (transaction markers). */
export const CONTROL_FLAG = 0x20;

/** A batch that cannot be accepted, with the Kafka error code to answer. */
export interface BatchProblem {
  error: number;
  message: string;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Reads the header of the batch at `at` in `buf` (which must hold the whole header). */
export function batchHeader(buf: Uint8Array, at = 0): {
  baseOffset: number;
  size: number;
  magic: number;
  crc: number;
  lastOffsetDelta: number;
  maxTimestamp: number;
  recordCount: number;
  attributes: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
} {
  const v = view(buf);
  return {
    baseOffset: Number(v.getBigInt64(at)),
    size: v.getInt32(at + 8) + LOG_OVERHEAD,
    magic: v.getInt8(at + 16),
    crc: v.getUint32(at + 17),
    lastOffsetDelta: v.getInt32(at + 23),
    maxTimestamp: Number(v.getBigInt64(at + 35)),
    recordCount: v.getInt32(at + 57),
    attributes: v.getInt16(at + 21),
    producerId: Number(v.getBigInt64(at + 43)),
    producerEpoch: v.getInt16(at + 51),
    baseSequence: v.getInt32(at + 53),
  };
}

/** True when the CRC-32C stored in the batch at `at` matches its bytes. */
export function batchCrcOk(buf: Uint8Array, at: number, size: number): boolean {
  const stored = view(buf).getUint32(at + 17);
  return crc32c(buf.subarray(at + 21, at + size)) === stored;
}

/**
 * Splits the `records` of a produce request into batches and checks each one; answers
 * the batches or the first problem (CORRUPT_MESSAGE, UNSUPPORTED_FOR_MESSAGE_FORMAT).
 */
export function splitBatches(
  records: Uint8Array,
  opts: { checkCrc?: boolean } = {},
): BatchInfo[] | BatchProblem {
  const out: BatchInfo[] = [];
  let at = 0;
  if (records.byteLength === 0) {
    return { error: ErrorCode.CORRUPT_MESSAGE, message: "the record set is empty" };
  }
  while (at < records.byteLength) {
    const left = records.byteLength - at;
    if (left < LOG_OVERHEAD + 5) {
      return { error: ErrorCode.CORRUPT_MESSAGE, message: `${left} stray bytes after a batch` };
    }
    const v = view(records);
    const magic = v.getInt8(at + 16);
    if (magic < 2) {
      return {
        error: ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
        message: `record format v${magic} (magic < 2) is not supported`,
      };
    }
    if (magic > 2) {
      return { error: ErrorCode.CORRUPT_MESSAGE, message: `unknown magic byte ${magic}` };
    }
    if (left < BATCH_HEADER_BYTES) {
      return { error: ErrorCode.CORRUPT_MESSAGE, message: "a batch header is cut short" };
    }
    const size = v.getInt32(at + 8) + LOG_OVERHEAD;
    if (size < BATCH_HEADER_BYTES || size > left) {
      return { error: ErrorCode.CORRUPT_MESSAGE, message: `a batch claims ${size} bytes` };
    }
    const lastOffsetDelta = v.getInt32(at + 23);
    const recordCount = v.getInt32(at + 57);
    if (recordCount <= 0 || lastOffsetDelta < 0) {
      return { error: ErrorCode.CORRUPT_MESSAGE, message: "a batch has no records" };
    }
    if ((v.getInt16(at + 21) & 0x07) > 4) {
      return { error: ErrorCode.CORRUPT_MESSAGE, message: "a batch has an unknown compression" };
    }
    if (opts.checkCrc !== false && !batchCrcOk(records, at, size)) {
      return { error: ErrorCode.CORRUPT_MESSAGE, message: "a batch fails its CRC-32C check" };
    }
    out.push({
      start: at,
      size,
      lastOffsetDelta,
      maxTimestamp: Number(v.getBigInt64(at + 35)),
      attributes: v.getInt16(at + 21),
      producerId: Number(v.getBigInt64(at + 43)),
      producerEpoch: v.getInt16(at + 51),
      baseSequence: v.getInt32(at + 53),
    });
    at += size;
  }
  return out;
}

/** Writes the broker-assigned base offset and leader epoch into the batch at `at`. */
export function patchBatch(buf: Uint8Array, at: number, baseOffset: number, epoch = 0): void {
  const v = view(buf);
  v.setBigInt64(at, BigInt(baseOffset));
  v.setInt32(at + 12, epoch);
}

/** Attributes of a transaction marker: a control batch of a transaction. */
export const MARKER_ATTRIBUTES = TRANSACTIONAL_FLAG | CONTROL_FLAG;
/** Control record type of an abort marker (the key's second int16). */
export const ABORT_MARKER = 0;
/** Control record type of a commit marker. */
export const COMMIT_MARKER = 1;

/**
 * A control batch holding one transaction marker (what Kafka's WriteTxnMarkers writes):
 * one record whose key is (version 0, type: ABORT_MARKER or COMMIT_MARKER) and whose value
 * is (version 0, coordinator epoch). Its base offset is filled in on append.
 */
export function markerBatch(
  producerId: number,
  producerEpoch: number,
  type: number,
  timestamp: number,
  coordinatorEpoch = 0,
): Uint8Array {
  // The record: length 16 (zigzag 32), attributes 0, timestamp delta 0, offset delta 0,
  // key length 4 (zigzag 8), key, value length 6 (zigzag 12), value, no headers.
  const rec = [32, 0, 0, 0, 8, 0, 0, 0, type, 12, 0, 0, 0, 0, 0, 0, 0];
  const size = BATCH_HEADER_BYTES + rec.length;
  const buf = new Uint8Array(size);
  const v = view(buf);
  v.setInt32(8, size - LOG_OVERHEAD);
  v.setInt8(16, 2);
  v.setInt16(21, MARKER_ATTRIBUTES);
  v.setInt32(23, 0);
  v.setBigInt64(27, BigInt(timestamp));
  v.setBigInt64(35, BigInt(timestamp));
  v.setBigInt64(43, BigInt(producerId));
  v.setInt16(51, producerEpoch);
  v.setInt32(53, -1);
  v.setInt32(57, 1);
  buf.set(rec, BATCH_HEADER_BYTES);
  new DataView(buf.buffer).setInt32(BATCH_HEADER_BYTES + 10, coordinatorEpoch);
  v.setUint32(17, crc32c(buf.subarray(21)));
  return buf;
}

/**
 * The control record type (ABORT_MARKER, COMMIT_MARKER, …) of the control batch at `at`
 * in `buf` (the whole batch), read from its first record's key; -1 when it has none.
 */
export function controlType(buf: Uint8Array, at: number, size: number): number {
  let p = at + BATCH_HEADER_BYTES;
  const end = at + size;
  const varint = (): number => {
    let shift = 0;
    let n = 0;
    while (p < end) {
      const b = buf[p++];
      n |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return (n >>> 1) ^ -(n & 1);
      shift += 7;
      if (shift > 28) return -1;
    }
    return -1;
  };
  if ((view(buf).getInt16(at + 21) & 0x07) !== 0) return -1; // control batches are never compressed
  varint(); // record length
  p++; // attributes
  varint(); // timestamp delta
  varint(); // offset delta
  const keyLength = varint();
  if (keyLength < 4 || p + 4 > end) return -1;
  return view(buf).getInt16(p + 2);
}

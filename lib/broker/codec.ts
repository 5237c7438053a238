/**
 * The Kafka wire codec the broker needs: a bounds-checked `Reader` over a request frame
 * and a growable `Writer` for responses. Integers are big-endian; int64 values are read
 * as JS numbers (offsets and timestamps stay far below 2^53). Large byte blobs (record
 * batches) are kept as separate parts instead of being copied into the response buffer.
 * @module
 */

/** A request that does not parse: the server closes the connection, as Kafka does. */
export class MalformedRequestError extends Error {
  override name = "MalformedRequestError";
}

const TEXT_DECODER = new TextDecoder("utf-8", { fatal: true });
const TEXT_ENCODER = new TextEncoder();

/** Reads Kafka primitives from a frame, throwing MalformedRequestError past its end. */
export class Reader {
  readonly view: DataView;
  pos = 0;

  constructor(readonly buf: Uint8Array, start = 0) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.buf.byteLength - this.pos;
  }

  private need(n: number): number {
    if (n < 0 || this.pos + n > this.buf.byteLength) {
      throw new MalformedRequestError(
        `Cannot read ${n} bytes at position ${this.pos}: the frame has ${this.buf.byteLength}`,
      );
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /** An int8. */
  int8(): number {
    return this.view.getInt8(this.need(1));
  }

  /** A boolean (int8, non-zero is true). */
  bool(): boolean {
    return this.int8() !== 0;
  }

  /** An int16. */
  int16(): number {
    return this.view.getInt16(this.need(2));
  }

  /** An int32. */
  int32(): number {
    return this.view.getInt32(this.need(4));
  }

  /** An int64 as a number. */
  int64(): number {
    return Number(this.view.getBigInt64(this.need(8)));
  }

  /** A float64. */
  float64(): number {
    return this.view.getFloat64(this.need(8));
  }

  /** The next `n` bytes, as a view into the frame (no copy). */
  raw(n: number): Uint8Array {
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }

  /** A reader over the next `n` bytes (a tagged field's value), which it skips here. */
  sub(n: number): Reader {
    return new Reader(this.raw(n));
  }

  /** An unsigned varint (flexible versions: compact lengths and tag counts). */
  uvarint(): number {
    let value = 0;
    let shift = 0;
    for (;;) {
      const b = this.buf[this.need(1)];
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
      shift += 7;
      if (shift > 28) throw new MalformedRequestError("Cannot read a varint: it is too long");
    }
  }

  private text(len: number): string {
    const at = this.need(len);
    try {
      return TEXT_DECODER.decode(this.buf.subarray(at, at + len));
    } catch (err) {
      throw new MalformedRequestError("Cannot read a string: it is not UTF-8", { cause: err });
    }
  }

  /** A nullable string (int16 length, -1 = null). */
  nullableString(): string | null {
    const len = this.int16();
    if (len === -1) return null;
    if (len < -1) throw new MalformedRequestError(`Cannot read a string of length ${len}`);
    return this.text(len);
  }

  /** A non-null string. */
  string(): string {
    const s = this.nullableString();
    if (s === null) throw new MalformedRequestError("Cannot read a string: it is null");
    return s;
  }

  /** A compact nullable string (uvarint length + 1). */
  compactNullableString(): string | null {
    const n = this.uvarint();
    return n === 0 ? null : this.text(n - 1);
  }

  /** Nullable bytes (int32 length, -1 = null), as a view into the frame (no copy). */
  nullableBytes(): Uint8Array | null {
    const len = this.int32();
    if (len === -1) return null;
    if (len < -1) throw new MalformedRequestError(`Cannot read bytes of length ${len}`);
    const at = this.need(len);
    return this.buf.subarray(at, at + len);
  }

  /** Nullable bytes copied out of the frame, for values kept after the request ends. */
  bytesCopy(): Uint8Array {
    return this.nullableBytes()?.slice() ?? new Uint8Array(0);
  }

  /** Non-null bytes (a null reads as empty). */
  bytes(): Uint8Array {
    return this.nullableBytes() ?? new Uint8Array(0);
  }

  /** A nullable array (int32 count, -1 = null). */
  nullableArray<T>(item: (r: Reader) => T): T[] | null {
    const n = this.int32();
    if (n === -1) return null;
    // Each item takes at least one byte: a count beyond what is left is a lie.
    if (n < -1 || n > this.remaining) {
      throw new MalformedRequestError(`Cannot read an array of ${n} items`);
    }
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = item(this);
    return out;
  }

  /** An array (a null reads as empty). */
  array<T>(item: (r: Reader) => T): T[] {
    return this.nullableArray(item) ?? [];
  }

  /** Skips a tagged-field section (flexible versions). */
  skipTags(): void {
    const n = this.uvarint();
    for (let i = 0; i < n; i++) {
      this.uvarint();
      this.need(this.uvarint());
    }
  }
}

/** Parts smaller than this are copied into the response buffer; larger ones are kept aside. */
const INLINE_LIMIT = 64 * 1024;

/** Builds a response as a list of parts: one growable buffer with large blobs in between. */
export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;
  private parts: Uint8Array[] = [];
  private partsBytes = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.partsBytes + this.len;
  }

  private room(n: number): number {
    if (this.len + n > this.buf.byteLength) {
      let size = this.buf.byteLength * 2;
      while (size < this.len + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.len;
    this.len += n;
    return at;
  }

  /** An int8. */
  int8(v: number): this {
    const at = this.room(1); // before reading this.view: room() may replace it
    this.view.setInt8(at, v);
    return this;
  }

  /** A boolean. */
  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  /** An int16. */
  int16(v: number): this {
    const at = this.room(2); // before reading this.view: room() may replace it
    this.view.setInt16(at, v);
    return this;
  }

  /** An int32. */
  int32(v: number): this {
    const at = this.room(4); // before reading this.view: room() may replace it
    this.view.setInt32(at, v);
    return this;
  }

  /** An int64 from a number. */
  int64(v: number): this {
    const at = this.room(8); // before reading this.view: room() may replace it
    this.view.setBigInt64(at, BigInt(v));
    return this;
  }

  /** A float64. */
  float64(v: number): this {
    const at = this.room(8); // before reading this.view: room() may replace it
    this.view.setFloat64(at, v);
    return this;
  }

  /** An unsigned varint. */
  uvarint(v: number): this {
    while (v >= 0x80) {
      const at = this.room(1); // before reading this.buf: room() may replace it
      this.buf[at] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    const at = this.room(1);
    this.buf[at] = v;
    return this;
  }

  /** A nullable string. */
  nullableString(s: string | null): this {
    if (s === null) return this.int16(-1);
    const b = TEXT_ENCODER.encode(s);
    this.int16(b.byteLength);
    return this.raw(b);
  }

  /** A string. */
  string(s: string): this {
    return this.nullableString(s);
  }

  /** A compact string (uvarint length + 1). */
  compactString(s: string): this {
    const b = TEXT_ENCODER.encode(s);
    this.uvarint(b.byteLength + 1);
    return this.raw(b);
  }

  /** Nullable bytes. */
  nullableBytes(b: Uint8Array | null): this {
    if (b === null) return this.int32(-1);
    this.int32(b.byteLength);
    return this.raw(b);
  }

  /** Bytes (null written as empty). */
  bytes(b: Uint8Array | null | undefined): this {
    return this.nullableBytes(b ?? new Uint8Array(0));
  }

  /** Nullable bytes made of several chunks (record batches read from a log). */
  chunkedBytes(chunks: Uint8Array[] | null): this {
    if (chunks === null) return this.int32(-1);
    let n = 0;
    for (const c of chunks) n += c.byteLength;
    this.int32(n);
    for (const c of chunks) this.raw(c);
    return this;
  }

  /** An array: count, then `item` for each element. */
  array<T>(items: readonly T[], item: (w: Writer, v: T) => void): this {
    this.int32(items.length);
    for (const v of items) item(this, v);
    return this;
  }

  /** A nullable array. */
  nullableArray<T>(items: readonly T[] | null, item: (w: Writer, v: T) => void): this {
    if (items === null) return this.int32(-1);
    return this.array(items, item);
  }

  /** A compact array (uvarint count + 1). */
  compactArray<T>(items: readonly T[], item: (w: Writer, v: T) => void): this {
    this.uvarint(items.length + 1);
    for (const v of items) item(this, v);
    return this;
  }

  /** An empty tagged-field section. */
  emptyTags(): this {
    return this.uvarint(0);
  }

  /** Raw bytes; large ones are kept by reference, not copied. */
  raw(b: Uint8Array): this {
    if (b.byteLength < INLINE_LIMIT) {
      const at = this.room(b.byteLength); // before reading this.buf: room() may replace it
      this.buf.set(b, at);
      return this;
    }
    this.flushBuf();
    this.parts.push(b);
    this.partsBytes += b.byteLength;
    return this;
  }

  private flushBuf(): void {
    if (this.len === 0) return;
    this.parts.push(this.buf.subarray(0, this.len));
    this.partsBytes += this.len;
    this.buf = new Uint8Array(Math.max(256, this.buf.byteLength - this.len));
    this.view = new DataView(this.buf.buffer);
    this.len = 0;
  }

  /**
   * Finishes a response frame that began with a 4-byte size placeholder: patches the size
   * (everything after it) and returns the parts.
   */
  frame(): Uint8Array[] {
    const parts = this.finish();
    const first = parts[0];
    new DataView(first.buffer, first.byteOffset, first.byteLength).setInt32(0, this.length - 4);
    return parts;
  }

  /** The written bytes as parts, in order. */
  finish(): Uint8Array[] {
    this.flushBuf();
    return this.parts;
  }

  /** The written bytes as one array (tests, small responses). */
  toBytes(): Uint8Array {
    const parts = this.finish();
    if (parts.length === 1) return parts[0];
    const out = new Uint8Array(this.partsBytes);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }
}

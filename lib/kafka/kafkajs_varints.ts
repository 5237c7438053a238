/**
 * Faster varints for kafkajs 2.2.4's encoder, byte for byte the same output.
 *
 * kafkajs encodes every varint of every record through a temporary JS array turned into a
 * Buffer (`Buffer.from([...])`), and every varlong through 64-bit `Long` objects. Under
 * Deno's Node layer each of those Buffers costs more than the record's JSON, so producing
 * spends a third of its time there. These replacements write the bytes straight into the
 * encoder's buffer, and take a 32-bit fast path for varlongs that fit (timestamp deltas
 * within a batch always do), falling back to kafkajs's own code otherwise.
 * tests/unit/emulate_kafka_test.ts checks the output against the originals.
 * @module
 */
import { KafkajsEncoder } from "../deps/kafkajs_encoder.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const proto = (KafkajsEncoder as Any).prototype;
const original = {
  writeUVarInt: proto.writeUVarInt as (this: Any, v: number) => Any,
  writeVarLong: proto.writeVarLong as (this: Any, v: unknown) => Any,
  sizeOfVarLong: (KafkajsEncoder as Any).sizeOfVarLong as (v: unknown) => number,
};

/** kafkajs's own varint methods, for comparing against the fast ones. */
export const originalVarints = original;

/** `value` when it is a number whose zigzag encoding fits in 32 bits, else undefined. */
function small(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= -0x40000000 &&
      value < 0x40000000
    ? value
    : undefined;
}

function writeUVarInt(this: Any, value: number): Any {
  this.ensureAvailable(5);
  const buf = this.buf;
  let off = this.offset;
  while ((value & 0xffffff80) !== 0) {
    buf[off++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[off++] = value & 0x7f;
  this.offset = off;
  return this;
}

function writeVarLong(this: Any, value: unknown): Any {
  const v = small(value);
  if (v === undefined) return original.writeVarLong.call(this, value);
  return writeUVarInt.call(this, ((v << 1) ^ (v >> 31)) >>> 0);
}

function sizeOfVarLong(value: unknown): number {
  const v = small(value);
  if (v === undefined) return original.sizeOfVarLong.call(KafkajsEncoder, value);
  let z = ((v << 1) ^ (v >> 31)) >>> 0;
  let bytes = 1;
  while ((z & 0xffffff80) !== 0) {
    bytes++;
    z >>>= 7;
  }
  return bytes;
}

let installed = false;

/** Replaces kafkajs's varint encoders with the fast ones (once per process). */
export function installFastVarints(): void {
  if (installed) return;
  installed = true;
  proto.writeUVarInt = writeUVarInt;
  proto.writeVarLong = writeVarLong;
  (KafkajsEncoder as Any).sizeOfVarLong = sizeOfVarLong;
}

/** Encodes with a fresh kafkajs Encoder and returns the bytes (for tests). */
export function encodeWith(fn: (encoder: Any) => void): Uint8Array {
  const e = new (KafkajsEncoder as Any)();
  fn(e);
  return new Uint8Array(e.buffer);
}

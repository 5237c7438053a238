/**
 * A small schema-driven codec for Kafka messages, in the spirit of Apache Kafka's message
 * specs (`clients/src/main/resources/common/message/*.json`): each API module declares its
 * request and response as field lists with version ranges, and one decoder and one encoder
 * walk them for any version, plain or flexible (KIP-482: compact strings, arrays and bytes,
 * tagged fields). The same schema works in both directions, so tests can also speak as a
 * client.
 *
 * A field is declared by a string: its type, then modifiers separated by spaces.
 *
 *     type      bool int8 int16 int32 int64 float64 uuid string bytes records chunks,
 *               or `[]T` for an array of one of those
 *     vA+ vA-B vA     the versions that have the field (default: all)
 *     null, nullA+ …  the versions where it may be null (`null` alone: all of them)
 *     tagN            a tagged field with tag N (flexible versions only)
 *     =VALUE          its default: what a version without it decodes to, and the value a
 *                     tagged field is left out at
 *
 * Structs are `obj({...}, "modifiers")`, arrays of structs `arr({...}, "modifiers")`.
 * `records` decodes to a view into the request frame (record batches are never copied or
 * decoded here); `chunks` is its response-side twin: a list of byte arrays written one
 * after the other as one `records` value, so stored batches go out without being joined.
 * int64 values are JS numbers (offsets and timestamps stay far below 2^53); uuids are
 * strings in the usual 8-4-4-4-12 hex form.
 * @module
 */
import { MalformedRequestError, type Reader, Writer } from "./codec.ts";

// ---------------------------------------------------------------------------------------
// Declarations and their TypeScript types

interface Scalars {
  bool: boolean;
  int8: number;
  int16: number;
  int32: number;
  int64: number;
  float64: number;
  uuid: string;
  string: string;
  bytes: Uint8Array;
  records: Uint8Array;
  chunks: Uint8Array[];
}

/** A struct field: one struct (`obj`) or an array of them (`arr`). */
export interface StructSpec<F extends Fields = Fields, M extends string = string> {
  readonly kind: "obj" | "arr";
  readonly fields: F;
  readonly mods: M;
}

/** A field declaration: a type string with modifiers, or a struct. */
export type Spec = string | StructSpec;

/** A struct's fields, in wire order. */
export interface Fields {
  readonly [name: string]: Spec;
}

type Head<S extends string> = S extends `${infer H} ${string}` ? H : S;
type ScalarOf<H extends string> = H extends `[]${infer E extends keyof Scalars}` ? Scalars[E][]
  : H extends keyof Scalars ? Scalars[H]
  : never;
type Nullish<S extends string> = S extends `${string}null${string}` ? null : never;

/** The decoded value of a field. */
export type Value<S> = S extends string ? ScalarOf<Head<S>> | Nullish<S>
  : S extends StructSpec<infer F, infer M>
    ? (S["kind"] extends "arr" ? Msg<F>[] : Msg<F>) | Nullish<M>
  : never;

/** A decoded struct: every field present (a version without it has its default). */
export type Msg<F extends Fields> = { -readonly [K in keyof F]: Value<F[K]> };

type InScalarOf<H extends string> = H extends `[]${infer E extends keyof Scalars}`
  ? readonly Scalars[E][]
  : H extends keyof Scalars ? Scalars[H]
  : never;

/** An encoder input value: like Value, but structs may leave fields out. */
export type InValue<S> = S extends string ? InScalarOf<Head<S>> | Nullish<S>
  : S extends StructSpec<infer F, infer M>
    ? (S["kind"] extends "arr" ? readonly In<F>[] : In<F>) | Nullish<M>
  : never;

/** A struct to encode: fields left out are written as their defaults. */
export type In<F extends Fields> = { [K in keyof F]?: InValue<F[K]> };

/** An array of structs. */
export function arr<const F extends Fields, const M extends string = "">(
  fields: F,
  mods?: M,
): StructSpec<F, M> & { kind: "arr" } {
  return { kind: "arr", fields, mods: (mods ?? "") as M };
}

/** A single struct. */
export function obj<const F extends Fields, const M extends string = "">(
  fields: F,
  mods?: M,
): StructSpec<F, M> & { kind: "obj" } {
  return { kind: "obj", fields, mods: (mods ?? "") as M };
}

// ---------------------------------------------------------------------------------------
// Compiled form

const BOOL = 0;
const INT8 = 1;
const INT16 = 2;
const INT32 = 3;
const INT64 = 4;
const FLOAT64 = 5;
const UUID = 6;
const STRING = 7;
const BYTES = 8;
const RECORDS = 9;
const CHUNKS = 10;
const STRUCT = 11;

const KINDS: Record<string, number> = {
  bool: BOOL,
  int8: INT8,
  int16: INT16,
  int32: INT32,
  int64: INT64,
  float64: FLOAT64,
  uuid: UUID,
  string: STRING,
  bytes: BYTES,
  records: RECORDS,
  chunks: CHUNKS,
};

interface Field {
  name: string;
  kind: number;
  array: boolean;
  fields: Field[];
  tagged: Field[];
  min: number;
  max: number;
  nullMin: number;
  nullMax: number;
  tag: number;
  dflt: unknown;
}

/** The all-zero uuid Kafka uses for "no id". */
export const ZERO_UUID = "00000000-0000-0000-0000-000000000000";

function range(text: string, what: string): [number, number] {
  const m = /^(\d+)(\+|-(\d+))?$/.exec(text);
  if (!m) throw new Error(`Cannot read the version range "${text}" of ${what}`);
  const from = Number(m[1]);
  return [from, m[2] === "+" ? Infinity : m[3] !== undefined ? Number(m[3]) : from];
}

function parseDefault(kind: number, array: boolean, text: string): unknown {
  if (array) throw new Error(`Cannot give an array a default: "=${text}"`);
  if (text === "null") return null;
  switch (kind) {
    case BOOL:
      return text === "true";
    case STRING:
      return text;
    case INT8:
    case INT16:
    case INT32:
    case INT64:
    case FLOAT64:
      return Number(text);
    default:
      throw new Error(`Cannot give a default to a field of kind ${kind}`);
  }
}

function compileField(name: string, spec: Spec, where: string): Field {
  const what = `${where}.${name}`;
  let type: string;
  let mods: string[];
  let fields: Field[] = [];
  let tagged: Field[] = [];
  if (typeof spec === "string") {
    [type, ...mods] = spec.trim().split(/\s+/);
  } else {
    type = spec.kind === "arr" ? "[]struct" : "struct";
    mods = spec.mods.trim() ? spec.mods.trim().split(/\s+/) : [];
    ({ fields, tagged } = compileFields(spec.fields, what));
  }
  const array = type.startsWith("[]");
  const base = array ? type.slice(2) : type;
  const kind = base === "struct" ? STRUCT : KINDS[base];
  if (kind === undefined) throw new Error(`Cannot compile ${what}: unknown type "${type}"`);
  const f: Field = {
    name,
    kind,
    array,
    fields,
    tagged,
    min: 0,
    max: Infinity,
    nullMin: 1,
    nullMax: 0,
    tag: -1,
    dflt: undefined,
  };
  let nullAll = false;
  for (const m of mods) {
    if (m.startsWith("v")) [f.min, f.max] = range(m.slice(1), what);
    else if (m === "null") nullAll = true;
    else if (m.startsWith("null")) [f.nullMin, f.nullMax] = range(m.slice(4), what);
    else if (m.startsWith("tag")) f.tag = Number(m.slice(3));
    else if (m.startsWith("=")) f.dflt = parseDefault(kind, array, m.slice(1));
    else throw new Error(`Cannot compile ${what}: unknown modifier "${m}"`);
  }
  if (nullAll) [f.nullMin, f.nullMax] = [f.min, f.max];
  if (f.dflt === undefined && f.nullMin <= f.nullMax && f.nullMin === f.min && !array) {
    // A field nullable in all its versions defaults to null, as Kafka's generator does.
    if (kind === STRING || kind === BYTES || kind === RECORDS || kind === CHUNKS) f.dflt = null;
  }
  return f;
}

function compileFields(spec: Fields, where: string): { fields: Field[]; tagged: Field[] } {
  const fields: Field[] = [];
  const tagged: Field[] = [];
  for (const [name, s] of Object.entries(spec)) {
    const f = compileField(name, s, where);
    (f.tag >= 0 ? tagged : fields).push(f);
  }
  return { fields, tagged };
}

function defaultOf(f: Field): unknown {
  if (f.dflt !== undefined) return f.dflt;
  if (f.array) return [];
  switch (f.kind) {
    case BOOL:
      return false;
    case UUID:
      return ZERO_UUID;
    case STRING:
      return "";
    case BYTES:
    case RECORDS:
      return new Uint8Array(0);
    case CHUNKS:
      return [];
    case STRUCT: {
      const o: Record<string, unknown> = {};
      for (const c of f.fields) o[c.name] = defaultOf(c);
      for (const c of f.tagged) o[c.name] = defaultOf(c);
      return o;
    }
    default:
      return 0;
  }
}

// ---------------------------------------------------------------------------------------
// Decoding

const TEXT_DECODER = new TextDecoder("utf-8", { fatal: true });
const TEXT_ENCODER = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function readUuid(r: Reader): string {
  const b = r.raw(16);
  let s = "";
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += "-";
    s += HEX[b[i]];
  }
  return s;
}

/** A length: classic (int16/int32, -1 = null) or compact (uvarint, 0 = null); -1 = null. */
function readLength(r: Reader, flex: boolean, short: boolean): number {
  if (flex) return r.uvarint() - 1;
  return short ? r.int16() : r.int32();
}

function readText(r: Reader, f: Field, v: number, flex: boolean): string | null {
  const len = readLength(r, flex, true);
  if (len === -1) {
    if (v >= f.nullMin && v <= f.nullMax) return null;
    throw new MalformedRequestError(`Cannot read ${f.name}: it is null`);
  }
  if (len < -1) throw new MalformedRequestError(`Cannot read ${f.name}: a length of ${len}`);
  try {
    return TEXT_DECODER.decode(r.raw(len));
  } catch (err) {
    if (err instanceof MalformedRequestError) throw err;
    throw new MalformedRequestError(`Cannot read ${f.name}: it is not UTF-8`, { cause: err });
  }
}

function readBlob(r: Reader, f: Field, v: number, flex: boolean): Uint8Array | null {
  const len = readLength(r, flex, false);
  if (len === -1) return v >= f.nullMin && v <= f.nullMax ? null : new Uint8Array(0);
  if (len < -1) throw new MalformedRequestError(`Cannot read ${f.name}: a length of ${len}`);
  return r.raw(len);
}

function readOne(r: Reader, f: Field, v: number, flex: boolean): unknown {
  switch (f.kind) {
    case BOOL:
      return r.int8() !== 0;
    case INT8:
      return r.int8();
    case INT16:
      return r.int16();
    case INT32:
      return r.int32();
    case INT64:
      return r.int64();
    case FLOAT64:
      return r.float64();
    case UUID:
      return readUuid(r);
    case STRING:
      return readText(r, f, v, flex);
    case BYTES:
      // Kept beyond the request (group metadata, assignments): a copy.
      return readBlob(r, f, v, flex)?.slice() ?? null;
    case RECORDS:
      return readBlob(r, f, v, flex);
    case CHUNKS: {
      const b = readBlob(r, f, v, flex);
      return b === null ? null : [b];
    }
    default:
      // A nullable single struct is prefixed by an int8 (-1 = null, 1 = present).
      if (!f.array && v >= f.nullMin && v <= f.nullMax && r.int8() < 0) return null;
      return readStruct(r, f.fields, f.tagged, v, flex);
  }
}

function readValue(r: Reader, f: Field, v: number, flex: boolean): unknown {
  if (!f.array) return readOne(r, f, v, flex);
  const n = readLength(r, flex, false);
  if (n === -1) return v >= f.nullMin && v <= f.nullMax ? null : [];
  // Each item takes at least one byte: a count beyond what is left is a lie.
  if (n < -1 || n > r.remaining) {
    throw new MalformedRequestError(`Cannot read ${f.name}: an array of ${n} items`);
  }
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = readOne(r, f, v, flex);
  return out;
}

function readStruct(
  r: Reader,
  fields: Field[],
  tagged: Field[],
  v: number,
  flex: boolean,
): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of fields) {
    o[f.name] = v >= f.min && v <= f.max ? readValue(r, f, v, flex) : defaultOf(f);
  }
  if (!flex) {
    for (const f of tagged) o[f.name] = defaultOf(f);
    return o;
  }
  for (const f of tagged) o[f.name] = defaultOf(f);
  const n = r.uvarint();
  for (let i = 0; i < n; i++) {
    const tag = r.uvarint();
    const size = r.uvarint();
    const f = tagged.find((t) => t.tag === tag && v >= t.min && v <= t.max);
    const body = r.sub(size);
    if (f) o[f.name] = readValue(body, f, v, true);
  }
  return o;
}

// ---------------------------------------------------------------------------------------
// Encoding

function writeUuid(w: Writer, id: string): void {
  const hex = id.replaceAll("-", "");
  if (hex.length !== 32) throw new Error(`Cannot write the uuid "${id}": it is not 16 bytes`);
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  w.raw(b);
}

function writeLength(w: Writer, flex: boolean, short: boolean, n: number): void {
  if (flex) w.uvarint(n + 1);
  else if (short) w.int16(n);
  else w.int32(n);
}

function writeOne(w: Writer, f: Field, v: number, flex: boolean, x: unknown): void {
  switch (f.kind) {
    case BOOL:
      w.int8(x ? 1 : 0);
      return;
    case INT8:
      w.int8((x as number) ?? 0);
      return;
    case INT16:
      w.int16((x as number) ?? 0);
      return;
    case INT32:
      w.int32((x as number) ?? 0);
      return;
    case INT64:
      w.int64((x as number) ?? 0);
      return;
    case FLOAT64:
      w.float64((x as number) ?? 0);
      return;
    case UUID:
      writeUuid(w, (x as string) ?? ZERO_UUID);
      return;
    case STRING: {
      if (x === null || x === undefined) {
        if (x === null && v >= f.nullMin && v <= f.nullMax) return writeLength(w, flex, true, -1);
        if (x === null) throw new Error(`Cannot write ${f.name} as null in v${v}`);
        x = "";
      }
      const b = TEXT_ENCODER.encode(x as string);
      writeLength(w, flex, true, b.byteLength);
      w.raw(b);
      return;
    }
    case BYTES:
    case RECORDS: {
      if (x === null && v >= f.nullMin && v <= f.nullMax) return writeLength(w, flex, false, -1);
      const b = (x as Uint8Array | null | undefined) ?? new Uint8Array(0);
      writeLength(w, flex, false, b.byteLength);
      w.raw(b);
      return;
    }
    case CHUNKS: {
      if (x === null && v >= f.nullMin && v <= f.nullMax) return writeLength(w, flex, false, -1);
      const chunks = (x as Uint8Array[] | null | undefined) ?? [];
      let n = 0;
      for (const c of chunks) n += c.byteLength;
      writeLength(w, flex, false, n);
      for (const c of chunks) w.raw(c);
      return;
    }
    default: {
      const nullable = v >= f.nullMin && v <= f.nullMax;
      if (!f.array && nullable) {
        if (x === null) {
          w.int8(-1);
          return;
        }
        w.int8(1);
      }
      writeStruct(w, f.fields, f.tagged, v, flex, (x ?? {}) as Record<string, unknown>);
    }
  }
}

function writeValue(w: Writer, f: Field, v: number, flex: boolean, x: unknown): void {
  if (!f.array) return writeOne(w, f, v, flex, x);
  if (x === null && v >= f.nullMin && v <= f.nullMax) return writeLength(w, flex, false, -1);
  const items = (x as unknown[] | null | undefined) ?? [];
  writeLength(w, flex, false, items.length);
  for (const item of items) writeOne(w, f, v, flex, item);
}

/**
 * True when a tagged field's value is its default (and so is left out). A struct is at its
 * default when each of its fields is, as Kafka's generated code compares it with a new one:
 * a decoded message without the tag writes back without it.
 */
function isDefault(f: Field, x: unknown): boolean {
  if (x === undefined) return true;
  if (f.array) return x !== null && (x as unknown[]).length === 0 && f.dflt === undefined;
  if (f.kind === STRUCT) {
    if (x === null) return false;
    const o = x as Record<string, unknown>;
    return f.fields.every((c) => isDefault(c, o[c.name])) &&
      f.tagged.every((c) => isDefault(c, o[c.name]));
  }
  return x === defaultOf(f);
}

function writeStruct(
  w: Writer,
  fields: Field[],
  tagged: Field[],
  v: number,
  flex: boolean,
  o: Record<string, unknown>,
): void {
  for (const f of fields) {
    if (v >= f.min && v <= f.max) {
      const x = o[f.name];
      writeValue(w, f, v, flex, x === undefined ? defaultOf(f) : x);
    }
  }
  if (!flex) return;
  const present = tagged.filter((f) => v >= f.min && v <= f.max && !isDefault(f, o[f.name]));
  w.uvarint(present.length);
  for (const f of present.sort((a, b) => a.tag - b.tag)) {
    const sub = new Writer(64);
    writeValue(sub, f, v, true, o[f.name]);
    const bytes = sub.toBytes();
    w.uvarint(f.tag).uvarint(bytes.byteLength).raw(bytes);
  }
}

// ---------------------------------------------------------------------------------------
// Messages

/** A compiled message: reads and writes its struct in any version. */
export class Schema<F extends Fields> {
  private readonly fields: Field[];
  private readonly tagged: Field[];

  /** `spec` is kept as declared (tests generate sample messages from it). */
  constructor(readonly name: string, readonly spec: F) {
    ({ fields: this.fields, tagged: this.tagged } = compileFields(spec, name));
  }

  /** Reads the message (version `v`, flexible or not) from `r`. */
  decode(r: Reader, v: number, flex: boolean): Msg<F> {
    return readStruct(r, this.fields, this.tagged, v, flex) as Msg<F>;
  }

  /** Writes `value` (version `v`, flexible or not) to `w`. */
  encode(w: Writer, v: number, flex: boolean, value: In<F>): void {
    writeStruct(w, this.fields, this.tagged, v, flex, value as Record<string, unknown>);
  }

  /** The message with every field at its default. */
  defaults(): Msg<F> {
    const o: Record<string, unknown> = {};
    for (const f of this.fields) o[f.name] = defaultOf(f);
    for (const f of this.tagged) o[f.name] = defaultOf(f);
    return o as Msg<F>;
  }
}

/** Compiles a message declaration. */
export function message<const F extends Fields>(name: string, fields: F): Schema<F> {
  return new Schema(name, fields);
}

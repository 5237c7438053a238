/**
 * The schema codec (lib/broker/schema.ts) on its own: every request and response of every
 * API in the registry, at every version the broker serves, survives encode → decode with
 * sample values in every field (tagged fields included), and the flexible encodings are
 * the bytes KIP-482 specifies, checked against hand-assembled frames.
 */
import assert from "node:assert/strict";
import { APIS } from "../../lib/broker/registry.ts";
import { MalformedRequestError, Reader, Writer } from "../../lib/broker/codec.ts";
import { arr, type Fields, message, obj, type Spec, ZERO_UUID } from "../../lib/broker/schema.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** Parses a version range as the DSL writes it ("3+", "0-4", "7"). */
function inRange(text: string, v: number): boolean {
  const [from, to] = text.endsWith("+")
    ? [Number(text.slice(0, -1)), Infinity]
    : text.includes("-")
    ? text.split("-").map(Number)
    : [Number(text), Number(text)];
  return v >= from && v <= to;
}

/** What the declaration says about a field at version `v` (an independent reading of the DSL). */
function about(spec: Spec, v: number) {
  const mods = (typeof spec === "string" ? spec.split(/\s+/).slice(1) : spec.mods.split(/\s+/))
    .filter(Boolean);
  const type = typeof spec === "string" ? spec.split(/\s+/)[0] : spec.kind;
  const versions = mods.find((m) => /^v\d/.test(m))?.slice(1) ?? "0+";
  const nulls = mods.find((m) => m.startsWith("null"));
  const present = inRange(versions, v);
  const nullable = present && nulls !== undefined &&
    (nulls === "null" || inRange(nulls.slice(4), v));
  const tagged = mods.some((m) => /^tag\d+$/.test(m));
  return { type, present, nullable, tagged };
}

let seed = 1;
const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);

function scalar(type: string): unknown {
  switch (type) {
    case "bool":
      return next() % 2 === 0;
    case "int8":
      return (next() % 200) - 100;
    case "int16":
      return (next() % 60000) - 30000;
    case "int32":
      return (next() % 2 ** 30) - 2 ** 29;
    case "int64":
      return next() * 4096 + next() % 4096 - 2 ** 40;
    case "float64":
      return next() / 7;
    case "uuid":
      return crypto.randomUUID();
    case "string":
      return `s${next() % 1000}-é`;
    case "bytes":
    case "records":
      return new Uint8Array([next() % 256, next() % 256, 7]);
    case "chunks":
      return [new Uint8Array([1, 2, 3, next() % 256])];
  }
  throw new Error(`no sample for ${type}`);
}

/** What a field decodes to when its version does not have it (Kafka's generator's rules). */
function defaultFor(spec: Spec): unknown {
  const mods = (typeof spec === "string" ? spec.split(/\s+/).slice(1) : spec.mods.split(/\s+/))
    .filter(Boolean);
  const type = typeof spec === "string" ? spec.split(/\s+/)[0] : spec.kind;
  const dflt = mods.find((m) => m.startsWith("="))?.slice(1);
  if (dflt !== undefined) {
    if (dflt === "null") return null;
    if (type === "bool") return dflt === "true";
    return type === "string" ? dflt : Number(dflt);
  }
  if (type === "arr" || type.startsWith("[]")) return [];
  if (typeof spec !== "string") {
    return Object.fromEntries(Object.entries(spec.fields).map(([k, f]) => [k, defaultFor(f)]));
  }
  // Nullable from the field's first version: null.
  const versions = mods.find((m) => /^v\d/.test(m))?.slice(1) ?? "0+";
  const nulls = mods.find((m) => m.startsWith("null"));
  const first = parseInt(versions);
  if (nulls && (nulls === "null" || parseInt(nulls.slice(4)) === first)) {
    if (["string", "bytes", "records", "chunks"].includes(type)) return null;
  }
  switch (type) {
    case "bool":
      return false;
    case "uuid":
      return ZERO_UUID;
    case "string":
      return "";
    case "bytes":
    case "records":
      return new Uint8Array(0);
    case "chunks":
      return [];
  }
  return 0;
}

/** A sample message for `fields` at `v`, with what decoding it must give back. */
function sample(fields: Fields, v: number, flex: boolean): { value: Any; expected: Any } {
  const value: Record<string, unknown> = {};
  const expected: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(fields)) {
    const a = about(spec, v);
    if (!a.present || (a.tagged && !flex)) {
      expected[name] = defaultFor(spec); // left out: decodes to its default
      continue;
    }
    let x: unknown;
    let e: unknown;
    if (a.nullable && next() % 4 === 0) {
      x = e = null;
    } else if (typeof spec !== "string") {
      const n = spec.kind === "arr" ? 1 + next() % 2 : 1;
      const items = Array.from({ length: n }, () => sample(spec.fields, v, flex));
      x = spec.kind === "arr" ? items.map((i) => i.value) : items[0].value;
      e = spec.kind === "arr" ? items.map((i) => i.expected) : items[0].expected;
    } else if (a.type.startsWith("[]")) {
      x = e = [scalar(a.type.slice(2)), scalar(a.type.slice(2))];
    } else {
      x = e = scalar(a.type);
    }
    value[name] = x;
    expected[name] = e;
  }
  return { value, expected };
}

for (const api of APIS.values()) {
  Deno.test(`${api.name} requests and responses survive encode and decode at every version`, () => {
    for (let v = api.minVersion; v <= api.maxVersion; v++) {
      const flex = v >= api.flexibleFrom;
      for (const schema of [api.request, api.response]) {
        for (let round = 0; round < 5; round++) {
          const { value, expected } = sample(schema.spec, v, flex);
          const w = new Writer();
          schema.encode(w, v, flex, value);
          const r = new Reader(w.toBytes());
          const got = schema.decode(r, v, flex);
          assert.equal(r.remaining, 0, `${schema.name} v${v}: bytes left over`);
          assert.deepEqual(normalize(got), normalize(expected), `${schema.name} v${v}`);
        }
      }
    }
  });
}

/** Byte arrays as plain arrays, so deepEqual compares contents. */
function normalize(x: Any): Any {
  return JSON.parse(
    JSON.stringify(x, (_k, v) => v instanceof Uint8Array ? [...v] : v),
  );
}

const T = message("T", {
  s: "string",
  n: "string null",
  list: "[]int32",
  nested: arr({ x: "int8" }),
  blob: "bytes null",
  id: "uuid",
  hint: "int32 tag3 =-1",
  leader: obj({ id: "int32 =-1" }, "tag5"),
});
const SAMPLE = {
  s: "ab",
  n: null,
  list: [1],
  nested: [{ x: 5 }],
  blob: null,
  id: "00010203-0405-0607-0809-0a0b0c0d0e0f",
  hint: 300,
};
const UUID_BYTES = Array.from({ length: 16 }, (_, i) => i);

Deno.test("flexible encodings are KIP-482's: compact lengths, null as 0, tags after each struct", () => {
  const w = new Writer();
  T.encode(w, 0, true, SAMPLE);
  assert.deepEqual([...w.toBytes()], [
    ...[3, 0x61, 0x62], // "ab": uvarint length + 1
    0, // null string
    ...[2, 0, 0, 0, 1], // [1]: uvarint count + 1
    ...[2, 5, 0], // one struct: x = 5, then its own (empty) tag section
    0, // null bytes
    ...UUID_BYTES,
    ...[1, 3, 4, 0, 0, 1, 44], // one tagged field: tag 3, 4 bytes, 300; leader left out
  ]);
});

Deno.test("classic encodings use int16/int32 lengths, -1 for null, and have no tags", () => {
  const w = new Writer();
  T.encode(w, 0, false, SAMPLE);
  assert.deepEqual([...w.toBytes()], [
    ...[0, 2, 0x61, 0x62],
    ...[0xff, 0xff],
    ...[0, 0, 0, 1, 0, 0, 0, 1],
    ...[0, 0, 0, 1, 5],
    ...[0xff, 0xff, 0xff, 0xff],
    ...UUID_BYTES,
  ]);
});

Deno.test("unknown tagged fields are skipped and known ones read, in any order", () => {
  const bytes = new Uint8Array([
    ...[3, 0x61, 0x62, 0, 1, 1, 0, ...UUID_BYTES],
    3, // three tagged fields
    ...[9, 2, 0xaa, 0xbb], // tag 9: unknown, skipped
    ...[5, 5, 0, 0, 0, 7, 0], // tag 5: leader { id: 7 } with its own empty tags
    ...[3, 4, 0, 0, 0, 9], // tag 3: hint = 9
  ]);
  const r = new Reader(bytes);
  const got = T.decode(r, 0, true);
  assert.equal(r.remaining, 0);
  assert.equal(got.hint, 9);
  assert.deepEqual(got.leader, { id: 7 });
  assert.equal(got.n, null);
  assert.deepEqual(got.list, []);
});

Deno.test("a null where the schema allows none, or a lying length, is a malformed request", () => {
  assert.throws(() => T.decode(new Reader(new Uint8Array([0])), 0, true), MalformedRequestError);
  assert.throws(
    () => T.decode(new Reader(new Uint8Array([0x7f, 0x61])), 0, true),
    MalformedRequestError,
  );
  assert.throws(
    () => T.decode(new Reader(new Uint8Array([3, 0x61, 0x62, 0, 0xff, 0xff, 0x7f])), 0, true),
    MalformedRequestError,
  );
});

Deno.test("fields outside a message's version are neither written nor read, and decode to their defaults", () => {
  const m = message("V", { a: "int32", b: "int64 v2+ =-1", c: "string v1-3", d: "bool v4+ =true" });
  const w = new Writer();
  m.encode(w, 1, false, { a: 1, b: 5, c: "x", d: false });
  assert.deepEqual([...w.toBytes()], [0, 0, 0, 1, 0, 1, 0x78]);
  assert.deepEqual(m.decode(new Reader(w.toBytes()), 1, false), { a: 1, b: -1, c: "x", d: true });
});

Deno.test("a tagged struct left out decodes to its default and is left out again when written back", () => {
  // Kafka writes a tagged struct only when it differs from a new one (Produce v10+'s
  // currentLeader, Fetch v15+'s replicaState): a decoded message must write back the same.
  const bytes = new Uint8Array([3, 0x61, 0x62, 0, 1, 1, 0, ...UUID_BYTES, 0]);
  const got = T.decode(new Reader(bytes), 0, true);
  assert.deepEqual(got.leader, { id: -1 });
  const w = new Writer();
  T.encode(w, 0, true, got);
  assert.deepEqual([...w.toBytes()], [...bytes]);
  const moved = new Writer();
  T.encode(moved, 0, true, { ...got, leader: { id: 7 } });
  // One tagged field: tag 5, 5 bytes, { id: 7 } with its own empty tags.
  assert.deepEqual([...moved.toBytes()].slice(bytes.length - 1), [1, 5, 5, 0, 0, 0, 7, 0]);
});

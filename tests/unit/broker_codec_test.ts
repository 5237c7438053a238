/**
 * The broker's building blocks in isolation: the wire Reader/Writer, CRC-32C (checked
 * against kafkajs's), record-batch splitting and offset patching (on batches kafkajs
 * encodes, plain and gzip, decoded back by kafkajs), and the partition log's index and
 * reads, in memory and on disk.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { MalformedRequestError, Reader, Writer } from "../../lib/broker/codec.ts";
import { crc32c, CRC32C_IMPLEMENTATION, crc32cJs } from "../../lib/broker/crc32c.ts";
import { patchBatch, splitBatches } from "../../lib/broker/record_batch.ts";
import { PartitionLog, segmentFileName } from "../../lib/broker/partition_log.ts";
import { FileHandles } from "../../lib/broker/log_store.ts";
import { ErrorCode } from "../../lib/broker/error_codes.ts";
import {
  decodeKafkajsRecordBatch,
  KafkajsCompressionTypes,
  kafkajsCrc32C,
  KafkajsDecoder,
  KafkajsRecord,
  KafkajsRecordBatch,
} from "../deps/kafkajs_protocol.ts";
import { withTempDir } from "../_fixtures.ts";

Deno.test("Writer and Reader round-trip every primitive the protocol uses", () => {
  const w = new Writer(8);
  w.int8(-5).bool(true).int16(-300).int32(-70_000).int64(2 ** 40 + 7).int64(-1);
  w.uvarint(0).uvarint(127).uvarint(128).uvarint(300_000);
  w.string("héllo").nullableString(null).compactString("kc");
  w.bytes(new Uint8Array([1, 2, 3])).nullableBytes(null);
  w.array([1, 2], (w, v) => w.int32(v)).nullableArray(null, (w, v: number) => w.int32(v));
  const r = new Reader(w.toBytes());
  assert.equal(r.int8(), -5);
  assert.equal(r.bool(), true);
  assert.equal(r.int16(), -300);
  assert.equal(r.int32(), -70_000);
  assert.equal(r.int64(), 2 ** 40 + 7);
  assert.equal(r.int64(), -1);
  assert.deepEqual([r.uvarint(), r.uvarint(), r.uvarint(), r.uvarint()], [0, 127, 128, 300_000]);
  assert.equal(r.string(), "héllo");
  assert.equal(r.nullableString(), null);
  assert.equal(r.compactNullableString(), "kc");
  assert.deepEqual(r.bytes(), new Uint8Array([1, 2, 3]));
  assert.equal(r.nullableBytes(), null);
  assert.deepEqual(r.array((r) => r.int32()), [1, 2]);
  assert.equal(r.nullableArray((r) => r.int32()), null);
  assert.equal(r.remaining, 0);
  assert.throws(() => r.int8(), MalformedRequestError);
});

Deno.test("Reader refuses lengths and counts that lie about the frame", () => {
  const lies: [string, number[], (r: Reader) => unknown][] = [
    ["a string past the end", [0, 9, 65], (r) => r.string()],
    ["a negative string length", [0xff, 0xfe], (r) => r.string()],
    ["bytes past the end", [0, 0, 0, 5, 1], (r) => r.bytes()],
    ["an array count beyond the frame", [0, 0, 1, 0], (r) => r.array((r) => r.int8())],
    ["a negative array count", [0xff, 0xff, 0xff, 0xfe], (r) => r.array((r) => r.int8())],
    ["a never-ending varint", [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], (r) => r.uvarint()],
    ["invalid UTF-8", [0, 2, 0xc3, 0x28], (r) => r.string()],
  ];
  for (const [what, bytes, read] of lies) {
    assert.throws(() => read(new Reader(new Uint8Array(bytes))), MalformedRequestError, what);
  }
});

Deno.test("Writer keeps large blobs as separate parts and frame() writes the size in front", () => {
  const blob = new Uint8Array(200_000).fill(7);
  const w = new Writer();
  w.int32(0).int32(42).bytes(blob).int16(9);
  const parts = w.frame();
  assert.ok(parts.includes(blob), "the blob is passed through, not copied");
  const all = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.byteLength;
  }
  const v = new DataView(all.buffer);
  assert.equal(v.getInt32(0), all.byteLength - 4);
  assert.equal(v.getInt32(4), 42);
  assert.equal(v.getInt32(8), blob.byteLength);
  assert.equal(v.getInt16(12 + blob.byteLength), 9);
});

for (const [name, crc] of [["native", crc32c], ["JavaScript", crc32cJs]] as const) {
  Deno.test(`${name} CRC-32C matches kafkajs's on every length from 0 to 300 bytes and on 1 MiB`, () => {
    if (name === "native" && CRC32C_IMPLEMENTATION !== "native") {
      console.warn("*** the native CRC-32C did not load here: checking the fallback twice ***");
    }
    const data = new Uint8Array(1 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    for (let n = 0; n <= 300; n++) {
      assert.equal(
        crc(data.subarray(0, n)),
        kafkajsCrc32C(Buffer.from(data.subarray(0, n))),
        `${n}`,
      );
    }
    assert.equal(crc(data), kafkajsCrc32C(Buffer.from(data)));
    assert.equal(crc(new TextEncoder().encode("abc")), 0x364b3fb7);
    assert.equal(crc(data.subarray(50), crc(data.subarray(0, 50))), crc(data), "chaining");
  });
}

/** A RecordBatch encoded by kafkajs, with its base offset set to `firstOffset`. */
async function kafkajsBatch(values: string[], compression = 0, ts = 1_700_000_000_000) {
  const records = values.map((v, i) =>
    KafkajsRecord({
      offsetDelta: i,
      timestampDelta: i,
      key: Buffer.from(`k${i}`),
      value: Buffer.from(v),
      headers: {},
    })
  );
  const e = await KafkajsRecordBatch({
    compression,
    firstOffset: 0n,
    firstTimestamp: ts,
    maxTimestamp: ts + values.length - 1,
    lastOffsetDelta: values.length - 1,
    records,
  });
  return new Uint8Array(e.buffer);
}

async function decodeBatch(bytes: Uint8Array) {
  return await decodeKafkajsRecordBatch(new KafkajsDecoder(Buffer.from(bytes)));
}

for (const [name, compression] of [["plain", 0], ["gzip", KafkajsCompressionTypes.GZIP]] as const) {
  Deno.test(`a ${name} kafkajs batch is split, checked and given offsets without breaking its CRC`, async () => {
    const a = await kafkajsBatch(["a0", "a1", "a2"], compression);
    const b = await kafkajsBatch(["b0"], compression, 1_800_000_000_000);
    const both = new Uint8Array([...a, ...b]);
    const batches = splitBatches(both);
    assert.ok(Array.isArray(batches), JSON.stringify(batches));
    assert.deepEqual(batches.map((x) => [x.start, x.size, x.lastOffsetDelta, x.maxTimestamp]), [
      [0, a.length, 2, 1_700_000_000_002],
      [a.length, b.length, 0, 1_800_000_000_000],
    ]);
    patchBatch(both, 0, 40);
    patchBatch(both, a.length, 43);
    assert.ok(Array.isArray(splitBatches(both)), "still passes its CRC check");
    const first = await decodeBatch(both.subarray(0, a.length));
    assert.deepEqual(first.records.map((r: { offset: string }) => r.offset), ["40", "41", "42"]);
    assert.deepEqual(first.records.map((r: { value: Buffer }) => r.value.toString()), [
      "a0",
      "a1",
      "a2",
    ]);
    const second = await decodeBatch(both.subarray(a.length));
    assert.deepEqual(second.records.map((r: { offset: string }) => r.offset), ["43"]);
  });
}

Deno.test("splitBatches names the problem with each kind of bad record set", async () => {
  const good = await kafkajsBatch(["x"]);
  const magic0 = good.slice();
  magic0[16] = 0;
  const magic3 = good.slice();
  magic3[16] = 3;
  const short = good.slice(0, 40);
  const crc = good.slice();
  crc[good.length - 1] ^= 1;
  const noCheck = splitBatches(crc, { checkCrc: false });
  assert.ok(Array.isArray(noCheck));
  for (
    const [bytes, code, msg] of [
      [magic0, ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, /magic < 2/],
      [magic3, ErrorCode.CORRUPT_MESSAGE, /unknown magic/],
      [short, ErrorCode.CORRUPT_MESSAGE, /cut short/],
      [crc, ErrorCode.CORRUPT_MESSAGE, /CRC-32C/],
      [new Uint8Array(0), ErrorCode.CORRUPT_MESSAGE, /empty/],
    ] as const
  ) {
    const res = splitBatches(bytes);
    assert.ok(!Array.isArray(res));
    assert.equal(res.error, code);
    assert.match(res.message, msg);
  }
});

async function exerciseLog(log: PartitionLog) {
  const sizes: number[] = [];
  for (let b = 0; b < 5; b++) {
    const bytes = await kafkajsBatch(
      Array.from({ length: b + 1 }, (_, i) => `b${b}-${i}`),
      0,
      1_000_000 + b * 1000,
    );
    sizes.push(bytes.length);
    const batches = splitBatches(bytes);
    assert.ok(Array.isArray(batches));
    log.append(bytes, batches);
  }
  // Offsets: b0 = 0, b1 = 1-2, b2 = 3-5, b3 = 6-9, b4 = 10-14.
  assert.equal(log.nextOffset, 15);
  assert.equal(log.batchCount, 5);
  const offsetsOf = async (chunks: Uint8Array[]) => {
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.byteLength;
    }
    const out: string[] = [];
    const d = new KafkajsDecoder(Buffer.from(all));
    while (d.canReadInt64()) {
      const batch = await decodeKafkajsRecordBatch(d);
      out.push(...batch.records.map((r: { offset: string }) => r.offset));
    }
    return out;
  };
  const read = log.read(4, 1 << 20, true);
  assert.deepEqual(await offsetsOf(read.chunks), [
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
    "10",
    "11",
    "12",
    "13",
    "14",
  ]);
  assert.equal(read.bytes, sizes[2] + sizes[3] + sizes[4]);
  const one = log.read(6, 10, true);
  assert.equal(one.bytes, sizes[3], "at least one whole batch, even over max bytes");
  assert.equal(log.read(6, 10, false).bytes, 0);
  const two = log.read(0, sizes[0] + sizes[1] + 5, false);
  assert.deepEqual(await offsetsOf(two.chunks), ["0", "1", "2"]);
  assert.equal(log.read(15, 1000, true).bytes, 0, "nothing at the high watermark");
  assert.equal(log.bytesFrom(14), sizes[4]);
  assert.equal(log.bytesFrom(15), 0);
  assert.equal(log.inRange(15), true);
  assert.equal(log.inRange(16), false);
  assert.deepEqual(log.offsetForTimestamp(1_002_000), { offset: 3, timestamp: 1_002_002 });
  assert.deepEqual(log.offsetForTimestamp(9_000_000), { offset: -1, timestamp: -1 });
}

Deno.test("an in-memory partition log indexes batches and reads whole batches by offset", async () => {
  await exerciseLog(PartitionLog.memory("t", 0));
});

Deno.test("a file partition log does the same and is rebuilt identically when reopened", () =>
  withTempDir(async (dir) => {
    const env = { dir, handles: new FileHandles(8) };
    const first = PartitionLog.open("t", 0, env).log;
    await exerciseLog(first);
    await first.close();
    const { log, report } = PartitionLog.open("t", 0, env);
    try {
      assert.equal(report.cuts.length, 0);
      assert.equal(log.nextOffset, 15);
      assert.equal(log.batchCount, 5);
      assert.equal(log.bytesFrom(0), Deno.statSync(join(dir, segmentFileName(0))).size);
    } finally {
      await log.close();
    }
  }));

Deno.test("timestamp lookups find the first batch at or after a time even when times go back", async () => {
  const log = PartitionLog.memory("t", 0);
  for (const ts of [5_000, 1_000, 9_000, 7_000]) {
    const bytes = await kafkajsBatch(["a", "b"], 0, ts);
    const batches = splitBatches(bytes);
    assert.ok(Array.isArray(batches));
    log.append(bytes, batches);
  }
  // Batches: offsets 0-1 @ 5001, 2-3 @ 1001, 4-5 @ 9001, 6-7 @ 7001 (max timestamps).
  assert.deepEqual(log.offsetForTimestamp(0), { offset: 0, timestamp: 5_001 });
  assert.deepEqual(log.offsetForTimestamp(2_000), { offset: 0, timestamp: 5_001 });
  assert.deepEqual(log.offsetForTimestamp(6_000), { offset: 4, timestamp: 9_001 });
  assert.deepEqual(log.offsetForTimestamp(9_001), { offset: 4, timestamp: 9_001 });
  assert.deepEqual(log.offsetForTimestamp(9_002), { offset: -1, timestamp: -1 });
});

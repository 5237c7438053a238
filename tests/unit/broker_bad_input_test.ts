/**
 * Bad input over raw TCP: malformed frames, unknown API keys, unsupported versions, frames
 * over the limit, lying lengths, bad strings and corrupt record batches. Each gets Kafka's
 * error code or a closed connection, never a crash, and the broker keeps serving a client
 * that was connected all along and a new one.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Kafka, logLevel } from "../../lib/deps/kafkajs.ts";
import { KafkajsRecord, KafkajsRecordBatch } from "../deps/kafkajs_protocol.ts";
import { ErrorCode } from "../../lib/broker/error_codes.ts";
import type { Broker } from "../../lib/broker/broker.ts";
import { RawKafkaConn, withBroker } from "../_fixtures.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const enc = new TextEncoder();

/** Bytes of a Kafka string (int16 length). */
function str(s: string): number[] {
  const b = enc.encode(s);
  return [b.length >> 8, b.length & 0xff, ...b];
}

function int32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

/** A request frame: size, api key, version, correlation id, client id, then `body`. */
function frame(
  apiKey: number,
  version: number,
  correlationId: number,
  body: number[] | Uint8Array,
) {
  const head = [
    apiKey >> 8,
    apiKey & 0xff,
    version >> 8,
    version & 0xff,
    ...int32(correlationId),
    ...str("bad"),
  ];
  const all = new Uint8Array(4 + head.length + body.length);
  all.set(int32(head.length + body.length));
  all.set(head, 4);
  all.set(body, 4 + head.length);
  return all;
}

/** Metadata v1 for no topics (an empty array): a cheap well-formed request. */
const METADATA = (cid: number) => frame(3, 1, cid, int32(0));

/** Runs `fn` with a broker, a raw connection open throughout and a kafkajs admin. */
async function withWitnesses(
  fn: (broker: Broker, check: (what: string) => Promise<void>) => Promise<void>,
) {
  await withBroker(async (broker) => {
    const bystander = await RawKafkaConn.open(broker.bootstrap);
    const admin = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "ok" }] });
    let cid = 1000;
    const check = async (what: string) => {
      const id = cid++;
      await bystander.send(METADATA(id));
      const res = await bystander.readFrame();
      assert.ok(res, `the connected client was dropped after ${what}`);
      assert.equal(new DataView(res.buffer).getInt32(0), id);
      assert.ok((await admin.listTopics()).includes("ok"), `a new client after ${what}`);
    };
    try {
      await fn(broker, check);
    } finally {
      bystander.close();
      await admin.disconnect();
    }
  }, { maxFrameBytes: 1024 * 1024 });
}

/** Sends `bytes` on a new connection and expects the broker to close it without answering. */
async function expectClosed(broker: Broker, bytes: Uint8Array, what: string) {
  const c = await RawKafkaConn.open(broker.bootstrap);
  try {
    await c.send(bytes).catch(() => {});
    assert.equal(await c.readFrame(10_000), null, `${what}: expected the connection closed`);
  } finally {
    c.close();
  }
}

/**
 * A Fetch v11 body for partition 0 of `topic` from offset 0, long-polling up to `maxWaitMs`
 * (min bytes 1): replica -1, max wait, min bytes, max bytes, isolation, session id and
 * epoch, the topic with its partition (current leader epoch, fetch offset, log start offset,
 * partition max bytes), no forgotten topics, an empty rack id.
 */
function fetchV11(topic: string, maxWaitMs: number): number[] {
  const int64 = (n: number) => [...int32(0), ...int32(n)];
  return [
    ...int32(-1),
    ...int32(maxWaitMs),
    ...int32(1),
    ...int32(1 << 20),
    0,
    ...int32(0),
    ...int32(-1),
    ...int32(1),
    ...str(topic),
    ...int32(1),
    ...int32(0),
    ...int32(-1),
    ...int64(0),
    ...int64(0),
    ...int32(1 << 20),
    ...int32(0),
    ...str(""),
  ];
}

Deno.test({
  name: "malformed frames close only their own connection and the broker keeps serving",
  ...opts,
  fn: () =>
    withWitnesses(async (broker, check) => {
      const cases: [string, Uint8Array][] = [
        ["a negative frame size", new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3])],
        ["a frame too short for a header", new Uint8Array([0, 0, 0, 3, 0, 3, 0])],
        ["an unknown API key", frame(999, 0, 1, [])],
        ["an unsupported version", frame(3, 9, 1, int32(0))],
        ["a body cut short", frame(3, 1, 1, [...int32(5), ...str("only-one")])],
        ["an array count far beyond the frame", frame(3, 1, 1, int32(0x7fffffff))],
        ["a string that is not UTF-8", frame(3, 1, 1, [...int32(1), 0, 2, 0xff, 0xfe])],
        ["a string length past the end", frame(3, 1, 1, [...int32(1), 0x7f, 0xff])],
        [
          "a header cut inside the client id",
          new Uint8Array([0, 0, 0, 10, 0, 3, 0, 1, 0, 0, 0, 1, 0, 9]),
        ],
      ];
      for (const [what, bytes] of cases) {
        await expectClosed(broker, bytes, what);
        await check(what);
      }
    }),
});

Deno.test({
  name: "a frame over the size limit is refused from its size alone, before its body arrives",
  ...opts,
  fn: () =>
    withWitnesses(async (broker, check) => {
      // 1 GiB announced, 4 bytes sent: the broker must not wait for (or allocate) the rest.
      await expectClosed(broker, new Uint8Array([0x40, 0, 0, 0, 0, 3, 0, 1]), "a 1 GiB frame");
      await check("an oversized frame");
      // Just over the 1 MiB limit, with the whole body sent.
      const big = frame(3, 1, 1, new Uint8Array(1024 * 1024));
      await expectClosed(broker, big, "a frame just over the limit");
      await check("a frame just over the limit");
    }),
});

Deno.test({
  name: "a connection dropped mid-frame or mid-request leaves the broker serving",
  ...opts,
  fn: () =>
    withWitnesses(async (broker, check) => {
      const c = await RawKafkaConn.open(broker.bootstrap);
      await c.send(METADATA(1).subarray(0, 9));
      c.close();
      await check("a connection closed mid-frame");
      const d = await RawKafkaConn.open(broker.bootstrap);
      // A long-poll fetch whose client goes away while it waits.
      const fetch = fetchV11("ok", 500);
      await d.send(frame(1, 11, 2, fetch));
      d.close();
      await check("a client gone during a long poll");
    }),
});

/** A Produce v7 request for `topic`-0 carrying `records`. */
function produce(topic: string, records: Uint8Array, acks = 1) {
  return frame(0, 7, 5, [
    0xff,
    0xff, // transactional_id: null
    acks >> 8 & 0xff,
    acks & 0xff,
    ...int32(1000),
    ...int32(1),
    ...str(topic),
    ...int32(1),
    ...int32(0),
    ...int32(records.byteLength),
    ...records,
  ]);
}

/** Reads the error code of the one partition in a Produce v7 response. */
function produceError(res: Uint8Array, topic: string): number {
  const at = 4 + 4 + 2 + enc.encode(topic).length + 4 + 4;
  return new DataView(res.buffer).getInt16(at);
}

async function batch(values: string[], lastOffsetDelta = values.length - 1): Promise<Uint8Array> {
  const records = values.map((v, i) =>
    KafkajsRecord({
      offsetDelta: i,
      timestampDelta: 0,
      key: null,
      value: Buffer.from(v),
      headers: {},
    })
  );
  const e = await KafkajsRecordBatch({
    firstOffset: 0n,
    firstTimestamp: Date.now(),
    maxTimestamp: Date.now(),
    lastOffsetDelta,
    records,
  });
  return new Uint8Array(e.buffer);
}

Deno.test({
  name:
    "corrupt or refused record batches get CORRUPT_MESSAGE or INVALID_RECORD and nothing is stored",
  ...opts,
  fn: () =>
    withWitnesses(async (broker, check) => {
      const c = await RawKafkaConn.open(broker.bootstrap);
      try {
        const good = await batch(["a", "b"]);
        const flipped = good.slice();
        flipped[flipped.length - 1] ^= 0x01;
        const oldMagic = good.slice();
        oldMagic[16] = 1;
        const miscounted = await batch(["a", "b"], 0);
        const lying = good.slice();
        new DataView(lying.buffer).setInt32(8, 10_000);
        const cases: [string, Uint8Array, number][] = [
          ["a flipped bit (CRC)", flipped, ErrorCode.CORRUPT_MESSAGE],
          // Produce v3+ must carry magic 2: Kafka 3.9 answers INVALID_RECORD.
          ["magic 1", oldMagic, ErrorCode.INVALID_RECORD],
          ["offsets that do not match the record count", miscounted, ErrorCode.INVALID_RECORD],
          [
            "two batches in Produce v3+",
            new Uint8Array([...good, ...good]),
            ErrorCode.INVALID_RECORD,
          ],
          ["a batch length past the end", lying, ErrorCode.CORRUPT_MESSAGE],
          [
            "stray bytes after a batch",
            new Uint8Array([...good, 1, 2, 3]),
            ErrorCode.CORRUPT_MESSAGE,
          ],
          ["no records at all", new Uint8Array(0), ErrorCode.CORRUPT_MESSAGE],
        ];
        for (const [what, records, code] of cases) {
          await c.send(produce("ok", records));
          const res = await c.readFrame();
          assert.ok(res, what);
          assert.equal(produceError(res, "ok"), code, what);
        }
        await c.send(produce("ok", good));
        assert.equal(produceError((await c.readFrame())!, "ok"), ErrorCode.NONE);
        await check("corrupt batches");
        const admin = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })
          .admin();
        await admin.connect();
        const offsets = await admin.fetchTopicOffsets("ok");
        await admin.disconnect();
        assert.equal(offsets[0].high, "2", "only the good batch was stored");
      } finally {
        c.close();
      }
    }),
});

Deno.test({
  name:
    "producing to an illegal topic name is refused with INVALID_TOPIC_EXCEPTION even with auto-create",
  ...opts,
  fn: () =>
    withBroker(async (broker) => {
      const c = await RawKafkaConn.open(broker.bootstrap);
      try {
        const good = await batch(["x"]);
        for (const name of ["has space", "a/b", "..", "x".repeat(250)]) {
          await c.send(produce(name, good));
          const res = await c.readFrame();
          assert.ok(res);
          assert.equal(produceError(res, name), ErrorCode.INVALID_TOPIC_EXCEPTION, name);
        }
        await c.send(produce("fine.name_1-2", good));
        assert.equal(produceError((await c.readFrame())!, "fine.name_1-2"), ErrorCode.NONE);
      } finally {
        c.close();
      }
    }, { autoCreate: true }),
});

Deno.test({
  name: "pipelined requests on one connection are answered one at a time, in order",
  ...opts,
  fn: () =>
    withWitnesses(async (broker) => {
      const c = await RawKafkaConn.open(broker.bootstrap);
      try {
        // A fetch that long-polls 300 ms, then two quick requests, all in one write.
        const fetch = fetchV11("ok", 300);
        const parts = [frame(1, 11, 1, fetch), METADATA(2), frame(18, 2, 3, [])];
        await c.send(new Uint8Array(parts.flatMap((p) => [...p])));
        const ids: number[] = [];
        for (let i = 0; i < 3; i++) {
          const res = await c.readFrame();
          assert.ok(res);
          ids.push(new DataView(res.buffer).getInt32(0));
        }
        assert.deepEqual(ids, [1, 2, 3]);
      } finally {
        c.close();
      }
    }),
});

/** A small deterministic PRNG (mulberry32), so a failing case can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test({
  name: "random request bodies for every API and version never stop the broker serving",
  ...opts,
  fn: () =>
    withWitnesses(async (broker, check) => {
      const { APIS } = await import("../../lib/broker/registry.ts");
      const rand = prng(20261124);
      const cases: Uint8Array[] = [];
      for (const api of APIS.values()) {
        for (let v = api.minVersion; v <= api.maxVersion; v++) {
          for (let i = 0; i < 6; i++) {
            // Mostly small numbers and short lengths, so parsing gets past the first field.
            const body = Array.from({ length: Math.floor(rand() * 64) }, () =>
              rand() < 0.6 ? 0 : Math.floor(rand() * 256));
            cases.push(frame(api.key, v, i, body));
          }
        }
      }
      for (let i = 0; i < cases.length; i += 16) {
        await Promise.all(
          cases.slice(i, i + 16).map(async (bytes) => {
            const c = await RawKafkaConn.open(broker.bootstrap);
            try {
              await c.send(bytes).catch(() => {});
              await c.readFrame(200).catch(() => {}); // an answer, a close, or a held request
            } finally {
              c.close();
            }
          }),
        );
      }
      await check(`${cases.length} random requests`);
    }),
});

Deno.test({
  name: "mutated valid requests (flipped bytes, cut short) never stop the broker serving",
  ...opts,
  fn: () =>
    withWitnesses(async (broker, check) => {
      const { encodeKafkajsRequest, kafkajsRequests } = await import(
        "../deps/kafkajs_protocol.ts"
      );
      const seedArgs: [string, number, unknown][] = [
        ["Metadata", 4, { topics: ["ok", "other"], allowAutoTopicCreation: false }],
        ["Produce", 7, {
          acks: 1,
          timeout: 100,
          topicData: [{ topic: "ok", partitions: [{ partition: 0, messages: [{ value: "v" }] }] }],
        }],
        ["Fetch", 11, {
          maxWaitTime: 50,
          minBytes: 1,
          maxBytes: 1000,
          topics: [{
            topic: "ok",
            partitions: [{ partition: 0, fetchOffset: "0", maxBytes: 1000 }],
          }],
        }],
        ["ListOffsets", 2, {
          topics: [{ topic: "ok", partitions: [{ partition: 0, timestamp: -1 }] }],
        }],
        ["CreateTopics", 3, {
          topics: [{ topic: "fz", numPartitions: 2, replicationFactor: 1 }],
          timeout: 100,
        }],
        ["JoinGroup", 5, {
          groupId: "fz",
          sessionTimeout: 1000,
          rebalanceTimeout: 1000,
          memberId: "",
          protocolType: "consumer",
          groupProtocols: [{ name: "rr", metadata: Buffer.from("m") }],
        }],
        ["SyncGroup", 3, {
          groupId: "fz",
          generationId: 1,
          memberId: "m",
          groupAssignment: [{ memberId: "m", memberAssignment: Buffer.from("a") }],
        }],
        ["Heartbeat", 3, { groupId: "fz", groupGenerationId: 1, memberId: "m" }],
        ["OffsetCommit", 5, {
          groupId: "fz",
          groupGenerationId: -1,
          memberId: "",
          topics: [{ topic: "ok", partitions: [{ partition: 0, offset: "0" }] }],
        }],
        ["OffsetFetch", 4, {
          groupId: "fz",
          topics: [{ topic: "ok", partitions: [{ partition: 0 }] }],
        }],
        ["DescribeGroups", 2, { groupIds: ["fz"] }],
        ["GroupCoordinator", 2, { groupId: "fz" }],
        ["ApiVersions", 2, {}],
      ];
      const rand = prng(7);
      const cases: Uint8Array[] = [];
      for (const [api, version, args] of seedArgs) {
        const { request } = kafkajsRequests[api].protocol({ version })(args);
        const seed = new Uint8Array(
          (await encodeKafkajsRequest({ correlationId: 1, clientId: "fz", request })).buffer,
        );
        for (let i = 0; i < 25; i++) {
          const m = seed.slice();
          if (rand() < 0.3) {
            // Cut short, with the size prefix still claiming the cut length.
            const keep = 12 + Math.floor(rand() * (m.length - 12));
            const cut = m.slice(0, keep);
            new DataView(cut.buffer).setInt32(0, keep - 4);
            cases.push(cut);
            continue;
          }
          for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) {
            // Never touch the size prefix or the api key: those cases are covered above.
            const at = 6 + Math.floor(rand() * (m.length - 6));
            m[at] = rand() < 0.5 ? m[at] ^ (1 << Math.floor(rand() * 8)) : Math.floor(rand() * 256);
          }
          cases.push(m);
        }
      }
      for (let i = 0; i < cases.length; i += 16) {
        await Promise.all(
          cases.slice(i, i + 16).map(async (bytes) => {
            const c = await RawKafkaConn.open(broker.bootstrap);
            try {
              await c.send(bytes).catch(() => {});
              await c.readFrame(300).catch(() => {});
            } finally {
              c.close();
            }
          }),
        );
      }
      await check(`${cases.length} mutated requests`);
    }),
});

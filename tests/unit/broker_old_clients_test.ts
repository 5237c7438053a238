/**
 * Old clients and requests the broker does not serve (issue 10, item 5): each gets the
 * answer Apache Kafka 3.9 gives, or, where Kafka would convert old record formats and this
 * broker does not, a well-formed refusal with Kafka's error code plus a log line saying
 * what to use instead. Where Kafka closes the connection, so does the broker; the two are
 * compared on the same bytes.
 */
import assert from "node:assert/strict";
import { ErrorCode } from "../../lib/broker/error_codes.ts";
import { RawKafkaConn, withBroker } from "../_fixtures.ts";
import { WireClient } from "../_kafka_wire.ts";

const enc = new TextEncoder();

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (IEEE), which old message sets use. */
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A message set of one message in the old format (magic 0 or 1), as kafka-node writes it. */
function oldMessageSet(magic: 0 | 1, value: string): Uint8Array {
  const v = enc.encode(value);
  const body = new Uint8Array(2 + (magic === 1 ? 8 : 0) + 4 + 4 + v.length);
  const dv = new DataView(body.buffer);
  let at = 0;
  dv.setInt8(at++, magic);
  dv.setInt8(at++, 0); // attributes: no compression
  if (magic === 1) {
    dv.setBigInt64(at, BigInt(Date.now()));
    at += 8;
  }
  dv.setInt32(at, -1); // null key
  dv.setInt32(at + 4, v.length);
  body.set(v, at + 8);
  const msg = new Uint8Array(8 + 4 + 4 + body.length);
  const mv = new DataView(msg.buffer);
  mv.setBigInt64(0, 0n); // offset
  mv.setInt32(8, 4 + body.length); // message size
  mv.setUint32(12, crc32(body));
  msg.set(body, 16);
  return msg;
}

Deno.test("an old-format produce (magic 0 or 1, Produce v0–v2) is refused with UNSUPPORTED_FOR_MESSAGE_FORMAT and a log line naming the fix", async () => {
  const lines: string[] = [];
  await withBroker(async (broker) => {
    const c = await WireClient.open(broker.bootstrap);
    try {
      await c.call("CreateTopics", 0, {
        topics: [{ name: "legacy", numPartitions: 1, replicationFactor: 1 }],
      });
      for (const [v, magic] of [[0, 0], [1, 0], [2, 1]] as const) {
        const res = await c.call("Produce", v, {
          acks: 1,
          timeoutMs: 1000,
          topicData: [{
            name: "legacy",
            partitionData: [{ index: 0, records: oldMessageSet(magic, `old-${v}`) }],
          }],
        });
        const p = res.responses[0].partitionResponses[0];
        assert.equal(p.errorCode, ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, `Produce v${v}`);
        assert.equal(p.baseOffset, -1);
      }
      const latest = await c.call("ListOffsets", 1, {
        replicaId: -1,
        topics: [{ name: "legacy", partitions: [{ partitionIndex: 0, timestamp: -1 }] }],
      });
      assert.equal(latest.topics[0].partitions[0].offset, 0, "nothing was stored");
    } finally {
      c.close();
    }
  }, { logger: (l) => lines.push(l) });
  const refusals = lines.filter((l) => l.includes("refused a produce"));
  assert.equal(refusals.length, 3);
  assert.match(refusals[0], /client "wire-test"/);
  assert.match(refusals[0], /record format v2 only, written by Kafka 0\.11\+ clients/);
});

Deno.test("Fetch v0–v3 gets UNSUPPORTED_VERSION for existing partitions, no records, and one log line per client", async () => {
  const lines: string[] = [];
  await withBroker(async (broker) => {
    const c = await WireClient.open(broker.bootstrap);
    try {
      await c.call("CreateTopics", 0, {
        topics: [{ name: "t", numPartitions: 1, replicationFactor: 1 }],
      });
      for (const v of [0, 1, 2, 3, 3]) {
        const res = await c.call("Fetch", v, {
          maxWaitMs: 0,
          minBytes: 1,
          maxBytes: 1 << 20,
          topics: [
            { topic: "t", partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1024 }] },
            { topic: "gone", partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 }] },
          ],
        });
        const [t, gone] = res.responses.map((x: { partitions: unknown[] }) => x.partitions[0]);
        assert.equal(t.errorCode, ErrorCode.UNSUPPORTED_VERSION, `Fetch v${v}`);
        assert.equal(t.records, null);
        assert.equal(gone.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      }
    } finally {
      c.close();
    }
  }, { logger: (l) => lines.push(l) });
  const told = lines.filter((l) => l.includes("expects old message sets"));
  assert.equal(told.length, 1, "said once for the client, not on every fetch");
  assert.match(told[0], /client "wire-test" fetches with Fetch v0/);
});

/** Frames Kafka does not serve: an unknown API key, and versions past each API's range. */
const UNSERVED: [string, Uint8Array][] = [
  ["API key 99", new Uint8Array([0, 0, 0, 10, 0, 99, 0, 0, 0, 0, 0, 7, 0, 0])],
  ["Produce v12", new Uint8Array([0, 0, 0, 10, 0, 0, 0, 12, 0, 0, 0, 7, 0, 0])],
  ["Metadata v13", new Uint8Array([0, 0, 0, 10, 0, 3, 0, 13, 0, 0, 0, 7, 0, 0])],
  ["Fetch v99", new Uint8Array([0, 0, 0, 10, 0, 1, 0, 99, 0, 0, 0, 7, 0, 0])],
];

/** What a broker does with each unserved frame, on a new connection: its answer or "closed". */
async function answersTo(bootstrap: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [what, bytes] of UNSERVED) {
    const c = await RawKafkaConn.open(bootstrap);
    try {
      await c.send(bytes);
      const res = await c.readFrame(20_000);
      out[what] = res === null ? "closed" : `answered ${res.byteLength} bytes`;
    } finally {
      c.close();
    }
  }
  return out;
}

Deno.test("an unknown API or a version past the range closes that connection, as Kafka does, and says why in the log", async () => {
  const lines: string[] = [];
  await withBroker(async (broker) => {
    assert.deepEqual(
      await answersTo(broker.bootstrap),
      Object.fromEntries(UNSERVED.map(([w]) => [w, "closed"])),
    );
    // The broker carries on for everyone else.
    const c = await WireClient.open(broker.bootstrap);
    try {
      assert.equal((await c.call("ApiVersions", 3, {})).errorCode, 0);
    } finally {
      c.close();
    }
  }, { logger: (l) => lines.push(l) });
  assert.ok(lines.some((l) => /API key 99 \(v0\) from client "" is not supported/.test(l)));
  assert.ok(
    lines.some((l) => /Produce v12 from client "" is not supported \(v0–v11 are\)/.test(l)),
  );
});

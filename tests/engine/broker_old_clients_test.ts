/**
 * Old clients and requests the broker does not serve (issue 10, item 5): each gets the
 * answer Apache Kafka 3.9 gives, or, where Kafka would convert old record formats and this
 * broker does not, a well-formed refusal with Kafka's error code plus a log line saying
 * what to use instead. Where Kafka closes the connection, so does the broker; the two are
 * compared on the same bytes.
 */
import assert from "node:assert/strict";
import { ErrorCode } from "../../lib/broker/error_codes.ts";
import { withKafka } from "../_engines.ts";
import { envTest, RawKafkaConn, withBroker } from "../_fixtures.ts";
import { decodeResponse, encodeRequest } from "../_kafka_wire.ts";

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

await envTest(
  "Apache Kafka 3.9 closes the connection on the same unserved requests, and answers ApiVersions v9 the same way",
  ["kafka"],
  async () => {
    await withKafka(async (kafka) => {
      assert.deepEqual(
        await answersTo(kafka.bootstrap),
        Object.fromEntries(UNSERVED.map(([w]) => [w, "closed"])),
      );
      await withBroker(async (broker) => {
        const shapes = [];
        for (const bootstrap of [broker.bootstrap, kafka.bootstrap]) {
          const c = await RawKafkaConn.open(bootstrap);
          try {
            // ApiVersions v9 (flexible header), answered as v0 with only ApiVersions' range.
            const frame = encodeRequest("ApiVersions", 3, {}, 5);
            new DataView(frame.buffer).setInt16(6, 9);
            await c.send(frame);
            const res = (await c.readFrame())!;
            const body = decodeResponse("ApiVersions", 0, res);
            shapes.push({
              errorCode: body.errorCode,
              keys: body.apiKeys.map((k: { apiKey: number; minVersion: number }) => [
                k.apiKey,
                k.minVersion,
              ]),
            });
          } finally {
            c.close();
          }
        }
        assert.deepEqual(shapes[0], { errorCode: ErrorCode.UNSUPPORTED_VERSION, keys: [[18, 0]] });
        assert.deepEqual(shapes[0], shapes[1]);
      });
    });
  },
);

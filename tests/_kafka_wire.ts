/**
 * A raw Kafka client for protocol tests that speaks every API and version the embedded
 * broker declares, through the broker's own schemas used in the client direction: it
 * encodes requests (request header v1, or v2 for flexible versions) and decodes responses.
 * The same bytes can go to the embedded broker and to Apache Kafka, so their answers can be
 * compared field by field; Apache Kafka accepting these requests and the schemas decoding
 * its answers is what checks the schemas themselves.
 */
import { APIS } from "../lib/broker/registry.ts";
import type { Api } from "../lib/broker/api.ts";
import { Reader, Writer } from "../lib/broker/codec.ts";
import type { In } from "../lib/broker/schema.ts";
import { RawKafkaConn } from "./_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** The API called `name` in the registry. */
export function api(name: string): Api {
  for (const a of APIS.values()) if (a.name === name) return a;
  throw new Error(`No API called "${name}" in the registry`);
}

/** Encodes a request frame (size prefix included). */
export function encodeRequest(
  name: string,
  version: number,
  body: In<Any>,
  correlationId = 1,
  clientId = "wire-test",
): Uint8Array {
  const a = api(name);
  const flex = version >= a.flexibleFrom;
  const w = new Writer();
  w.int32(0).int16(a.key).int16(version).int32(correlationId).nullableString(clientId);
  if (flex) w.uvarint(0); // request header v2: no tags
  a.request.encode(w, version, flex, body);
  const parts = w.frame();
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Decodes a response frame (without its size prefix) of `name` v`version`. */
export function decodeResponse(name: string, version: number, frame: Uint8Array): Any {
  const a = api(name);
  const flex = version >= a.flexibleFrom;
  const r = new Reader(frame);
  r.int32(); // correlation id
  if (flex && !a.responseHeaderV0) r.skipTags();
  const res = a.response.decode(r, version, flex);
  if (r.remaining !== 0) {
    throw new Error(`${name} v${version}: ${r.remaining} bytes left after the response`);
  }
  return res;
}

/** One connection speaking the registry's schemas. */
export class WireClient {
  private cid = 1;
  private constructor(readonly conn: RawKafkaConn) {}

  /** Connects to `bootstrap` (host:port). */
  static async open(bootstrap: string): Promise<WireClient> {
    return new WireClient(await RawKafkaConn.open(bootstrap));
  }

  /** Sends `name` v`version` and answers the decoded response (undefined: no answer expected). */
  async call(name: string, version: number, body: In<Any> = {}, expectAnswer = true): Promise<Any> {
    const id = this.cid++;
    await this.conn.send(encodeRequest(name, version, body, id));
    if (!expectAnswer) return undefined;
    const frame = await this.conn.readFrame(30_000);
    if (!frame) throw new Error(`The broker closed the connection on ${name} v${version}`);
    const got = new DataView(frame.buffer, frame.byteOffset).getInt32(0);
    if (got !== id) throw new Error(`${name} v${version}: correlation id ${got}, expected ${id}`);
    return decodeResponse(name, version, frame);
  }

  /** Sends raw bytes and answers the next frame, or null when the connection was closed. */
  async raw(bytes: Uint8Array): Promise<Uint8Array | null> {
    await this.conn.send(bytes);
    return await this.conn.readFrame(30_000);
  }

  close(): void {
    this.conn.close();
  }
}

/** Runs `fn` with a WireClient on `bootstrap`, closed afterwards. */
export async function withWire<T>(
  bootstrap: string,
  fn: (c: WireClient) => Promise<T>,
): Promise<T> {
  const c = await WireClient.open(bootstrap);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/**
 * A response with what legitimately differs between two brokers replaced by placeholders:
 * fields named in `vary` (ids, hosts, ports, timestamps, messages…) become "*", and byte
 * arrays become their length.
 */
export function shape(value: Any, vary: readonly string[] = DEFAULT_VARY): Any {
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  if (Array.isArray(value)) return value.map((v) => shape(v, vary));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = vary.includes(k) && v !== null && v !== -1 ? "*" : shape(v, vary);
    }
    return out;
  }
  return value;
}

/** Fields that differ between any two brokers: identities, addresses, clocks and wording. */
export const DEFAULT_VARY = [
  "nodeId",
  "brokerId",
  "leaderId",
  "controllerId",
  "host",
  "port",
  "clusterId",
  "topicId",
  "memberId",
  "leader",
  "errorMessage",
  "documentation",
  "throttleTimeMs",
  "replicaNodes",
  "isrNodes",
];

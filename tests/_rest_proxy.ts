/**
 * Fixtures for the REST proxy's tests: a proxy in front of a fresh embedded broker (or any
 * Kafka), plain HTTP helpers, a kafkajs reader to see what Kafka holds, and a raw HTTP/1.1
 * client that sends a body as slowly or as partially as a test wants.
 * @module
 */
import { startBroker } from "../lib/broker/broker.ts";
import type { Broker } from "../lib/broker/broker.ts";
import { createKafka } from "../lib/kafka/kafka_client.ts";
import { startRestProxy, V2 } from "../lib/rest_proxy/rest_proxy.ts";
import type { RestProxy, RestProxyOptions } from "../lib/rest_proxy/rest_proxy.ts";
import type { Kafka } from "../lib/deps/kafkajs.ts";
import { waitFor } from "./_fixtures.ts";

export { V2 };

/** kafkajs clients leave timers behind. */
export const T = { sanitizeOps: false, sanitizeResources: false };

/** What a proxy test gets. */
export interface ProxyCtx {
  proxy: RestProxy;
  kafka: Kafka;
  bootstrap: string;
}

/** Creates topics (name → partitions) through kafkajs. */
export async function createTopics(kafka: Kafka, topics: Record<string, number>): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: Object.entries(topics).map(([topic, numPartitions]) => ({ topic, numPartitions })),
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Runs `fn` with a proxy in front of `bootstrap` (default: a fresh in-memory embedded broker)
 * holding `topics` (default `t.pin` with 3 partitions).
 */
export async function withProxy(
  fn: (ctx: ProxyCtx & { broker?: Broker }) => Promise<void>,
  opts: Partial<RestProxyOptions> = {},
  setup: { bootstrap?: string; topics?: Record<string, number> } = {},
): Promise<void> {
  const broker = setup.bootstrap ? undefined : await startBroker({ port: 0 });
  const bootstrap = setup.bootstrap ?? broker!.bootstrap;
  const kafka = createKafka({ bootstrap, clientId: "test" });
  try {
    await createTopics(kafka, setup.topics ?? { "t.pin": 3 });
    const proxy = await startRestProxy({ kafka, ...opts });
    try {
      await fn({ proxy, kafka, bootstrap, broker });
    } finally {
      await proxy.close();
    }
  } finally {
    await broker?.close();
  }
}

/** An HTTP answer read whole. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/** Sends a request to the proxy (`path` after its base URL) and reads the answer. */
export async function call(
  proxy: RestProxy,
  method: string,
  path: string,
  body?: string | Uint8Array,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(`${proxy.url}${path}`, {
    method,
    headers,
    body: body as BodyInit | undefined,
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

/** POSTs a v2 produce request. */
export function produce(
  proxy: RestProxy,
  topic: string,
  body: string | Uint8Array,
  type: string = V2.json,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return call(proxy, "POST", `/topics/${topic}`, body, { "content-type": type, ...headers });
}

/** A record as Kafka holds it. */
export interface Held {
  partition: number;
  offset: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
}

/** Reads `n` records of `topic` back with a kafkajs consumer (a fresh group, from the start). */
export async function consume(kafka: Kafka, topic: string, n: number): Promise<Held[]> {
  const consumer = kafka.consumer({ groupId: `read-${crypto.randomUUID()}`, maxWaitTimeInMs: 100 });
  const got: Held[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: ({ partition, message }) => {
      got.push({
        partition,
        offset: Number(message.offset),
        key: message.key ? new Uint8Array(message.key) : null,
        value: message.value ? new Uint8Array(message.value) : null,
      });
      return Promise.resolve();
    },
  });
  try {
    await waitFor(`${n} records from ${topic}`, () => got.length >= n, 60_000);
  } finally {
    await consumer.disconnect();
  }
  return got;
}

const dec = new TextDecoder();
/** Bytes as text (null stays null). */
export function text(b: Uint8Array | null): string | null {
  return b === null ? null : dec.decode(b);
}

/** A raw HTTP/1.1 request whose (chunked) body the test writes piece by piece. */
export interface RawRequest {
  chunk(s: string | Uint8Array): Promise<unknown>;
  end(): Promise<unknown>;
  /** Everything the server answered so far. */
  response(): string;
  close(): Promise<void>;
}

/** Opens a raw POST to `path` (after the proxy's base URL) with a chunked body. */
export async function rawPost(
  proxy: RestProxy,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawRequest> {
  const url = new URL(proxy.url);
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  const head = [
    `POST ${url.pathname.replace(/\/$/, "")}${path} HTTP/1.1`,
    `Host: ${url.host}`,
    "Transfer-Encoding: chunked",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    "",
    "",
  ].join("\r\n");
  const enc = new TextEncoder();
  await conn.write(enc.encode(head));
  let answer = "";
  const reading = (async () => {
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return;
      answer += dec.decode(buf.subarray(0, n));
    }
  })();
  const write = async (b: Uint8Array) => {
    for (let off = 0; off < b.length;) off += await conn.write(b.subarray(off));
  };
  return {
    chunk: (s) => {
      const b = typeof s === "string" ? enc.encode(s) : s;
      const framed = new Uint8Array([
        ...enc.encode(`${b.length.toString(16)}\r\n`),
        ...b,
        ...enc.encode("\r\n"),
      ]);
      return write(framed).catch(() => 0);
    },
    end: () => write(enc.encode("0\r\n\r\n")).catch(() => 0),
    response: () => answer,
    close: async () => {
      try {
        conn.close();
      } catch {
        // already closed by the server
      }
      await reading;
    },
  };
}

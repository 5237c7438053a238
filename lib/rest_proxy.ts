/**
 * A Confluent REST Proxy v2-compatible produce endpoint on kafkajs (reference/aws-kafka.md
 * §1, SPEC §2), for running the pipeline locally with the same emulator URL shape as on AWS:
 * `POST <base>/topics/<topic>` with `application/vnd.kafka.json.v2+json` or
 * `application/vnd.kafka.binary.v2+json`, `GET <base>/topics`, `GET <base>/topics/<topic>`.
 *
 * Guarantees: a record is reported with an offset only after the broker acknowledged it with
 * acks=-1; a record that fails gets its own `error_code` inside the 200, like the real proxy.
 * Bodies are read as a stream and refused (413) the moment they pass the limit; at most
 * `maxInFlight` produce requests are held at once, beyond which the answer is 429 with
 * Retry-After. With an API key configured it behaves like API Gateway: 403
 * `{"message":"Forbidden"}` unless `x-api-key` matches (compared in constant time).
 *
 * Keys of the json format are JSON-serialized like the real proxy's: `"key": 7528` is stored
 * as the bytes `7528`, `"key": "7528"` as `"7528"` (quotes included).
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, timingSafeEqual } from "node:crypto";
import { Partitioners } from "./deps/kafkajs.ts";
import type { Admin, Kafka, Producer } from "./deps/kafkajs.ts";
import { installFastVarints } from "./kafkajs_varints.ts";

/** Options of `startRestProxy`. */
export interface RestProxyOptions {
  /** The Kafka client to produce with (see lib/kafka_client.ts createKafka). */
  kafka: Kafka;
  /** Interface to bind. Default 127.0.0.1. */
  hostname?: string;
  /** Port; 0 (default) picks a free one. */
  port?: number;
  /** A path prefix like an API Gateway stage (`/test`); requests outside it get 404. */
  basePath?: string;
  /** When set, requests must carry `x-api-key: <apiKey>`. */
  apiKey?: string;
  /** Create unknown topics on first produce instead of answering 40401. */
  autoCreate?: boolean;
  /** Largest request body. Default 10 MiB (API Gateway's payload limit). */
  maxBodyBytes?: number;
  /** Largest serialized record (key + value); bigger ones fail alone. Default 1 MiB. */
  maxRecordBytes?: number;
  /** Produce requests handled at once; more get 429. Default 64. */
  maxInFlight?: number;
  /** Seconds in the Retry-After of a 429. Default 1. */
  retryAfterSec?: number;
  /** Log lines (errors, not requests); never given keys or bodies. */
  log?: (line: string) => void;
}

/** Counters since start. */
export interface RestProxyStats {
  requests: number;
  produceRequests: number;
  records: number;
  recordErrors: number;
  rejected429: number;
  inFlight: number;
}

/** A running proxy. */
export interface RestProxy {
  /** Base URL including the base path, e.g. `http://127.0.0.1:40123/test`. */
  url: string;
  port: number;
  stats(): RestProxyStats;
  /** Stops accepting, lets in-flight requests finish, disconnects from Kafka. */
  close(): Promise<void>;
}

/** The v2 content types the proxy accepts and answers with. */
export const V2 = {
  json: "application/vnd.kafka.json.v2+json",
  binary: "application/vnd.kafka.binary.v2+json",
  response: "application/vnd.kafka.v2+json",
} as const;

type Format = "json" | "binary";

/** A whole-request error in the v2 envelope. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface Offset {
  partition: number | null;
  offset: number | null;
  error_code: number | null;
  error: string | null;
}

interface PreparedRecord {
  key: Buffer | null;
  value: Buffer | null;
  partition?: number;
}

/** Starts the proxy; resolves once it listens. */
export async function startRestProxy(opts: RestProxyOptions): Promise<RestProxy> {
  const basePath = (opts.basePath ?? "").replace(/\/+$/, "");
  if (basePath && !basePath.startsWith("/")) {
    throw new Error(`Invalid base path "${opts.basePath}": it must start with "/"`);
  }
  const maxBody = opts.maxBodyBytes ?? 10 * 1024 * 1024;
  const maxRecord = opts.maxRecordBytes ?? 1024 * 1024;
  const maxInFlight = opts.maxInFlight ?? 64;
  const retryAfter = String(opts.retryAfterSec ?? 1);
  const log = opts.log ?? (() => {});
  const keyDigest = opts.apiKey ? sha256(opts.apiKey) : undefined;
  const stats: RestProxyStats = {
    requests: 0,
    produceRequests: 0,
    records: 0,
    recordErrors: 0,
    rejected429: 0,
    inFlight: 0,
  };

  // kafkajs spends a third of its producing time building varints under Deno; same bytes.
  installFastVarints();
  const admin: Admin = opts.kafka.admin();
  const producer: Producer = opts.kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: false,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
  });
  await Promise.all([admin.connect(), producer.connect()]);
  const topics = new TopicCache(admin, log);
  const partitioner = Partitioners.DefaultPartitioner();

  const handle = async (req: Request): Promise<Response> => {
    stats.requests++;
    const url = new URL(req.url);
    // API Gateway checks the key before anything else, whatever the path.
    if (keyDigest && !keyMatches(req.headers.get("x-api-key"), keyDigest)) {
      return Response.json({ message: "Forbidden" }, { status: 403 });
    }
    let path = url.pathname;
    if (basePath) {
      if (path !== basePath && !path.startsWith(`${basePath}/`)) return notFound();
      path = path.slice(basePath.length) || "/";
    }
    const m = /^\/topics(?:\/([^/]+))?\/?$/.exec(path);
    if (!m) return notFound();
    const topic = m[1] === undefined ? undefined : safeDecode(m[1]);
    if (topic === undefined && m[1] !== undefined) return notFound();
    try {
      if (req.method === "GET" && topic === undefined) {
        return v2Json(await topics.list());
      }
      if (req.method === "GET" && topic !== undefined) {
        const meta = await topics.describe(topic, true);
        if (!meta) throw topicNotFound(topic);
        return v2Json({
          name: topic,
          configs: {},
          partitions: meta.map((p) => ({
            partition: p.partitionId,
            leader: p.leader,
            replicas: p.replicas.map((b) => ({
              broker: b,
              leader: b === p.leader,
              in_sync: p.isr.includes(b),
            })),
          })),
        });
      }
      if (req.method === "POST" && topic !== undefined) {
        if (stats.inFlight >= maxInFlight) {
          stats.rejected429++;
          await req.body?.cancel().catch(() => {});
          throw new HttpError(
            429,
            42901,
            `Too many requests: ${maxInFlight} produce requests are in flight`,
            { "Retry-After": retryAfter },
          );
        }
        stats.inFlight++;
        try {
          return await produce(req, topic);
        } finally {
          stats.inFlight--;
        }
      }
      return v2Error(new HttpError(405, 405, "HTTP 405 Method Not Allowed"));
    } catch (err) {
      if (err instanceof HttpError) return v2Error(err);
      log(`rest-proxy: ${req.method} ${path} failed: ${(err as Error).message}`);
      const retriable = (err as { retriable?: boolean }).retriable !== false;
      return v2Error(
        retriable
          ? new HttpError(503, 50302, `Broker not available: ${(err as Error).message}`)
          : new HttpError(500, 50002, `Kafka error: ${(err as Error).message}`),
      );
    }
  };

  const produce = async (req: Request, topic: string): Promise<Response> => {
    stats.produceRequests++;
    const format = contentFormat(req.headers.get("content-type"));
    const body = await readBody(req, maxBody);
    const records = parseProduce(body, format);
    let meta = await topics.describe(topic);
    if (!meta && opts.autoCreate) meta = await topics.create(topic);
    if (!meta) throw topicNotFound(topic);
    const partitionIds = new Set(meta.map((p) => p.partitionId));
    for (const r of records) {
      if (r.partition !== undefined && !partitionIds.has(r.partition)) {
        throw new HttpError(404, 40402, `Partition ${r.partition} of topic ${topic} not found.`);
      }
    }
    const offsets: Offset[] = new Array(records.length);
    const byPartition = new Map<number, number[]>();
    records.forEach((r, i) => {
      const size = (r.key?.length ?? 0) + (r.value?.length ?? 0);
      if (size > maxRecord) {
        offsets[i] = {
          partition: null,
          offset: null,
          error_code: 50002,
          error:
            `The message is ${size} bytes when serialized which is larger than ${maxRecord}, ` +
            "which is the value of the max.request.size configuration.",
        };
        return;
      }
      const p = partitioner({
        topic,
        partitionMetadata: meta!,
        message: { key: r.key, value: r.value, partition: r.partition },
      });
      const idx = byPartition.get(p);
      if (idx) idx.push(i);
      else byPartition.set(p, [i]);
    });
    // One send per partition, so a failure is reported for exactly the records it concerns.
    await Promise.all([...byPartition].map(async ([partition, idx]) => {
      try {
        const res = await producer.send({
          topic,
          acks: -1,
          timeout: 30000,
          messages: idx.map((i) => ({
            key: records[i].key,
            value: records[i].value,
            partition,
          })),
        });
        const meta = res.find((m) => m.partition === partition) ?? res[0];
        const base = Number(meta.baseOffset ?? meta.offset);
        idx.forEach((i, k) => {
          offsets[i] = { partition, offset: base + k, error_code: null, error: null };
        });
      } catch (err) {
        const e = err as { name?: string; type?: string; retriable?: boolean; message?: string };
        log(`rest-proxy: produce to ${topic}[${partition}] failed: ${e.message}`);
        if (e.type === "UNKNOWN_TOPIC_OR_PARTITION") topics.forget(topic);
        for (const i of idx) {
          offsets[i] = {
            partition: null,
            offset: null,
            error_code: errorCode(e),
            error: e.message ?? String(err),
          };
        }
      }
    }));
    for (const o of offsets) {
      if (o.error_code === null) stats.records++;
      else stats.recordErrors++;
    }
    return v2Json({ key_schema_id: null, value_schema_id: null, offsets });
  };

  const server = Deno.serve({
    hostname: opts.hostname ?? "127.0.0.1",
    port: opts.port ?? 0,
    onListen: () => {},
    onError: (err) => {
      log(`rest-proxy: ${(err as Error).message}`);
      return v2Error(new HttpError(500, 500, "Internal Server Error"));
    },
  }, handle);
  const port = server.addr.port;
  const host = server.addr.hostname.includes(":")
    ? `[${server.addr.hostname}]`
    : server.addr.hostname;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}${basePath}`,
    port,
    stats: () => ({ ...stats }),
    close: () =>
      closing ??= (async () => {
        await server.shutdown();
        await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
      })(),
  };
}

interface PartitionMeta {
  partitionErrorCode: number;
  partitionId: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

/** Topic existence and partitions, cached so a produce costs no metadata round trip. */
class TopicCache {
  private known = new Map<string, { at: number; partitions: PartitionMeta[] }>();
  constructor(private admin: Admin, private log: (l: string) => void) {}

  async list(): Promise<string[]> {
    const all = await this.admin.listTopics();
    return all.filter((t) => !t.startsWith("__")).sort();
  }

  /** Partitions of `topic`, or undefined when it does not exist. */
  async describe(topic: string, fresh = false): Promise<PartitionMeta[] | undefined> {
    const hit = this.known.get(topic);
    if (hit && !fresh && performance.now() - hit.at < 30_000) return hit.partitions;
    // Listing first: a metadata request naming the topic could auto-create it.
    if (!(await this.admin.listTopics()).includes(topic)) {
      this.known.delete(topic);
      return undefined;
    }
    const md = await this.admin.fetchTopicMetadata({ topics: [topic] });
    const partitions = (md.topics[0]?.partitions ?? []) as unknown as PartitionMeta[];
    if (!partitions.length) return undefined;
    partitions.sort((a, b) => a.partitionId - b.partitionId);
    this.known.set(topic, { at: performance.now(), partitions });
    return partitions;
  }

  async create(topic: string): Promise<PartitionMeta[] | undefined> {
    if (!/^[a-zA-Z0-9._-]{1,249}$/.test(topic)) {
      throw new HttpError(400, 40002, `Cannot create topic ${topic}: invalid topic name`);
    }
    try {
      await this.admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
      this.log(`rest-proxy: created topic ${topic}`);
    } catch (err) {
      if ((err as { type?: string }).type !== "TOPIC_ALREADY_EXISTS") throw err;
    }
    for (let i = 0; i < 50; i++) {
      const meta = await this.describe(topic, true);
      if (meta?.every((p) => p.leader >= 0)) return meta;
      await new Promise((r) => setTimeout(r, 100));
    }
    return await this.describe(topic, true);
  }

  forget(topic: string): void {
    this.known.delete(topic);
  }
}

function sha256(s: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(s).digest());
}

/** Compares digests, so the time taken says nothing about the key or its length. */
function keyMatches(given: string | null, want: Uint8Array): boolean {
  return timingSafeEqual(sha256(given ?? ""), want) && given !== null;
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

function notFound(): Response {
  return v2Error(new HttpError(404, 404, "HTTP 404 Not Found"));
}

function topicNotFound(topic: string): HttpError {
  return new HttpError(404, 40401, `Topic ${topic} not found.`);
}

function v2Json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": V2.response, ...headers },
  });
}

function v2Error(e: HttpError): Response {
  return v2Json({ error_code: e.errorCode, message: e.message }, e.status, e.headers);
}

/** The embedded format of a produce request, or 415. */
function contentFormat(contentType: string | null): Format {
  const type = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (type === V2.json) return "json";
  // Without an embedded format the real proxy assumes binary.
  if (type === V2.binary || type === V2.response) return "binary";
  throw new HttpError(
    415,
    415,
    `HTTP 415 Unsupported Media Type: "${type || "none"}"; send ${V2.json} or ${V2.binary}`,
  );
}

/** The body, read chunk by chunk and refused as soon as it passes `max` bytes. */
async function readBody(req: Request, max: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new HttpError(413, 413, `Request Entity Too Large: the body is over ${max} bytes`);
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (declared > max) {
    await req.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!req.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Parses and validates a v2 produce body into Kafka keys and values. */
function parseProduce(body: Uint8Array, format: Format): PreparedRecord[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(body));
  } catch (err) {
    throw new HttpError(
      422,
      42203,
      `Conversion of JSON to Object failed: ${(err as Error).message}`,
    );
  }
  const shape = (msg: string) => new HttpError(422, 422, msg);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw shape('The request body must be a JSON object with a "records" array');
  }
  const records = (parsed as { records?: unknown }).records;
  if (!Array.isArray(records) || records.length === 0) {
    throw shape("records may not be empty");
  }
  for (const f of ["key_schema", "key_schema_id", "value_schema", "value_schema_id"]) {
    if ((parsed as Record<string, unknown>)[f] != null) {
      throw shape(`${f} is only allowed with a schema format (avro, jsonschema, protobuf)`);
    }
  }
  return records.map((r, i): PreparedRecord => {
    if (typeof r !== "object" || r === null || Array.isArray(r)) {
      throw shape(`records[${i}] must be an object with "value" and optional "key", "partition"`);
    }
    const rec = r as { key?: unknown; value?: unknown; partition?: unknown };
    let partition: number | undefined;
    if (rec.partition !== undefined && rec.partition !== null) {
      if (!Number.isInteger(rec.partition) || (rec.partition as number) < 0) {
        throw shape(`records[${i}].partition must be a non-negative integer`);
      }
      partition = rec.partition as number;
    }
    if (format === "json") {
      return {
        key: rec.key === undefined || rec.key === null
          ? null
          : Buffer.from(JSON.stringify(rec.key)),
        value: rec.value === undefined || rec.value === null
          ? null
          : Buffer.from(JSON.stringify(rec.value)),
        partition,
      };
    }
    return {
      key: fromBase64(rec.key, `records[${i}].key`),
      value: fromBase64(rec.value, `records[${i}].value`),
      partition,
    };
  });
}

function fromBase64(v: unknown, what: string): Buffer | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) {
    throw new HttpError(422, 42203, `Conversion of JSON to Object failed: ${what} is not base64`);
  }
  return Buffer.from(v, "base64");
}

/** The v2 per-record error code of a producer failure. */
function errorCode(e: { name?: string; type?: string; retriable?: boolean }): number {
  const t = e.type ?? "";
  if (/SASL_AUTHENTICATION|AUTHENTICATION/.test(t) || e.name === "KafkaJSSASLAuthenticationError") {
    return 40101;
  }
  if (/AUTHORIZATION/.test(t)) return 40301;
  return e.retriable === false ? 50002 : 50003;
}

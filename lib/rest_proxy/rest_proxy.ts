/**
 * A Confluent REST Proxy-compatible server on kafkajs (reference/aws-kafka.md §1, SPEC §2),
 * so the pipeline runs locally with the same URLs as on AWS, and so people can check their
 * ingestion the way they do there:
 *
 * - v2 produce: `POST /topics/{t}` and `POST /topics/{t}/partitions/{p}` with the json or
 *   binary embedded format (lib/rest_proxy/v2_produce.ts);
 * - v2 metadata: `GET /`, `GET /topics`, `GET /topics/{t}`, `GET /topics/{t}/partitions`,
 *   `GET /topics/{t}/partitions/{p}`, `GET /topics/{t}/partitions/{p}/offsets`,
 *   `GET /brokers`;
 * - the v2 consumer API under `/consumers` (lib/rest_proxy/consumers.ts);
 * - v3: clusters, topics and the (streaming) records API (lib/rest_proxy/v3.ts).
 *
 * Guarantees: a record is reported with an offset only after the broker acknowledged it with
 * acks=-1; a json record's key and value reach Kafka as the exact JSON text sent, and a json
 * consumer returns them as stored. No single client can stop the server: a body is read before
 * it takes one of the `maxInFlight` produce slots, must arrive within `bodyTimeoutMs` (408),
 * is refused with 413 the moment it passes `maxBodyBytes`, and all bodies together stay under
 * `memoryBudgetBytes` (429 beyond); big requests are sent in chunks, so they neither freeze the
 * server nor starve the others. With an API key configured it behaves like API Gateway: 403
 * `{"message":"Forbidden"}` unless `x-api-key` matches (compared in constant time).
 *
 * Folder `lib/rest_proxy/`: the Confluent-compatible REST proxy: this server and one file per part
 * of its API. May import: `lib/kafka/`, `lib/shell/`, `lib/deps/`.
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Admin, Kafka, Producer } from "../deps/kafkajs.ts";
import { installFastVarints } from "../kafka/kafkajs_varints.ts";
import { ConsumerManager } from "./consumers.ts";
import type { ConsumerSettings } from "./consumers.ts";
import {
  answerType,
  errorResponse,
  HttpError,
  jsonResponse,
  MemoryBudget,
  methodNotAllowed,
  notFound,
  readBody,
} from "./http.ts";
import { kafkaErrorMessage, kafkaHttpError } from "./kafka_errors.ts";
import { checkKafkaReachable } from "../kafka/kafka_client.ts";
import { RecordSender } from "./record_sender.ts";
import { serveHttp } from "./server.ts";
import type { ProxyRequest } from "./server.ts";
import { partitionJson, partitionNotFound, TopicCache } from "./topics.ts";
import { handleV3 } from "./v3.ts";
import { produceFormat, produceV2 } from "./v2_produce.ts";

export { V2 } from "./http.ts";

/** Options of `startRestProxy`. */
export interface RestProxyOptions {
  /** The Kafka client to produce and consume with (see lib/kafka/kafka_client.ts createKafka). */
  kafka: Kafka;
  /**
   * The bootstrap addresses, to check Kafka is reachable before starting (a clear error within
   * seconds instead of a minute of client retries); skipped when not given.
   */
  bootstrap?: string;
  /** Where `bootstrap` came from, for that error (default `--bootstrap`). */
  bootstrapFrom?: string;
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
  /** Produce requests handled at once (after their bodies arrived); more get 429. Default 64. */
  maxInFlight?: number;
  /** A body must arrive within this many ms of its request, else 408. Default 30 s. */
  bodyTimeoutMs?: number;
  /** Bytes of request bodies held at once across all requests; beyond, 429. Default 128 MiB. */
  memoryBudgetBytes?: number;
  /** Seconds in the Retry-After of a 429. Default 1. */
  retryAfterSec?: number;
  /** Records per kafkajs send (see lib/rest_proxy/record_sender.ts). Default 1000. */
  chunkRecords?: number;
  /** v2 consumer settings. */
  consumers?: ConsumerSettings;
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
  /** Consumer instances now. */
  consumers: number;
  /** Bytes of request bodies held now. */
  bodyBytes: number;
}

/** A running proxy. */
export interface RestProxy {
  /** Base URL including the base path, e.g. `http://127.0.0.1:40123/test`. */
  url: string;
  port: number;
  stats(): RestProxyStats;
  /** Stops accepting, lets in-flight requests finish, closes consumers, disconnects. */
  close(): Promise<void>;
}

/** A startup failure: Kafka could not be reached or refused the client. */
export class KafkaUnavailableError extends Error {
  override name = "KafkaUnavailableError";
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
  const budget = new MemoryBudget(opts.memoryBudgetBytes ?? 128 * 1024 * 1024);
  const bodyTimeoutMs = opts.bodyTimeoutMs ?? 30_000;
  const log = opts.log ?? (() => {});
  const keyDigest = opts.apiKey ? sha256(opts.apiKey) : undefined;
  const stats = {
    requests: 0,
    produceRequests: 0,
    records: 0,
    recordErrors: 0,
    rejected429: 0,
    inFlight: 0,
  };

  if (opts.bootstrap) {
    try {
      await checkKafkaReachable({ bootstrap: opts.bootstrap, bootstrapFrom: opts.bootstrapFrom });
    } catch (err) {
      throw new KafkaUnavailableError((err as Error).message);
    }
  }
  // kafkajs spends a third of its producing time building varints under Deno; same bytes.
  installFastVarints();
  const admin: Admin = opts.kafka.admin({ retry: { retries: 2, initialRetryTime: 100 } });
  const producer: Producer = opts.kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: false,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
  });
  try {
    await Promise.all([admin.connect(), producer.connect()]);
  } catch (err) {
    await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    throw new KafkaUnavailableError(
      `Cannot start the REST proxy: Kafka${
        opts.bootstrap ? ` at "${opts.bootstrap}" (${opts.bootstrapFrom ?? "--bootstrap"})` : ""
      } refused the client: ${kafkaErrorMessage(err)}`,
    );
  }
  const topics = new TopicCache(admin, log);
  const sender = new RecordSender(producer, topics, {
    maxRecordBytes: maxRecord,
    chunkRecords: opts.chunkRecords,
    log,
  });
  const consumers = new ConsumerManager(opts.kafka, opts.consumers ?? {}, log);
  const bodyLimits = (max: number) => ({
    maxBytes: max,
    timeoutMs: bodyTimeoutMs,
    budget,
    retryAfter,
  });
  const tooMany = (what: string) =>
    new HttpError(429, 42901, `Too many requests: ${what}`, { "Retry-After": retryAfter });

  const handle = async (req: ProxyRequest): Promise<Response> => {
    stats.requests++;
    const url = new URL(req.url);
    // API Gateway checks the key before anything else, whatever the path.
    if (keyDigest && !keyMatches(req.headers.get("x-api-key"), keyDigest)) {
      await req.body?.cancel().catch(() => {});
      return Response.json({ message: "Forbidden" }, { status: 403 });
    }
    let path = url.pathname;
    if (basePath) {
      if (path !== basePath && !path.startsWith(`${basePath}/`)) {
        await req.body?.cancel().catch(() => {});
        return errorResponse(notFound());
      }
      path = path.slice(basePath.length) || "/";
    }
    try {
      return await route(req, path);
    } catch (err) {
      await req.body?.cancel().catch(() => {});
      if (err instanceof HttpError) {
        if (err.status === 429) stats.rejected429++;
        return errorResponse(err);
      }
      log(`rest-proxy: ${req.method} ${path} failed: ${(err as Error).message}`);
      return errorResponse(kafkaHttpError(err, `${req.method} ${path} failed`));
    }
  };

  const route = async (req: ProxyRequest, path: string): Promise<Response> => {
    const segs = path.split("/").filter(Boolean);
    if (segs.length === 0) {
      if (req.method !== "GET" && req.method !== "POST") throw methodNotAllowed();
      return jsonResponse({}, 200, {}, answerType(req));
    }
    if (segs[0] === "v3") {
      return await handleV3(
        {
          topics,
          sender,
          autoCreate: !!opts.autoCreate,
          budget,
          maxObjectBytes: maxRecord * 2 + 64 * 1024,
          log,
          onRecords: (ok, failed) => {
            stats.records += ok;
            stats.recordErrors += failed;
          },
        },
        req,
        path.slice(3),
        baseUrl(req, basePath),
      );
    }
    if (segs[0] === "consumers") {
      const body = req.method === "POST" || req.method === "GET"
        ? await readBody(req, bodyLimits(Math.min(maxBody, 1024 * 1024)))
        : undefined;
      try {
        return await consumers.handle(
          req,
          path.slice("/consumers".length),
          baseUrl(req, basePath),
          body?.bytes ?? new Uint8Array(),
        );
      } finally {
        body?.release();
      }
    }
    if (segs[0] === "brokers" && segs.length === 1) {
      if (req.method !== "GET") throw methodNotAllowed();
      const type = answerType(req);
      return jsonResponse({ brokers: (await topics.clusterInfo()).brokers }, 200, {}, type);
    }
    if (segs[0] !== "topics" || segs.length > 5) throw notFound();
    const topic = segs[1] === undefined ? undefined : decodeSeg(segs[1]);
    if (topic === undefined) {
      if (req.method !== "GET") throw methodNotAllowed();
      return jsonResponse(await topics.list(), 200, {}, answerType(req));
    }
    if (segs.length === 2) {
      if (req.method === "GET") {
        const type = answerType(req);
        const meta = await topics.require(topic, true);
        return jsonResponse(
          { name: topic, configs: {}, partitions: meta.map(partitionJson) },
          200,
          {},
          type,
        );
      }
      if (req.method === "POST") return await produce(req, topic, undefined);
      throw methodNotAllowed();
    }
    if (segs[2] !== "partitions") throw notFound();
    if (segs.length === 3) {
      if (req.method !== "GET") throw methodNotAllowed();
      const type = answerType(req);
      return jsonResponse((await topics.require(topic, true)).map(partitionJson), 200, {}, type);
    }
    if (!/^\d{1,10}$/.test(segs[3]) || Number(segs[3]) > 2147483647) throw notFound();
    const partition = Number(segs[3]);
    if (segs.length === 4) {
      if (req.method === "POST") return await produce(req, topic, partition);
      if (req.method !== "GET") throw methodNotAllowed();
      const type = answerType(req);
      const p = (await topics.require(topic, true)).find((x) => x.partitionId === partition);
      if (!p) throw partitionNotFound(topic, partition);
      return jsonResponse(partitionJson(p), 200, {}, type);
    }
    if (segs[4] !== "offsets") throw notFound();
    if (req.method !== "GET") throw methodNotAllowed();
    const type = answerType(req);
    await topics.require(topic, true);
    const o = await topics.offsets(topic, partition);
    return jsonResponse({ beginning_offset: o.beginning, end_offset: o.end }, 200, {}, type);
  };

  const produce = async (
    req: ProxyRequest,
    topic: string,
    partition: number | undefined,
  ): Promise<Response> => {
    stats.produceRequests++;
    // Everything that needs no body is checked before reading it.
    const type = answerType(req);
    const format = produceFormat(req.headers.get("content-type"));
    const body = await readBody(req, bodyLimits(maxBody));
    try {
      // A slot is taken only once the body is here: slow senders hold none.
      if (stats.inFlight >= maxInFlight) {
        throw tooMany(`${maxInFlight} produce requests are in flight`);
      }
      stats.inFlight++;
      try {
        const r = await produceV2(
          { topics, sender, autoCreate: !!opts.autoCreate },
          topic,
          partition,
          format,
          body.bytes,
        );
        stats.records += r.ok;
        stats.recordErrors += r.failed;
        return jsonResponse(r.text, 200, {}, type);
      } finally {
        stats.inFlight--;
      }
    } finally {
      body.release();
    }
  };

  const server = await serveHttp({
    hostname: opts.hostname ?? "127.0.0.1",
    port: opts.port ?? 0,
    onError: (err) => {
      log(`rest-proxy: ${(err as Error).message}`);
      return errorResponse(new HttpError(500, 500, "Internal Server Error"));
    },
  }, handle);
  const port = server.port;
  const host = server.hostname.includes(":") ? `[${server.hostname}]` : server.hostname;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${port}${basePath}`,
    port,
    stats: () => ({ ...stats, consumers: consumers.size, bodyBytes: budget.inUse }),
    close: () =>
      closing ??= (async () => {
        await consumers.close();
        await server.shutdown();
        await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
      })(),
  };
}

/**
 * The absolute URL prefix clients reach this proxy at (for `base_uri` and v3 `self` links):
 * the forwarded scheme, host and prefix when a gateway or load balancer says them
 * (`Forwarded`, `X-Forwarded-Proto`, `-Host`, `-Port`, `-Prefix`), else the request's own,
 * followed by the base path.
 */
export function baseUrl(req: ProxyRequest, basePath: string): string {
  const url = new URL(req.url);
  const h = req.headers;
  const first = (v: string | null) => v?.split(",")[0].trim() || undefined;
  let proto = url.protocol.replace(/:$/, "");
  let host = h.get("host") ?? url.host;
  const fwd = first(h.get("forwarded"));
  if (fwd) {
    for (const pair of fwd.split(";")) {
      const [k, v] = pair.split("=").map((s) => s.trim());
      const val = v?.replace(/^"|"$/g, "");
      if (!val) continue;
      if (k.toLowerCase() === "proto") proto = val;
      if (k.toLowerCase() === "host") host = val;
    }
  }
  proto = first(h.get("x-forwarded-proto")) ?? proto;
  host = first(h.get("x-forwarded-host")) ?? host;
  const port = first(h.get("x-forwarded-port"));
  if (
    port && !/:\d+$/.test(host) && !(proto === "https" && port === "443") &&
    !(proto === "http" && port === "80")
  ) {
    host = `${host}:${port}`;
  }
  const prefix = (first(h.get("x-forwarded-prefix")) ?? "").replace(/\/+$/, "");
  return `${proto}://${host}${prefix}${basePath}`;
}

function sha256(s: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(s).digest());
}

/** Compares digests, so the time taken says nothing about the key or its length. */
function keyMatches(given: string | null, want: Uint8Array): boolean {
  return timingSafeEqual(sha256(given ?? ""), want) && given !== null;
}

function decodeSeg(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw notFound();
  }
}

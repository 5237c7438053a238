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
 * - v3: clusters and topics (lib/rest_proxy/v3.ts), and the streaming records API
 *   (lib/rest_proxy/v3_records.ts).
 *
 * Guarantees: a record is reported with an offset only after the broker acknowledged it with
 * acks=-1; a json record's key and value reach Kafka as the exact JSON text sent, and a json
 * consumer returns them as stored. No single client can stop the server: a body is read before
 * it takes one of the `maxInFlight` produce slots, must arrive within `bodyTimeoutMs` (408),
 * is refused with 413 once it passes `maxBodyBytes` (answered after the rest of it is read and
 * thrown away, up to lib/rest_proxy/server.ts's bound, so the client can read the answer), and
 * all bodies together stay under `memoryBudgetBytes` (429 beyond): the one budget for what
 * connections hold, as a connection keeps no buffer of its own between requests. Big
 * requests are sent in chunks, so they neither freeze the server nor starve the others. With
 * an API key configured it behaves like API Gateway: 403 `{"message":"Forbidden"}` unless
 * `x-api-key` matches (compared in constant time).
 *
 * The parts: `startRestProxy` connects Kafka and puts them together; the routes are one table
 * (lib/rest_proxy/proxy_routes.ts, matched on the raw request path by routes.ts); a
 * RequestHandler checks the key and the base path and maps errors to Confluent's answers; a
 * ProduceGate holds the v2 produce slots.
 *
 * Folder `lib/rest_proxy/`: the Confluent-compatible REST proxy: this server and one file per part
 * of its API. May import: `lib/kafka/`, `lib/shell/`, `lib/deps/`.
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Admin, Kafka, Producer } from "../deps/kafkajs.ts";
import { installFastVarints } from "../kafka/kafkajs_varints.ts";
import { checkKafkaReachable, CONNECT_TIMEOUT_HINT, kafkaAnswered } from "../kafka/kafka_client.ts";
import { ConsumerManager } from "./consumers.ts";
import type { ConsumerSettings } from "./consumers.ts";
import {
  answerType,
  type BodyLimits,
  errorResponse,
  HttpError,
  jsonResponse,
  MemoryBudget,
  notFound,
  readBody,
} from "./http.ts";
import { kafkaErrorMessage, kafkaHttpError } from "./kafka_errors.ts";
import { proxyRoutes } from "./proxy_routes.ts";
import { RecordSender } from "./record_sender.ts";
import { pathSegments, RouteTable } from "./routes.ts";
import { serveHttp } from "./server.ts";
import type { ProxyRequest } from "./server.ts";
import { TopicCache } from "./topics.ts";
import { produceFormat, produceV2 } from "./v2_produce.ts";

export { V2 } from "./http.ts";

/** The largest request body by default: 10 MiB, API Gateway's payload limit. */
export const DEFAULT_MAX_BODY = 10 * 1024 * 1024;
/** Bytes of request bodies held at once across all connections by default: 128 MiB. */
export const DEFAULT_MEMORY_BUDGET = 128 * 1024 * 1024;
/** The largest record (key + value) by default: 1 MiB, Kafka's message.max.bytes. */
export const DEFAULT_MAX_RECORD = 1024 * 1024;
/** Produce requests handled at once by default; more get 429. */
export const DEFAULT_MAX_IN_FLIGHT = 64;
/** A request body must arrive within this long by default, else 408. */
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;
/** An idle keep-alive connection is closed after this long by default. */
export const DEFAULT_KEEP_ALIVE_MS = 5000;
/** Idle v2 consumer instances are deleted after this long by default, as Confluent's. */
export const DEFAULT_CONSUMER_TIMEOUT_MS = 300_000;
/** The port `deno task rest-proxy serve` listens on unless told: Confluent's. */
export const DEFAULT_REST_PORT = 8082;

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
  /**
   * Bytes of request bodies held at once across all connections; beyond, 429. Default 128 MiB.
   * What connections hold between requests is nothing: this bounds them all.
   */
  memoryBudgetBytes?: number;
  /** An idle keep-alive connection is closed after this many ms. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /** How long connecting to Kafka may take at start (`--connect-timeout`). Default 4 s. */
  connectTimeoutMs?: number;
  /** Whether the client speaks TLS to Kafka (for the hint when Kafka does not answer). */
  tls?: boolean;
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
  /** Client connections open now. */
  connections: number;
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
  const settings = settingsOf(opts);
  const { admin, producer } = await connectKafka(opts);
  const topics = new TopicCache(admin, settings.log);
  const sender = new RecordSender(producer, topics, {
    maxRecordBytes: settings.maxRecordBytes,
    chunkRecords: opts.chunkRecords,
    log: settings.log,
  });
  const consumers = new ConsumerManager(opts.kafka, opts.consumers ?? {}, settings.log);
  const gate = new ProduceGate(settings, topics, sender);
  const base = (req: ProxyRequest) => baseUrl(req, settings.basePath);
  const table = new RouteTable(proxyRoutes({
    topics,
    consumers,
    v3: {
      topics,
      sender,
      autoCreate: settings.autoCreate,
      budget: settings.budget,
      maxObjectBytes: settings.maxRecordBytes * 2 + 64 * 1024,
      log: settings.log,
      onRecords: (ok, failed) => gate.count(ok, failed),
    },
    produce: (req, topic, partition) => gate.produce(req, topic, partition),
    readControl: (req) =>
      readBody(req, settings.bodyLimits(Math.min(settings.maxBodyBytes, 1024 * 1024))),
    base,
  }));
  const handler = new RequestHandler(settings, table);
  const server = await serveHttp({
    hostname: opts.hostname ?? "127.0.0.1",
    port: opts.port ?? 0,
    keepAliveTimeoutMs: opts.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_MS,
    drainTimeoutMs: settings.bodyTimeoutMs,
    onError: (err) => {
      settings.log(`rest-proxy: ${(err as Error).message}`);
      return errorResponse(new HttpError(500, 500, "Internal Server Error"));
    },
  }, (req) => handler.handle(req));
  const host = server.hostname.includes(":") ? `[${server.hostname}]` : server.hostname;
  const shown = host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${server.port}${settings.basePath}`,
    port: server.port,
    stats: () => ({
      ...gate.stats,
      requests: handler.requests,
      rejected429: handler.rejected429,
      consumers: consumers.size,
      bodyBytes: settings.budget.inUse,
      connections: server.connections(),
    }),
    close: () =>
      closing ??= (async () => {
        await consumers.close();
        await server.shutdown();
        await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
      })(),
  };
}

/**
 * `deno task rest-proxy serve`: starts the proxy, reports it through `onListening`, serves
 * until `signal` aborts, then closes it (in-flight requests finished); returns its counters
 * and how long it served.
 */
export async function serveRestProxy(
  opts: RestProxyOptions,
  deps: { signal: AbortSignal; onListening: (proxy: RestProxy) => void },
): Promise<{ stats: RestProxyStats; servedSec: number }> {
  const proxy = await startRestProxy(opts);
  const t0 = performance.now();
  deps.onListening(proxy);
  if (!deps.signal.aborted) {
    await new Promise<void>((resolve) =>
      deps.signal.addEventListener("abort", () => resolve(), { once: true })
    );
  }
  await proxy.close();
  return { stats: proxy.stats(), servedSec: (performance.now() - t0) / 1000 };
}

/** The options with their defaults, as the parts use them. */
interface Settings {
  /** Without a trailing slash; "" for none. */
  basePath: string;
  /** The base path's segments, which a request's path must start with. */
  baseSegments: string[];
  autoCreate: boolean;
  maxBodyBytes: number;
  maxRecordBytes: number;
  maxInFlight: number;
  bodyTimeoutMs: number;
  retryAfter: string;
  budget: MemoryBudget;
  keyDigest?: Uint8Array;
  log: (line: string) => void;
  /** The limits for reading one body of at most `max` bytes. */
  bodyLimits(max: number): BodyLimits;
}

function settingsOf(opts: RestProxyOptions): Settings {
  const basePath = (opts.basePath ?? "").replace(/\/+$/, "");
  const baseSegments = basePath ? pathSegments(basePath) : [];
  if (basePath && (!basePath.startsWith("/") || !baseSegments)) {
    throw new Error(`Invalid base path "${opts.basePath}": it must start with "/"`);
  }
  const retryAfter = String(opts.retryAfterSec ?? 1);
  const budget = new MemoryBudget(opts.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET);
  const bodyTimeoutMs = opts.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  return {
    basePath,
    baseSegments: baseSegments!,
    autoCreate: !!opts.autoCreate,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY,
    maxRecordBytes: opts.maxRecordBytes ?? DEFAULT_MAX_RECORD,
    maxInFlight: opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
    bodyTimeoutMs,
    retryAfter,
    budget,
    keyDigest: opts.apiKey ? sha256(opts.apiKey) : undefined,
    log: opts.log ?? (() => {}),
    bodyLimits: (max) => ({ maxBytes: max, timeoutMs: bodyTimeoutMs, budget, retryAfter }),
  };
}

/**
 * Checks Kafka answers (when `bootstrap` is given), then connects kafkajs' admin and
 * producer; a failure is a KafkaUnavailableError naming Kafka and where its address came from.
 */
async function connectKafka(opts: RestProxyOptions): Promise<{ admin: Admin; producer: Producer }> {
  if (opts.bootstrap) {
    try {
      await checkKafkaReachable(
        { bootstrap: opts.bootstrap, bootstrapFrom: opts.bootstrapFrom, tls: !!opts.tls },
        opts.connectTimeoutMs,
      );
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
    const connecting = Promise.all([admin.connect(), producer.connect()]);
    await (opts.bootstrap
      ? kafkaAnswered(connecting, "the REST proxy's clients", {
        bootstrap: opts.bootstrap,
        bootstrapFrom: opts.bootstrapFrom,
        connectionTimeoutMs: opts.connectTimeoutMs,
        tls: opts.tls,
      })
      : connecting);
  } catch (err) {
    // A client still connecting may take its time to let go: do not wait for it long.
    await Promise.race([
      Promise.allSettled([producer.disconnect(), admin.disconnect()]),
      new Promise((r) => setTimeout(r, 2000)),
    ]);
    if (/did not answer/.test((err as Error).message)) {
      throw new KafkaUnavailableError((err as Error).message);
    }
    throw new KafkaUnavailableError(
      `Cannot start the REST proxy: Kafka${
        opts.bootstrap ? ` at "${opts.bootstrap}" (${opts.bootstrapFrom ?? "--bootstrap"})` : ""
      } refused the client: ${kafkaErrorMessage(err)}${connectHint(err)}`,
    );
  }
  return { admin, producer };
}

/** For a connection that timed out: what lengthens the wait. */
function connectHint(err: unknown): string {
  return /timeout|timed out/i.test(kafkaErrorMessage(err)) ? ` (${CONNECT_TIMEOUT_HINT})` : "";
}

/**
 * v2 produce requests under the proxy's limits: the body is read first (a slow sender holds
 * no slot), then one of `maxInFlight` slots is taken (429 when none is free). Counts records.
 */
class ProduceGate {
  readonly stats = { produceRequests: 0, records: 0, recordErrors: 0, inFlight: 0 };

  constructor(
    private readonly s: Settings,
    private readonly topics: TopicCache,
    private readonly sender: RecordSender,
  ) {}

  /** Counts records produced and failed (v2 and v3). */
  count(ok: number, failed: number): void {
    this.stats.records += ok;
    this.stats.recordErrors += failed;
  }

  async produce(req: ProxyRequest, topic: string, partition?: number): Promise<Response> {
    this.stats.produceRequests++;
    // Everything that needs no body is checked before reading it.
    const type = answerType(req);
    const format = produceFormat(req.headers.get("content-type"));
    const body = await readBody(req, this.s.bodyLimits(this.s.maxBodyBytes));
    try {
      if (this.stats.inFlight >= this.s.maxInFlight) {
        throw new HttpError(
          429,
          42901,
          `Too many requests: ${this.s.maxInFlight} produce requests are in flight`,
          { "Retry-After": this.s.retryAfter },
        );
      }
      this.stats.inFlight++;
      try {
        const r = await produceV2(
          { topics: this.topics, sender: this.sender, autoCreate: this.s.autoCreate },
          topic,
          partition,
          format,
          body.bytes,
        );
        this.count(r.ok, r.failed);
        return jsonResponse(r.text, 200, {}, type);
      } finally {
        this.stats.inFlight--;
      }
    } finally {
      body.release();
    }
  }
}

/**
 * One request from arrival to answer: the API key (first, as API Gateway checks it), the base
 * path, the route table, and the mapping of what a handler threw to Confluent's answer.
 */
class RequestHandler {
  requests = 0;
  rejected429 = 0;

  constructor(private readonly s: Settings, private readonly table: RouteTable) {}

  async handle(req: ProxyRequest): Promise<Response> {
    this.requests++;
    if (this.s.keyDigest && !keyMatches(req.headers.get("x-api-key"), this.s.keyDigest)) {
      await req.body?.cancel().catch(() => {});
      return Response.json({ message: "Forbidden" }, { status: 403 });
    }
    const path = req.target.split("?")[0];
    try {
      const segments = this.localSegments(req.target);
      const found = this.table.match(
        req.method,
        segments,
        req.headers.get("content-type"),
        req.body !== null,
      );
      if ("error" in found) throw found.error;
      return await found.route.handle(req, found.params);
    } catch (err) {
      await req.body?.cancel().catch(() => {});
      if (err instanceof HttpError) {
        if (err.status === 429) this.rejected429++;
        return errorResponse(err);
      }
      this.s.log(`rest-proxy: ${req.method} ${path} failed: ${(err as Error).message}`);
      return errorResponse(kafkaHttpError(err, `${req.method} ${path} failed`));
    }
  }

  /** The request's path segments after the base path, or 404 outside it. */
  private localSegments(target: string): string[] {
    const segments = pathSegments(target);
    const base = this.s.baseSegments;
    if (!segments || base.some((b, i) => segments[i] !== b)) throw notFound();
    return segments.slice(base.length);
  }
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

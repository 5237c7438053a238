/**
 * The v2 consumer API, as Confluent documents it (`/consumers/{group}…`): instances with a
 * format (json or binary), subscriptions (topics or `topic_pattern`), manual assignments,
 * positions (seek, `/beginning`, `/end`), `GET …/records` bounded by `max_bytes` and
 * `timeout`, offset commits and committed offsets, deletion, and idle instances expiring.
 *
 * A json consumer returns each key and value as the exact bytes Kafka holds (checked to be
 * JSON, never re-serialized): 64-bit integers, `1.0`, `1e2`, `\u` escapes and key order come
 * back as they went in. A record that is not JSON stops a json consumer's reads with 40801
 * (Confluent's code) naming it, and stays next in line until the client seeks past it.
 *
 * Confluent's semantics kept on purpose: committing `{"offset": n}` commits n + 1 (the offset
 * after the record the client names), a read with no `fetch.min.bytes` gathers records for
 * its whole timeout (`consumer.request.timeout.ms`, 1 s by default, which a `timeout` query
 * parameter can only shorten). Unlike Confluent's, a first read waits for the group to assign
 * partitions before its timeout starts, so the documented create-subscribe-read sequence
 * returns records the first time.
 * @module
 */
import type { ProxyRequest } from "./server.ts";
import { Buffer } from "node:buffer";
import type { Kafka } from "../deps/kafkajs.ts";
import {
  answerType,
  badRequest,
  HttpError,
  jsonResponse,
  negotiate,
  unprocessable,
  V2,
} from "./http.ts";
import { checkDocument, JsonSyntaxError } from "./json_scan.ts";
import { GroupConsumer, IllegalStateError, NoOffsetError } from "./group_consumer.ts";
import type { ConsumedRecord, TopicPartition } from "./group_consumer.ts";
import { kafkaHttpError } from "./kafka_errors.ts";

/** Proxy-wide consumer settings (Confluent's names in brackets). */
export interface ConsumerSettings {
  /** Idle instances are closed after this long [consumer.instance.timeout.ms]. Default 5 min. */
  instanceTimeoutMs?: number;
  /** A read's longest wait [consumer.request.timeout.ms]. Default 1000. */
  requestTimeoutMs?: number;
  /** A read's largest answer [consumer.request.max.bytes]. Default 64 MiB. */
  requestMaxBytes?: number;
  /** Instances held at once; more are refused with 429. Default 1000. */
  maxInstances?: number;
}

type EmbeddedFormat = "json" | "binary";

/** What a request can do to an existing consumer instance (one route each). */
export type ConsumerAction =
  | "delete"
  | "subscribe"
  | "subscription"
  | "unsubscribe"
  | "assign"
  | "assignments"
  | "seek"
  | "seek-beginning"
  | "seek-end"
  | "records"
  | "commit"
  | "committed";

interface Instance {
  group: string;
  name: string;
  format: EmbeddedFormat;
  consumer: GroupConsumer;
  requestTimeoutMs?: number;
  minBytes?: number;
  lastUsed: number;
  busy: number;
  lock: Promise<unknown>;
  closed: boolean;
}

const EMBEDDED_TYPES = [
  V2.json,
  V2.binary,
  "application/vnd.kafka.avro.v2+json",
  "application/vnd.kafka.jsonschema.v2+json",
  "application/vnd.kafka.protobuf.v2+json",
];

const enc = new TextEncoder();

/** Owns the consumer instances of one proxy and answers `/consumers/…`. */
export class ConsumerManager {
  private readonly instances = new Map<string, Instance>();
  private readonly sweeper: ReturnType<typeof setInterval>;
  private readonly idleMs: number;
  private readonly requestTimeoutMs: number;
  private readonly requestMaxBytes: number;
  private readonly maxInstances: number;

  constructor(
    private readonly kafka: Kafka,
    settings: ConsumerSettings,
    private readonly log: (line: string) => void,
  ) {
    this.idleMs = settings.instanceTimeoutMs ?? 300_000;
    this.requestTimeoutMs = settings.requestTimeoutMs ?? 1000;
    this.requestMaxBytes = settings.requestMaxBytes ?? 64 * 1024 * 1024;
    this.maxInstances = settings.maxInstances ?? 1000;
    this.sweeper = setInterval(() => this.expire(), Math.min(1000, Math.max(50, this.idleMs / 4)));
  }

  /** How many instances exist now. */
  get size(): number {
    return this.instances.size;
  }

  /** Closes every instance (commits with auto-commit, leaves groups). */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.instances.values()];
    this.instances.clear();
    await Promise.allSettled(all.map((i) => this.shut(i)));
  }

  private expire(): void {
    const now = performance.now();
    for (const [k, inst] of this.instances) {
      if (inst.busy === 0 && now - inst.lastUsed >= this.idleMs) {
        this.instances.delete(k);
        this.log(
          `rest-proxy: consumer ${inst.name} of group ${inst.group} expired after ${this.idleMs} ms idle`,
        );
        void this.shut(inst);
      }
    }
  }

  private async shut(inst: Instance): Promise<void> {
    inst.closed = true;
    await inst.lock.catch(() => {});
    await inst.consumer.close().catch((err) =>
      this.log(`rest-proxy: closing consumer ${inst.name}: ${(err as Error).message}`)
    );
  }

  /**
   * Runs `action` on the instance `name` of `group` (40403 when there is none), alone on it:
   * requests to one instance take turns, as in Java. `body` is the request's body, read.
   */
  act(
    action: ConsumerAction,
    req: ProxyRequest,
    group: string,
    name: string,
    body: Uint8Array,
  ): Promise<Response> {
    const inst = this.instances.get(key(group, name));
    if (!inst) throw new HttpError(404, 40403, "Consumer instance not found.");
    return this.run(inst, () => this.actions[action](inst, req, body));
  }

  /** What each action does to an instance. */
  private readonly actions: Record<
    ConsumerAction,
    (inst: Instance, req: ProxyRequest, body: Uint8Array) => Promise<Response>
  > = {
    delete: async (inst) => {
      this.instances.delete(key(inst.group, inst.name));
      inst.closed = true;
      await inst.consumer.close();
      return new Response(null, { status: 204 });
    },
    subscribe: (inst, _req, body) => this.subscribe(inst, body),
    subscription: (inst, req) =>
      Promise.resolve(
        jsonResponse({ topics: inst.consumer.subscription() }, 200, {}, answerType(req)),
      ),
    unsubscribe: async (inst) => {
      await inst.consumer.unsubscribe();
      return new Response(null, { status: 204 });
    },
    assign: (inst, _req, body) => {
      inst.consumer.assign(partitionsField(parseControl(body, true), "partitions"));
      return Promise.resolve(new Response(null, { status: 204 }));
    },
    assignments: (inst, req) =>
      Promise.resolve(
        jsonResponse({ partitions: inst.consumer.assignment() }, 200, {}, answerType(req)),
      ),
    seek: (inst, _req, body) => {
      inst.consumer.seek(offsetsField(parseControl(body, true)));
      return Promise.resolve(new Response(null, { status: 204 }));
    },
    "seek-beginning": (inst, _req, body) => this.seekTo(inst, "beginning", body),
    "seek-end": (inst, _req, body) => this.seekTo(inst, "end", body),
    records: (inst, req) => this.records(inst, req),
    commit: (inst, req, body) => this.commit(inst, req, body),
    committed: async (inst, req, body) => {
      const tps = partitionsField(parseControl(body, false), "partitions", true);
      const offsets = await inst.consumer.committed(tps);
      return jsonResponse({ offsets }, 200, {}, answerType(req));
    },
  };

  private async seekTo(
    inst: Instance,
    where: "beginning" | "end",
    body: Uint8Array,
  ): Promise<Response> {
    const tps = partitionsField(parseControl(body, true), "partitions");
    await inst.consumer.seekTo(where, tps);
    return new Response(null, { status: 204 });
  }

  /** Runs `fn` alone on the instance (requests to one instance take turns, as in Java). */
  private async run(inst: Instance, fn: () => Promise<Response>): Promise<Response> {
    inst.busy++;
    inst.lastUsed = performance.now();
    const prev = inst.lock;
    let done!: () => void;
    inst.lock = new Promise<void>((r) => (done = r));
    try {
      await prev.catch(() => {});
      if (inst.closed) throw new HttpError(404, 40403, "Consumer instance not found.");
      return await fn();
    } catch (err) {
      throw consumerError(err);
    } finally {
      inst.busy--;
      inst.lastUsed = performance.now();
      done();
    }
  }

  /** Creates an instance in `group` (`POST /consumers/{group}`); `base` is for its `base_uri`. */
  async create(
    req: ProxyRequest,
    group: string,
    base: string,
    body: Uint8Array,
  ): Promise<Response> {
    const type = answerType(req, [
      V2.response,
      ...EMBEDDED_TYPES,
      "application/vnd.kafka+json",
      "application/json",
    ]);
    const cfg = parseControl(body, false) ?? {};
    const id = optString(cfg, "id");
    const name = id ?? optString(cfg, "name") ?? `rest-consumer-${crypto.randomUUID()}`;
    const formatRaw = optString(cfg, "format") ?? "binary";
    const format = formatRaw.toLowerCase();
    if (!["json", "binary", "avro", "jsonschema", "protobuf"].includes(format)) {
      throw unprocessable("Invalid format type.");
    }
    if (format !== "json" && format !== "binary") {
      throw unprocessable(
        `Invalid consumer configuration: format "${formatRaw}" needs a Schema Registry, which this proxy does not have; use json or binary`,
        42204,
      );
    }
    const reset = optString(cfg, "auto.offset.reset") ?? "latest";
    if (!["earliest", "latest", "none"].includes(reset)) {
      throw unprocessable(
        `Invalid consumer configuration: Invalid value ${reset} for configuration auto.offset.reset: String must be one of: latest, earliest, none`,
        42204,
      );
    }
    const commitRaw = cfg["auto.commit.enable"];
    let autoCommit = true;
    if (commitRaw !== undefined && commitRaw !== null) {
      const v = String(commitRaw).toLowerCase();
      if (v !== "true" && v !== "false") {
        throw unprocessable(
          `Invalid consumer configuration: Invalid value ${commitRaw} for configuration enable.auto.commit: Expected value to be either true or false`,
          42204,
        );
      }
      autoCommit = v === "true";
    }
    const minBytes = optInt(cfg, "fetch.min.bytes") ?? optInt(cfg, "responseMinBytes");
    if (minBytes !== undefined && (minBytes < -1 || minBytes > 10_000_000)) {
      throw new HttpError(
        400,
        40001,
        `Invalid consumer configuration constraint: fetch.min.bytes ${minBytes} is outside [-1, 10000000]`,
      );
    }
    const timeoutMs = optInt(cfg, "consumer.request.timeout.ms") ?? optInt(cfg, "requestWaitMs");
    if (timeoutMs !== undefined && timeoutMs < 0) {
      throw unprocessable(
        `Invalid consumer configuration: consumer.request.timeout.ms ${timeoutMs} is negative`,
        42204,
      );
    }
    const k = key(group, name);
    if (this.instances.has(k)) {
      throw new HttpError(
        409,
        40902,
        "Consumer with specified consumer ID already exists in the specified consumer group.",
      );
    }
    if (this.instances.size >= this.maxInstances) {
      throw new HttpError(
        429,
        42901,
        `Too many requests: ${this.maxInstances} consumer instances exist; delete some first`,
      );
    }
    const consumer = new GroupConsumer(this.kafka, {
      groupId: group,
      autoOffsetReset: reset as "earliest" | "latest" | "none",
      autoCommit,
      log: this.log,
    });
    const inst: Instance = {
      group,
      name,
      format: format as EmbeddedFormat,
      consumer,
      requestTimeoutMs: timeoutMs,
      minBytes: minBytes === undefined || minBytes < 0 ? undefined : minBytes,
      lastUsed: performance.now(),
      busy: 1,
      lock: Promise.resolve(),
      closed: false,
    };
    // Reserve the name before connecting, so a concurrent create with it gets 40902.
    this.instances.set(k, inst);
    try {
      await consumer.connect();
    } catch (err) {
      this.instances.delete(k);
      await consumer.close().catch(() => {});
      throw kafkaHttpError(err, `Cannot create consumer ${name} in group ${group}`);
    } finally {
      inst.busy--;
      inst.lastUsed = performance.now();
    }
    return jsonResponse(
      {
        instance_id: name,
        base_uri: `${base}/consumers/${encodeURIComponent(group)}/instances/${
          encodeURIComponent(name)
        }`,
      },
      200,
      {},
      type === V2.response || !EMBEDDED_TYPES.includes(type) ? type : V2.response,
    );
  }

  private async subscribe(inst: Instance, body: Uint8Array): Promise<Response> {
    const sub = parseControl(body, true)!;
    const topics = sub.topics;
    const pattern = sub.topic_pattern;
    const hasTopics = topics !== undefined && topics !== null;
    const hasPattern = pattern !== undefined && pattern !== null;
    if (hasTopics && hasPattern) {
      throw new HttpError(
        409,
        40903,
        "Illegal state: Subscription to topics, partitions and pattern are mutually exclusive.",
      );
    }
    if (hasPattern) {
      if (typeof pattern !== "string") {
        throw badRequest("Cannot read topic_pattern: expected a string");
      }
      let re: RegExp;
      try {
        re = new RegExp(pattern);
      } catch (err) {
        throw unprocessable(`Invalid topic_pattern "${pattern}": ${(err as Error).message}`);
      }
      await inst.consumer.subscribe({ pattern: re });
    } else if (hasTopics) {
      if (!Array.isArray(topics) || !topics.every((t) => typeof t === "string")) {
        throw badRequest("Cannot read topics: expected an array of topic names");
      }
      await inst.consumer.subscribe({ topics: topics as string[] });
    } else {
      throw unprocessable("A subscription needs topics or topic_pattern");
    }
    return new Response(null, { status: 204 });
  }

  private async records(inst: Instance, req: ProxyRequest): Promise<Response> {
    const accept = req.headers.get("accept");
    const own = inst.format === "json" ? [V2.json] : [V2.binary, V2.response];
    const type = negotiate(accept, own);
    if (!type) {
      if (negotiate(accept, [...EMBEDDED_TYPES, V2.response])) {
        throw new HttpError(
          406,
          40601,
          `The requested embedded data format does not match the deserializer for this consumer instance: it reads ${inst.format}, send Accept: ${
            own[0]
          }`,
        );
      }
      throw new HttpError(
        406,
        406,
        `HTTP 406 Not Acceptable: "${accept}"; this consumer answers ${own[0]}`,
      );
    }
    const url = new URL(req.url);
    const timeoutQ = queryInt(url, "timeout");
    const maxBytesQ = queryInt(url, "max_bytes");
    const defaultTimeout = inst.requestTimeoutMs ?? this.requestTimeoutMs;
    const timeoutMs = timeoutQ === undefined || timeoutQ <= 0
      ? defaultTimeout
      : Math.min(timeoutQ, defaultTimeout);
    const maxBytes = maxBytesQ === undefined || maxBytesQ <= 0
      ? this.requestMaxBytes
      : Math.min(maxBytesQ, this.requestMaxBytes);
    const records = await inst.consumer.poll({
      timeoutMs,
      maxBytes,
      minBytes: inst.minBytes,
      check: inst.format === "json" ? checkJsonRecord : undefined,
    });
    const out = inst.format === "json" ? jsonRecords(records) : binaryRecords(records);
    return new Response(out, {
      status: 200,
      headers: {
        "content-type": inst.format === "json" ? V2.json : type === V2.response ? V2.binary : type,
      },
    });
  }

  private async commit(inst: Instance, req: ProxyRequest, body: Uint8Array): Promise<Response> {
    const parsed = parseControl(body, false);
    let committed;
    if (!parsed) {
      committed = await inst.consumer.commit();
    } else {
      // Confluent's v2 commits the offset after the one named (the next record to read).
      const given = offsetsField(parsed);
      committed = await inst.consumer.commit(
        given.map((o) => ({ ...o, offset: o.offset + 1 })),
      );
    }
    return jsonResponse(
      committed.map((c) => ({
        topic: c.topic,
        partition: c.partition,
        consumed: c.offset,
        committed: c.offset,
      })),
      200,
      {},
      answerType(req),
    );
  }
}

function key(group: string, name: string): string {
  return `${group}\u0000${name}`;
}

/** Maps what a consumer operation threw to the v2 answer. */
function consumerError(err: unknown): unknown {
  if (err instanceof HttpError) return err;
  if (err instanceof IllegalStateError) {
    return new HttpError(409, 40903, `Illegal state: ${err.message}`);
  }
  if (err instanceof NoOffsetError) return new HttpError(500, 50002, `Kafka error: ${err.message}`);
  return kafkaHttpError(err, "The consumer failed");
}

/** The request types the consumer API takes ("" = no Content-Type). */
export const CONTROL_TYPES: readonly string[] = [
  V2.response,
  ...EMBEDDED_TYPES,
  "application/vnd.kafka+json",
  "application/json",
  "",
];

/**
 * The JSON object of a consumer request's body, or undefined for an empty body (an error when
 * `required`), 400 for bad JSON (the route table answers a content type it does not take).
 */
function parseControl(
  body: Uint8Array,
  required: boolean,
): Record<string, unknown> | undefined {
  const text = new TextDecoder().decode(body);
  if (!text.trim()) {
    if (required) throw unprocessable("The request body may not be empty");
    return undefined;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw badRequest(`Unexpected JSON input: ${(err as Error).message}`);
  }
  if (v === null) {
    if (required) throw unprocessable("The request body may not be null");
    return undefined;
  }
  if (typeof v !== "object" || Array.isArray(v)) {
    throw badRequest(
      `Cannot read the request: expected a JSON object, found ${
        Array.isArray(v) ? "an array" : typeof v
      }`,
    );
  }
  return v as Record<string, unknown>;
}

function optString(o: Record<string, unknown>, f: string): string | undefined {
  const v = o[f];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw badRequest(`Cannot read "${f}": expected a string`);
}

function optInt(o: Record<string, unknown>, f: string): number | undefined {
  const v = o[f];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n)) {
    throw badRequest(`Cannot read "${f}": expected an integer`);
  }
  return n;
}

function queryInt(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === "") return undefined;
  if (!/^-?\d+$/.test(v)) {
    throw badRequest(`Invalid query parameter ${name}="${v}": expected an integer`);
  }
  return Number(v);
}

function tpOf(v: unknown, where: string): TopicPartition {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw badRequest(`Cannot read ${where}: expected an object with "topic" and "partition"`);
  }
  const { topic, partition } = v as { topic?: unknown; partition?: unknown };
  if (typeof topic !== "string") throw badRequest(`Cannot read ${where}.topic: expected a string`);
  if (typeof partition !== "number" || !Number.isInteger(partition)) {
    throw badRequest(`Cannot read ${where}.partition: expected an integer`);
  }
  if (partition < 0) throw unprocessable(`${where}.partition must not be negative`);
  return { topic, partition };
}

function partitionsField(
  o: Record<string, unknown> | undefined,
  f: string,
  missingIs404 = false,
): TopicPartition[] {
  const v = o?.[f];
  if (v === undefined || v === null) {
    // Confluent answers a committed-offsets request without partitions 40402.
    if (missingIs404) throw new HttpError(404, 40402, "Partition not found.");
    throw unprocessable(`${f} may not be null`);
  }
  if (!Array.isArray(v)) throw badRequest(`Cannot read ${f}: expected an array`);
  return v.map((p, i) => tpOf(p, `${f}[${i}]`));
}

function offsetsField(o: Record<string, unknown> | undefined) {
  const v = o?.offsets;
  if (v === undefined || v === null) throw unprocessable("offsets may not be null");
  if (!Array.isArray(v)) throw badRequest("Cannot read offsets: expected an array");
  return v.map((e, i) => {
    const tp = tpOf(e, `offsets[${i}]`);
    const { offset, metadata } = e as { offset?: unknown; metadata?: unknown };
    if (typeof offset !== "number" || !Number.isSafeInteger(offset)) {
      throw badRequest(`Cannot read offsets[${i}].offset: expected an integer`);
    }
    if (offset < 0) throw unprocessable(`offsets[${i}].offset must not be negative`);
    if (metadata !== undefined && metadata !== null && typeof metadata !== "string") {
      throw badRequest(`Cannot read offsets[${i}].metadata: expected a string`);
    }
    return { ...tp, offset, metadata: (metadata as string | undefined) ?? undefined };
  });
}

/** Throws (40801) when a json consumer meets a key or value that is not JSON. */
function checkJsonRecord(r: ConsumedRecord): void {
  for (const [what, b] of [["key", r.key], ["value", r.value]] as const) {
    if (b === null) continue;
    try {
      checkDocument(b);
    } catch (err) {
      const why = err instanceof JsonSyntaxError ? err.message : String(err);
      throw new HttpError(
        408,
        40801,
        `Cannot read the ${what} of topic ${r.topic} partition ${r.partition} offset ${r.offset} as JSON: ${why}; seek past it (POST …/positions) or read it with a binary consumer`,
      );
    }
  }
}

/** The json consumer's answer: each key and value copied as the bytes Kafka holds. */
function jsonRecords(records: ConsumedRecord[]): Uint8Array<ArrayBuffer> {
  const parts: Uint8Array[] = [];
  let size = 0;
  const push = (p: Uint8Array) => {
    parts.push(p);
    size += p.length;
  };
  const NULL = enc.encode("null");
  push(enc.encode("["));
  records.forEach((r, i) => {
    push(enc.encode(`${i ? "," : ""}{"topic":${JSON.stringify(r.topic)},"key":`));
    push(r.key === null ? NULL : trimmed(r.key));
    push(enc.encode(`,"value":`));
    push(r.value === null ? NULL : trimmed(r.value));
    push(enc.encode(`,"partition":${r.partition},"offset":${r.offset}}`));
  });
  push(enc.encode("]"));
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The JSON value inside `b` without surrounding whitespace (already checked to be JSON). */
function trimmed(b: Uint8Array): Uint8Array {
  let s = 0;
  let e = b.length;
  while (s < e && isWs(b[s])) s++;
  while (e > s && isWs(b[e - 1])) e--;
  return s === 0 && e === b.length ? b : b.subarray(s, e);
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function binaryRecords(records: ConsumedRecord[]): string {
  const b64 = (
    x: Buffer | null,
  ) => (x === null ? "null" : `"${Buffer.from(x).toString("base64")}"`);
  return `[${
    records.map((r) =>
      `{"topic":${JSON.stringify(r.topic)},"key":${b64(r.key)},"value":${
        b64(r.value)
      },"partition":${r.partition},"offset":${r.offset}}`
    ).join(",")
  }]`;
}

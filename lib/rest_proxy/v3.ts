/**
 * The v3 API parts pinpipe serves (reference/aws-kafka.md §1.5): `GET /v3/clusters`,
 * `GET /v3/clusters/{id}`, `GET /v3/clusters/{id}/topics`, and the records API,
 * `POST /v3/clusters/{id}/topics/{topic}/records`, including its streaming form: a body of
 * many JSON records one after another (sent with chunked encoding as they are produced),
 * answered with one result line per record, in order, each written as soon as the broker
 * acknowledged it, while the body may still be arriving.
 *
 * A record is `{"partition_id","headers":[{"name","value"(base64)}],"key":{"type","data"},
 * "value":{"type","data"},"timestamp"}` with type BINARY (base64 data), JSON (any JSON,
 * kept byte for byte as sent) or STRING. A record that cannot be produced gets its own error
 * line (`{"error_code":400,"message":…}`) and the stream goes on; JSON that cannot be parsed
 * ends the stream after its error line, as there is no telling where the next record starts.
 * @module
 */
import type { ProxyRequest } from "./server.ts";
import { Buffer } from "node:buffer";
import { HttpError, jsonResponse, type MemoryBudget, methodNotAllowed, notFound } from "./http.ts";
import {
  compact,
  intAt,
  JsonIncomplete,
  JsonSyntaxError,
  nameIs,
  scanObject,
  skipWs,
  type Span,
  stringAt,
  typeAt,
} from "./json_scan.ts";
import { decodeBase64 } from "./produce_request.ts";
import type { OutgoingRecord, RecordSender, SendResult } from "./record_sender.ts";
import type { TopicCache } from "./topics.ts";
import { topicNotFound } from "./topics.ts";

/** What the v3 endpoints need from the proxy. */
export interface V3Deps {
  topics: TopicCache;
  sender: RecordSender;
  autoCreate: boolean;
  budget: MemoryBudget;
  /** Largest single record object in a stream (bytes of its JSON). */
  maxObjectBytes: number;
  log: (line: string) => void;
  /** Called with the number of records each stream produced and failed. */
  onRecords?: (ok: number, failed: number) => void;
}

const V3_TYPE = "application/json";

function v3Error(status: number, message: string): HttpError {
  return new HttpError(status, status, message);
}

/** Answers `/v3…`; `rest` is the path after `/v3`, `base` the absolute URL prefix. */
export async function handleV3(
  deps: V3Deps,
  req: ProxyRequest,
  rest: string,
  base: string,
): Promise<Response> {
  const parts = rest.split("/").filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      throw notFound();
    }
  });
  if (parts[0] !== "clusters") throw notFound();
  const self = (p: string) => `${base}/v3/clusters${p}`;
  const info = await deps.topics.clusterInfo();
  if (parts.length === 1) {
    if (req.method !== "GET") throw methodNotAllowed();
    return jsonResponse(
      {
        kind: "KafkaClusterList",
        metadata: { self: self(""), next: null },
        data: [clusterJson(info.id, self(`/${info.id}`))],
      },
      200,
      {},
      V3_TYPE,
    );
  }
  const id = parts[1];
  if (id !== info.id) throw v3Error(404, `Cluster ${id} cannot be found.`);
  if (parts.length === 2) {
    if (req.method !== "GET") throw methodNotAllowed();
    return jsonResponse(clusterJson(id, self(`/${id}`)), 200, {}, V3_TYPE);
  }
  if (parts[2] !== "topics") throw notFound();
  if (parts.length === 3) {
    if (req.method !== "GET") throw methodNotAllowed();
    const names = await deps.topics.list();
    const data = await Promise.all(names.map(async (t) => {
      const meta = await deps.topics.describe(t);
      return topicJson(
        id,
        t,
        meta?.length ?? 0,
        meta?.[0]?.replicas.length ?? 0,
        self(`/${id}/topics/${encodeURIComponent(t)}`),
      );
    }));
    return jsonResponse(
      {
        kind: "KafkaTopicList",
        metadata: { self: self(`/${id}/topics`), next: null },
        data,
      },
      200,
      {},
      V3_TYPE,
    );
  }
  const topic = parts[3];
  if (parts.length === 4) {
    if (req.method !== "GET") throw methodNotAllowed();
    const meta = await deps.topics.describe(topic, true);
    if (!meta) throw topicNotFound(topic);
    return jsonResponse(
      topicJson(
        id,
        topic,
        meta.length,
        meta[0]?.replicas.length ?? 0,
        self(`/${id}/topics/${encodeURIComponent(topic)}`),
      ),
      200,
      {},
      V3_TYPE,
    );
  }
  if (parts.length === 5 && parts[4] === "records") {
    if (req.method !== "POST") throw methodNotAllowed();
    return await produceStream(deps, req, id, topic);
  }
  throw notFound();
}

function clusterJson(id: string, self: string) {
  const rel = (p: string) => ({ related: `${self}${p}` });
  return {
    kind: "KafkaCluster",
    metadata: { self, resource_name: `crn:///kafka=${id}` },
    cluster_id: id,
    controller: rel("/brokers"),
    acls: rel("/acls"),
    brokers: rel("/brokers"),
    broker_configs: rel("/broker-configs"),
    consumer_groups: rel("/consumer-groups"),
    topics: rel("/topics"),
    partition_reassignments: rel("/topics/-/partitions/-/reassignment"),
  };
}

function topicJson(cluster: string, topic: string, partitions: number, rf: number, self: string) {
  return {
    kind: "KafkaTopic",
    metadata: { self, resource_name: `crn:///kafka=${cluster}/topic=${topic}` },
    cluster_id: cluster,
    topic_name: topic,
    is_internal: false,
    replication_factor: rf,
    partitions_count: partitions,
    partitions: { related: `${self}/partitions` },
    configs: { related: `${self}/configs` },
    partition_reassignments: { related: `${self}/partitions/-/reassignment` },
    authorized_operations: [],
  };
}

/** A parsed record, or why it cannot be produced. */
type Parsed =
  | { ok: true; record: OutgoingRecord; keyType?: string; valueType?: string }
  | { ok: false; code: number; message: string };

const enc = new TextEncoder();

async function produceStream(
  deps: V3Deps,
  req: ProxyRequest,
  cluster: string,
  topic: string,
): Promise<Response> {
  let meta = await deps.topics.describe(topic);
  if (!meta && deps.autoCreate) meta = await deps.topics.create(topic);
  if (!meta) throw topicNotFound(topic);
  if (!req.body) throw v3Error(400, "Payload error. Request body is empty. Data is required.");
  const partitions = meta;
  const reader = req.body.getReader();

  let out!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      out = c;
    },
    cancel() {
      void reader.cancel().catch(() => {});
    },
  });
  const write = (line: string) => {
    try {
      out.enqueue(enc.encode(`${line}\r\n`));
    } catch {
      // The client went away; the records already sent stay sent.
    }
  };

  // Groups of records in arrival order; each resolves to its result lines.
  const pending: Promise<string[]>[] = [];
  let buf = new Uint8Array(0);
  let held = 0;
  const hold = (n: number) => {
    // A stream holds at most one incomplete record beyond what is being sent.
    if (!deps.budget.tryReserve(n)) return false;
    held += n;
    return true;
  };
  const releaseAll = () => {
    deps.budget.release(held);
    held = 0;
  };

  const sendGroup = (items: Parsed[]): Promise<string[]> => {
    const good = items.filter((p): p is Extract<Parsed, { ok: true }> => p.ok);
    const sending: Promise<SendResult[]> = good.length
      ? deps.sender.send(topic, partitions, good.map((g) => g.record))
      : Promise.resolve([]);
    return sending.then((results) => {
      let k = 0;
      let ok = 0;
      const lines = items.map((p) => {
        if (!p.ok) return JSON.stringify({ error_code: p.code, message: p.message });
        const r = results[k++];
        if (!r.ok) return JSON.stringify({ error_code: r.errorCode, message: r.error });
        ok++;
        return JSON.stringify({
          error_code: 200,
          cluster_id: cluster,
          topic_name: topic,
          partition_id: r.partition,
          offset: r.offset,
          timestamp: new Date(r.timestamp).toISOString(),
          key: p.keyType ? { type: p.keyType, size: p.record.key?.length ?? 0 } : null,
          value: p.valueType ? { type: p.valueType, size: p.record.value?.length ?? 0 } : null,
        });
      });
      deps.onRecords?.(ok, items.length - ok);
      return lines;
    }).catch((err) => {
      deps.onRecords?.(0, items.length);
      const line = JSON.stringify({
        error_code: 500,
        message: `Internal error: ${(err as Error).message}`,
      });
      return items.map(() => line);
    });
  };

  // The writer sends each group's lines once it settles, strictly in arrival order.
  let readingDone = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const writer = (async () => {
    for (;;) {
      if (!pending.length) {
        if (readingDone) return;
        await new Promise<void>((r) => (wake = r));
        continue;
      }
      // One chunk per group: a write per record line would cost a syscall each.
      const lines = await pending[0];
      if (lines.length) write(lines.join("\r\n"));
      pending.shift();
    }
  })();
  const enqueue = (p: Promise<string[]>) => {
    pending.push(p);
    notify();
  };

  const pump = async () => {
    let stop = false;
    try {
      while (!stop) {
        // Back-pressure: at most four groups in flight before reading on.
        while (pending.length >= 4) await pending[0].catch(() => {});
        const { done, value } = await reader.read();
        if (done) break;
        if (!hold(value.length)) {
          enqueue(Promise.resolve([
            JSON.stringify({
              error_code: 429,
              message:
                `Too many requests: the proxy already holds ${deps.budget.limit} bytes of request bodies`,
            }),
          ]));
          break;
        }
        const merged = new Uint8Array(buf.length + value.length);
        merged.set(buf);
        merged.set(value, buf.length);
        buf = merged;
        const items: Parsed[] = [];
        let i = 0;
        for (;;) {
          i = skipWs(buf, i);
          if (i >= buf.length) break;
          if (buf[i] !== 0x7b) {
            items.push({
              ok: false,
              code: 400,
              message: `Error processing JSON: expected a record object at byte ${i}`,
            });
            stop = true;
            break;
          }
          let end: number;
          try {
            end = scanObject(buf, i, 1, undefined);
          } catch (err) {
            if (err instanceof JsonIncomplete) {
              if (buf.length - i > deps.maxObjectBytes) {
                items.push({
                  ok: false,
                  code: 413,
                  message:
                    `Request Entity Too Large: a record is over ${deps.maxObjectBytes} bytes`,
                });
                stop = true;
              }
              break;
            }
            items.push({
              ok: false,
              code: 400,
              message: `Error processing JSON: ${(err as Error).message}`,
            });
            stop = true;
            break;
          }
          items.push(parseRecord(buf, { start: i, end }));
          i = end;
        }
        // Keep only the incomplete tail; the records parsed keep their own bytes.
        const tail = buf.subarray(i);
        const freed = buf.length - tail.length;
        buf = tail.slice();
        if (items.length) {
          const group = sendGroup(items);
          enqueue(group);
          group.finally(() => {
            deps.budget.release(Math.min(held, freed));
            held -= Math.min(held, freed);
          }).catch(() => {});
        }
      }
      if (!stop && skipWs(buf, 0) < buf.length) {
        enqueue(Promise.resolve([
          JSON.stringify({
            error_code: 400,
            message: "Error processing JSON: the body ended inside a record",
          }),
        ]));
      }
    } catch (err) {
      deps.log(`rest-proxy: v3 stream to ${topic} stopped: ${(err as Error).message}`);
    } finally {
      await reader.cancel().catch(() => {});
      readingDone = true;
      notify();
      await writer.catch(() => {});
      releaseAll();
      try {
        out.close();
      } catch {
        // already closed by the client going away
      }
    }
  };
  void pump();
  return new Response(body, { status: 200, headers: { "content-type": V3_TYPE } });
}

const TYPES = ["BINARY", "JSON", "STRING"];

/** One v3 record object into a Kafka record, or the per-record error. */
function parseRecord(b: Uint8Array, s: Span): Parsed {
  let partition: number | undefined;
  let key: { type: string; bytes: Uint8Array | null } | undefined;
  let value: { type: string; bytes: Uint8Array | null } | undefined;
  let headers: OutgoingRecord["headers"];
  let timestamp: number | undefined;
  try {
    scanObject(b, s.start, 1, (name, v) => {
      const t = typeAt(b, v);
      if (nameIs(b, name, "partition_id")) {
        if (t === "null") return;
        const p = t === "number" ? intAt(b, v) : undefined;
        if (p === undefined) {
          throw new HttpError(400, 400, "Bad Request: partition_id must be an integer");
        }
        if (p < 0) throw new HttpError(404, 40402, "Partition not found.");
        partition = p;
      } else if (nameIs(b, name, "key")) key = data(b, v, "key");
      else if (nameIs(b, name, "value")) value = data(b, v, "value");
      else if (nameIs(b, name, "headers")) headers = headerList(b, v);
      else if (nameIs(b, name, "timestamp")) {
        if (t === "null") return;
        const text = t === "string" ? stringAt(b, v) : "";
        const ms = Date.parse(text);
        if (t !== "string" || !Number.isFinite(ms)) {
          throw new HttpError(
            400,
            400,
            `Bad Request: timestamp must be an ISO-8601 date-time, found ${text || t}`,
          );
        }
        timestamp = ms;
      }
    });
  } catch (err) {
    if (err instanceof HttpError) return { ok: false, code: err.errorCode, message: err.message };
    if (err instanceof JsonSyntaxError) {
      return { ok: false, code: 400, message: `Error processing JSON: ${err.message}` };
    }
    throw err;
  }
  return {
    ok: true,
    record: { key: key?.bytes ?? null, value: value?.bytes ?? null, partition, headers, timestamp },
    keyType: key?.bytes != null ? key.type : undefined,
    valueType: value?.bytes != null ? value.type : undefined,
  };
}

function data(
  b: Uint8Array,
  v: Span,
  what: string,
): { type: string; bytes: Uint8Array | null } | undefined {
  const t = typeAt(b, v);
  if (t === "null") return undefined;
  if (t !== "object") {
    throw new HttpError(400, 400, `Bad Request: ${what} must be an object with "type" and "data"`);
  }
  let type: string | undefined;
  let dataSpan: Span | undefined;
  let schemaField: string | undefined;
  scanObject(b, v.start, 2, (name, x) => {
    if (nameIs(b, name, "type")) {
      if (typeAt(b, x) !== "string") {
        throw new HttpError(400, 400, `Bad Request: ${what}.type must be a string`);
      }
      type = stringAt(b, x).toUpperCase();
    } else if (nameIs(b, name, "data")) dataSpan = x;
    else {
      const n = stringAt(b, name);
      if (
        ["schema", "schema_id", "schema_version", "subject", "subject_name_strategy"].includes(n)
      ) {
        if (typeAt(b, x) !== "null") schemaField = n;
      }
    }
  });
  if (schemaField || type === undefined) {
    throw new HttpError(
      400,
      400,
      `Bad Request: ${what}${
        schemaField ? `.${schemaField}` : " without a type"
      } needs a Schema Registry, which this proxy does not have; give ${what}.type BINARY, JSON or STRING`,
    );
  }
  if (!TYPES.includes(type)) {
    throw new HttpError(
      400,
      400,
      `Bad Request: ${what}.type "${type}" is not one of BINARY, JSON, STRING`,
    );
  }
  if (!dataSpan || typeAt(b, dataSpan) === "null") return { type, bytes: null };
  const dt = typeAt(b, dataSpan);
  if (type === "JSON") return { type, bytes: compact(b, dataSpan) };
  if (dt !== "string") {
    throw new HttpError(400, 400, `Bad Request: ${what}.data must be a string for type ${type}`);
  }
  const text = stringAt(b, dataSpan);
  if (type === "STRING") return { type, bytes: enc.encode(text) };
  try {
    return { type, bytes: decodeBase64(text, `${what}.data`) };
  } catch {
    throw new HttpError(400, 400, `Bad Request: data=${text.slice(0, 40)} is not a base64 string.`);
  }
}

function headerList(b: Uint8Array, v: Span): OutgoingRecord["headers"] {
  const t = typeAt(b, v);
  if (t === "null") return undefined;
  if (t !== "array") throw new HttpError(400, 400, "Bad Request: headers must be an array");
  const out: { name: string; value: Uint8Array | null }[] = [];
  const text = new TextDecoder().decode(b.subarray(v.start, v.end));
  const list = JSON.parse(text) as unknown[];
  for (const h of list) {
    const { name, value } = (h ?? {}) as { name?: unknown; value?: unknown };
    if (typeof name !== "string") {
      throw new HttpError(400, 400, "Bad Request: a header needs a string name");
    }
    if (value !== null && value !== undefined && typeof value !== "string") {
      throw new HttpError(400, 400, `Bad Request: header ${name} must have a base64 string value`);
    }
    out.push({
      name,
      value: typeof value === "string" ? Buffer.from(decodeBase64Header(value, name)) : null,
    });
  }
  return out;
}

function decodeBase64Header(value: string, name: string): Uint8Array {
  try {
    return decodeBase64(value, `header ${name}`);
  } catch {
    throw new HttpError(
      400,
      400,
      `Bad Request: header ${name}: data=${value.slice(0, 40)} is not a base64 string.`,
    );
  }
}

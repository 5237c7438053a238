/**
 * The v3 records API, `POST /v3/clusters/{id}/topics/{topic}/records`, including its
 * streaming form: a body of many JSON records one after another (sent with chunked encoding
 * as they are produced), answered with one result line per record, in order, each written as
 * soon as the broker acknowledged it, while the body may still be arriving.
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
import { HttpError, type MemoryBudget } from "./http.ts";
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
import type { PartitionMeta, TopicCache } from "./topics.ts";
import { topicNotFound } from "./topics.ts";

/** What the records API needs from the proxy. */
export interface V3RecordsDeps {
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

/** A parsed record, or why it cannot be produced. */
type Parsed =
  | { ok: true; record: OutgoingRecord; keyType?: string; valueType?: string }
  | { ok: false; code: number; message: string };

const enc = new TextEncoder();

/** Groups of records in flight on one stream before it reads on. */
const GROUPS_IN_FLIGHT = 4;

/**
 * Answers a records POST: 404 for an unknown topic (or creates it), 400 without a body,
 * else a 200 whose body streams one result line per record.
 */
export async function produceRecords(
  deps: V3RecordsDeps,
  req: ProxyRequest,
  cluster: string,
  topic: string,
): Promise<Response> {
  let meta = await deps.topics.describe(topic);
  if (!meta && deps.autoCreate) meta = await deps.topics.create(topic);
  if (!meta) throw topicNotFound(topic);
  if (!req.body) {
    throw new HttpError(400, 400, "Payload error. Request body is empty. Data is required.");
  }
  const stream = new RecordStream(deps, req.body, cluster, topic, meta);
  void stream.pump();
  return new Response(stream.answer, {
    status: 200,
    headers: { "content-type": "application/json" },
  });
}

/**
 * One records stream: reads the body, cuts it into record objects, sends them in groups
 * (at most GROUPS_IN_FLIGHT at once) and writes each group's result lines in arrival order.
 * A stream holds at most one incomplete record beyond what is being sent, counted against
 * the proxy's memory budget.
 */
class RecordStream {
  /** The answer's body: result lines, `\r\n`-separated. */
  readonly answer: ReadableStream<Uint8Array>;
  private out!: ReadableStreamDefaultController<Uint8Array>;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Groups of records in arrival order; each resolves to its result lines. */
  private readonly pending: Promise<string[]>[] = [];
  /** Bytes of an incomplete record object carried to the next chunk. */
  private buf = new Uint8Array(0);
  /** Bytes this stream holds of the memory budget. */
  private held = 0;
  private readingDone = false;
  private wake?: () => void;

  constructor(
    private readonly deps: V3RecordsDeps,
    body: ReadableStream<Uint8Array>,
    private readonly cluster: string,
    private readonly topic: string,
    private readonly partitions: PartitionMeta[],
  ) {
    this.reader = body.getReader();
    this.answer = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.out = c;
      },
      cancel: () => {
        void this.reader.cancel().catch(() => {});
      },
    });
  }

  /** Reads the body to its end (or the first error that ends the stream), then closes. */
  async pump(): Promise<void> {
    const writer = this.writeLines();
    try {
      await this.readAll();
    } catch (err) {
      this.deps.log(`rest-proxy: v3 stream to ${this.topic} stopped: ${(err as Error).message}`);
    } finally {
      await this.reader.cancel().catch(() => {});
      this.readingDone = true;
      this.notify();
      await writer.catch(() => {});
      this.deps.budget.release(this.held);
      this.held = 0;
      try {
        this.out.close();
      } catch {
        // already closed by the client going away
      }
    }
  }

  private async readAll(): Promise<void> {
    for (;;) {
      // Back-pressure: a few groups in flight before reading on.
      while (this.pending.length >= GROUPS_IN_FLIGHT) await this.pending[0].catch(() => {});
      const { done, value } = await this.reader.read();
      if (done) break;
      if (!this.deps.budget.tryReserve(value.length)) {
        this.enqueue(Promise.resolve([
          JSON.stringify({
            error_code: 429,
            message:
              `Too many requests: the proxy already holds ${this.deps.budget.limit} bytes of request bodies`,
          }),
        ]));
        return;
      }
      this.held += value.length;
      const merged = new Uint8Array(this.buf.length + value.length);
      merged.set(this.buf);
      merged.set(value, this.buf.length);
      const { items, used, stop } = this.cut(merged);
      // Keep only the incomplete tail; the records parsed keep their own bytes.
      this.buf = merged.subarray(used).slice();
      if (items.length) {
        const group = this.sendGroup(items);
        this.enqueue(group);
        group.finally(() => {
          const n = Math.min(this.held, used);
          this.deps.budget.release(n);
          this.held -= n;
        }).catch(() => {});
      }
      if (stop) return;
    }
    if (skipWs(this.buf, 0) < this.buf.length) {
      this.enqueue(Promise.resolve([
        JSON.stringify({
          error_code: 400,
          message: "Error processing JSON: the body ended inside a record",
        }),
      ]));
    }
  }

  /**
   * The complete record objects at the start of `b`: their parsed records (or errors), the
   * bytes they took, and whether the stream must end (JSON it cannot go past).
   */
  private cut(b: Uint8Array): { items: Parsed[]; used: number; stop: boolean } {
    const items: Parsed[] = [];
    let i = 0;
    for (;;) {
      i = skipWs(b, i);
      if (i >= b.length) return { items, used: i, stop: false };
      const error = (code: number, message: string) => {
        items.push({ ok: false, code, message });
        return { items, used: i, stop: true };
      };
      if (b[i] !== 0x7b) {
        return error(400, `Error processing JSON: expected a record object at byte ${i}`);
      }
      let end: number;
      try {
        end = scanObject(b, i, 1, undefined);
      } catch (err) {
        if (!(err instanceof JsonIncomplete)) {
          return error(400, `Error processing JSON: ${(err as Error).message}`);
        }
        if (b.length - i > this.deps.maxObjectBytes) {
          return error(
            413,
            `Request Entity Too Large: a record is over ${this.deps.maxObjectBytes} bytes`,
          );
        }
        return { items, used: i, stop: false };
      }
      items.push(parseRecord(b, { start: i, end }));
      i = end;
    }
  }

  /** Sends the good records of `items`; resolves to one result line per item. */
  private async sendGroup(items: Parsed[]): Promise<string[]> {
    const good = items.filter((p): p is Extract<Parsed, { ok: true }> => p.ok);
    let results: SendResult[];
    try {
      results = good.length
        ? await this.deps.sender.send(this.topic, this.partitions, good.map((g) => g.record))
        : [];
    } catch (err) {
      this.deps.onRecords?.(0, items.length);
      const line = JSON.stringify({
        error_code: 500,
        message: `Internal error: ${(err as Error).message}`,
      });
      return items.map(() => line);
    }
    let k = 0;
    let ok = 0;
    const lines = items.map((p) => {
      if (!p.ok) return JSON.stringify({ error_code: p.code, message: p.message });
      const r = results[k++];
      if (!r.ok) return JSON.stringify({ error_code: r.errorCode, message: r.error });
      ok++;
      return JSON.stringify({
        error_code: 200,
        cluster_id: this.cluster,
        topic_name: this.topic,
        partition_id: r.partition,
        offset: r.offset,
        timestamp: new Date(r.timestamp).toISOString(),
        key: p.keyType ? { type: p.keyType, size: p.record.key?.length ?? 0 } : null,
        value: p.valueType ? { type: p.valueType, size: p.record.value?.length ?? 0 } : null,
      });
    });
    this.deps.onRecords?.(ok, items.length - ok);
    return lines;
  }

  private enqueue(p: Promise<string[]>): void {
    this.pending.push(p);
    this.notify();
  }

  private notify(): void {
    this.wake?.();
    this.wake = undefined;
  }

  /** Writes each group's lines once it settles, strictly in arrival order. */
  private async writeLines(): Promise<void> {
    for (;;) {
      if (!this.pending.length) {
        if (this.readingDone) return;
        await new Promise<void>((r) => (this.wake = r));
        continue;
      }
      // One chunk per group: a write per record line would cost a syscall each.
      const lines = await this.pending[0];
      if (lines.length) this.write(lines.join("\r\n"));
      this.pending.shift();
    }
  }

  private write(line: string): void {
    try {
      this.out.enqueue(enc.encode(`${line}\r\n`));
    } catch {
      // The client went away; the records already sent stay sent.
    }
  }
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

/**
 * A producer for the Confluent REST Proxy, directly or behind API Gateway (`x-api-key`):
 * v2 (`POST <base>/topics/<topic>` with `application/vnd.kafka.json.v2+json`, the default and
 * what API Gateway forwards on AWS) or v3 (`POST <base>/v3/clusters/<id>/topics/<topic>/records`,
 * many records in one body, one result line per record).
 *
 * Every record's result is checked: the proxy reports a failed record inside a 200. Records
 * answered with a retriable code (50003, or the old 2) are sent again on their own; network
 * errors, timeouts, 408, 429 (after its Retry-After) and 5xx retry the whole request with
 * capped exponential backoff; anything else stops with an error naming the topic, the key and
 * the code. A failing request is retried for at least `maxAttempts` attempts and at least
 * `retryForMs` (2 minutes) from its first failure, so a broker outage longer than the proxy's
 * own retries is waited out; each retry line says until when. The first contact is different:
 * a proxy that cannot be reached at all is one error within 5 s naming the URL's flag.
 * At-least-once: a request whose answer was lost is sent again, and the proxy may have
 * written it the first time.
 * @module
 */
import { isRetriable, RetriableError } from "../shell/errors.ts";
import type { OutRecord, SendHooks, Target } from "./emulator.ts";
import { retry } from "../shell/retry.ts";
import { redact } from "../shell/redact.ts";

/**
 * A failed fetch in words: a timeout (with `hint`, what gives it longer), a refused
 * connection, an unknown host.
 */
function networkReason(err: unknown, timeoutMs: number, hint?: string): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError" || e?.name === "AbortError") {
    return `no answer within ${fmtMs(timeoutMs)}${hint ? ` (${hint} gives it longer)` : ""}`;
  }
  const text = `${e?.message ?? err} ${e?.cause?.message ?? ""} ${e?.cause?.code ?? ""}`;
  if (/ECONNREFUSED|Connection refused/i.test(text)) {
    return "connection refused (ECONNREFUSED): nothing listens there";
  }
  if (/failed to lookup|Name or service not known|ENOTFOUND|dns error/i.test(text)) {
    return "the host name does not resolve (ENOTFOUND)";
  }
  return redact(e?.message ?? String(err));
}

/** `500 ms`, `5 s`, `2.5 s`. */
function fmtMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(1))} s`;
}

/** The v2 content type for JSON-embedded values. */
export const REST_CONTENT_TYPE = "application/vnd.kafka.json.v2+json";

/** Per-record codes a retry may fix: 50003 (retriable Kafka error), 2 (pre-5.x "retriable"). */
export const RETRIABLE_RECORD_CODES: ReadonlySet<number> = new Set([50003, 2]);

/** The REST proxy API versions the producer speaks. */
export type RestApi = "v2" | "v3";

/** How the producer talks to the proxy. */
export interface RestProducerOptions {
  /** `http://host:8082` or `https://<api-id>.execute-api.<region>.amazonaws.com/<stage>`. */
  baseUrl: string;
  /** v2 (default) or v3. */
  api?: RestApi;
  /** The flag the URL came from, for errors (default `--rest-url`). */
  urlFlag?: string;
  /** Keep retrying a failing request at least this long after its first failure. Default 2 min. */
  retryForMs?: number;
  /** How long the first contact may take before the proxy counts as unreachable. Default 5 s. */
  connectTimeoutMs?: number;
  /** Sent as `x-api-key` (API Gateway); never printed. */
  apiKey?: string;
  /** Per request, default 30 s (API Gateway gives up at 29 s). */
  timeoutMs?: number;
  /**
   * The flags that lengthen each wait, named when it runs out (`--request-timeout`…);
   * without them a timeout says only what it waited for.
   */
  flags?: { connect?: string; request?: string; retry?: string };
  /** Attempts per request, the first included; default 10. */
  maxAttempts?: number;
  /** First backoff, default 200 ms. */
  baseMs?: number;
  /** Largest backoff (and Retry-After honoured up to it), default 15 s. */
  maxMs?: number;
  /** For tests. */
  fetch?: typeof fetch;
  random?: () => number;
}

/** One entry of a v2 produce answer. */
interface PartitionOffset {
  partition?: number | null;
  offset?: number | null;
  error_code?: number | null;
  error?: string | null;
}

/** What a 403 without an error code means: API Gateway's answer to a wrong or missing key. */
const API_KEY_HINT = "API Gateway refuses a missing or wrong x-api-key: set PINPIPE_API_KEY";
const V3_HINT = "does it serve the v3 API? try --rest-api v2";

/** A record the proxy refused, or a request it refused. */
export class DeliveryError extends Error {
  override name = "DeliveryError";
  constructor(
    message: string,
    readonly topic: string,
    readonly key: string,
    readonly code: number | string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The delay a Retry-After header asks for, in ms, or undefined. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/**
 * A record as the v2 JSON format carries it. The proxy serializes the key as JSON, so a
 * decimal key goes as a JSON number: its JSON text, and so the Kafka key's bytes, is the
 * plain decimal string (`7528`), the same key the Kafka target writes. A string would
 * arrive quoted (`"7528"`).
 */
function wireRecord(r: OutRecord): { key: number | string; value: object } {
  return { key: /^(0|[1-9]\d{0,14})$/.test(r.key) ? Number(r.key) : r.key, value: r.value };
}

/** Sends records to a Confluent REST proxy (v2 or v3). */
export class RestProducer implements Target {
  readonly name: string;
  private readonly base: string;
  private readonly fetch: typeof fetch;
  private readonly api: RestApi;
  private reachable?: Promise<void>;
  private clusterId?: Promise<string>;

  constructor(private readonly opts: RestProducerOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, "");
    this.api = opts.api ?? "v2";
    this.name = `the REST proxy at ${redact(this.base)}`;
    this.fetch = opts.fetch ?? fetch;
  }

  /**
   * Checks once that the proxy answers at all (any HTTP status will do) within
   * `connectTimeoutMs`; a proxy that cannot be reached is a permanent error naming the flag.
   */
  probe(): Promise<void> {
    return this.reachable ??= (async () => {
      const ms = this.opts.connectTimeoutMs ?? 5000;
      const headers: Record<string, string> = { accept: "application/vnd.kafka.v2+json" };
      if (this.opts.apiKey) headers["x-api-key"] = this.opts.apiKey;
      try {
        const res = await this.fetch(`${this.base}/`, {
          headers,
          signal: AbortSignal.timeout(ms),
        });
        await res.body?.cancel();
      } catch (err) {
        throw new Error(
          `Cannot reach the REST proxy at ${this.opts.urlFlag ?? "--rest-url"} "${
            redact(this.base)
          }": ${networkReason(err, ms, this.opts.flags?.connect)}`,
        );
      }
    })();
  }

  /** Sends `records` to `topic`, retrying what may pass, until all are acknowledged. */
  async send(topic: string, records: OutRecord[], hooks: SendHooks): Promise<void> {
    await this.probe();
    let pending = records;
    const attempts = this.opts.maxAttempts ?? 10;
    const retryFor = this.opts.retryForMs ?? 120_000;
    let firstFailure: number | undefined;
    let deadline = "";
    let tries = 0;
    try {
      await retry(async () => {
        tries++;
        try {
          const res = this.api === "v3"
            ? await this.attemptV3(topic, pending, hooks)
            : await this.attempt(topic, pending, hooks);
          pending = res.again;
          if (pending.length) {
            throw new RetriableError(
              `${pending.length} records to topic "${topic}" (key "${
                pending[0].key
              }" first) were answered with retriable error_code ${res.why}`,
            );
          }
        } catch (err) {
          if (!isRetriable(err)) throw err;
          if (firstFailure === undefined) {
            firstFailure = Date.now();
            deadline = new Date(firstFailure + retryFor).toISOString().slice(11, 19);
          }
          throw new RetriableError(
            `${(err as Error).message} (retrying until ${deadline} UTC)`,
            { cause: err, retryAfterMs: (err as RetriableError).retryAfterMs },
          );
        }
      }, {
        // Attempts and time both bound the retries: give up only when both are spent.
        maxAttempts: Number.MAX_SAFE_INTEGER,
        retriable: (err) =>
          isRetriable(err) &&
          (tries < attempts || Date.now() - (firstFailure ?? Date.now()) < retryFor),
        baseMs: this.opts.baseMs ?? 200,
        maxMs: this.opts.maxMs ?? 15_000,
        onRetry: hooks.onRetry,
        random: this.opts.random,
      });
    } catch (err) {
      if (isRetriable(err)) {
        const secs = Math.round((Date.now() - (firstFailure ?? Date.now())) / 1000);
        const longer = this.opts.flags?.retry ? `; ${this.opts.flags.retry} give it longer` : "";
        throw new Error(
          `${
            (err as Error).message.replace(/ \(retrying until [^)]*\)$/, "")
          } (gave up after ${tries} attempts over ${secs} s${longer})`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  /** The cluster id for v3 URLs, from `GET <base>/v3/clusters` (asked once). */
  private cluster(): Promise<string> {
    const p = this.clusterId ??= (async () => {
      const headers: Record<string, string> = { accept: "application/json" };
      if (this.opts.apiKey) headers["x-api-key"] = this.opts.apiKey;
      let res: Response;
      let text: string;
      try {
        res = await this.fetch(`${this.base}/v3/clusters`, {
          headers,
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
        });
        text = await res.text();
      } catch (err) {
        throw new RetriableError(
          `Cannot list the clusters of ${this.name}: ${
            networkReason(err, this.opts.timeoutMs ?? 30_000, this.opts.flags?.request)
          }`,
          { cause: err },
        );
      }
      if (res.status !== 200) {
        const answer = `Cannot list the clusters of ${this.name}: it answered HTTP ${res.status}: ${
          text.slice(0, 200).trim()
        }`;
        if (res.status === 429 || res.status >= 500) throw new RetriableError(answer);
        throw new Error(`${answer} (${res.status === 403 ? API_KEY_HINT : V3_HINT})`);
      }
      const id = (JSON.parse(text) as { data?: { cluster_id?: string }[] }).data?.[0]?.cluster_id;
      if (!id) throw new Error(`Cannot list the clusters of ${this.name}: the answer names none`);
      return id;
    })();
    p.catch(() => (this.clusterId = undefined));
    return p;
  }

  /** One v3 POST of all `records`; returns those to try again. */
  private async attemptV3(
    topic: string,
    records: OutRecord[],
    hooks: SendHooks,
  ): Promise<{ again: OutRecord[]; why?: string }> {
    const id = await this.cluster();
    const url = `${this.base}/v3/clusters/${encodeURIComponent(id)}/topics/${
      encodeURIComponent(topic)
    }/records`;
    const what = `Cannot send key "${records[0].key}"${
      records.length > 1 ? ` and ${records.length - 1} more records` : ""
    } to topic "${topic}"`;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "accept": "application/json",
    };
    if (this.opts.apiKey) headers["x-api-key"] = this.opts.apiKey;
    const body = records.map((r) => {
      const k = wireRecord(r).key;
      return JSON.stringify({
        key: { type: "JSON", data: k },
        value: { type: "JSON", data: r.value },
      });
    }).join("\n");
    const { res, text } = await this.post(url, headers, body, what);
    if (res.status !== 200) this.refuse(res, text, what, topic, records[0].key);
    const lines = text.split(/\r?\n/).filter((l) => l.trim());
    const again: OutRecord[] = [];
    let why: string | undefined;
    const acked: OutRecord[] = [];
    let refused: DeliveryError | undefined;
    for (let i = 0; i < records.length; i++) {
      let r: { error_code?: number; message?: string } | undefined;
      try {
        r = lines[i] === undefined ? undefined : JSON.parse(lines[i]);
      } catch {
        r = undefined;
      }
      const code = r?.error_code;
      if (code === 200) {
        acked.push(records[i]);
      } else if (
        code === undefined || RETRIABLE_RECORD_CODES.has(code) || code === 429 || code === 408 ||
        (code >= 500 && code < 600)
      ) {
        // No result for it (the stream broke off) or a retriable one: send it again.
        again.push(records[i]);
        why ??= code === undefined
          ? "none (the answer ended before it)"
          : `${code}${r?.message ? `: ${r.message}` : ""}`;
      } else {
        refused ??= this.recordRefused(topic, records[i].key, code, r?.message);
      }
    }
    if (acked.length) hooks.onAck(acked);
    if (refused) throw refused;
    return { again, why };
  }

  /** One POST; returns the records to try again, throws on a request-level failure. */
  private async attempt(
    topic: string,
    records: OutRecord[],
    hooks: SendHooks,
  ): Promise<{ again: OutRecord[]; why?: string }> {
    const url = `${this.base}/topics/${encodeURIComponent(topic)}`;
    const what = `Cannot send key "${records[0].key}"${
      records.length > 1 ? ` and ${records.length - 1} more records` : ""
    } to topic "${topic}"`;
    const headers: Record<string, string> = {
      "content-type": REST_CONTENT_TYPE,
      "accept": "application/vnd.kafka.v2+json, application/json",
    };
    if (this.opts.apiKey) headers["x-api-key"] = this.opts.apiKey;
    const { res, text } = await this.post(
      url,
      headers,
      JSON.stringify({ records: records.map(wireRecord) }),
      what,
    );
    if (res.status !== 200) this.refuse(res, text, what, topic, records[0].key);
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    const offsets = (body as { offsets?: PartitionOffset[] } | undefined)?.offsets;
    if (!Array.isArray(offsets) || offsets.length !== records.length) {
      throw new DeliveryError(
        `${what}: ${this.name} answered HTTP 200 without one offsets entry per record (${
          Array.isArray(offsets) ? offsets.length : "no offsets"
        } for ${records.length}): is this a Confluent v2 REST proxy?`,
        topic,
        records[0].key,
        200,
      );
    }
    const again: OutRecord[] = [];
    let why: string | undefined;
    const acked: OutRecord[] = [];
    let refused: DeliveryError | undefined;
    for (let i = 0; i < records.length; i++) {
      const code = offsets[i]?.error_code;
      if (code === null || code === undefined) {
        acked.push(records[i]);
      } else if (RETRIABLE_RECORD_CODES.has(code)) {
        again.push(records[i]);
        why ??= `${code}${offsets[i].error ? `: ${offsets[i].error}` : ""}`;
      } else {
        refused ??= this.recordRefused(topic, records[i].key, code, offsets[i].error);
      }
    }
    if (acked.length) hooks.onAck(acked);
    if (refused) throw refused;
    return { again, why };
  }

  /** POSTs `body` to `url`; a network failure or timeout is retriable. */
  private async post(
    url: string,
    headers: Record<string, string>,
    body: string,
    what: string,
  ): Promise<{ res: Response; text: string }> {
    const timeoutMs = this.opts.timeoutMs ?? 30_000;
    try {
      const res = await this.fetch(url, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { res, text: await res.text() };
    } catch (err) {
      throw new RetriableError(
        `${what}: the request to ${this.name} failed: ${
          networkReason(err, timeoutMs, this.opts.flags?.request)
        }`,
        { cause: err },
      );
    }
  }

  /** Throws for an answer other than 200: retriable for 408, 429 and 5xx, final otherwise. */
  private refuse(res: Response, text: string, what: string, topic: string, key: string): never {
    let code: number | undefined;
    let msg = text.slice(0, 200).trim();
    try {
      const b = JSON.parse(text) as { error_code?: number; message?: string };
      code = b?.error_code;
      msg = b?.message ?? msg;
    } catch {
      // not JSON: keep the text
    }
    const answer = `${this.name} answered HTTP ${res.status}${
      code !== undefined ? `, error_code ${code}` : ""
    }${msg ? `: ${msg}` : ""}`;
    if (res.status === 429 || res.status === 408 || res.status >= 500) {
      throw new RetriableError(`${what}: ${answer}`, {
        retryAfterMs: parseRetryAfter(res.headers.get("retry-after")),
      });
    }
    // An answer without a REST proxy's error_code may not come from a REST proxy at all (an
    // HTTP proxy on the way, a wrong port): the flag that points there is named.
    const hint = code !== undefined
      ? ""
      : res.status === 403
      ? ` (${API_KEY_HINT})`
      : ` (no error_code in the answer: does ${
        this.opts.urlFlag ?? "--rest-url"
      } point at a REST proxy?)`;
    throw new DeliveryError(`${what}: ${answer}${hint}`, topic, key, code ?? res.status);
  }

  /** The error for one record the proxy refused for good. */
  private recordRefused(
    topic: string,
    key: string,
    code: number,
    message: string | null | undefined,
  ): DeliveryError {
    return new DeliveryError(
      `Cannot send key "${key}" to topic "${topic}": ${this.name} answered error_code ${code} ` +
        `for the record${message ? `: ${message}` : ""}`,
      topic,
      key,
      code,
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The HTTP side every REST proxy endpoint shares: the error envelope and codes of Confluent's
 * proxy (reference/aws-kafka.md §1.3), content types and `Accept` negotiation, and reading a
 * request body under a size limit, a time limit and a memory budget shared by all requests.
 * @module
 */
import type { ProxyRequest } from "./server.ts";

/** The v2 content types. */
export const V2 = {
  json: "application/vnd.kafka.json.v2+json",
  binary: "application/vnd.kafka.binary.v2+json",
  response: "application/vnd.kafka.v2+json",
} as const;

/** Every whole-request failure: an HTTP status and Confluent's `error_code`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A JSON answer with the given content type (default the v2 one). */
export function jsonResponse(
  body: unknown,
  status = 200,
  headers: Record<string, string> = {},
  type: string = V2.response,
): Response {
  return new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: { "content-type": type, ...headers },
  });
}

/** The v2 error envelope `{"error_code","message"}`. */
export function errorResponse(e: HttpError, type: string = V2.response): Response {
  return jsonResponse({ error_code: e.errorCode, message: e.message }, e.status, e.headers, type);
}

/** 404 for a path no endpoint serves. */
export function notFound(): HttpError {
  return new HttpError(404, 404, "HTTP 404 Not Found");
}

/** 405 for a method an endpoint does not take. */
export function methodNotAllowed(): HttpError {
  return new HttpError(405, 405, "HTTP 405 Method Not Allowed");
}

/** 400 for a body that is not JSON, bad base64 or a field of the wrong type. */
export function badRequest(message: string): HttpError {
  return new HttpError(400, 400, message);
}

/** 422 for valid JSON that is not the request the endpoint takes. */
export function unprocessable(message: string, code = 422): HttpError {
  return new HttpError(422, code, message);
}

/** A media range from an `Accept` header. */
interface MediaRange {
  type: string;
  sub: string;
  q: number;
}

function parseAccept(header: string | null): MediaRange[] {
  if (!header || !header.trim()) return [{ type: "*", sub: "*", q: 1 }];
  const out: MediaRange[] = [];
  for (const part of header.split(",")) {
    const [range, ...params] = part.split(";").map((s) => s.trim().toLowerCase());
    const [type, sub] = range.split("/");
    if (!type || !sub) continue;
    let q = 1;
    for (const p of params) {
      const m = /^q=([0-9.]+)$/.exec(p);
      if (m) q = Number(m[1]);
    }
    if (q > 0) out.push({ type, sub, q });
  }
  return out;
}

function matches(r: MediaRange, offered: string): number {
  const [type, sub] = offered.split("/");
  if (r.type === type && r.sub === sub) return 3;
  if (r.type === type && r.sub === "*") return 2;
  if (r.type === "*" && r.sub === "*") return 1;
  return 0;
}

/**
 * The offered type the client's `Accept` prefers (the first offered wins ties), or undefined
 * when it accepts none of them. A missing `Accept` accepts anything.
 */
export function negotiate(accept: string | null, offered: readonly string[]): string | undefined {
  const ranges = parseAccept(accept);
  let best: string | undefined;
  let bestQ = 0;
  let bestSpec = 0;
  for (const o of offered) {
    for (const r of ranges) {
      const spec = matches(r, o);
      if (!spec) continue;
      if (r.q > bestQ || (r.q === bestQ && spec > bestSpec)) {
        best = o;
        bestQ = r.q;
        bestSpec = spec;
      }
    }
  }
  return best;
}

/** The types a metadata or produce answer can be sent as, most specific first. */
export const V2_ANSWER_TYPES = [V2.response, "application/vnd.kafka+json", "application/json"];

/** The answer type for `req`, or 406 when its `Accept` takes none of `offered`. */
export function answerType(
  req: ProxyRequest,
  offered: readonly string[] = V2_ANSWER_TYPES,
): string {
  const t = negotiate(req.headers.get("accept"), offered);
  if (!t) {
    throw new HttpError(
      406,
      406,
      `HTTP 406 Not Acceptable: "${req.headers.get("accept")}"; this endpoint answers ${
        offered.join(", ")
      }`,
    );
  }
  return t;
}

/** The media type of a `Content-Type` header, lower-cased, without parameters. */
export function mediaType(contentType: string | null): string {
  return (contentType ?? "").split(";")[0].trim().toLowerCase();
}

/**
 * Bytes of request bodies held at once across all requests. A request that would pass the
 * budget is refused with 429 instead of growing the process without bound.
 */
export class MemoryBudget {
  private used = 0;
  constructor(readonly limit: number) {}

  /** Reserves `n` bytes, or returns false when that would pass the limit. */
  tryReserve(n: number): boolean {
    if (this.used + n > this.limit && this.used > 0) return false;
    this.used += n;
    return true;
  }

  release(n: number): void {
    this.used = Math.max(0, this.used - n);
  }

  get inUse(): number {
    return this.used;
  }
}

/** Limits for reading one body. */
export interface BodyLimits {
  /** Largest body; more is answered 413 while it is still arriving. */
  maxBytes: number;
  /** The whole body must arrive within this many ms of the request, else 408. */
  timeoutMs: number;
  /** Shared budget; bytes stay reserved until `release` of the returned body is called. */
  budget: MemoryBudget;
  /** Seconds in the Retry-After of a 429. */
  retryAfter: string;
}

/** A body read whole, holding its share of the memory budget until released. */
export interface HeldBody {
  bytes: Uint8Array;
  release(): void;
}

function tooLarge(max: number): HttpError {
  return new HttpError(413, 413, `Request Entity Too Large: the body is over ${max} bytes`);
}

function overBudget(limits: BodyLimits): HttpError {
  return new HttpError(
    429,
    42901,
    `Too many requests: the proxy already holds ${limits.budget.limit} bytes of request bodies`,
    { "Retry-After": limits.retryAfter },
  );
}

/**
 * Reads `req`'s body chunk by chunk. Refuses it (and stops reading) as soon as it passes the
 * size limit (413), the time limit (408) or the memory budget (429).
 */
export async function readBody(req: ProxyRequest, limits: BodyLimits): Promise<HeldBody> {
  let held = 0;
  const release = () => {
    limits.budget.release(held);
    held = 0;
  };
  const reserve = (n: number) => {
    if (!limits.budget.tryReserve(n)) throw overBudget(limits);
    held += n;
  };
  const declared = Number(req.headers.get("content-length") ?? NaN);
  try {
    if (declared > limits.maxBytes) throw tooLarge(limits.maxBytes);
    if (Number.isFinite(declared) && declared > 0) reserve(declared);
    if (!req.body) return { bytes: new Uint8Array(), release };
    // With a declared length the body goes straight into one buffer of that size (already
    // reserved): no list of socket chunks held beside it, no copy to join them.
    const whole = Number.isFinite(declared) && declared > 0 ? new Uint8Array(declared) : undefined;
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = req.body.getReader();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new HttpError(
              408,
              408,
              `Request Timeout: the body did not arrive within ${limits.timeoutMs} ms`,
            ),
          ),
        limits.timeoutMs,
      );
    });
    timedOut.catch(() => {});
    try {
      for (;;) {
        const { done, value } = await Promise.race([reader.read(), timedOut]);
        if (done) break;
        if (size + value.length > limits.maxBytes) throw tooLarge(limits.maxBytes);
        // node's parser never passes more than the declared length to a body.
        if (whole) whole.set(value, size);
        else chunks.push(value);
        size += value.length;
        if (size > held) reserve(size - held);
      }
    } catch (err) {
      await reader.cancel().catch(() => {});
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (held > size) {
      limits.budget.release(held - size);
      held = size;
    }
    if (whole) return { bytes: whole.subarray(0, size), release };
    if (chunks.length === 1) return { bytes: chunks[0], release };
    const out = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return { bytes: out, release };
  } catch (err) {
    release();
    await req.body?.cancel().catch(() => {});
    throw err;
  }
}

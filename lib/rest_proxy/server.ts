/**
 * The proxy's HTTP server: node:http under a fetch-style handler (a request in, a `Response`
 * out). Not `Deno.serve`, because that drops the body of a GET, and Confluent's API takes one:
 * `GET /consumers/{g}/instances/{i}/offsets` names its partitions in the body. Answers may
 * start while the request body is still arriving (v3 results streamed as records are
 * acknowledged).
 *
 * A request refused before its body was read (413, 429, 404 …) is answered readably: the
 * rest of the body is read and thrown away first, up to `drainBytes` (64 MiB), for at most
 * `drainTimeoutMs` and while it keeps coming (a pause of DRAIN_IDLE_MS ends it), so a client
 * that writes its whole body before reading (Python's http.client) gets the answer instead of
 * a reset; the connection is then closed. A body declared larger than that bound, one that
 * pauses, and a 408 are answered at once and the connection closed, which a client still
 * writing may see as a reset. A client that sent
 * `Expect: 100-continue` (curl does above 1 MiB) is told to send its body only once the
 * handler reads it, so a refusal costs it no upload at all.
 *
 * A connection holds no buffer of its own between requests: bodies are read into memory
 * the proxy's budget accounts for (lib/rest_proxy/http.ts), and released when handled.
 * @module
 */
import http from "node:http";

/** What a handler gets: the parts of a fetch `Request` the proxy uses, with a GET's body. */
export interface ProxyRequest {
  method: string;
  /** Absolute: `http://<Host header>/path?query`, for the query and the host. */
  url: string;
  /** The request target exactly as the client sent it, for matching the path. */
  target: string;
  headers: Headers;
  /** The body, or null when the request has none. */
  body: ReadableStream<Uint8Array> | null;
}

/** A listening server. */
export interface HttpServer {
  hostname: string;
  port: number;
  /** Connections open now. */
  connections(): number;
  /** Stops accepting, waits for answers under way, then closes every connection. */
  shutdown(): Promise<void>;
}

/** How the server behaves. */
export interface ServeOptions {
  hostname: string;
  port: number;
  /** The answer to a handler that threw. */
  onError: (err: unknown) => Response;
  /** An idle keep-alive connection is closed after this long. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /** A refused request's unread body is read and discarded up to this many bytes. Default 64 MiB. */
  drainBytes?: number;
  /** … and for at most this long. Default 30 s. */
  drainTimeoutMs?: number;
}

/** The most of a refused body read and thrown away before answering: 64 MiB. */
export const DRAIN_BYTES = 64 * 1024 * 1024;
/** A refused body that pauses this long is not waited for any longer: 1 s. */
export const DRAIN_IDLE_MS = 1000;

/** Starts serving `handler` on `hostname:port` (0 = a free port). */
export async function serveHttp(
  opts: ServeOptions,
  handler: (req: ProxyRequest) => Promise<Response>,
): Promise<HttpServer> {
  let active = 0;
  let idle: (() => void) | undefined;
  let open = 0;
  const track = (req: http.IncomingMessage, res: http.ServerResponse, expecting: boolean) => {
    active++;
    void answer(req, res, expecting, handler, opts).finally(() => {
      active--;
      if (active === 0) idle?.();
    });
  };
  const server = http.createServer(
    { keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5000 },
    (req, res) => track(req, res, false),
  );
  server.on("checkContinue", (req, res) => track(req, res, true));
  server.on("connection", (socket) => {
    open++;
    socket.once("close", () => open--);
  });
  // Body timeouts are the proxy's own (408); node's would cut long v3 streams and reads.
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.hostname, () => resolve());
  });
  const addr = server.address() as { address: string; port: number };
  return {
    hostname: addr.address,
    port: addr.port,
    connections: () => open,
    shutdown: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      if (active > 0) {
        await Promise.race([
          new Promise<void>((r) => (idle = r)),
          new Promise<void>((r) => setTimeout(r, 30_000)),
        ]);
      }
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Runs the handler for one request and writes its answer. */
async function answer(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  expecting: boolean,
  handler: (req: ProxyRequest) => Promise<Response>,
  opts: ServeOptions,
): Promise<void> {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    try {
      headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    } catch {
      // A header value fetch's Headers refuses; the proxy needs none of those.
    }
  }
  const length = req.headers["content-length"];
  const hasBody = req.headers["transfer-encoding"] !== undefined ||
    (length !== undefined && length !== "0");
  const body = hasBody ? new BodyStream(req, expecting ? res : undefined) : undefined;
  const target = req.url ?? "/";
  const incoming: ProxyRequest = {
    method: req.method ?? "GET",
    url: /^https?:\/\//i.test(target)
      ? target
      : `http://${req.headers.host ?? "localhost"}${target.startsWith("/") ? target : "/"}`,
    target,
    headers,
    body: body?.stream ?? null,
  };
  let response: Response;
  try {
    response = await handler(incoming);
  } catch (err) {
    response = opts.onError(err);
  }
  const out: Record<string, string | string[]> = {};
  response.headers.forEach((v, k) => {
    out[k] = k === "set-cookie" ? response.headers.getSetCookie() : v;
  });
  // An answer given before the body was read ends the connection: the rest is not wanted.
  let unread = hasBody && !req.complete;
  const refused = unread && body!.abandoned;
  if (refused && response.status !== 408 && !body!.waitsForContinue) {
    unread = !await drain(req, body!.received, opts);
  }
  if (unread || refused) out["connection"] = "close";
  try {
    res.writeHead(response.status, out);
    if (response.body) await pipeBody(response.body, res);
    res.end();
  } catch {
    res.destroy();
  }
  if (unread) {
    res.once("finish", () => req.destroy());
    if (res.writableFinished) req.destroy();
  }
}

/** Writes `body` to `res`, waiting when the client reads slowly; stops if it goes away. */
async function pipeBody(body: ReadableStream<Uint8Array>, res: http.ServerResponse) {
  const reader = body.getReader();
  const gone = new Promise<void>((r) => res.once("close", () => r()));
  for (;;) {
    const next = await Promise.race([reader.read(), gone.then(() => null)]);
    if (next === null) {
      await reader.cancel().catch(() => {});
      return;
    }
    if (next.done) return;
    if (!res.write(next.value)) {
      await Promise.race([new Promise<void>((r) => res.once("drain", () => r())), gone]);
    }
  }
}

/**
 * Reads and discards the rest of `req`'s body within the drain bounds; true when it ended.
 * `received` is what the handler already took of it.
 */
function drain(req: http.IncomingMessage, received: number, opts: ServeOptions): Promise<boolean> {
  const limit = opts.drainBytes ?? DRAIN_BYTES;
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (Number.isFinite(declared) && declared - received > limit) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    let n = 0;
    const finish = (ended: boolean) => {
      clearTimeout(timer);
      clearTimeout(idle);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      if (!ended) req.pause();
      resolve(ended);
    };
    let idle = setTimeout(() => finish(false), DRAIN_IDLE_MS);
    const onData = (chunk: Uint8Array) => {
      n += chunk.byteLength;
      if (n > limit) return finish(false);
      clearTimeout(idle);
      idle = setTimeout(() => finish(false), DRAIN_IDLE_MS);
    };
    const onEnd = () => finish(true);
    const onClose = () => finish(req.complete);
    const timer = setTimeout(() => finish(false), opts.drainTimeoutMs ?? 30_000);
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("close", onClose);
    req.resume();
  });
}

/**
 * The request body as a web stream, pausing the socket while the reader is behind; knows
 * how much of it was read and whether the handler gave it up unread.
 */
class BodyStream {
  readonly stream: ReadableStream<Uint8Array>;
  /** Bytes taken from the socket for the handler. */
  received = 0;
  private cancelled = false;
  private continued: boolean;

  constructor(req: http.IncomingMessage, expecting?: http.ServerResponse) {
    this.continued = expecting === undefined;
    let settled = false;
    this.stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        req.on("data", (chunk: Uint8Array) => {
          if (settled) return;
          this.received += chunk.byteLength;
          c.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((c.desiredSize ?? 0) <= 0) req.pause();
        });
        req.on("end", () => {
          if (settled) return;
          settled = true;
          c.close();
        });
        const fail = (err?: Error) => {
          if (settled) return;
          settled = true;
          c.error(err ?? new Error("The client closed the connection before the body ended"));
        };
        req.on("error", fail);
        req.on("close", () => {
          if (!req.complete) fail();
        });
      },
      pull: () => {
        // The client waits for this before it sends the body.
        if (!this.continued) {
          this.continued = true;
          expecting!.writeContinue();
        }
        req.resume();
      },
      cancel: () => {
        settled = true;
        this.cancelled = true;
        req.pause();
      },
      // Until a reader asks, nothing is pulled: a 100 Continue is sent only when wanted.
    }, { highWaterMark: expecting ? 0 : 4 });
  }

  /** The handler gave the body up (cancelled it) or never took a reader on it. */
  get abandoned(): boolean {
    return this.cancelled || !this.stream.locked;
  }

  /** The client still waits for a 100 Continue, so it has sent none of the body. */
  get waitsForContinue(): boolean {
    return !this.continued;
  }
}

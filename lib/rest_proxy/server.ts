/**
 * The proxy's HTTP server: node:http under a fetch-style handler (a request in, a `Response`
 * out). Not `Deno.serve`, because that drops the body of a GET, and Confluent's API takes one:
 * `GET /consumers/{g}/instances/{i}/offsets` names its partitions in the body. Answers may
 * start while the request body is still arriving (a 413 mid-upload, v3 results streamed as
 * records are acknowledged); a request whose body was not read to the end has its connection
 * closed after the answer, so a refused upload costs no more of it.
 * @module
 */
import http from "node:http";

/** What a handler gets: the parts of a fetch `Request` the proxy uses, with a GET's body. */
export interface ProxyRequest {
  method: string;
  /** Absolute: `http://<Host header>/path?query`. */
  url: string;
  headers: Headers;
  /** The body, or null when the request has none. */
  body: ReadableStream<Uint8Array> | null;
}

/** A listening server. */
export interface HttpServer {
  hostname: string;
  port: number;
  /** Stops accepting, waits for answers under way, then closes every connection. */
  shutdown(): Promise<void>;
}

/** Starts serving `handler` on `hostname:port` (0 = a free port). */
export async function serveHttp(
  opts: { hostname: string; port: number; onError: (err: unknown) => Response },
  handler: (req: ProxyRequest) => Promise<Response>,
): Promise<HttpServer> {
  let active = 0;
  let idle: (() => void) | undefined;
  const server = http.createServer({ keepAliveTimeout: 5000 }, (req, res) => {
    active++;
    void answer(req, res).finally(() => {
      active--;
      if (active === 0) idle?.();
    });
  });
  // Body timeouts are the proxy's own (408); node's would cut long v3 streams and reads.
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;

  const answer = async (req: http.IncomingMessage, res: http.ServerResponse) => {
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
    const incoming: ProxyRequest = {
      method: req.method ?? "GET",
      url: `http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`,
      headers,
      body: hasBody ? bodyStream(req) : null,
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
    const unread = hasBody && !req.complete;
    if (unread) out["connection"] = "close";
    try {
      res.writeHead(response.status, out);
      if (response.body) {
        const reader = response.body.getReader();
        const gone = new Promise<void>((r) => res.once("close", () => r()));
        for (;;) {
          const next = await Promise.race([reader.read(), gone.then(() => null)]);
          if (next === null) {
            await reader.cancel().catch(() => {});
            break;
          }
          if (next.done) break;
          if (!res.write(next.value)) {
            await Promise.race([
              new Promise<void>((r) => res.once("drain", () => r())),
              gone,
            ]);
          }
        }
      }
      res.end();
    } catch {
      res.destroy();
    }
    if (unread) {
      res.once("finish", () => req.destroy());
      if (res.writableFinished) req.destroy();
    }
  };

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.hostname, () => resolve());
  });
  const addr = server.address() as { address: string; port: number };
  return {
    hostname: addr.address,
    port: addr.port,
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

/** The request body as a web stream, pausing the socket while the reader is behind. */
function bodyStream(req: http.IncomingMessage): ReadableStream<Uint8Array> {
  let settled = false;
  return new ReadableStream<Uint8Array>({
    start(c) {
      req.on("data", (chunk: Uint8Array) => {
        if (settled) return;
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
    pull() {
      req.resume();
    },
    cancel() {
      settled = true;
      req.pause();
    },
  }, { highWaterMark: 4 });
}

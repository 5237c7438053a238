/**
 * A scriptable test server in the Confluent REST Proxy v2 produce contract
 * (`POST /topics/<topic>`, `{"records":[…]}` in, `{"offsets":[…]}` out), written on raw
 * TCP so a test can drop a connection with no answer at all, before or after the records
 * were accepted. It keeps every accepted record, so tests can count exactly what arrived.
 * @module
 */

/** One produce request as the server saw it. */
export interface SeenRequest {
  /** 0-based order of arrival. */
  n: number;
  topic: string;
  headers: Record<string, string>;
  contentType: string;
  records: { key?: unknown; value: unknown }[];
  /** performance.now() at arrival. */
  at: number;
}

/** What to do with one request. */
export type Reply =
  /** Accept every record and answer 200 (the default). */
  | { kind: "accept" }
  /** Answer `status` with `body` (an error envelope), accepting nothing. */
  | { kind: "status"; status: number; body?: unknown; headers?: Record<string, string> }
  /** Answer 200, but with these per-record error codes (null = accepted). */
  | { kind: "per-record"; codes: (number | null)[] }
  /** Close the connection without answering; nothing accepted. */
  | { kind: "drop" }
  /** Accept every record, then close the connection without answering. */
  | { kind: "accept-then-drop" };

/** The running server. */
export interface RestV2Server {
  url: string;
  requests: SeenRequest[];
  /** Accepted records per topic, in arrival order (a record accepted twice is here twice). */
  accepted: Map<string, { key?: unknown; value: unknown }[]>;
  close(): Promise<void>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  415: "Unsupported Media Type",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

function indexOf(buf: Uint8Array, len: number, seq: number[]): number {
  outer: for (let i = 0; i + seq.length <= len; i++) {
    for (let j = 0; j < seq.length; j++) if (buf[i + j] !== seq[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * Starts the server on 127.0.0.1, port 0. `decide` picks the reply for each request;
 * `topics`, when given, are the only topics that exist (others get 404/40401).
 */
export function startRestV2Server(
  decide: (req: SeenRequest) => Reply = () => ({ kind: "accept" }),
  opts: { topics?: string[] } = {},
): RestV2Server {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: SeenRequest[] = [];
  const accepted = new Map<string, { key?: unknown; value: unknown }[]>();
  const conns = new Set<Deno.Conn>();
  const offsets = new Map<string, number>();

  const accept = (topic: string, recs: { key?: unknown; value: unknown }[]) => {
    const list = accepted.get(topic) ?? [];
    accepted.set(topic, list);
    list.push(...recs);
    const first = offsets.get(topic) ?? 0;
    offsets.set(topic, first + recs.length);
    return first;
  };

  const respond = async (
    conn: Deno.Conn,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    const text = body === undefined ? "" : JSON.stringify(body);
    const head = [
      `HTTP/1.1 ${status} ${REASONS[status] ?? "Status"}`,
      "content-type: application/vnd.kafka.v2+json",
      `content-length: ${enc.encode(text).length}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      "",
      "",
    ].join("\r\n");
    const bytes = enc.encode(head + text);
    for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
  };

  const serve = async (conn: Deno.Conn) => {
    let buf = new Uint8Array(64 * 1024);
    let len = 0;
    const fill = async (): Promise<boolean> => {
      if (len === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf.subarray(0, len));
        buf = bigger;
      }
      const n = await conn.read(buf.subarray(len));
      if (n === null) return false;
      len += n;
      return true;
    };
    try {
      for (;;) {
        let end: number;
        while ((end = indexOf(buf, len, [13, 10, 13, 10])) < 0) if (!(await fill())) return;
        const lines = dec.decode(buf.subarray(0, end)).split("\r\n");
        const [method, path] = lines[0].split(" ");
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(":");
          headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        const size = Number(headers["content-length"] ?? 0);
        while (len < end + 4 + size) if (!(await fill())) return;
        const bodyText = dec.decode(buf.subarray(end + 4, end + 4 + size));
        buf.copyWithin(0, end + 4 + size, len);
        len -= end + 4 + size;

        const m = /^\/topics\/([^/?]+)$/.exec(path ?? "");
        if (method !== "POST" || !m) {
          await respond(conn, 404, { error_code: 404, message: "HTTP 404 Not Found" });
          continue;
        }
        const topic = decodeURIComponent(m[1]);
        let records: { key?: unknown; value: unknown }[];
        try {
          records = JSON.parse(bodyText).records;
          if (!Array.isArray(records)) throw new Error("no records");
        } catch {
          await respond(conn, 422, { error_code: 42203, message: "Conversion of JSON failed" });
          continue;
        }
        const req: SeenRequest = {
          n: requests.length,
          topic,
          headers,
          contentType: headers["content-type"] ?? "",
          records,
          at: performance.now(),
        };
        requests.push(req);
        if (opts.topics && !opts.topics.includes(topic)) {
          await respond(conn, 404, { error_code: 40401, message: `Topic ${topic} not found.` });
          continue;
        }
        const reply = decide(req);
        if (reply.kind === "drop") return;
        if (reply.kind === "accept-then-drop") {
          accept(topic, records);
          return;
        }
        if (reply.kind === "status") {
          await respond(conn, reply.status, reply.body, reply.headers);
          continue;
        }
        const codes = reply.kind === "per-record" ? reply.codes : records.map(() => null);
        const out = records.map((r, i) => {
          const code = codes[i] ?? null;
          if (code !== null) {
            return { partition: null, offset: null, error_code: code, error: `injected ${code}` };
          }
          return { partition: 0, offset: accept(topic, [r]), error_code: null, error: null };
        });
        await respond(conn, 200, { offsets: out, key_schema_id: null, value_schema_id: null });
      }
    } catch {
      // A client that goes away mid-request is not the server's problem.
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  };

  const loop = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      serve(conn);
    }
  })().catch(() => {});

  const addr = listener.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    requests,
    accepted,
    close: async () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      await loop;
    },
  };
}

/**
 * The TCP side: accepts connections, reads size-prefixed frames (rejecting one over the
 * frame limit before allocating it), parses the request header, dispatches through the
 * registry and writes responses. One request at a time per connection, so responses leave
 * in request order and a held request (long-poll Fetch, JoinGroup) blocks only its own
 * connection. Anything malformed closes that connection, as Kafka does; the broker and
 * its other clients carry on.
 * @module
 */
import type { Api, RequestContext } from "./api.ts";
import { isFlexible, NO_RESPONSE } from "./api.ts";
import { MalformedRequestError, Reader, Writer } from "./codec.ts";
import type { BrokerState } from "./state.ts";

/** A connection's first read buffer; frames that fit are served from it without copies. */
const READ_BUFFER = 64 * 1024;
/** Frames up to this size grow the connection's buffer (to twice their size) and are reused. */
const GROW_LIMIT = 8 * 1024 * 1024;

/**
 * Reads whole frames from a connection. The buffer grows to hold the largest frame seen
 * (up to GROW_LIMIT), so produce requests of a few MiB are read in large chunks and
 * handed out as views, with no allocation or copy per request; larger frames get their own.
 */
class FrameReader {
  private buf = new Uint8Array(READ_BUFFER);
  private start = 0;
  private end = 0;

  constructor(private readonly conn: Deno.TcpConn, private readonly maxFrameBytes: number) {}

  /** Reads until `n` bytes are buffered; false at end of stream. */
  private async fill(n: number): Promise<boolean> {
    if (this.start + n > this.buf.byteLength) {
      this.buf.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
    }
    while (this.end - this.start < n) {
      const got = await this.conn.read(this.buf.subarray(this.end));
      if (got === null) return false;
      this.end += got;
    }
    return true;
  }

  /**
   * The next frame (without its size prefix), valid until the next call; null when the
   * peer closed cleanly between frames.
   */
  async next(): Promise<Uint8Array | null> {
    if (!(await this.fill(4))) {
      if (this.end > this.start) throw new MalformedRequestError("the stream ended mid-frame");
      return null;
    }
    const b = this.buf;
    const s = this.start;
    const size = (b[s] << 24) | (b[s + 1] << 16) | (b[s + 2] << 8) | b[s + 3];
    if (size < 8) throw new MalformedRequestError(`a frame of ${size} bytes is too short`);
    if (size > this.maxFrameBytes) {
      throw new MalformedRequestError(
        `a frame of ${size} bytes is over the limit of ${this.maxFrameBytes} (--max-frame-bytes)`,
      );
    }
    if (4 + size > this.buf.byteLength && size <= GROW_LIMIT) {
      let next = this.buf.byteLength;
      while (next < 2 * (4 + size)) next *= 2;
      const grown = new Uint8Array(next);
      grown.set(this.buf.subarray(this.start, this.end));
      this.end -= this.start;
      this.start = 0;
      this.buf = grown;
    }
    if (4 + size <= this.buf.byteLength) {
      if (!(await this.fill(4 + size))) {
        throw new MalformedRequestError("the stream ended mid-frame");
      }
      const frame = this.buf.subarray(this.start + 4, this.start + 4 + size);
      this.start += 4 + size;
      return frame;
    }
    // A large frame: its own buffer, filled straight from the socket.
    const frame = new Uint8Array(size);
    const have = this.end - this.start - 4;
    frame.set(this.buf.subarray(this.start + 4, this.end));
    this.start = this.end = 0;
    let got = have;
    while (got < size) {
      const n = await this.conn.read(frame.subarray(got));
      if (n === null) throw new MalformedRequestError("the stream ended mid-frame");
      got += n;
    }
    return frame;
  }
}

async function writeAll(conn: Deno.TcpConn, parts: Uint8Array[]): Promise<void> {
  for (const p of parts) {
    let done = 0;
    while (done < p.byteLength) done += await conn.write(p.subarray(done));
  }
}

/** Serves Kafka clients on a listener until closed. */
export class BrokerServer {
  private conns = new Map<Deno.TcpConn, AbortController>();
  private loops = new Set<Promise<void>>();
  private accepting: Promise<void>;
  private closed = false;

  constructor(
    private readonly listener: Deno.TcpListener,
    private readonly state: BrokerState,
    private readonly apis: ReadonlyMap<number, Api>,
  ) {
    this.accepting = this.accept();
  }

  private async accept(): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.listener.accept();
      } catch (err) {
        if (this.closed) return;
        this.state.log(`accept failed: ${err}`);
        // Out of file descriptors, say: wait a little instead of spinning.
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (this.closed) {
        conn.close();
        return;
      }
      const ac = new AbortController();
      this.conns.set(conn, ac);
      const loop = this.serve(conn, ac.signal).finally(() => {
        this.conns.delete(conn);
        this.loops.delete(loop);
        ac.abort();
        try {
          conn.close();
        } catch { /* already closed */ }
      });
      this.loops.add(loop);
    }
  }

  private async serve(conn: Deno.TcpConn, signal: AbortSignal): Promise<void> {
    const addr = conn.remoteAddr as Deno.NetAddr;
    const peer = `${addr.hostname}:${addr.port}`;
    try {
      conn.setNoDelay(true);
    } catch { /* not fatal */ }
    const frames = new FrameReader(conn, this.state.settings.maxFrameBytes);
    let apiName = "";
    try {
      for (;;) {
        const frame = await frames.next();
        if (frame === null) return;
        const r = new Reader(frame);
        const apiKey = r.int16();
        const apiVersion = r.int16();
        const correlationId = r.int32();
        const clientId = r.nullableString();
        const api = this.apis.get(apiKey);
        if (!api) {
          throw new MalformedRequestError(
            `API key ${apiKey} (v${apiVersion}) from client "${clientId}" is not supported`,
          );
        }
        apiName = `${api.name} v${apiVersion}`;
        const ctx: RequestContext = {
          state: this.state,
          apiKey,
          apiVersion,
          correlationId,
          clientId,
          clientHost: `/${addr.hostname}`,
          signal,
          apis: this.apis,
        };
        const w = new Writer();
        w.int32(0).int32(correlationId); // size (patched by frame()), correlation id
        if (apiVersion < api.minVersion || apiVersion > api.maxVersion) {
          // Kafka closes the connection, except for ApiVersions, which it answers (v0).
          if (!api.answerUnsupported) {
            throw new MalformedRequestError(
              `${api.name} v${apiVersion} from client "${clientId}" is not supported (v${api.minVersion}–v${api.maxVersion} are)`,
            );
          }
          const { version, response } = api.answerUnsupported(ctx);
          api.response.encode(w, version, isFlexible(api, version), response);
        } else {
          const flex = isFlexible(api, apiVersion);
          if (flex) r.skipTags(); // request header v2
          const req = api.request.decode(r, apiVersion, flex);
          const res = await api.handle(req, ctx);
          if (res === NO_RESPONSE) continue;
          if (flex && !api.responseHeaderV0) w.uvarint(0); // response header v1: no tags
          api.response.encode(w, apiVersion, flex, res);
        }
        if (this.closed) return;
        await writeAll(conn, w.frame());
        apiName = "";
      }
    } catch (err) {
      if (this.closed || signal.aborted) return;
      if (err instanceof MalformedRequestError) {
        this.state.log(`closing the connection from ${peer}: ${err.message}`);
      } else if (
        err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BrokenPipe ||
        err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted
      ) {
        // The client went away.
      } else {
        this.state.log(
          `closing the connection from ${peer} after ${apiName || "a request"} failed: ${
            err instanceof Error ? err.stack ?? err.message : err
          }`,
        );
      }
    }
  }

  /**
   * Stops accepting, closes every connection and waits for their requests to end;
   * `release` runs in between, to answer requests held elsewhere (group joins).
   */
  async close(release: () => void = () => {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.listener.close();
    } catch { /* already closed */ }
    for (const [conn, ac] of this.conns) {
      ac.abort();
      try {
        conn.close();
      } catch { /* already closed */ }
    }
    release();
    await this.accepting;
    await Promise.allSettled([...this.loops]);
  }
}

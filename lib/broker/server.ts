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

/**
 * A connection's own read buffer, never released: every request but a large Produce fits.
 * 10,000 idle connections hold 40 MiB of it, not 640.
 */
const SMALL_BUFFER = 4 * 1024;
/** Frames up to this size are read into a reusable larger buffer (twice their size); larger ones get their own. */
const GROW_LIMIT = 8 * 1024 * 1024;
/** A larger buffer not used for this long is given back (the connection keeps its small one). */
const KEEP_LARGE_MS = 2000;

/**
 * One memory budget for request frames being read, shared by every connection: a buffer
 * larger than a connection's small one is taken from it before it is allocated, and a
 * connection whose frame does not fit waits (unread, so TCP pushes back on its client)
 * until others give memory back. 30 clients each sending most of a 99 MiB frame hold
 * at most the budget, not 3 GB.
 */
export class MemoryBudget {
  used = 0;
  private waiting: { n: number; go: () => void }[] = [];

  constructor(readonly limit: number) {}

  /** Takes `n` bytes, waiting for them (first come, first served); false if `signal` aborts first. */
  take(n: number, signal: AbortSignal): Promise<boolean> {
    if (this.waiting.length === 0 && this.used + n <= this.limit) {
      this.used += n;
      return Promise.resolve(true);
    }
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const w = {
        n,
        go: () => {
          signal.removeEventListener("abort", abort);
          resolve(true);
        },
      };
      const abort = () => {
        this.waiting = this.waiting.filter((x) => x !== w);
        this.grant();
        resolve(false);
      };
      signal.addEventListener("abort", abort, { once: true });
      this.waiting.push(w);
    });
  }

  /** Gives back `n` bytes. */
  give(n: number): void {
    this.used -= n;
    this.grant();
  }

  private grant(): void {
    while (this.waiting.length && this.used + this.waiting[0].n <= this.limit) {
      const w = this.waiting.shift()!;
      this.used += w.n;
      w.go();
    }
  }
}

/**
 * Reads whole frames from a connection. Frames that fit its small buffer are served from
 * it; a larger one moves to a larger buffer taken from the shared budget, kept while
 * frames keep coming (so a stream of produce requests of a few MiB is read in large
 * chunks, with no allocation or copy per request) and given back once unused for a while.
 */
class FrameReader {
  private small = new Uint8Array(SMALL_BUFFER);
  private buf = this.small;
  private start = 0;
  private end = 0;
  /** The larger buffer, if any, and what it was charged to the budget. */
  private large: Uint8Array<ArrayBuffer> | null = null;
  private largeUsedAt = 0;
  /** A frame with its own buffer, charged until the next call. */
  private ownCharge = 0;
  /** When the first byte of the frame being read arrived (0 between frames). */
  partialSince = 0;

  constructor(
    private readonly conn: Deno.TcpConn,
    private readonly maxFrameBytes: number,
    private readonly budget: MemoryBudget,
    private readonly signal: AbortSignal,
  ) {}

  /** Bytes of the budget this connection holds. */
  get charged(): number {
    return (this.large?.byteLength ?? 0) + this.ownCharge;
  }

  /** Gives back the larger buffer if it has not been used for a while (the sweep calls it). */
  trim(now: number): void {
    if (this.large && this.buf !== this.large && now - this.largeUsedAt > KEEP_LARGE_MS) {
      this.budget.give(this.large.byteLength);
      this.large = null;
    }
  }

  /** Gives back everything (the connection is done). */
  release(): void {
    if (this.large) this.budget.give(this.large.byteLength);
    if (this.ownCharge) this.budget.give(this.ownCharge);
    this.large = null;
    this.ownCharge = 0;
    this.buf = this.small;
  }

  private async take(n: number): Promise<void> {
    if (!(await this.budget.take(n, this.signal))) {
      throw new Deno.errors.Interrupted("the connection closed while waiting for memory");
    }
  }

  /** Makes the buffer hold at least `cap` bytes from `start`, moving to the larger one. */
  private async reserve(cap: number): Promise<void> {
    if (cap <= this.buf.byteLength - this.start) return;
    let target: Uint8Array<ArrayBuffer>;
    if (cap <= this.buf.byteLength) {
      target = this.buf;
    } else if (cap <= SMALL_BUFFER) {
      target = this.small;
    } else if (this.large && cap <= this.large.byteLength) {
      target = this.large;
    } else {
      let size = Math.max(64 * 1024, this.large?.byteLength ?? 0);
      while (size < 2 * cap) size *= 2;
      size = Math.min(size, Math.max(cap, this.budget.limit));
      const old = this.large;
      await this.take(size);
      // (The sweep may have given back an unused old buffer while this waited.)
      if (old && this.large === old) this.budget.give(old.byteLength);
      target = this.large = new Uint8Array(size);
    }
    if (target === this.buf) {
      this.buf.copyWithin(0, this.start, this.end);
    } else {
      target.set(this.buf.subarray(this.start, this.end));
    }
    this.end -= this.start;
    this.start = 0;
    this.buf = target;
    if (target === this.large) this.largeUsedAt = Date.now();
  }

  /** Reads until `n` bytes are buffered; false at end of stream. */
  private async fill(n: number): Promise<boolean> {
    await this.reserve(n);
    while (this.end - this.start < n) {
      const got = await this.conn.read(this.buf.subarray(this.end));
      if (got === null) return false;
      if (this.partialSince === 0) this.partialSince = Date.now();
      this.end += got;
    }
    return true;
  }

  /**
   * The next frame (without its size prefix), valid until the next call; null when the
   * peer closed cleanly between frames.
   */
  async next(): Promise<Uint8Array | null> {
    if (this.ownCharge) {
      this.budget.give(this.ownCharge);
      this.ownCharge = 0;
    }
    if (this.start === this.end) {
      // Nothing pending: wait for the next request in the small buffer.
      this.start = this.end = 0;
      this.buf = this.small;
    }
    this.partialSince = this.end > this.start ? Date.now() : 0;
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
    if (size <= GROW_LIMIT) {
      if (!(await this.fill(4 + size))) {
        throw new MalformedRequestError("the stream ended mid-frame");
      }
      const frame = this.buf.subarray(this.start + 4, this.start + 4 + size);
      this.start += 4 + size;
      this.partialSince = 0;
      return frame;
    }
    // A large frame: its own buffer, taken from the budget, filled straight from the socket.
    await this.take(size);
    this.ownCharge = size;
    const frame = new Uint8Array(size);
    frame.set(this.buf.subarray(this.start + 4, this.end));
    let got = this.end - this.start - 4;
    this.start = this.end = 0;
    this.buf = this.small;
    while (got < size) {
      const n = await this.conn.read(frame.subarray(got));
      if (n === null) throw new MalformedRequestError("the stream ended mid-frame");
      got += n;
    }
    this.partialSince = 0;
    return frame;
  }
}

/** At most `max` lines a minute; then one line saying how many were left out. */
export class RateLimitedLog {
  private windowStart = -Infinity;
  private count = 0;
  private dropped = 0;

  constructor(
    private readonly log: (line: string) => void,
    private readonly what: string,
    private readonly max = 10,
    private readonly windowMs = 60_000,
  ) {}

  /** Logs `line` unless the minute's quota is used up. */
  line(line: string, now = Date.now()): void {
    if (now - this.windowStart >= this.windowMs) {
      if (this.dropped) {
        this.log(
          `… and ${this.dropped} more ${this.what} in the last ${
            Math.round((now - this.windowStart) / 1000)
          } s (at most ${this.max} are logged a minute)`,
        );
      }
      this.windowStart = now;
      this.count = 0;
      this.dropped = 0;
    }
    if (this.count < this.max) {
      this.count++;
      this.log(line);
    } else {
      this.dropped++;
    }
  }
}

async function writeAll(conn: Deno.TcpConn, parts: Uint8Array[]): Promise<void> {
  for (const p of parts) {
    let done = 0;
    while (done < p.byteLength) done += await conn.write(p.subarray(done));
  }
}

/** What the server keeps per connection. */
interface Connection {
  ac: AbortController;
  reader?: FrameReader;
  /** When it last finished a request or connected (ms). */
  lastActivity: number;
  /** A request is being handled (a long poll, a held join): not idle. */
  busy: boolean;
}

/** Serves Kafka clients on a listener until closed. */
export class BrokerServer {
  private conns = new Map<Deno.TcpConn, Connection>();
  private loops = new Set<Promise<void>>();
  private accepting: Promise<void>;
  private closed = false;
  private sweeper: ReturnType<typeof setInterval>;
  /** The budget for request frames being read, across connections. */
  readonly budget: MemoryBudget;
  private malformed: RateLimitedLog;
  private refused: RateLimitedLog;

  constructor(
    private readonly listener: Deno.TcpListener,
    private readonly state: BrokerState,
    private readonly apis: ReadonlyMap<number, Api>,
  ) {
    const log = (line: string) => state.log(line);
    this.budget = new MemoryBudget(state.settings.maxRequestMemory);
    this.malformed = new RateLimitedLog(log, "connections closed for malformed requests");
    this.refused = new RateLimitedLog(log, "connections refused or timed out");
    this.accepting = this.accept();
    this.sweeper = setInterval(() => this.sweep(), 1000);
    Deno.unrefTimer(this.sweeper);
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.conns.size;
  }

  /** Closes connections idle too long or stuck mid-frame; gives back unused buffers. */
  private sweep(): void {
    const now = Date.now();
    const { idleTimeoutMs, frameTimeoutMs } = this.state.settings;
    for (const [conn, c] of this.conns) {
      c.reader?.trim(now);
      const partial = c.reader?.partialSince ?? 0;
      if (partial && now - partial > frameTimeoutMs) {
        const addr = conn.remoteAddr as Deno.NetAddr;
        this.refused.line(
          `closing the connection from ${addr.hostname}:${addr.port}: a request took more ` +
            `than ${frameTimeoutMs / 1000} s to arrive`,
        );
        this.drop(conn, c);
      } else if (!c.busy && !partial && now - c.lastActivity > idleTimeoutMs) {
        this.drop(conn, c); // idle: closed quietly, as Kafka does (connections.max.idle.ms)
      }
    }
  }

  private drop(conn: Deno.TcpConn, c: Connection): void {
    c.ac.abort();
    try {
      conn.close();
    } catch { /* already closed */ }
  }

  private async accept(): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.listener.accept();
      } catch (err) {
        if (this.closed) return;
        this.refused.line(`accept failed: ${err}`);
        // Out of file descriptors, say: wait a little instead of spinning.
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (this.closed) {
        conn.close();
        return;
      }
      const max = this.state.settings.maxConnections;
      if (this.conns.size >= max) {
        const addr = conn.remoteAddr as Deno.NetAddr;
        conn.close();
        this.refused.line(
          `refused a connection from ${addr.hostname}:${addr.port}: ${this.conns.size} are ` +
            `open, the most this broker takes (it keeps within the open-file limit)`,
        );
        continue;
      }
      const c: Connection = { ac: new AbortController(), lastActivity: Date.now(), busy: false };
      this.conns.set(conn, c);
      const loop = this.serve(conn, c).finally(() => {
        this.conns.delete(conn);
        this.loops.delete(loop);
        c.reader?.release();
        c.ac.abort();
        try {
          conn.close();
        } catch { /* already closed */ }
      });
      this.loops.add(loop);
    }
  }

  private async serve(conn: Deno.TcpConn, c: Connection): Promise<void> {
    const signal = c.ac.signal;
    const addr = conn.remoteAddr as Deno.NetAddr;
    const peer = `${addr.hostname}:${addr.port}`;
    try {
      conn.setNoDelay(true);
    } catch { /* not fatal */ }
    const frames = c.reader = new FrameReader(
      conn,
      this.state.settings.maxFrameBytes,
      this.budget,
      signal,
    );
    let apiName = "";
    try {
      for (;;) {
        c.busy = false;
        c.lastActivity = Date.now();
        const frame = await frames.next();
        if (frame === null) return;
        c.busy = true;
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
        this.malformed.line(`closing the connection from ${peer}: ${err.message}`);
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
    clearInterval(this.sweeper);
    try {
      this.listener.close();
    } catch { /* already closed */ }
    for (const [conn, c] of this.conns) this.drop(conn, c);
    release();
    await this.accepting;
    await Promise.allSettled([...this.loops]);
  }
}

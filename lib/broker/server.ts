/**
 * The TCP side: accepts connections (within the limits of limits.ts: in all, per address,
 * and the headroom kept for other addresses), reads size-prefixed frames (rejecting one
 * over the frame limit before allocating it, and taking any buffer larger than a
 * connection's 4 KiB from the memory budget), parses the request header, dispatches
 * through the registry and writes responses. One request at a time per connection, so responses leave
 * in request order and a held request (long-poll Fetch, JoinGroup) blocks only its own
 * connection. Anything malformed closes that connection, as Kafka does; the broker and
 * its other clients carry on.
 * @module
 */
import type { Api, RequestContext, ResponseMemory } from "./api.ts";
import { isFlexible, NO_RESPONSE } from "./api.ts";
import { MalformedRequestError, Reader, Writer } from "./codec.ts";
import { ConnectionLimits, MemoryBudget, type Reclaimable, RefusalLog } from "./limits.ts";
import type { BrokerState } from "./state.ts";
import { type ListenerInfo, SaslSession } from "./sasl.ts";
import { authorize } from "./iam_authz.ts";

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
 * A buffer whose memory can be given back at once: resizable, and shrunk to nothing when
 * given back (`shrink`). Dropping the last reference is not enough: the views of the
 * previous request stay reachable while the connection waits for its next one (V8 keeps
 * an async function's registers across an await), and an idle process collects no
 * garbage, so 200 idle connections after one 8 MiB request each held 1.7 GB that the
 * budget counted as given back.
 */
function shrinkable(size: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new ArrayBuffer(size, { maxByteLength: size }));
}

/** `parts` as one buffer. */
function joinParts(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Returns a `shrinkable` buffer's memory to the system; every view of it is empty after. */
function shrink(b: Uint8Array<ArrayBuffer>): void {
  b.buffer.resize(0);
}

/**
 * Reads whole frames from a connection. Frames that fit its small buffer are served from
 * it; a larger one moves to a larger buffer taken from the shared budget, kept while
 * frames keep coming (so a stream of produce requests of a few MiB is read in large
 * chunks, with no allocation or copy per request) and given back once unused for a while,
 * or at once when another connection waits for memory.
 */
export class FrameReader implements Reclaimable {
  private small = new Uint8Array(SMALL_BUFFER);
  private buf = this.small;
  private start = 0;
  private end = 0;
  /** The larger buffer, if any (charged to the budget at its size). */
  private large: Uint8Array<ArrayBuffer> | null = null;
  private largeUsedAt = 0;
  /** A frame with its own buffer, charged until the next call. */
  private own: Uint8Array<ArrayBuffer> | null = null;
  /** When the first byte of the frame being read arrived (0 between frames). */
  partialSince = 0;

  constructor(
    private readonly conn: { read(p: Uint8Array): Promise<number | null> },
    private readonly maxFrameBytes: number,
    private readonly budget: MemoryBudget,
    private readonly signal: AbortSignal,
  ) {}

  /** Bytes of the budget this connection holds for reading. */
  get charged(): number {
    return (this.large?.byteLength ?? 0) + (this.own?.byteLength ?? 0);
  }

  /** Gives back the larger buffer if it has not been used for a while (the sweep calls it). */
  trim(now: number): void {
    if (this.large && this.buf !== this.large && now - this.largeUsedAt > KEEP_LARGE_MS) {
      this.dropLarge();
    }
  }

  /** Gives back the larger buffer if it is not in use (another connection waits for memory). */
  reclaim(): void {
    if (this.large && this.buf !== this.large) this.dropLarge();
  }

  /** Gives back everything (the connection is done). */
  release(): void {
    this.buf = this.small;
    this.start = this.end = 0;
    this.dropLarge();
    this.dropOwn();
  }

  private dropLarge(): void {
    const large = this.large;
    if (!large) return;
    this.large = null;
    this.budget.withdraw(this);
    const n = large.byteLength;
    shrink(large);
    this.budget.give(n);
  }

  private dropOwn(): void {
    const own = this.own;
    if (!own) return;
    this.own = null;
    const n = own.byteLength;
    shrink(own);
    this.budget.give(n);
  }

  /** Reads into `b` from now on; the larger buffer, when not in use, is offered back. */
  private use(b: Uint8Array<ArrayBuffer>): void {
    this.buf = b;
    if (b === this.large) {
      this.largeUsedAt = Date.now();
      this.budget.withdraw(this);
    } else if (this.large) {
      this.budget.offer(this, this.large.byteLength);
    }
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
      await this.take(size);
      target = shrinkable(size);
    }
    if (target === this.buf) {
      this.buf.copyWithin(0, this.start, this.end);
    } else {
      target.set(this.buf.subarray(this.start, this.end));
    }
    this.end -= this.start;
    this.start = 0;
    if (target !== this.small && target !== this.large) {
      // It replaces the old larger buffer, whose bytes were just copied out.
      this.dropLarge();
      this.large = target;
    }
    this.use(target);
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
   * The next frame (without its size prefix), valid until the next call (which empties
   * a frame that had a buffer of its own); null when the peer closed cleanly between
   * frames.
   */
  async next(): Promise<Uint8Array | null> {
    this.dropOwn();
    if (this.start === this.end) {
      // Nothing pending: wait for the next request in the small buffer.
      this.start = this.end = 0;
      if (this.buf !== this.small) this.use(this.small);
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
    const frame = this.own = shrinkable(size);
    let got = Math.min(size, this.end - this.start - 4);
    frame.set(this.buf.subarray(this.start + 4, this.start + 4 + got));
    this.start += 4 + got;
    if (this.start === this.end) {
      this.start = this.end = 0;
      this.use(this.small);
    }
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

/** What the server keeps per connection. */
interface Connection {
  ac: AbortController;
  /** The client's address (what the connection limits count). */
  address: string;
  /** "address:port", for log lines. */
  peer: string;
  reader?: FrameReader;
  /** When it last finished a request or connected (ms). */
  lastActivity: number;
  /** A request is being handled (a long poll, a held join): not idle. */
  busy: boolean;
  /** When the response being written last made progress (0 when none is being written). */
  writingSince: number;
  /** Bytes of the budget the response being built or written holds. */
  held: number;
  /** The request being handled, for log lines ("Produce v9"). */
  apiName: string;
  /** What handlers may take from the budget, charged to this connection. */
  memory: ResponseMemory;
  /** The listener it came in on. */
  listener: ListenerInfo;
  /** Its SASL state, on a SASL listener. */
  session?: SaslSession;
}

/** A listener the server accepts on, and what it is (name, security protocol, address). */
export interface ServedListener {
  listener: Deno.Listener;
  info: ListenerInfo;
}

/** Serves Kafka clients on a listener until closed. */
export class BrokerServer {
  private conns = new Map<Deno.Conn, Connection>();
  private loops = new Set<Promise<void>>();
  private accepting: Promise<unknown>;
  private listeners: ServedListener[];
  private closed = false;
  private sweeper: ReturnType<typeof setInterval>;
  /** The memory budget all connections share. */
  readonly budget: MemoryBudget;
  private malformed: RateLimitedLog;
  private refused: RateLimitedLog;
  private refusals: RefusalLog;

  constructor(
    /** One plaintext listener, or several of any protocol (see ServedListener). */
    listener: Deno.TcpListener | ServedListener[],
    private readonly state: BrokerState,
    private readonly apis: ReadonlyMap<number, Api>,
    /** Which connections to take (default: the settings' total, no per-address limit). */
    readonly limits = new ConnectionLimits({ maxConnections: state.settings.maxConnections }),
  ) {
    const log = (line: string) => state.log(line);
    this.budget = new MemoryBudget(state.settings.maxRequestMemory);
    this.malformed = new RateLimitedLog(log, "connections closed for malformed requests");
    this.refused = new RateLimitedLog(log, "connections closed or refused");
    this.refusals = new RefusalLog(log);
    this.listeners = Array.isArray(listener) ? listener : [{
      listener,
      info: {
        name: "PLAINTEXT",
        protocol: "PLAINTEXT",
        host: state.host,
        port: (listener.addr as Deno.NetAddr).port,
      },
    }];
    this.accepting = Promise.all(this.listeners.map((l) => this.accept(l)));
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
    this.refusals.flush(now);
    for (const [conn, c] of this.conns) {
      c.reader?.trim(now);
      const partial = c.reader?.partialSince ?? 0;
      if (partial && now - partial > frameTimeoutMs) {
        this.refused.line(
          `closing the connection from ${c.peer}: a request took more than ` +
            `${frameTimeoutMs / 1000} s to arrive`,
        );
        this.drop(conn, c);
      } else if (c.writingSince && now - c.writingSince > frameTimeoutMs) {
        this.refused.line(
          `closing the connection from ${c.peer}: it took none of its ${c.apiName} response ` +
            `for ${frameTimeoutMs / 1000} s`,
        );
        this.drop(conn, c);
      } else if (!c.busy && !partial && now - c.lastActivity > idleTimeoutMs) {
        this.drop(conn, c); // idle: closed quietly, as Kafka does (connections.max.idle.ms)
      }
    }
  }

  private drop(conn: Deno.Conn, c: Connection): void {
    c.ac.abort();
    try {
      conn.close();
    } catch { /* already closed */ }
  }

  private async accept({ listener, info }: ServedListener): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
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
      const addr = conn.remoteAddr as Deno.NetAddr;
      const peer = `${addr.hostname}:${addr.port}`;
      const refusal = this.limits.admit(addr.hostname);
      if (refusal) {
        conn.close();
        this.refusals.refused(
          addr.hostname,
          refusal.kind,
          `refused a connection from ${peer}: ${refusal.why}`,
          refusal.why,
        );
        continue;
      }
      const budget = this.budget;
      const c: Connection = {
        ac: new AbortController(),
        address: addr.hostname,
        peer,
        lastActivity: Date.now(),
        busy: false,
        writingSince: 0,
        held: 0,
        apiName: "",
        memory: {
          get free() {
            return budget.free;
          },
          hold(bytes: number) {
            budget.force(bytes);
            c.held += bytes;
          },
        },
        listener: info,
        session: info.sasl ? new SaslSession(info, this.state) : undefined,
      };
      this.conns.set(conn, c);
      const loop = this.serve(conn, c).finally(() => {
        this.conns.delete(conn);
        this.loops.delete(loop);
        this.limits.release(c.address);
        c.reader?.release();
        this.giveHeld(c);
        c.ac.abort();
        try {
          conn.close();
        } catch { /* already closed */ }
      });
      this.loops.add(loop);
    }
  }

  private giveHeld(c: Connection): void {
    if (c.held) {
      this.budget.give(c.held);
      c.held = 0;
    }
  }

  private async serve(conn: Deno.Conn, c: Connection): Promise<void> {
    const signal = c.ac.signal;
    try {
      (conn as Deno.TcpConn).setNoDelay?.(true);
    } catch { /* not fatal */ }
    const frames = c.reader = new FrameReader(
      conn,
      this.state.settings.maxFrameBytes,
      this.budget,
      signal,
    );
    try {
      while (await this.serveOne(conn, c, frames)) { /* the next request */ }
    } catch (err) {
      if (this.closed || signal.aborted) return;
      if (err instanceof MalformedRequestError) {
        this.malformed.line(`closing the connection from ${c.peer}: ${err.message}`);
      } else if (c.listener.protocol.endsWith("SSL") && err instanceof Deno.errors.InvalidData) {
        this.refused.line(`TLS with ${c.peer} on ${c.listener.name} failed: ${err.message}`);
      } else if (
        err instanceof Deno.errors.UnexpectedEof ||
        err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BrokenPipe ||
        err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted
      ) {
        // The client went away.
      } else {
        this.state.log(
          `closing the connection from ${c.peer} after ${c.apiName || "a request"} failed: ${
            err instanceof Error ? err.stack ?? err.message : err
          }`,
        );
      }
    }
  }

  /**
   * Reads, handles and answers one request; false once the client closed. A call of its
   * own, so nothing of a finished request (its decoded fields, its response) stays
   * reachable while the connection waits for the next one.
   */
  private async serveOne(conn: Deno.Conn, c: Connection, frames: FrameReader): Promise<boolean> {
    c.busy = false;
    c.apiName = "";
    c.lastActivity = Date.now();
    const frame = await frames.next();
    if (frame === null) return false;
    c.busy = true;
    try {
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
      c.apiName = `${api.name} v${apiVersion}`;
      // On a SASL listener only the handshake passes before authentication (as Kafka, it closes the connection).
      c.session?.admit(api.name, apiKey);
      const ctx: RequestContext = {
        state: this.state,
        apiKey,
        apiVersion,
        correlationId,
        clientId,
        clientHost: `/${c.address}`,
        signal: c.ac.signal,
        apis: this.apis,
        memory: c.memory,
        listener: c.listener,
        session: c.session,
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
        let req = api.request.decode(r, apiVersion, flex);
        const az = c.session?.authz;
        let res;
        if (az) {
          // IAM policies decide (iam_authz.ts): the request narrowed, or answered here.
          const decided = authorize(api.name, req, ctx, az);
          req = decided.req;
          res = decided.answer ?? await api.handle(req, ctx);
          if (res !== NO_RESPONSE && decided.after) res = decided.after(res);
        } else {
          res = await api.handle(req, ctx);
        }
        if (res === NO_RESPONSE) return true;
        if (flex && !api.responseHeaderV0) w.uvarint(0); // response header v1: no tags
        api.response.encode(w, apiVersion, flex, res);
      }
      if (this.closed) return false;
      await this.write(conn, c, w.frame());
      // A failed authentication is answered, then the connection closed (as Kafka does).
      return !c.session?.failed;
    } finally {
      this.giveHeld(c);
    }
  }

  /** Writes a response, noting its progress for the sweep (a client that takes none is cut). */
  private async write(conn: Deno.Conn, c: Connection, parts: Uint8Array[]): Promise<void> {
    c.writingSince = Date.now();
    if (parts.length > 1 && /SSL/.test(c.listener?.protocol ?? "")) {
      // A TLS connection has no setNoDelay in Deno (nodelay.ts sets it on the listener where
      // it can): a response's second write could wait for the ACK of its first. One write.
      parts = [joinParts(parts)];
    }
    try {
      for (const p of parts) {
        let done = 0;
        while (done < p.byteLength) {
          done += await conn.write(p.subarray(done));
          c.writingSince = Date.now();
        }
      }
    } finally {
      c.writingSince = 0;
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
    for (const { listener } of this.listeners) {
      try {
        listener.close();
      } catch { /* already closed */ }
    }
    for (const [conn, c] of this.conns) this.drop(conn, c);
    release();
    await this.accepting;
    await Promise.allSettled([...this.loops]);
  }
}

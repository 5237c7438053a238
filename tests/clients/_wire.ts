/**
 * Kafka wire helpers for the client matrix, independent of every client under test:
 * the record batches a broker stores (read with a raw Fetch v4, which Apache Kafka 3.9 and
 * the embedded broker both serve) and a TCP proxy that loses the first produce response so
 * a client must retry the same batch.
 * @module
 */
import { RawKafkaConn } from "../_fixtures.ts";

const enc = new TextEncoder();

/** The compression codecs of the record batch attributes' low three bits. */
export const CODECS = ["none", "gzip", "snappy", "lz4", "zstd"] as const;
/** A compression codec name. */
export type Codec = typeof CODECS[number];

/** What a stored record batch says about itself. */
export interface StoredBatch {
  baseOffset: bigint;
  records: number;
  codec: Codec;
  /** -1 unless an idempotent (or transactional) producer wrote it. */
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
}

class Writer {
  private bytes: number[] = [];
  int8(n: number): this {
    this.bytes.push(n & 0xff);
    return this;
  }
  int16(n: number): this {
    return this.int8(n >> 8).int8(n);
  }
  int32(n: number): this {
    return this.int16(n >> 16).int16(n);
  }
  int64(n: bigint): this {
    return this.int32(Number((n >> 32n) & 0xffffffffn)).int32(Number(n & 0xffffffffn));
  }
  string(s: string): this {
    const b = enc.encode(s);
    this.int16(b.length);
    this.bytes.push(...b);
    return this;
  }
  done(): Uint8Array {
    return new Uint8Array(this.bytes);
  }
}

class Reader {
  private view: DataView;
  pos = 0;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  int16(): number {
    const v = this.view.getInt16(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }
  int64(): bigint {
    const v = this.view.getBigInt64(this.pos);
    this.pos += 8;
    return v;
  }
  string(): string {
    const n = this.int16();
    const s = new TextDecoder().decode(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  bytes(): Uint8Array | null {
    const n = this.int32();
    if (n < 0) return null;
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

/** Parses the record batches in a Fetch response's `records` bytes (a torn tail is skipped). */
export function parseBatches(records: Uint8Array): StoredBatch[] {
  const out: StoredBatch[] = [];
  const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
  let pos = 0;
  while (pos + 61 <= records.byteLength) {
    const size = 12 + view.getInt32(pos + 8);
    if (pos + size > records.byteLength) break;
    out.push({
      baseOffset: view.getBigInt64(pos),
      codec: CODECS[view.getInt16(pos + 21) & 0x07] ?? "none",
      producerId: view.getBigInt64(pos + 43),
      producerEpoch: view.getInt16(pos + 51),
      baseSequence: view.getInt32(pos + 53),
      records: view.getInt32(pos + 57),
    });
    pos += size;
  }
  return out;
}

/**
 * Every record batch stored in `topic`'s `partition`, read with raw Fetch v4 requests from
 * offset 0 to the high watermark.
 */
export async function storedBatches(
  bootstrap: string,
  topic: string,
  partition = 0,
): Promise<StoredBatch[]> {
  const conn = await RawKafkaConn.open(bootstrap);
  try {
    const batches: StoredBatch[] = [];
    let offset = 0n;
    for (let correlation = 1;; correlation++) {
      const body = new Writer()
        .int16(1) // Fetch
        .int16(4)
        .int32(correlation)
        .string("pinpipe-matrix")
        .int32(-1) // replica id
        .int32(0) // max wait
        .int32(0) // min bytes
        .int32(64 * 1024 * 1024)
        .int8(0) // read uncommitted
        .int32(1)
        .string(topic)
        .int32(1)
        .int32(partition)
        .int64(offset)
        .int32(64 * 1024 * 1024)
        .done();
      const sized = new Uint8Array(4 + body.length);
      new DataView(sized.buffer).setInt32(0, body.length);
      sized.set(body, 4);
      await conn.send(sized);
      const frame = await conn.readFrame();
      if (!frame) throw new Error(`Cannot fetch "${topic}"[${partition}]: the broker closed`);
      const r = new Reader(frame);
      r.int32(); // correlation id
      r.int32(); // throttle time
      r.int32(); // one topic
      r.string();
      r.int32(); // one partition
      r.int32();
      const error = r.int16();
      if (error !== 0) {
        throw new Error(`Cannot fetch "${topic}"[${partition}] at ${offset}: error ${error}`);
      }
      const highWatermark = r.int64();
      r.int64(); // last stable offset
      const aborted = r.int32();
      if (aborted > 0) r.pos += aborted * 16;
      const got = parseBatches(r.bytes() ?? new Uint8Array(0));
      batches.push(...got.filter((b) => b.baseOffset >= offset));
      const last = batches.at(-1);
      const next = last ? last.baseOffset + BigInt(last.records) : offset;
      if (next >= highWatermark || got.length === 0) return batches;
      offset = next;
    }
  } finally {
    conn.close();
  }
}

/** A TCP proxy in front of one broker that loses the first produce response. */
export interface RetryProxy {
  /** `127.0.0.1:PORT`: give this to the client, as if it were the broker. */
  bootstrap: string;
  /** Produce requests seen (all connections). */
  produceRequests(): number;
  /** Produce requests seen after the lost response (the client's retries and later sends). */
  produceRequestsAfterDrop(): number;
  /** Whether the first produce response has been lost yet. */
  dropped(): boolean;
  close(): Promise<void>;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) done += await conn.write(bytes.subarray(done));
}

/** Yields whole size-prefixed Kafka frames (prefix included) read from `conn`. */
async function* frames(conn: Deno.Conn): AsyncGenerator<Uint8Array> {
  let buf = new Uint8Array(0);
  const chunk = new Uint8Array(256 * 1024);
  for (;;) {
    while (buf.byteLength >= 4) {
      const size = new DataView(buf.buffer, buf.byteOffset).getInt32(0);
      if (buf.byteLength < 4 + size) break;
      yield buf.slice(0, 4 + size);
      buf = buf.slice(4 + size);
    }
    const n = await conn.read(chunk).catch(() => null);
    if (n === null) return;
    const next = new Uint8Array(buf.byteLength + n);
    next.set(buf);
    next.set(chunk.subarray(0, n), buf.byteLength);
    buf = next;
  }
}

/** Replaces every `host` string immediately followed by int32 `from` with int32 `to`. */
function rewritePort(frame: Uint8Array, host: Uint8Array, from: number, to: number): void {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  outer: for (let i = 0; i + host.length + 4 <= frame.byteLength; i++) {
    for (let j = 0; j < host.length; j++) if (frame[i + j] !== host[j]) continue outer;
    if (view.getInt32(i + host.length) === from) view.setInt32(i + host.length, to);
  }
}

/**
 * Starts a proxy to `target` (`host:port`). Clients reach every broker through it: the
 * broker addresses in Metadata, FindCoordinator and DescribeCluster responses are rewritten
 * to the proxy's port (same length, so no frame changes size). The response to the first
 * Produce request is never delivered: the proxy closes that connection instead, as a
 * network failure after the broker appended the batch would, so the client retries a batch
 * the broker already has.
 */
export function startRetryProxy(target: string): RetryProxy {
  const i = target.lastIndexOf(":");
  const host = target.slice(0, i);
  const port = Number(target.slice(i + 1));
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const proxyPort = (listener.addr as Deno.NetAddr).port;
  const hostBytes = enc.encode(host);
  let produce = 0;
  let afterDrop = 0;
  let dropped = false;
  const open = new Set<Deno.Conn>();
  const close = (c: Deno.Conn) => {
    open.delete(c);
    try {
      c.close();
    } catch { /* closed */ }
  };

  const serve = async (client: Deno.Conn) => {
    let broker: Deno.Conn;
    try {
      broker = await Deno.connect({ hostname: host, port });
    } catch {
      close(client);
      return;
    }
    open.add(client);
    open.add(broker);
    const apiKeys = new Map<number, number>();
    const up = (async () => {
      for await (const f of frames(client)) {
        const v = new DataView(f.buffer);
        const apiKey = v.getInt16(4);
        apiKeys.set(v.getInt32(8), apiKey);
        if (apiKey === 0) {
          produce++;
          if (dropped) afterDrop++;
        }
        await writeAll(broker, f).catch(() => {});
      }
    })();
    const down = (async () => {
      for await (const f of frames(broker)) {
        const correlation = new DataView(f.buffer).getInt32(4);
        const apiKey = apiKeys.get(correlation);
        apiKeys.delete(correlation);
        if (apiKey === 0 && !dropped) {
          dropped = true;
          break;
        }
        if (apiKey === 3 || apiKey === 10 || apiKey === 60) {
          rewritePort(f, hostBytes, port, proxyPort);
        }
        await writeAll(client, f).catch(() => {});
      }
    })();
    await Promise.race([up, down]);
    close(client);
    close(broker);
    await Promise.allSettled([up, down]);
  };

  const accepting = (async () => {
    for await (const conn of listener) serve(conn);
  })().catch(() => {});

  return {
    bootstrap: `127.0.0.1:${proxyPort}`,
    produceRequests: () => produce,
    produceRequestsAfterDrop: () => afterDrop,
    dropped: () => dropped,
    async close() {
      try {
        listener.close();
      } catch { /* closed */ }
      for (const c of [...open]) close(c);
      await accepting;
    },
  };
}

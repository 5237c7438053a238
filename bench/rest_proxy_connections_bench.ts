/**
 * REST proxy memory held by idle connections (issue 19, item 2): 200 keep-alive connections
 * each send one valid 8 MiB v2 produce request (16 records of 512 KiB), eight at a time, and
 * then stay open and idle; the proxy's resident memory is read from /proc with all 200 open.
 * The same 200 requests are sent first over 8 connections, to a fresh proxy: the process
 * keeps what its allocator holds after 1.6 GB passed through either way, and the difference
 * is what the 192 more idle connections hold. The proxy runs as `rest-proxy serve` with its
 * default `--memory-budget` (128 MiB) and a keep-alive timeout long enough to keep the
 * connections open while they are counted.
 *
 * `BENCH_ROOT=/path/to/other/tree` runs the tasks of another checkout (the before figure);
 * `BENCH_PROXY_ARGS` replaces the extra flags of `rest-proxy serve` (default
 * `--keep-alive-timeout=10m`).
 *
 * Target: the 192 more idle connections hold less than the 128 MiB budget.
 * @module
 */
import { report, rssMiB } from "./_measure.ts";
import { start } from "./_process.ts";

const ROOT = Deno.env.get("BENCH_ROOT")
  ? new URL(`file://${Deno.env.get("BENCH_ROOT")!.replace(/\/?$/, "/")}`)
  : new URL("../", import.meta.url);
const CONNECTIONS = 200;
const PARALLEL = 8;
const V2_JSON = "application/vnd.kafka.json.v2+json";

/** Starts `tasks/<file>` of ROOT; resolves with its pid, its first stdout line and a stopper. */
async function spawn(file: string, args: string[]) {
  const path = new URL(`tasks/${file}`, ROOT).pathname;
  const child = start(
    Deno.execPath(),
    ["run", "-A", "--v8-flags=--max-semi-space-size=8", path, ...args],
    { inheritStderr: true, what: `tasks/${file}` },
  );
  await child.waitFor("stdout", /\n/);
  return {
    pid: child.pid,
    line: child.stdout().split("\n")[0].trim(),
    stop: () => child.stop("SIGTERM"),
  };
}

/** One keep-alive connection that sends requests and reads whole answers. */
class Conn {
  private buf = new Uint8Array(0);
  private constructor(private readonly conn: Deno.Conn) {}

  static async open(port: number): Promise<Conn> {
    return new Conn(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Sends a POST and returns the status code of its answer (the answer is read whole). */
  async post(path: string, body: Uint8Array): Promise<number> {
    const head = new TextEncoder().encode(
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${V2_JSON}\r\n` +
        `Content-Length: ${body.length}\r\n\r\n`,
    );
    await this.writeAll(head);
    await this.writeAll(body);
    for (;;) {
      const text = new TextDecoder().decode(this.buf);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        const head = text.slice(0, end);
        const length = /transfer-encoding:\s*chunked/i.test(head)
          ? text.indexOf("\r\n0\r\n\r\n", end) + 7 - (end + 4)
          : Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        if (length >= 0 && text.length >= end + 4 + length) {
          const status = Number(text.slice(9, 12));
          this.buf = this.buf.slice(end + 4 + length);
          return status;
        }
      }
      const chunk = new Uint8Array(65536);
      const n = await this.conn.read(chunk);
      if (n === null) throw new Error("the proxy closed the connection");
      const merged = new Uint8Array(this.buf.length + n);
      merged.set(this.buf);
      merged.set(chunk.subarray(0, n), this.buf.length);
      this.buf = merged;
    }
  }

  private async writeAll(b: Uint8Array) {
    for (let off = 0; off < b.length;) off += await this.conn.write(b.subarray(off));
  }

  close() {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

const extra = (Deno.env.get("BENCH_PROXY_ARGS") ?? "--keep-alive-timeout=10m").split(/\s+/)
  .filter(Boolean);
const value = "v".repeat(512 * 1024 - 64);
const body = new TextEncoder().encode(
  `{"records":[${Array.from({ length: 16 }, () => `{"value":"${value}"}`).join(",")}]}`,
);

/**
 * Sends the 200 requests over `open` connections (eight at a time) to a fresh broker and
 * proxy, keeps the connections open, and returns the proxy's memory with them idle.
 */
async function measure(open: number) {
  const broker = await spawn("broker.ts", ["--memory", "--port=0", "--quiet"]);
  const proxy = await spawn("rest_proxy.ts", [
    "serve",
    `--bootstrap=${broker.line}`,
    "--port=0",
    "--auto-create",
    ...extra,
  ]);
  const port = Number(new URL(proxy.line).port);
  const conns: Conn[] = [];
  try {
    // One small request first: the topic exists and the proxy is warm before the base line.
    const warm = await Conn.open(port);
    await warm.post("/topics/conn.pin", new TextEncoder().encode('{"records":[{"value":1}]}'));
    warm.close();
    await new Promise((r) => setTimeout(r, 1000));
    const idle = rssMiB(proxy.pid);
    for (let i = 0; i < open; i++) conns.push(await Conn.open(port));
    const statuses = new Map<number, number>();
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: PARALLEL }, async (_, lane) => {
      while (next < CONNECTIONS) {
        const c = open === CONNECTIONS ? conns[next] : conns[lane % open];
        next++;
        const s = await c.post("/topics/conn.pin", body);
        statuses.set(s, (statuses.get(s) ?? 0) + 1);
      }
    }));
    const sec = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 3000));
    const settled = rssMiB(proxy.pid);
    const sockets = [...Deno.readDirSync(`/proc/${proxy.pid}/fd`)].filter((e) => {
      try {
        return Deno.readLinkSync(`/proc/${proxy.pid}/fd/${e.name}`).startsWith("socket:");
      } catch {
        return false;
      }
    }).length;
    console.log(
      `rest_proxy: ${CONNECTIONS} x 8 MiB over ${open} connections in ${
        sec.toFixed(1)
      } s, answers ${
        JSON.stringify(Object.fromEntries(statuses))
      }, ${sockets} sockets open in the proxy`,
    );
    return { idle: idle.rss, settled: settled.rss, peak: settled.peak };
  } finally {
    for (const c of conns) c.close();
    await proxy.stop();
    await broker.stop();
  }
}

const few = await measure(PARALLEL);
const many = await measure(CONNECTIONS);
report("rest_proxy idle RSS before the requests", many.idle, "MiB");
report(`rest_proxy RSS after them, ${PARALLEL} connections open`, few.settled, "MiB");
report(`rest_proxy RSS after them, ${CONNECTIONS} connections open`, many.settled, "MiB");
report("rest_proxy peak RSS", Math.max(few.peak, many.peak), "MiB");
// The same traffic either way: the difference is what the extra idle connections hold.
report(
  `rest_proxy memory held by ${CONNECTIONS - PARALLEL} more idle connections`,
  many.settled - few.settled,
  "MiB",
  { max: 128 },
);

/**
 * REST proxy memory held by idle connections (issue 19, item 2): 200 keep-alive connections
 * each send one valid 8 MiB v2 produce request (16 records of 512 KiB), eight at a time, and
 * then stay open and idle; the proxy's resident memory is read from /proc with all 200 open.
 * The proxy runs as `rest-proxy serve` with its default `--memory-budget` (128 MiB) and a
 * keep-alive timeout long enough to keep the connections open while they are counted.
 *
 * `BENCH_ROOT=/path/to/other/tree` runs the tasks of another checkout (the before figure);
 * `BENCH_PROXY_ARGS` replaces the extra flags of `rest-proxy serve` (default
 * `--keep-alive-timeout=10m`); `BENCH_REUSE=1` sends the 200 requests over eight connections
 * instead, to tell memory held per connection from memory the process keeps anyway.
 *
 * Target: with 200 idle connections the proxy holds no more than its memory budget beyond
 * what it holds idle with none (the RSS growth is below 128 MiB).
 * @module
 */
import { report, rssMiB } from "./_measure.ts";

const ROOT = Deno.env.get("BENCH_ROOT")
  ? new URL(`file://${Deno.env.get("BENCH_ROOT")!.replace(/\/?$/, "/")}`)
  : new URL("../", import.meta.url);
const CONNECTIONS = 200;
/** `BENCH_REUSE=1`: the requests go over eight connections instead of 200. */
const REUSE = Deno.env.get("BENCH_REUSE") === "1";
const PARALLEL = 8;
const V2_JSON = "application/vnd.kafka.json.v2+json";

/** Starts `tasks/<file>` of ROOT; resolves with its pid, its first stdout line and a stopper. */
async function spawn(file: string, args: string[]) {
  const path = new URL(`tasks/${file}`, ROOT).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--max-semi-space-size=8", path, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`tasks/${file} exited before printing a line`);
    text += value;
  }
  void (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  return {
    pid: child.pid,
    line: text.split("\n")[0].trim(),
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
    },
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

const broker = await spawn("broker.ts", ["--memory", "--port=0", "--quiet"]);
const extra = (Deno.env.get("BENCH_PROXY_ARGS") ?? "--keep-alive-timeout=10m").split(/\s+/)
  .filter(Boolean);
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
  const value = "v".repeat(512 * 1024 - 64);
  const body = new TextEncoder().encode(
    `{"records":[${Array.from({ length: 16 }, () => `{"value":"${value}"}`).join(",")}]}`,
  );
  // One small request first: the topic exists and the proxy has warmed up before the base line.
  const warm = await Conn.open(port);
  await warm.post("/topics/conn.pin", new TextEncoder().encode('{"records":[{"value":1}]}'));
  warm.close();
  await new Promise((r) => setTimeout(r, 1000));
  const idle = rssMiB(proxy.pid);
  for (let i = 0; i < (REUSE ? PARALLEL : CONNECTIONS); i++) conns.push(await Conn.open(port));
  const statuses = new Map<number, number>();
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: PARALLEL }, async (_, lane) => {
    while (next < CONNECTIONS) {
      const c = REUSE ? conns[lane] : conns[next];
      next++;
      const s = await c.post("/topics/conn.pin", body);
      statuses.set(s, (statuses.get(s) ?? 0) + 1);
    }
  }));
  const sec = (performance.now() - t0) / 1000;
  const afterSend = rssMiB(proxy.pid);
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
    `rest_proxy connections: ${CONNECTIONS} x 8 MiB in ${sec.toFixed(1)} s, answers ${
      JSON.stringify(Object.fromEntries(statuses))
    }, ${sockets} sockets open in the proxy`,
  );
  report("rest_proxy idle RSS before the connections", idle.rss, "MiB");
  report("rest_proxy RSS right after the 200 requests", afterSend.rss, "MiB");
  report("rest_proxy RSS with 200 idle connections (3 s later)", settled.rss, "MiB");
  report("rest_proxy RSS growth held by 200 idle connections", settled.rss - idle.rss, "MiB", {
    max: 128,
  });
  report("rest_proxy peak RSS", settled.peak, "MiB");
} finally {
  for (const c of conns) c.close();
  await proxy.stop();
  await broker.stop();
}

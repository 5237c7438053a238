/**
 * The REST proxy's HTTP server (lib/rest_proxy/server.ts) against an in-process proxy over
 * raw sockets: an oversized body is answered with a readable 413 after the proxy drained it
 * (a client that writes its whole body first is not reset), `Expect: 100-continue` gets its
 * refusal without uploading and its go-ahead when the body is wanted, a body past the drain
 * bound is refused at once, and keep-alive connections hold nothing of the budget after a
 * large request.
 */
import assert from "node:assert/strict";
import { T, V2, withProxy } from "../_rest_proxy.ts";
import type { RestProxy } from "../../lib/rest_proxy/rest_proxy.ts";
import { waitFor } from "../_fixtures.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A raw connection to the proxy that writes what it is given and collects every answer byte. */
class Raw {
  private answer = "";
  private closed = false;
  private readonly reading: Promise<void>;

  private constructor(private readonly conn: Deno.Conn) {
    this.reading = (async () => {
      const buf = new Uint8Array(65536);
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        this.answer += dec.decode(buf.subarray(0, n));
      }
      this.closed = true;
    })();
  }

  static async open(proxy: RestProxy): Promise<Raw> {
    const url = new URL(proxy.url);
    return new Raw(await Deno.connect({ hostname: url.hostname, port: Number(url.port) }));
  }

  /** Writes all of `data`; rejects if the proxy resets the connection meanwhile. */
  async write(data: string | Uint8Array): Promise<void> {
    const b = typeof data === "string" ? enc.encode(data) : data;
    for (let off = 0; off < b.length;) off += await this.conn.write(b.subarray(off));
  }

  /** Everything answered so far. */
  text(): string {
    return this.answer;
  }

  /** Whether the proxy closed the connection. */
  get ended(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // closed by the proxy
    }
    await this.reading;
  }
}

/** `POST path` request head with a Content-Length. */
function head(path: string, length: number, extra = ""): string {
  return `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: ${V2.json}\r\n` +
    `Content-Length: ${length}\r\n${extra}\r\n`;
}

/** A valid produce body of about `bytes` bytes (records of up to 512 KiB). */
function produceBody(bytes: number): Uint8Array {
  const records: string[] = [];
  for (let left = bytes; left > 64;) {
    const n = Math.min(512 * 1024 - 64, left - 20);
    records.push(`{"value":"${"v".repeat(n)}"}`);
    left -= n + 20;
  }
  return enc.encode(`{"records":[${records.join(",")}]}`);
}

Deno.test({
  ...T,
  name: "a client that writes its whole 10 MiB body first reads the 413, then the proxy closes",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const body = new Uint8Array(10 * 1024 * 1024 + 4096).fill(0x20);
      const raw = await Raw.open(proxy);
      // The whole body goes out before anything is read: the proxy must take it all.
      await raw.write(head("/topics/t.pin", body.length));
      await raw.write(body);
      await waitFor("the proxy to close the connection", () => raw.ended, 30_000, 10);
      const text = raw.text();
      assert.match(text, /^HTTP\/1\.1 413 Payload Too Large\r\n/);
      assert.match(text, /\r\nconnection: close\r\n/i);
      assert.match(text, /"error_code":413/);
      assert.match(text, /over 10485760 bytes/);
      await raw.close();
      assert.equal(proxy.stats().bodyBytes, 0);
    }),
});

Deno.test({
  ...T,
  name: "Expect: 100-continue gets the 413 without uploading, and a wanted body its go-ahead",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const refused = await Raw.open(proxy);
      await refused.write(head("/topics/t.pin", 11 * 1024 * 1024, "Expect: 100-continue\r\n"));
      await waitFor("the refusal", () => refused.ended, 10_000, 10);
      assert.match(refused.text(), /^HTTP\/1\.1 413 /);
      assert.doesNotMatch(refused.text(), /100 Continue/);
      await refused.close();

      const body = enc.encode('{"records":[{"value":{"x":1}}]}');
      const wanted = await Raw.open(proxy);
      await wanted.write(head("/topics/t.pin", body.length, "Expect: 100-continue\r\n"));
      await waitFor("the go-ahead", () => /100 Continue/.test(wanted.text()), 10_000, 10);
      await wanted.write(body);
      await waitFor("the answer", () => /"offsets"/.test(wanted.text()), 10_000, 10);
      assert.match(wanted.text(), /HTTP\/1\.1 200 OK/);
      assert.match(wanted.text(), /"error_code":null/);
      assert.equal(wanted.ended, false, "the connection stays open after a good request");
      await wanted.close();
    }),
});

Deno.test({
  ...T,
  name: "a body declared past the drain bound is refused at once, without reading it",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const raw = await Raw.open(proxy);
      await raw.write(head("/topics/t.pin", 100 * 1024 * 1024));
      await raw.write(new Uint8Array(4096));
      await waitFor("the 413 and the close", () => raw.ended, 10_000, 10);
      assert.match(raw.text(), /^HTTP\/1\.1 413 /);
      await raw.close();
    }),
});

Deno.test({
  ...T,
  name: "a body refused for a missing topic is drained too, and read whole when it fits",
  fn: () =>
    withProxy(async ({ proxy }) => {
      // 40401 needs the body read (the topic is looked up after it); 404 for a bad path does not.
      const body = produceBody(3 * 1024 * 1024);
      for (const [path, want] of [["/topics/t.nope", 40401], ["/nope", 404]] as const) {
        const raw = await Raw.open(proxy);
        await raw.write(head(path, body.length));
        await raw.write(body);
        await waitFor(`the answer to ${path}`, () => /"error_code":\d+/.test(raw.text()), 30_000);
        assert.match(raw.text(), /^HTTP\/1\.1 404 /, path);
        assert.match(raw.text(), new RegExp(`"error_code":${want}`), path);
        await raw.close();
      }
    }),
});

Deno.test({
  ...T,
  name: "200 keep-alive connections after one 8 MiB request each hold none of the budget",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const body = produceBody(8 * 1024 * 1024);
      assert.ok(body.length > 8 * 1024 * 1024 - 1024 && body.length <= 8 * 1024 * 1024);
      const conns: Raw[] = [];
      try {
        // Each body is read whole and parsed before the topic is looked up; t.nope keeps the
        // broker from storing 1.6 GB. Eight at a time: 64 MiB held at once, inside 128 MiB.
        // Each connection opens just before its request: one opened early and left without a
        // request past the server's 30 s header timeout (a loaded machine) would be cut.
        let peak = 0;
        let opening = 0; // counted before the await, so the eight workers open 200 in all
        await Promise.all(Array.from({ length: 8 }, async () => {
          while (opening < 200) {
            opening++;
            const c = await Raw.open(proxy);
            conns.push(c);
            await c.write(head("/topics/t.nope", body.length));
            await c.write(body);
            await waitFor(
              "the answer",
              () => {
                peak = Math.max(peak, proxy.stats().bodyBytes);
                return /"error_code":40401/.test(c.text());
              },
              60_000,
              5,
            );
          }
        }));
        for (const c of conns) assert.equal(c.ended, false, "the connection stays open");
        const st = proxy.stats();
        assert.equal(st.connections, 200);
        assert.ok(peak > 0 && peak <= 8 * body.length, `the budget held ${peak} at most`);
        assert.equal(st.bodyBytes, 0, "no idle connection holds a byte of the budget");
        // Each connection still serves its next request.
        await conns[199].write(head("/topics/t.pin", 31));
        await conns[199].write('{"records":[{"value":{"x":1}}]}');
        await waitFor(
          "a produce on an idle connection",
          () => /"offset":0/.test(conns[199].text()),
        );
      } finally {
        await Promise.all(conns.map((c) => c.close()));
      }
    }, { keepAliveTimeoutMs: 120_000 }),
});

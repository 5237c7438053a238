/**
 * No single client starves the broker of memory or connections (issue 19 items 2 and 3),
 * on the broker task run as its own process, with the figures:
 * - 200 connections that each sent one valid 8 MiB request and stayed open: before, 1.7 GB
 *   of resident memory until they closed; now no more than the memory budget
 * - at an open-file limit of 1,024, one address keeping 2,000 connection attempts open:
 *   before, kcat from another address failed 10 of 10 ("Broker transport failure"); now
 *   it is served every time, and the refusals make one log line
 * - the per-address limit and its overrides, with the flags named when they refuse and
 *   shown by DescribeConfigs
 * The accounting itself is unit-tested in broker_limits_unit_test.ts.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import net from "node:net";
import { encodeKafkajsRequest, kafkajsRequests } from "../lib/deps/kafkajs_protocol.ts";
import { planFiles } from "../lib/broker/limits.ts";
import { RawKafkaConn, waitFor, withBroker } from "./_fixtures.ts";
import { type Any, Oracle, spawnBrokerProcess } from "./_broker_oracle.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A Produce v7 request of about `size` bytes in all, for a topic that does not exist. */
async function produceFrame(size: number): Promise<Uint8Array> {
  const { request } = kafkajsRequests.Produce.protocol({ version: 7 })({
    acks: 1,
    timeout: 5000,
    transactionalId: null,
    producerId: -1,
    producerEpoch: 0,
    topicData: [{
      topic: "absent",
      partitions: [{ partition: 0, messages: [{ value: Buffer.alloc(size - 456, 7) }] }],
    }],
  });
  return (await encodeKafkajsRequest({ correlationId: 1, clientId: "idle", request })).buffer;
}

Deno.test({
  name:
    "200 connections that each sent one 8 MiB request and stayed open hold no more than the memory budget (before: 1.7 GB)",
  ...opts,
  fn: async () => {
    const budgetMB = 64 * 1.048576;
    const broker = await spawnBrokerProcess(["--memory", "--quiet", "--max-request-memory=64MiB"]);
    const conns: RawKafkaConn[] = [];
    let peak = 0;
    const sample = setInterval(() => peak = Math.max(peak, broker.rssMB()), 50);
    try {
      const frame = await produceFrame(8 * 1024 * 1024);
      assert.ok(frame.byteLength > 8_380_000 && frame.byteLength <= 8 * 1024 * 1024);
      const base = broker.rssMB();
      const answers = await Promise.all(Array.from({ length: 200 }, async () => {
        const c = await RawKafkaConn.open(broker.bootstrap);
        conns.push(c);
        await c.send(frame);
        const res = await c.readFrame(120_000);
        assert.ok(res, "answered");
        // topics[0].partitions[0].errorCode: read whole and answered as Kafka would.
        return new DataView(res.buffer, res.byteOffset).getInt16(4 + 4 + 2 + 6 + 4 + 4);
      }));
      assert.deepEqual(new Set(answers), new Set([3]), "UNKNOWN_TOPIC_OR_PARTITION, 200 times");
      const answered = broker.rssMB();
      // Idle now: the buffers they kept are given back within seconds.
      let idle = answered;
      await waitFor("the idle connections' buffers to be given back", () => {
        idle = broker.rssMB();
        return idle - base < budgetMB;
      }, 20_000);
      console.error(
        `  200 × 8 MiB, budget 64 MiB: broker ${Math.round(base)} MB before, peak ` +
          `${Math.round(peak)} MB, ${Math.round(answered)} MB when all were answered, ` +
          `${Math.round(idle)} MB idle`,
      );
      assert.ok(
        peak - base < budgetMB + 100,
        `peak ${Math.round(peak)} MB over a base of ${Math.round(base)} MB (budget 64 MiB)`,
      );
      assert.ok(broker.openFiles() >= 200, "the 200 connections are still open");
    } finally {
      clearInterval(sample);
      for (const c of conns) c.close();
      await broker.stop();
    }
  },
});

/** Whether this machine lets a socket bind 127.0.0.2 (Linux routes all of 127/8 to loopback). */
async function canBind127002(): Promise<boolean> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({
        host: "127.0.0.1",
        port: (l.addr as Deno.NetAddr).port,
        localAddress: "127.0.0.2",
      });
      s.on("connect", () => resolve(true));
      s.on("error", () => resolve(false));
      l.accept().then((c) => c.close(), () => {});
      setTimeout(() => resolve(false), 2000);
      s.unref();
    });
    return ok;
  } finally {
    l.close();
  }
}

const KCAT = await new Deno.Command("kcat", { args: ["-V"], stdout: "null", stderr: "null" })
  .output().then((o) => o.success, () => false);
const LOOPBACK_2 = Deno.build.os === "linux" && await canBind127002();

/** Runs kcat against `bootstrap`; true when it exits 0 within 30 s. */
async function kcat(
  bootstrap: string,
  args: string[],
  input?: string,
): Promise<{ ok: boolean; out: string; err: string }> {
  const p = new Deno.Command("kcat", {
    args: ["-b", bootstrap, ...args],
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).spawn();
  if (input !== undefined) {
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(input));
    await w.close();
  }
  const o = await p.output();
  const dec = new TextDecoder();
  return { ok: o.success, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

/**
 * Keeps `n` connection attempts from `localAddress` open against `host:port`: every one the
 * broker closes is made again 20 ms later, until `stop()`.
 */
function hammer(host: string, port: number, localAddress: string, n: number) {
  const sockets = new Set<net.Socket>();
  let stopped = false;
  let attempts = 0;
  let connected = 0;
  const one = () => {
    if (stopped) return;
    attempts++;
    const s = net.connect({ host, port, localAddress });
    sockets.add(s);
    let up = false;
    s.on("connect", () => {
      up = true;
      connected++;
    });
    s.on("error", () => {});
    s.on("close", () => {
      sockets.delete(s);
      if (up) connected--;
      setTimeout(one, 20);
    });
  };
  for (let i = 0; i < n; i++) one();
  return {
    /** Attempts made so far, and how many are connected (accepted, or queued to be). */
    get attempts() {
      return attempts;
    },
    get connected() {
      return connected;
    },
    stop() {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
  };
}

Deno.test({
  name:
    "at an open-file limit of 1,024, with one address holding 2,000 connection attempts, kcat from another address is served every time",
  ignore: !KCAT || !LOOPBACK_2,
  ...opts,
  fn: async () => {
    const broker = await spawnBrokerProcess(["--memory", "--auto-create"], { openFiles: 1024 });
    const [host, port] = broker.bootstrap.split(":");
    const t0 = Date.now();
    const attacker = hammer(host, Number(port), "127.0.0.2", 2000);
    try {
      await waitFor(
        "the attacker to be refused",
        () => /refused a connection from 127\.0\.0\.2:/.test(broker.stderr()),
        30_000,
      );
      // Let it hammer for a while before the probes.
      const started = attacker.attempts;
      await waitFor("2,000 more attempts", () => attacker.attempts > started + 2000, 30_000);
      const held = broker.openFiles();
      let listed = 0;
      let roundTrips = 0;
      const failures: string[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await kcat(broker.bootstrap, ["-L", "-m", "10"]);
        if (r.ok && /1 brokers:/.test(r.out)) listed++;
        else failures.push(`-L: ${r.err.trim()}`);
      }
      for (let i = 0; i < 10; i++) {
        const value = `probe-${i}`;
        const p = await kcat(
          broker.bootstrap,
          ["-P", "-t", "probe", "-p", "0", "-X", "message.timeout.ms=10000"],
          `${value}\n`,
        );
        const c = p.ok
          ? await kcat(broker.bootstrap, ["-C", "-t", "probe", "-p", "0", "-o", "-1", "-e", "-q"])
          : p;
        if (p.ok && c.ok && c.out.trim() === value) roundTrips++;
        else failures.push(`produce+consume: ${(c.err || p.err).trim()}`);
      }
      console.error(
        `  kcat -L ${listed}/10, produce+consume ${roundTrips}/10 while 127.0.0.2 made ` +
          `${attacker.attempts} attempts (${held} descriptors open in the broker)`,
      );
      assert.deepEqual([listed, roundTrips, failures], [10, 10, []]);
      assert.ok(broker.alive(), broker.stderr());
      const plan = planFiles(1024, 30);
      assert.ok(held < 1024 - 64, `${held} descriptors open`);
      // One line a minute for thousands of refusals (and a count once the minute is over).
      const minutes = Math.ceil((Date.now() - t0) / 60_000);
      const all = broker.stderr().split("\n").filter((l) => /refused/.test(l));
      const lines = all.filter((l) => /refused a connection/.test(l));
      assert.ok(lines.length <= minutes && all.length <= 2 * minutes, all.join("\n"));
      assert.match(
        lines[0],
        /refused a connection from 127\.0\.0\.2:\d+: 127\.0\.0\.2 holds \d+ of the \d+ open connections, and the last \d+ of \d+ are kept for addresses holding fewer than 16 \(--max-connections \d+, set from the open-file limit 1024; --max-connections-per-ip limits one address\)/,
      );
      const [total] = /of (\d+) are kept/.exec(lines[0])!.slice(1).map(Number);
      assert.ok(Math.abs(total - plan.maxConnections) < 40, `total ${total}`);
    } finally {
      attacker.stop();
      await broker.stop();
    }
  },
});

/** Opens a connection from `localAddress` and asks ApiVersions: "served" or "refused". */
function probe(bootstrap: string, localAddress: string): Promise<"served" | "refused"> {
  const [host, port] = bootstrap.split(":");
  const req = new Uint8Array([0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 255, 255]);
  return new Promise((resolve) => {
    const s = net.connect({ host, port: Number(port), localAddress });
    s.on("connect", () => s.write(req));
    s.on("data", () => resolve("served")); // left open: it counts against the limit
    s.on("error", () => resolve("refused"));
    s.on("close", () => resolve("refused"));
    sockets.push(s);
  });
}
const sockets: net.Socket[] = [];

Deno.test({
  name:
    "--max-connections-per-ip and its overrides refuse with their flags named, and DescribeConfigs shows them",
  ignore: !LOOPBACK_2,
  ...opts,
  fn: async () => {
    const lines: string[] = [];
    await withBroker(async (broker) => {
      try {
        const first: string[] = [];
        for (let i = 0; i < 5; i++) first.push(await probe(broker.bootstrap, "127.0.0.1"));
        assert.deepEqual(first, ["served", "served", "served", "refused", "refused"]);
        const second: string[] = [];
        for (let i = 0; i < 3; i++) second.push(await probe(broker.bootstrap, "127.0.0.2"));
        assert.deepEqual(second, ["served", "refused", "refused"]);
        const refused = lines.filter((l) => /refused/.test(l));
        assert.equal(refused.length, 2, "one line per address and limit");
        assert.match(
          refused[0],
          /^refused a connection from 127\.0\.0\.1:\d+: 127\.0\.0\.1 holds 3 connections, the limit for one address \(--max-connections-per-ip 3\)$/,
        );
        assert.match(
          refused[1],
          /^refused a connection from 127\.0\.0\.2:\d+: 127\.0\.0\.2 holds 1 connections, its limit \(--max-connections-per-ip-overrides 127\.0\.0\.2:1\)$/,
        );
        for (const s of sockets.splice(0)) s.destroy();
        // Once they are gone, the address is served again.
        let o: Oracle | undefined;
        await waitFor("127.0.0.1 to be served again", async () => {
          o?.close();
          o = await Oracle.open(broker.bootstrap);
          return await o.call("ApiVersions", 2).then((r) => r.errorCode === 0, () => false);
        });
        const res = await o!.call("DescribeConfigs", 1, {
          resources: [{
            type: 4,
            name: "0",
            configNames: [
              "max.connections",
              "max.connections.per.ip",
              "max.connections.per.ip.overrides",
            ],
          }],
        });
        o!.close();
        const got = Object.fromEntries(
          res.resources[0].configEntries.map((
            e: { configName: string; configValue: string },
          ) => [e.configName, e.configValue]),
        );
        assert.deepEqual(got, {
          "max.connections": "100",
          "max.connections.per.ip": "3",
          "max.connections.per.ip.overrides": "127.0.0.2:1",
        });
      } finally {
        for (const s of sockets.splice(0)) s.destroy();
      }
    }, {
      logger: (l) => lines.push(l),
      maxConnections: 100,
      maxConnectionsPerIp: 3,
      maxConnectionsPerIpOverrides: { "127.0.0.2": 1 },
    });
  },
});

/** Fetch v4 arguments for partition 0 of `topic` from offset 0, up to `maxBytes`. */
function fetchArgs(topic: string, maxBytes: number) {
  return {
    replicaId: -1,
    maxWaitTime: 10,
    minBytes: 1,
    maxBytes,
    isolationLevel: 0,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: "0", maxBytes }] }],
  };
}

Deno.test({
  name: "a Fetch answers with no more records than the memory budget holds, but at least one batch",
  ...opts,
  fn: () =>
    withBroker(async (broker) => {
      const o = await Oracle.open(broker.bootstrap);
      try {
        for (let i = 0; i < 8; i++) {
          assert.deepEqual(await o.produce("t", 0, [String(i).repeat(300_000)]), [0, i]);
        }
        // 8 batches of 300 KB: a budget of 1 MiB holds three of them.
        let res = await o.call("Fetch", 4, fetchArgs("t", 50 * 1024 * 1024));
        assert.deepEqual(res.responses[0].partitions[0].messages.map((m: Any) => m.offset), [
          "0",
          "1",
          "2",
        ]);
        res = await o.call("Fetch", 4, fetchArgs("t", 1000));
        assert.equal(res.responses[0].partitions[0].messages.length, 1, "KIP-74: one batch");
      } finally {
        o.close();
      }
    }, { autoCreate: true, maxFrameBytes: 1024 * 1024 - 4, maxRequestMemory: 1024 * 1024 }),
});

Deno.test({
  name: "a client that takes none of its Fetch response is cut off, and says so once",
  ...opts,
  fn: async () => {
    const lines: string[] = [];
    await withBroker(async (broker) => {
      const o = await Oracle.open(broker.bootstrap);
      const stuck = await RawKafkaConn.open(broker.bootstrap);
      try {
        for (let i = 0; i < 6; i++) {
          assert.deepEqual(await o.produce("t", 0, ["x".repeat(8_000_000)]), [0, i]);
        }
        // 48 MB asked for and never read: more than the kernel's socket buffers take.
        const { request } = kafkajsRequests.Fetch.protocol({ version: 4 })(
          fetchArgs("t", 64 * 1024 * 1024),
        );
        const frame = await encodeKafkajsRequest({ correlationId: 9, clientId: "stuck", request });
        await stuck.send(frame.buffer);
        await waitFor(
          "the stuck response to be noticed",
          () => lines.some((l) => /took none/.test(l)),
        );
        const said = lines.filter((l) => /took none/.test(l));
        assert.equal(said.length, 1);
        assert.match(
          said[0],
          /^closing the connection from 127\.0\.0\.1:\d+: it took none of its Fetch v4 response for 0\.5 s$/,
        );
        let closed = false;
        while (!closed) closed = await stuck.readFrame(10_000).then((f) => f === null);
        // Others are still served.
        assert.equal((await o.call("ApiVersions", 2)).errorCode, 0);
      } finally {
        o.close();
        stuck.close();
      }
    }, { autoCreate: true, frameTimeoutMs: 500, logger: (l) => lines.push(l) });
  },
});

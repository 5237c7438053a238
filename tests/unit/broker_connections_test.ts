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
import net from "node:net";
import { encodeKafkajsRequest, kafkajsRequests } from "../deps/kafkajs_protocol.ts";
import { RawKafkaConn, waitFor, withBroker } from "../_fixtures.ts";
import { type Any, Oracle } from "../_broker_oracle.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

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
const LOOPBACK_2 = Deno.build.os === "linux" && await canBind127002();

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

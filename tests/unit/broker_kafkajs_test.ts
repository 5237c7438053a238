/**
 * The broker with the real kafkajs 2.2.4 client: admin, producers (acks 0/1/-1, plain and
 * gzip), consumer groups across rebalances, resuming after a broker restart, and a broker
 * posing as an older Kafka (capped versions) so kafkajs's older request shapes run too.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { CompressionTypes, Kafka, logLevel } from "../../lib/deps/kafkajs.ts";
import type { Consumer } from "../../lib/deps/kafkajs.ts";
import { AssignerProtocol } from "../deps/kafkajs_protocol.ts";
import type { Broker, BrokerOptions } from "../../lib/broker/broker.ts";
import { startTestBroker, waitFor, withBroker, withTempDir } from "../_fixtures.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function client(broker: Broker, clientId = "test"): Kafka {
  return new Kafka({
    clientId,
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 50, retries: 8 },
  });
}

/** A consumer tuned for quick rebalances, recording `partition:offset` of what it reads. */
async function startConsumer(
  kafka: Kafka,
  groupId: string,
  topic: string,
  seen: Map<string, string>,
  name: string,
): Promise<Consumer> {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 6000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 200,
    maxWaitTimeInMs: 100,
    retry: { initialRetryTime: 50, retries: 10 },
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ partition, message }) => {
      seen.set(`${partition}:${message.offset}`, name);
      return Promise.resolve();
    },
  });
  return consumer;
}

Deno.test({
  name: "kafkajs admin creates, lists and deletes topics and reads topic and group offsets",
  ...opts,
  fn: () =>
    withBroker(async (broker) => {
      const kafka = client(broker);
      const admin = kafka.admin();
      await admin.connect();
      try {
        assert.equal(
          await admin.createTopics({ topics: [{ topic: "a", numPartitions: 3 }, { topic: "b" }] }),
          true,
        );
        assert.equal(await admin.createTopics({ topics: [{ topic: "a" }] }), false);
        assert.deepEqual((await admin.listTopics()).sort(), ["a", "b"]);
        const meta = await admin.fetchTopicMetadata({ topics: ["a", "b"] });
        assert.deepEqual(meta.topics.map((t) => [t.name, t.partitions.length]).sort(), [
          ["a", 3],
          ["b", 2],
        ]);

        const producer = kafka.producer();
        await producer.connect();
        await producer.send({
          topic: "a",
          messages: [0, 0, 1, 2, 2, 2].map((p, i) => ({ partition: p, value: `m${i}` })),
        });
        await producer.disconnect();
        const offsets = await admin.fetchTopicOffsets("a");
        assert.deepEqual(
          offsets.map((o) => [o.partition, o.low, o.high]).sort(),
          [[0, "0", "2"], [1, "0", "1"], [2, "0", "3"]],
        );

        await admin.setOffsets({
          groupId: "g",
          topic: "a",
          partitions: [{ partition: 2, offset: "1" }],
        });
        const committed = await admin.fetchOffsets({ groupId: "g", topics: ["a"] });
        assert.deepEqual(
          committed[0].partitions.map((p) => [p.partition, p.offset]).sort(),
          [[0, "-1"], [1, "-1"], [2, "1"]],
        );
        const groups = await admin.listGroups();
        assert.deepEqual(groups.groups.map((g) => g.groupId), ["g"]);

        await admin.deleteTopics({ topics: ["b"] });
        assert.deepEqual(await admin.listTopics(), ["a"]);
      } finally {
        await admin.disconnect();
      }
    }, { partitions: 2 }),
});

Deno.test({
  name: "kafkajs producers with acks 0, 1 and -1, plain and gzip, are all read back in order",
  ...opts,
  fn: () =>
    withBroker(async (broker) => {
      const kafka = client(broker);
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: "acks", numPartitions: 2 }] });
      await admin.disconnect();
      const producer = kafka.producer();
      await producer.connect();
      const sent: string[] = [];
      for (const compression of [CompressionTypes.None, CompressionTypes.GZIP]) {
        for (const acks of [0, 1, -1]) {
          const messages = Array.from({ length: 40 }, (_, i) => {
            const value = `c${compression}-a${acks}-${i}`;
            sent.push(value);
            return { key: `k${i % 7}`, value, headers: { h: Buffer.from("x") } };
          });
          const res = await producer.send({ topic: "acks", acks, compression, messages });
          if (acks === 0) assert.deepEqual(res, []);
          else assert.ok(res.every((r) => r.errorCode === 0));
        }
      }
      await producer.disconnect();

      const got = new Map<number, { offset: number; value: string; key: string }[]>();
      const consumer = kafka.consumer({ groupId: "reader", maxWaitTimeInMs: 100 });
      await consumer.connect();
      await consumer.subscribe({ topic: "acks", fromBeginning: true });
      let count = 0;
      await consumer.run({
        eachMessage: ({ partition, message }) => {
          const list = got.get(partition) ?? [];
          list.push({
            offset: Number(message.offset),
            value: message.value!.toString(),
            key: message.key!.toString(),
          });
          assert.equal(message.headers?.h?.toString(), "x");
          got.set(partition, list);
          count++;
          return Promise.resolve();
        },
      });
      try {
        await waitFor("every record", () => count >= sent.length, 30_000);
      } finally {
        await consumer.disconnect();
      }
      assert.equal(count, sent.length);
      const values = [...got.values()].flat().map((m) => m.value);
      assert.deepEqual([...values].sort(), [...sent].sort());
      for (const [, list] of got) {
        // Offsets are dense from 0, and each key's records keep their send order.
        assert.deepEqual(list.map((m) => m.offset), list.map((_, i) => i));
        const byKey = new Map<string, string[]>();
        for (const m of list) byKey.set(m.key, [...(byKey.get(m.key) ?? []), m.value]);
        for (const [, vs] of byKey) {
          assert.deepEqual(vs, sent.filter((s) => vs.includes(s)));
        }
      }
    }),
});

/** The group's members and their partitions of `topic`, once it is stable with `n` members. */
async function stableAssignment(
  kafka: Kafka,
  groupId: string,
  topic: string,
  n: number,
): Promise<number[][]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let result: number[][] = [];
    await waitFor(
      `group "${groupId}" stable with ${n} members`,
      async () => {
        const { groups } = await admin.describeGroups([groupId]);
        const g = groups[0];
        if (g.state !== "Stable" || g.members.length !== n) return false;
        result = g.members.map((m) => {
          const a = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
          return [...(a?.assignment[topic] ?? [])].sort((x, y) => x - y);
        });
        return true;
      },
      30_000,
      100,
    );
    return result;
  } finally {
    await admin.disconnect();
  }
}

Deno.test({
  name: "two then three kafkajs consumers share a group as members join and leave, losing nothing",
  ...opts,
  fn: () =>
    withBroker(async (broker) => {
      const kafka = client(broker);
      const topic = "events";
      const partitions = 6;
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
      await admin.disconnect();
      const producer = kafka.producer();
      await producer.connect();
      let produced = 0;
      const produce = async (n: number) => {
        await producer.send({
          topic,
          messages: Array.from({ length: n }, (_, i) => ({
            partition: (produced + i) % partitions,
            value: `e${produced + i}`,
          })),
        });
        produced += n;
      };
      const seen = new Map<string, string>();
      const everything = () => {
        const want: string[] = [];
        for (let i = 0; i < produced; i++) {
          want.push(`${i % partitions}:${Math.floor(i / partitions)}`);
        }
        return want;
      };
      const allSeen = () => everything().every((k) => seen.has(k));
      const checkOwnership = (assignment: number[][], n: number) => {
        assert.equal(assignment.length, n);
        const owned = assignment.flat().sort((a, b) => a - b);
        assert.deepEqual(
          owned,
          Array.from({ length: partitions }, (_, i) => i),
          "each partition once",
        );
        assert.ok(assignment.every((a) => a.length > 0), "every member has partitions");
      };
      const consumers: Consumer[] = [];
      try {
        await produce(60);
        consumers.push(await startConsumer(kafka, "g", topic, seen, "A"));
        await waitFor("A to read the first 60", allSeen, 30_000);
        checkOwnership(await stableAssignment(kafka, "g", topic, 1), 1);

        consumers.push(await startConsumer(kafka, "g", topic, seen, "B"));
        checkOwnership(await stableAssignment(kafka, "g", topic, 2), 2);
        await produce(60);
        await waitFor("two members to read 120", allSeen, 30_000);

        consumers.push(await startConsumer(kafka, "g", topic, seen, "C"));
        checkOwnership(await stableAssignment(kafka, "g", topic, 3), 3);
        await produce(60);
        await waitFor("three members to read 180", allSeen, 30_000);
        const readers = new Set(
          [...seen.entries()].filter(([k]) => {
            const [p, o] = k.split(":").map(Number);
            return o * partitions + p >= 120;
          }).map(([, who]) => who),
        );
        assert.deepEqual(
          [...readers].sort(),
          ["A", "B", "C"],
          "the last 60 were shared by all three",
        );

        await consumers.splice(1, 1)[0].disconnect(); // B leaves
        checkOwnership(await stableAssignment(kafka, "g", topic, 2), 2);
        await produce(60);
        await waitFor("the two left to read 240", allSeen, 30_000);
        assert.equal(everything().filter((k) => !seen.has(k)).length, 0, "no message lost");
      } finally {
        await Promise.all(consumers.map((c) => c.disconnect()));
        await producer.disconnect();
      }
    }),
});

Deno.test({
  name: "a kafkajs consumer group resumes from its committed offsets after a broker restart",
  ...opts,
  fn: () =>
    withTempDir(async (dataDir) => {
      const topic = "durable";
      let broker = await startTestBroker({ dataDir });
      try {
        let kafka = client(broker);
        const admin = kafka.admin();
        await admin.connect();
        await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
        await admin.disconnect();
        let producer = kafka.producer();
        await producer.connect();
        await producer.send({
          topic,
          messages: Array.from({ length: 20 }, (_, i) => ({ partition: i % 2, value: `a${i}` })),
        });
        await producer.disconnect();
        const first = new Map<string, string>();
        let consumer = await startConsumer(kafka, "resume", topic, first, "first");
        await waitFor("the first 20", () => first.size === 20, 30_000);
        await consumer.disconnect(); // commits what it read, then leaves
        await broker.close();

        broker = await startTestBroker({ dataDir });
        kafka = client(broker);
        producer = kafka.producer();
        await producer.connect();
        await producer.send({
          topic,
          messages: Array.from({ length: 10 }, (_, i) => ({ partition: i % 2, value: `b${i}` })),
        });
        await producer.disconnect();
        const second = new Map<string, string>();
        consumer = await startConsumer(kafka, "resume", topic, second, "second");
        await waitFor("the 10 new records", () => second.size >= 10, 30_000);
        await consumer.disconnect();
        assert.deepEqual(
          [...second.keys()].sort(),
          ["0:10", "0:11", "0:12", "0:13", "0:14", "1:10", "1:11", "1:12", "1:13", "1:14"],
          "only the records after the committed offsets are read again",
        );
      } finally {
        await broker.close();
      }
    }),
});

Deno.test({
  name: "kafkajs works with a broker posing as an older Kafka (Produce v3, Fetch v4, Metadata v1)",
  ...opts,
  fn: async () => {
    const old: BrokerOptions = {
      maxVersions: {
        Produce: 3,
        Fetch: 4,
        Metadata: 1,
        ListOffsets: 1,
        OffsetCommit: 2,
        OffsetFetch: 1,
        FindCoordinator: 0,
        JoinGroup: 1,
        SyncGroup: 0,
        Heartbeat: 0,
        LeaveGroup: 0,
        CreateTopics: 0,
        ApiVersions: 0,
      },
    };
    await withBroker(async (broker) => {
      const kafka = client(broker);
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: "old", numPartitions: 2 }] });
      await admin.disconnect();
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic: "old",
        messages: Array.from({ length: 30 }, (_, i) => ({ value: `o${i}` })),
      });
      await producer.disconnect();
      const seen = new Map<string, string>();
      const consumer = await startConsumer(kafka, "old-group", "old", seen, "x");
      try {
        await waitFor("30 records", () => seen.size === 30, 30_000);
      } finally {
        await consumer.disconnect();
      }
    }, old);
  },
});

/**
 * The consumer group protocol where Kafka 3.9 has no answer, against Apache Kafka 4.x (the
 * engine cache's KAFKA4_VERSION, where KIP-848 is GA) and the embedded broker, the same
 * steps on both (Java 4.x consumers, tests/clients/java/Kip848.java, and the raw wire):
 * - regex subscriptions (`subscribe(SubscriptionPattern)`, ConsumerGroupHeartbeat v1's
 *   SubscribedTopicRegex, resolved by the broker): two members split the partitions of the
 *   topics whose whole name matches, never those of a topic that only contains a match; a
 *   matching topic created while they run joins the group's assignment and its records are
 *   read; each record read once;
 * - a regex neither broker can compile gets INVALID_REGULAR_EXPRESSION; a first heartbeat
 *   with neither topic names nor a regex gets INVALID_REQUEST in Kafka 4's words; one with
 *   an empty list of names joins (Kafka 3.9 refused both with other words).
 * Kafka 4 resolves regexes in the background (at most every few seconds, and when topics
 * change); the embedded broker at each heartbeat: how soon a new topic is picked up differs,
 * not what is assigned.
 * (KIP-848 on Kafka 3.9's preview: broker_consumer_protocol_test.ts.)
 */
import assert from "node:assert/strict";
import { freePort, KAFKA4_VERSION, kafkaPerFile } from "../_engines.ts";
import { envTest, waitFor } from "../_fixtures.ts";
import { withWire } from "../_kafka_wire.ts";
import { Member, step } from "../_kip848.ts";
import { spawnTask } from "../../bench/_process.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const KAFKA4 = `Apache Kafka ${KAFKA4_VERSION}`;
const EMBEDDED = "the embedded broker";
const BROKERS = [KAFKA4, EMBEDDED] as const;
const SESSION_TIMEOUT_MS = 10_000;

const sharedKafka4 = kafkaPerFile({
  major: 4,
  config: {
    "group.consumer.session.timeout.ms": SESSION_TIMEOUT_MS,
    "group.consumer.min.session.timeout.ms": SESSION_TIMEOUT_MS,
  },
});

/** Runs `fn` on each broker (the embedded one a `deno task broker` of its own). */
async function onBoth<T>(
  fn: (bootstrap: string, tag: string) => Promise<T>,
): Promise<Record<string, T>> {
  const out: Record<string, T> = {};
  for (const name of BROKERS) {
    const tag = crypto.randomUUID().slice(0, 8);
    try {
      if (name === KAFKA4) {
        out[name] = await fn((await sharedKafka4()).bootstrap, tag);
        continue;
      }
      const dataDir = await Deno.makeTempDir({ prefix: "pinpipe-kip848-4-" });
      const broker = await spawnTask("broker.ts", [
        "--port",
        String(freePort()),
        "--data-dir",
        dataDir,
        "--consumer-session-timeout",
        `${SESSION_TIMEOUT_MS}ms`,
        "--json",
      ]);
      try {
        out[name] = await fn(
          (JSON.parse(broker.firstLine) as { bootstrap: string }).bootstrap,
          tag,
        );
      } finally {
        await broker.stop("SIGTERM");
        await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      }
    } catch (err) {
      if (err instanceof Error) err.message = `on ${name}: ${err.message}`;
      throw err;
    }
  }
  return out;
}

const NEEDS = ["kafka-4", "java-clients"] as const;

await envTest(
  `KIP-848 regex subscriptions on ${KAFKA4} and the embedded broker: the matching topics split, a matching topic created later joins, each record read once`,
  [...NEEDS],
  async () => {
    const got = await onBoth(async (bootstrap, tag) => {
      const a = `re-${tag}-a`;
      const b = `re-${tag}-b`;
      const near = `xre-${tag}-a`; // contains a match of the regex, is not one
      for (const [topic, partitions] of [[a, 3], [b, 3], [near, 2]] as const) {
        await step("create", { bootstrap, topic, partitions: String(partitions) });
      }
      await step("produce", { bootstrap, topic: a, from: "0", count: "30" });
      await step("produce", { bootstrap, topic: b, from: "100", count: "30" });
      await step("produce", { bootstrap, topic: near, from: "200", count: "10" });
      const group = `g-${tag}`;
      const args = { bootstrap, group, protocol: "consumer", pattern: `re-${tag}-.*` };
      const members = [
        await Member.start("m1", args),
        await Member.start("m2", args),
      ];
      const tps = () => members.flatMap((m) => m.topicPartitions()).sort();
      const failed = () => members.map((m) => m.failure()).find((f) => f);
      const expected = (topics: [string, number][]) =>
        topics.flatMap(([t, n]) => Array.from({ length: n }, (_, p) => `${t}:${p}`)).sort();
      try {
        const first = expected([[a, 3], [b, 3]]);
        await waitFor(
          "the matching topics' six partitions split between the two",
          () => {
            const f = failed();
            if (f) throw new Error(f);
            const own = members.map((m) => m.topicPartitions().length);
            return JSON.stringify(tps()) === JSON.stringify(first) && own.every((n) => n === 3);
          },
          90_000,
          200,
        );
        const c = `re-${tag}-c`;
        await step("create", { bootstrap, topic: c, partitions: "2" });
        await step("produce", { bootstrap, topic: c, from: "300", count: "10" });
        const all = expected([[a, 3], [b, 3], [c, 2]]);
        await waitFor(
          `${c}, created later, assigned too`,
          () => {
            const f = failed();
            if (f) throw new Error(f);
            return JSON.stringify(tps()) === JSON.stringify(all);
          },
          90_000,
          200,
        );
        const want = [
          ...Array.from({ length: 30 }, (_, i) => `v-${i}`),
          ...Array.from({ length: 30 }, (_, i) => `v-${100 + i}`),
          ...Array.from({ length: 10 }, (_, i) => `v-${300 + i}`),
        ];
        await waitFor(
          "every matching record read",
          () => {
            const seen = new Set(members.flatMap((m) => m.records()));
            return want.every((v) => seen.has(v));
          },
          60_000,
          200,
        );
        const read = members.flatMap((m) => m.records());
        const counts = new Map<string, number>();
        for (const v of read) counts.set(v, (counts.get(v) ?? 0) + 1);
        return {
          assignedAtFirst: first.length,
          assignedAfterC: tps().length,
          readOnce: want.filter((v) => counts.get(v) === 1).length,
          readOfNear: read.filter((v) => /^v-2\d\d$/.test(v)).length,
          readTwice: [...counts].filter(([, n]) => n > 1).map(([v]) => v),
        };
      } catch (err) {
        (err as Error).message += `\n${members.map((m) => m.tail()).join("\n")}`;
        throw err;
      } finally {
        for (const m of members) m.proc.kill("SIGKILL");
        await Promise.all(members.map((m) => m.proc.ended));
      }
    });
    const expected = {
      assignedAtFirst: 6,
      assignedAfterC: 8,
      readOnce: 70,
      readOfNear: 0,
      readTwice: [],
    };
    assert.deepEqual(got[KAFKA4], expected, `${KAFKA4} is not what this test expects`);
    assert.deepEqual(got[EMBEDDED], got[KAFKA4], `${EMBEDDED} (actual) against ${KAFKA4}`);
  },
);

await envTest(
  `KIP-848 heartbeats Kafka 3.9 answered otherwise, on ${KAFKA4} and the embedded broker: a bad regex, a first heartbeat with neither names nor regex, one with an empty list`,
  [...NEEDS],
  async () => {
    const got = await onBoth((bootstrap, tag) =>
      withWire(bootstrap, async (w) => {
        const group = `wg-${tag}`;
        const heartbeat = (over: Record<string, Any>) =>
          w.call("ConsumerGroupHeartbeat", 1, {
            groupId: group,
            memberId: crypto.randomUUID(),
            memberEpoch: 0,
            instanceId: null,
            rackId: null,
            rebalanceTimeoutMs: 30_000,
            subscribedTopicNames: [],
            subscribedTopicRegex: null,
            serverAssignor: null,
            topicPartitions: [],
            ...over,
          });
        // Kafka makes its offsets topic on the first FindCoordinator and then loads the
        // group coordinator: until then a valid heartbeat gets NOT_COORDINATOR (16) or
        // COORDINATOR_LOAD_IN_PROGRESS (14).
        let empty: Any;
        await waitFor(
          "the group coordinator",
          async () => {
            await w.call("FindCoordinator", 4, { keyType: 0, coordinatorKeys: [group] });
            empty = await heartbeat({ subscribedTopicNames: [] });
            return empty.errorCode !== 16 && empty.errorCode !== 14;
          },
          60_000,
          200,
        );
        const badRegex = await heartbeat({ subscribedTopicRegex: "re-[" });
        const nothing = await heartbeat({ subscribedTopicNames: null });
        const good = await heartbeat({ subscribedTopicRegex: `re-${tag}-.*` });
        return {
          badRegex: badRegex.errorCode,
          badRegexNamesIt: String(badRegex.errorMessage).includes("re-["),
          nothing: [nothing.errorCode, nothing.errorMessage],
          empty: empty.errorCode,
          good: good.errorCode,
          goodEpoch: good.memberEpoch > 0,
        };
      })
    );
    assert.deepEqual(got[KAFKA4], {
      badRegex: 128, // INVALID_REGULAR_EXPRESSION
      badRegexNamesIt: true,
      nothing: [
        42, // INVALID_REQUEST
        "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.",
      ],
      empty: 0, // a member subscribed to nothing (Kafka 3.9 refused it)
      good: 0,
      goodEpoch: true,
    }, `${KAFKA4} is not what this test expects`);
    assert.deepEqual(got[EMBEDDED], got[KAFKA4], `${EMBEDDED} (actual) against ${KAFKA4}`);
  },
);

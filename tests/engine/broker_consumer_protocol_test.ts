/**
 * The consumer group protocol (KIP-848, issue 24), side by side: Java consumers from
 * kafka-clients 4.x with group.protocol=consumer (tests/clients/java/Kip848.java) against
 * Apache Kafka 3.9.1 — which serves the protocol as a preview when started with
 * group.coordinator.rebalance.protocols=classic,consumer (no unstable API versions
 * needed) — and against the embedded broker. Each case runs the same steps on both and
 * compares what the clients saw:
 * - three members join and split the partitions; each record is read once; one member is
 *   SIGKILLed and the others take its partitions once its session ends, keeping their own
 *   (incremental: no revocation); a member joining later gets one partition from each;
 * - a classic group and a consumer group side by side: Kafka's Admin
 *   (describeConsumerGroups) and `kafka-consumer-groups --describe` (3.9.1's tool) show both;
 * - on the raw wire (tests/_kafka_wire.ts, v0 of the KIP-848 APIs, which Kafka 3.9 serves):
 *   heartbeats and their errors with Kafka's messages, member epochs in OffsetCommit and
 *   OffsetFetch, revoke-before-assign step by step, ConsumerGroupDescribe, ListGroups v5,
 *   DescribeGroups.
 * - the broker SIGKILLed and restarted under two members: they go on from their committed
 *   offsets, nothing lost; on the embedded broker each record is read once (Kafka 3.9's
 *   preview, reloading its groups, may hand some out again: reported, not compared).
 * The first case also runs on Apache Kafka 4 (KAFKA4_VERSION, the protocol GA; more where 3.9
 * has no answer: broker_kip848_kafka4_test.ts).
 * Both brokers run with a consumer session timeout of 10 s (Kafka's default is 45 s).
 * Assignments are compared by their shape (sizes, disjointness, what each member kept):
 * which member gets which partition is each assignor's choice.
 * Not compared here: a classic member joining a consumer group with members, which both
 * admit into the consumer group (tests/engine/broker_verifiable_test.ts compares it).
 */
import assert from "node:assert/strict";
import { freePort, KAFKA4_VERSION, KAFKA_VERSION, kafkaPerFile, kafkaTool } from "../_engines.ts";
import { envTest, waitFor } from "../_fixtures.ts";
import { withWire } from "../_kafka_wire.ts";
import { Member, step } from "../_kip848.ts";
import { spawnTask } from "../../bench/_process.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const KAFKA = `Apache Kafka ${KAFKA_VERSION}`;
/** Kafka 4, where the protocol is GA: the first case runs on it too. */
const KAFKA4 = `Apache Kafka ${KAFKA4_VERSION}`;
const EMBEDDED = "the embedded broker";
const BROKERS = [KAFKA, EMBEDDED] as const;
type BrokerName = typeof BROKERS[number] | typeof KAFKA4;
const SESSION_TIMEOUT_MS = 10_000;
const PARTITIONS = 6;

/** A broker a case runs on. */
interface Target {
  bootstrap: string;
  /** SIGKILLs the broker and starts it again on the same address and data. */
  killAndRestart(): Promise<void>;
  close(): Promise<void>;
}

/** One Apache Kafka for the file, with the consumer protocol enabled (a 3.9 preview). */
const sharedKafka = kafkaPerFile({
  config: {
    "group.coordinator.rebalance.protocols": "classic,consumer",
    "group.consumer.session.timeout.ms": SESSION_TIMEOUT_MS,
    "group.consumer.min.session.timeout.ms": SESSION_TIMEOUT_MS,
  },
});

/** Apache Kafka 4 for the file, started only if a case asks for it. */
const sharedKafka4 = kafkaPerFile({
  major: 4,
  config: {
    "group.consumer.session.timeout.ms": SESSION_TIMEOUT_MS,
    "group.consumer.min.session.timeout.ms": SESSION_TIMEOUT_MS,
  },
});

async function target(name: BrokerName): Promise<Target> {
  if (name === KAFKA || name === KAFKA4) {
    const k = await (name === KAFKA ? sharedKafka() : sharedKafka4());
    return {
      bootstrap: k.bootstrap,
      killAndRestart: () => k.restart({ kill: true }),
      close: () => Promise.resolve(),
    };
  }
  // A fixed port, so members running across a restart find it again.
  const port = freePort();
  const dataDir = await Deno.makeTempDir({ prefix: "pinpipe-kip848-broker-" });
  const spawn = () =>
    spawnTask("broker.ts", [
      "--port",
      String(port),
      "--data-dir",
      dataDir,
      "--partitions",
      "1",
      "--consumer-session-timeout",
      `${SESSION_TIMEOUT_MS}ms`,
      "--json",
    ]);
  let child = await spawn();
  return {
    bootstrap: (JSON.parse(child.firstLine) as { bootstrap: string }).bootstrap,
    async killAndRestart() {
      await child.stop("SIGKILL");
      child = await spawn();
    },
    async close() {
      await child.stop("SIGTERM");
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** Runs `fn` on each broker; answers what each gave, by broker. */
async function onBoth<T>(
  fn: (t: Target, tag: string) => Promise<T>,
  brokers: readonly BrokerName[] = BROKERS,
): Promise<Record<string, T>> {
  const out: Record<string, T> = {};
  for (const name of brokers) {
    const t = await target(name);
    try {
      out[name] = await fn(t, crypto.randomUUID().slice(0, 8));
    } catch (err) {
      if (err instanceof Error) err.message = `on ${name}: ${err.message}`;
      throw err;
    } finally {
      await t.close();
    }
  }
  return out;
}

function same<T>(got: Record<string, T>, what: string): T {
  assert.deepEqual(got[EMBEDDED], got[KAFKA], `${what}: ${EMBEDDED} (actual) against ${KAFKA}`);
  return got[KAFKA];
}

/** Waits until the members' assignments are disjoint, cover every partition, with these sizes. */
async function settled(members: Member[], sizes: number[], what: string): Promise<void> {
  await waitFor(
    what,
    () => {
      const failed = members.map((m) => m.failure()).find((f) => f);
      if (failed) throw new Error(failed);
      const as = members.map((m) => m.assignment());
      const all = as.flat().sort((a, b) => a - b);
      return all.length === PARTITIONS && all.every((p, i) => p === i) &&
        as.map((a) => a.length).sort().join() === [...sizes].sort().join();
    },
    90_000,
    200,
  );
}

/** Waits until the members together have read `values` and committed all they read. */
async function readAll(members: Member[], everyone: Member[], values: string[]): Promise<void> {
  try {
    await waitFor(
      `${values.length} records read and committed`,
      () => {
        const seen = new Set(everyone.flatMap((m) => m.records()));
        return values.every((v) => seen.has(v)) && members.every((m) => m.allCommitted());
      },
      90_000,
      200,
    );
  } catch (err) {
    (err as Error).message += `\n${members.map((m) => m.tail()).join("\n")}`;
    throw err;
  }
}

const values = (from: number, n: number) => Array.from({ length: n }, (_, i) => `v-${from + i}`);

/** How many times each value was read, over all members: answers the values not read once. */
function notOnce(everyone: Member[], expected: string[]): string[] {
  const count = new Map<string, number>();
  for (const v of everyone.flatMap((m) => m.records())) count.set(v, (count.get(v) ?? 0) + 1);
  return expected.filter((v) => count.get(v) !== 1).map((v) => `${v}×${count.get(v) ?? 0}`);
}

const NEEDS = ["kafka", "java-clients"] as const;

await envTest(
  "KIP-848: three Java 4.x consumers split a topic, each record read once; a SIGKILLed member's partitions go to the others incrementally; a late member gets its share (also on Kafka 4, GA)",
  [...NEEDS, "kafka-4"],
  async () => {
    const got = await onBoth(async (t, tag) => {
      const topic = `kip848-${tag}`;
      const group = `g-${tag}`;
      await step("create", { bootstrap: t.bootstrap, topic, partitions: String(PARTITIONS) });
      const member = (n: number) =>
        Member.start(`member ${n}`, { bootstrap: t.bootstrap, topic, group, protocol: "consumer" });
      const ms = [await member(1), await member(2), await member(3)];
      try {
        await settled(ms, [2, 2, 2], "three members with two partitions each");
        await step("produce", { bootstrap: t.bootstrap, topic, from: "0", count: "300" });
        await readAll(ms, ms, values(0, 300));
        const phase1 = notOnce(ms, values(0, 300));

        // SIGKILL member 2: the others take its partitions when its session ends.
        const [a, killed, c] = ms;
        const before = [a.assignment(), c.assignment()];
        const marks = [a.lines().length, c.lines().length];
        killed.proc.kill("SIGKILL");
        await killed.proc.ended;
        await settled([a, c], [3, 3], "the two survivors with three partitions each");
        const kept = [a, c].map((m, i) => before[i].every((p) => m.assignment().includes(p)));
        const revokedOnKill = [a.revokedSince(marks[0]), c.revokedSince(marks[1])];
        await step("produce", { bootstrap: t.bootstrap, topic, from: "300", count: "300" });
        await readAll([a, c], ms, values(300, 300));
        const phase2 = notOnce(ms, values(0, 600));

        // A member joins later: one partition from each survivor.
        const marks2 = [a.lines().length, c.lines().length];
        const late = await member(4);
        ms.push(late);
        await settled([a, c, late], [2, 2, 2], "three members again, two partitions each");
        const revokedOnJoin = [a.revokedSince(marks2[0]), c.revokedSince(marks2[1])].map((r) =>
          r.length
        );
        await step("produce", { bootstrap: t.bootstrap, topic, from: "600", count: "300" });
        await readAll([a, c, late], ms, values(600, 300));
        const phase3 = notOnce(ms, values(0, 900));
        return {
          phase1,
          survivorsKeptTheirs: kept,
          revokedOnKill,
          phase2,
          revokedOnJoin,
          lateGot: late.assignment().length,
          phase3,
        };
      } finally {
        for (const m of ms) m.proc.kill("SIGKILL");
        await Promise.all(ms.map((m) => m.proc.ended));
      }
    }, [KAFKA, KAFKA4, EMBEDDED]);
    assert.deepEqual(got[EMBEDDED], got[KAFKA4], `${EMBEDDED} (actual) against ${KAFKA4}`);
    const r = same(got, "what the members saw");
    assert.deepEqual(r, {
      phase1: [],
      survivorsKeptTheirs: [true, true],
      revokedOnKill: [[], []],
      phase2: [],
      revokedOnJoin: [1, 1],
      lateGot: 2,
      phase3: [],
    });
  },
);

/** The rows of a kafka-consumer-groups table (columns split on runs of spaces). */
function table(text: string): Record<string, string>[] {
  const lines = text.trim().split("\n").filter((l) => l.trim());
  const cols = lines[0].trim().split(/\s+/);
  return lines.slice(1).map((l) => {
    const cells = l.trim().split(/\s+/);
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? ""]));
  });
}

await envTest(
  "KIP-848: a classic and a consumer group side by side — Kafka's Admin and kafka-consumer-groups --describe show both",
  [...NEEDS],
  async () => {
    const got = await onBoth(async (t, tag) => {
      const topic = `both-${tag}`;
      await step("create", { bootstrap: t.bootstrap, topic, partitions: String(PARTITIONS) });
      await step("produce", { bootstrap: t.bootstrap, topic, from: "0", count: "60" });
      const groups = { classic: `classic-${tag}`, consumer: `consumer-${tag}` };
      const ms = [
        await Member.start("classic member", {
          bootstrap: t.bootstrap,
          topic,
          group: groups.classic,
          protocol: "classic",
        }),
        await Member.start("consumer member", {
          bootstrap: t.bootstrap,
          topic,
          group: groups.consumer,
          protocol: "consumer",
          assignor: "range",
        }),
      ];
      try {
        for (const m of ms) {
          await settled([m], [PARTITIONS], `${m.name} with every partition`);
          await readAll([m], [m], values(0, 60));
        }
        const admin = await step("describe", {
          bootstrap: t.bootstrap,
          groups: `${groups.classic},${groups.consumer}`,
        });
        const tool = async (group: string, extra: string[]) => {
          const r = await kafkaTool("kafka-consumer-groups", [
            "--bootstrap-server",
            t.bootstrap,
            "--describe",
            "--group",
            group,
            ...extra,
          ]);
          assert.equal(r.code, 0, r.stderr);
          return table(r.stdout);
        };
        const shown: Record<string, Any> = {};
        for (const [kind, group] of Object.entries(groups)) {
          const offsets = await tool(group, []);
          const state = await tool(group, ["--state"]);
          const members = await tool(group, ["--members"]);
          shown[kind] = {
            offsets: offsets.map((r) => ({
              partition: r.PARTITION,
              current: r["CURRENT-OFFSET"],
              end: r["LOG-END-OFFSET"],
              lag: r.LAG,
              hasConsumer: r["CONSUMER-ID"] !== "-",
              client: r["CLIENT-ID"].replace(tag, "*"),
            })).sort((a, b) => Number(a.partition) - Number(b.partition)),
            state: state.map((r) => ({
              strategy: r["ASSIGNMENT-STRATEGY"],
              state: r.STATE,
              members: r["#MEMBERS"],
            })),
            members: members.map((r) => ({
              client: r["CLIENT-ID"].replace(tag, "*"),
              partitions: r["#PARTITIONS"],
            })),
          };
        }
        const listed = await kafkaTool("kafka-consumer-groups", [
          "--bootstrap-server",
          t.bootstrap,
          "--list",
        ]);
        assert.equal(listed.code, 0, listed.stderr);
        return {
          admin: admin.map((a) => ({ ...a, group: a.group.replace(tag, "*") })),
          shown,
          // This case's groups (Apache Kafka is shared by the file's cases).
          listed: listed.stdout.trim().split("\n").filter((g) => g.includes(tag))
            .map((g) => g.replace(tag, "*")).sort(),
        };
      } finally {
        for (const m of ms) m.proc.kill("SIGKILL");
        await Promise.all(ms.map((m) => m.proc.ended));
      }
    });
    const r = same(got, "what Admin and kafka-consumer-groups show");
    assert.deepEqual(r.admin.map((a: Any) => [a.group, a.type, a.state]), [
      ["classic-*", "Classic", "Stable"],
      ["consumer-*", "Consumer", "Stable"],
    ]);
    assert.equal(r.admin[1].assignor, "range");
    assert.deepEqual(r.listed, ["classic-*", "consumer-*"]);
    for (const kind of ["classic", "consumer"]) {
      assert.equal(r.shown[kind].offsets.length, PARTITIONS);
      assert.ok(r.shown[kind].offsets.every((o: Any) => o.lag === "0" && o.hasConsumer));
    }
  },
);

/** A heartbeat answer with what legitimately differs left out: ids, and which partitions. */
function heartbeatGist(r: Any, tag: string) {
  return {
    errorCode: r.errorCode,
    errorMessage: r.errorMessage?.replaceAll(tag, "*") ?? null,
    memberEpoch: r.memberEpoch,
    heartbeatIntervalMs: r.heartbeatIntervalMs,
    partitions: r.assignment
      ? r.assignment.topicPartitions.reduce((n: number, t: Any) => n + t.partitions.length, 0)
      : null,
  };
}

await envTest(
  "KIP-848 on the wire: heartbeats, errors and their messages, member epochs in OffsetCommit/OffsetFetch, ConsumerGroupDescribe, ListGroups v5 — as Apache Kafka answers",
  ["kafka"],
  async () => {
    const got = await onBoth((t, tag) =>
      withWire(t.bootstrap, async (w) => {
        const topic = `wire-${tag}`;
        const group = `wg-${tag}`;
        const out: Record<string, Any> = {};
        const steps: Record<string, Any> = {};
        out.steps = steps;
        const created = await w.call("CreateTopics", 7, {
          topics: [{
            name: topic,
            numPartitions: 2,
            replicationFactor: 1,
            assignments: [],
            configs: [],
          }],
          timeoutMs: 10_000,
        });
        assert.equal(created.topics[0].errorCode, 0);
        // Kafka creates and loads its group coordinator's partitions on the first
        // FindCoordinator: wait until it answers for the group.
        await waitFor(
          "the group coordinator",
          async () => {
            const fc = await w.call("FindCoordinator", 4, { keyType: 0, coordinatorKeys: [group] });
            if (fc.coordinators[0].errorCode !== 0) return false;
            const d = await w.call("ConsumerGroupDescribe", 0, {
              groupIds: [group],
              includeAuthorizedOperations: false,
            });
            return d.groups[0].errorCode === 69; // GROUP_ID_NOT_FOUND: it serves, knows none
          },
          60_000,
          200,
        );
        // Member ids as the broker answered them (Kafka 3.9 names its members itself).
        const ids: Record<string, string> = {};
        const hb = async (body: Any) => {
          const memberId = ids[body.memberId] ?? body.memberId;
          // What a heartbeat leaves out is null ("unchanged"), as Kafka's spec defaults it.
          const r = await w.call("ConsumerGroupHeartbeat", 0, {
            groupId: group,
            instanceId: null,
            rackId: null,
            subscribedTopicNames: null,
            serverAssignor: null,
            topicPartitions: null,
            ...body,
            memberId,
          });
          if (r.errorCode === 0 && body.memberEpoch === 0) ids[body.memberId] = r.memberId;
          return heartbeatGist(r, tag);
        };
        const join = (memberId: string, extra: Any = {}) =>
          hb({
            memberId,
            memberEpoch: 0,
            rebalanceTimeoutMs: 30_000,
            subscribedTopicNames: [topic],
            topicPartitions: [],
            ...extra,
          });
        const owned = (ps: number[]) => [{ topicId: created.topics[0].topicId, partitions: ps }];

        out.invalid = [
          // Kafka 3.9 and 4 word this one differently; the embedded broker as 4 does, which
          // broker_kip848_kafka4_test.ts compares: here only the code.
          { ...await join("m-1", { subscribedTopicNames: null }), errorMessage: "(either)" },
          await join("m-1", { topicPartitions: null }),
          await join("m-1", { rebalanceTimeoutMs: -1 }),
          await hb({ memberId: "", memberEpoch: 3 }),
          await hb({ memberId: "m-1", memberEpoch: -3 }),
          await join("m-1", { serverAssignor: "sticky" }),
        ];
        // Kafka's group coordinator learns of a new topic from its metadata log a moment
        // after CreateTopics answers (a member joining before is given nothing): a probe
        // member of a group of its own joins until it is given both partitions, and leaves.
        await waitFor(
          "the group coordinator to know the topic",
          async () => {
            const probe = await w.call("ConsumerGroupHeartbeat", 0, {
              groupId: `probe-${tag}`,
              memberId: "probe",
              memberEpoch: 0,
              instanceId: null,
              rackId: null,
              rebalanceTimeoutMs: 30_000,
              subscribedTopicNames: [topic],
              serverAssignor: null,
              topicPartitions: [],
            });
            await w.call("ConsumerGroupHeartbeat", 0, {
              groupId: `probe-${tag}`,
              memberId: probe.memberId,
              memberEpoch: -1,
            });
            return probe.assignment?.topicPartitions[0]?.partitions.length === 2;
          },
          30_000,
          200,
        );
        out.join = await join("m-1");
        out.unknown = await hb({ memberId: "ghost", memberEpoch: 1 });
        out.fenced = await hb({ memberId: "m-1", memberEpoch: 5 });
        await w.call("ConsumerGroupHeartbeat", 0, {
          groupId: `other-${tag}`,
          memberId: "x",
          memberEpoch: 1,
        })
          .then((r: Any) => out.noGroup = heartbeatGist(r, tag));

        const commit = (v: number, memberId: string, epoch: number) =>
          w.call("OffsetCommit", v, {
            groupId: group,
            generationIdOrMemberEpoch: epoch,
            memberId: ids[memberId] ?? memberId,
            topics: [{
              name: topic,
              partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: "" }],
            }],
          }).then((r: Any) => r.topics[0].partitions[0].errorCode);
        out.commits = [
          await commit(9, "m-1", 1),
          await commit(9, "m-1", 0),
          await commit(9, "ghost", 1),
          await commit(8, "m-1", 1),
          await commit(9, "", -1),
        ];
        const fetch = (memberId: string | null, memberEpoch: number) =>
          w.call("OffsetFetch", 9, {
            groups: [{
              groupId: group,
              memberId: memberId === null ? null : ids[memberId] ?? memberId,
              memberEpoch,
              topics: [{ name: topic, partitionIndexes: [0] }],
            }],
            requireStable: true,
          }).then((
            r: Any,
          ) => [
            r.groups[0].errorCode,
            r.groups[0].topics[0]?.partitions[0]?.committedOffset ?? null,
          ]);
        out.fetches = [
          await fetch("m-1", 1),
          await fetch("m-1", 7),
          await fetch("ghost", 1),
          await fetch(null, -1),
        ];

        // A second member: nothing until the first has given a partition up.
        steps.second = await join("m-2");
        steps.firstAsked = await hb({
          memberId: "m-1",
          memberEpoch: 1,
          topicPartitions: owned([0, 1]),
        });
        steps.secondWaits = await hb({ memberId: "m-2", memberEpoch: 2 });
        const d1 = await w.call("ConsumerGroupDescribe", 0, {
          groupIds: [group],
          includeAuthorizedOperations: false,
        });
        const kept = d1.groups[0].members.find((m: Any) => m.memberId === ids["m-1"])?.assignment
          .topicPartitions[0]?.partitions ?? [];
        steps.reconciling = d1.groups[0].groupState;
        steps.firstDone = await hb({
          memberId: "m-1",
          memberEpoch: 1,
          topicPartitions: owned(kept),
        });
        steps.secondGets = await hb({
          memberId: "m-2",
          memberEpoch: 2,
          topicPartitions: owned([]),
        });

        const desc = await w.call("ConsumerGroupDescribe", 0, {
          groupIds: [group, `nope-${tag}`],
          includeAuthorizedOperations: false,
        });
        // Apache Kafka 3.9 answers each group once per coordinator shard it asked, it seems:
        // GROUP_ID_NOT_FOUND from those that do not hold it. Each group id is compared once,
        // by its answer from the shard that holds it, if one does.
        const byId = new Map<string, Any>();
        for (const g of desc.groups) {
          const had = byId.get(g.groupId);
          if (!had || (had.errorCode !== 0 && g.errorCode === 0)) byId.set(g.groupId, g);
        }
        const described = [group, `nope-${tag}`].map((id) => byId.get(id));
        out.describe = described.map((g: Any) => ({
          errorCode: g.errorCode,
          errorMessage: g.errorMessage?.replace(tag, "*") ?? null,
          groupState: g.groupState,
          groupEpoch: g.groupEpoch,
          assignmentEpoch: g.assignmentEpoch,
          assignorName: g.assignorName,
          members: g.members.map((m: Any) => ({
            member: Object.keys(ids).find((k) => ids[k] === m.memberId),
            memberEpoch: m.memberEpoch,
            subscribed: m.subscribedTopicNames.map((n: string) => n.replace(tag, "*")),
            regex: m.subscribedTopicRegex,
            assigned: m.assignment.topicPartitions.map((
              t: Any,
            ) => [t.topicName.replace(tag, "*"), t.partitions.length]),
            target: m.targetAssignment.topicPartitions.map((
              t: Any,
            ) => [t.topicName.replace(tag, "*"), t.partitions.length]),
          })).sort((a: Any, b: Any) => a.member < b.member ? -1 : 1),
          authorizedOperations: g.authorizedOperations,
        }));
        // A classic group with a member beside it: not a consumer group.
        const classic = `classic-${tag}`;
        const joinClassic = (memberId: string) =>
          w.call("JoinGroup", 9, {
            groupId: classic,
            sessionTimeoutMs: 30_000,
            rebalanceTimeoutMs: 30_000,
            memberId,
            groupInstanceId: null,
            protocolType: "consumer",
            protocols: [{ name: "range", metadata: new Uint8Array(0) }],
            reason: null,
          });
        const first = await joinClassic("");
        const joined = await joinClassic(first.memberId);
        out.classicJoin = [first.errorCode, joined.errorCode];
        out.heartbeatOnClassic = heartbeatGist(
          await w.call("ConsumerGroupHeartbeat", 0, {
            groupId: classic,
            memberId: "",
            memberEpoch: 0,
            instanceId: null,
            rackId: null,
            rebalanceTimeoutMs: 30_000,
            subscribedTopicNames: [topic],
            serverAssignor: null,
            topicPartitions: [],
          }),
          tag,
        );
        const cd = await w.call("ConsumerGroupDescribe", 0, {
          groupIds: [classic],
          includeAuthorizedOperations: false,
        });
        out.describeClassic = [
          ...new Set(cd.groups.map((g: Any) => `${g.errorCode} ${g.errorMessage}`)),
        ];
        // Kafka lists a group once its records are committed to its log: wait for both.
        let lg: Any;
        await waitFor(
          "ListGroups to list both groups",
          async () => {
            lg = await w.call("ListGroups", 5, { statesFilter: [], typesFilter: [] });
            return lg.groups.filter((g: Any) => [group, classic].includes(g.groupId)).length === 2;
          },
          30_000,
          100,
        );
        out.listed = lg.groups.filter((g: Any) => [group, classic].includes(g.groupId))
          .map((g: Any) => ({ ...g, groupId: g.groupId.replace(tag, "*") }))
          // Kafka lists in no fixed order.
          .sort((a: Any, b: Any) => a.groupId < b.groupId ? -1 : 1);
        const dg = await w.call("DescribeGroups", 5, {
          groups: [group],
          includeAuthorizedOperations: false,
        });
        out.describeGroups = dg.groups.map((
          g: Any,
        ) => [g.errorCode, g.groupState, g.protocolType, g.members.length]);
        out.deleteNonEmpty =
          (await w.call("DeleteGroups", 2, { groupsNames: [group] })).results[0].errorCode;
        out.leave = await hb({ memberId: "m-1", memberEpoch: -1 });
        out.leaveAgain = await hb({ memberId: "m-1", memberEpoch: -1 });
        return out;
      })
    );
    const r = same(got, "the answers");
    // Revoke before assign, step by step: the second member gets its partition only after the
    // first's heartbeat no longer lists it.
    const gist = (memberEpoch: number, partitions: number | null) => ({
      errorCode: 0,
      errorMessage: null,
      memberEpoch,
      heartbeatIntervalMs: 5000,
      partitions,
    });
    assert.deepEqual(r.steps, {
      second: gist(2, 0),
      firstAsked: gist(1, 1),
      secondWaits: gist(2, null),
      reconciling: "Reconciling",
      firstDone: gist(2, null),
      secondGets: gist(2, 1),
    });
    // And what both answered is what Kafka's protocol says.
    assert.deepEqual(r.invalid.map((x: Any) => x.errorCode), [42, 42, 42, 42, 42, 112]);
    assert.deepEqual([r.join.memberEpoch, r.join.partitions], [1, 2]);
    assert.deepEqual([r.unknown.errorCode, r.fenced.errorCode, r.noGroup.errorCode], [25, 110, 69]);
    assert.deepEqual(r.commits, [0, 113, 25, 35, 25]);
    assert.deepEqual(r.fetches, [[0, 1], [113, null], [25, null], [0, 1]]);
    assert.equal(r.deleteNonEmpty, 68);
    assert.deepEqual(r.classicJoin, [79, 0]); // MEMBER_ID_REQUIRED, then joined
    assert.deepEqual(
      [r.heartbeatOnClassic.errorCode, r.heartbeatOnClassic.errorMessage],
      [69, "Group classic-* is not a consumer group."],
    );
    assert.deepEqual(r.describeClassic, ["69 null"]);
    assert.deepEqual(
      r.listed.map((g: Any) => [g.groupId, g.groupType]).sort(),
      [["classic-*", "classic"], ["wg-*", "consumer"]],
    );
    assert.deepEqual([r.leave.errorCode, r.leave.memberEpoch, r.leaveAgain.errorCode], [0, -1, 25]);
  },
);

// Last: it restarts the shared Apache Kafka.
await envTest(
  "KIP-848: the broker SIGKILLed under two Java 4.x consumers — they go on from their committed offsets, nothing lost (and on the embedded broker each record read once)",
  [...NEEDS],
  async () => {
    const got = await onBoth(async (t, tag) => {
      const topic = `restart-${tag}`;
      const group = `rg-${tag}`;
      await step("create", { bootstrap: t.bootstrap, topic, partitions: String(PARTITIONS) });
      const ms = [
        await Member.start("member 1", {
          bootstrap: t.bootstrap,
          topic,
          group,
          protocol: "consumer",
        }),
        await Member.start("member 2", {
          bootstrap: t.bootstrap,
          topic,
          group,
          protocol: "consumer",
        }),
      ];
      try {
        await settled(ms, [3, 3], "two members with three partitions each");
        await step("produce", { bootstrap: t.bootstrap, topic, from: "0", count: "200" });
        await readAll(ms, ms, values(0, 200));
        await t.killAndRestart();
        await step("produce", { bootstrap: t.bootstrap, topic, from: "200", count: "200" });
        await readAll(ms, ms, values(200, 200));
        await settled(ms, [3, 3], "the two members with three partitions each again");
        const off = notOnce(ms, values(0, 400));
        return {
          lost: off.filter((v) => v.endsWith("×0")),
          readTwice: off.filter((v) => !v.endsWith("×0")).length,
        };
      } finally {
        for (const m of ms) m.proc.kill("SIGKILL");
        await Promise.all(ms.map((m) => m.proc.ended));
      }
    });
    // Nothing is lost on either broker. The embedded broker keeps its groups whole across the
    // restart, so each record is read once; Apache Kafka 3.9's preview coordinator, reloading,
    // has been seen to fail the members' commits and hand records out again (at-least-once),
    // so its repeats are reported, not compared.
    for (const b of BROKERS) assert.deepEqual(got[b].lost, [], `${b}: records never read`);
    assert.equal(got[EMBEDDED].readTwice, 0, `${EMBEDDED}: records read twice`);
    if (got[KAFKA].readTwice) {
      console.warn(
        `${KAFKA}: ${got[KAFKA].readTwice} of 400 records read twice across its restart`,
      );
    }
  },
);

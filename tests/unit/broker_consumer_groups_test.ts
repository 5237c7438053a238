/**
 * The consumer group protocol (KIP-848, issue 24): the server-side assignors
 * (lib/broker/assignors.ts), the coordinator's reconciliation state machine
 * (lib/broker/consumer_groups.ts) and ConsumerGroupHeartbeat / ConsumerGroupDescribe with
 * OffsetCommit, OffsetFetch, JoinGroup, ListGroups and DescribeGroups through an
 * in-process broker on the raw wire. Java 4.x consumers with group.protocol=consumer,
 * side by side with Apache Kafka: tests/engine/broker_consumer_protocol_test.ts.
 */
import assert from "node:assert/strict";
import { join as joinPath } from "node:path";
import {
  type Assignment,
  countPartitions,
  rangeAssignor,
  uniformAssignor,
} from "../../lib/broker/assignors.ts";
import {
  ConsumerGroupCoordinator,
  type HeartbeatRequest,
  type HeartbeatResult,
  type TopicPartitions,
} from "../../lib/broker/consumer_groups.ts";
import { ErrorCode } from "../../lib/broker/error_codes.ts";
import { startTestBroker, waitFor, withBroker, withTempDir } from "../_fixtures.ts";
import { type WireClient, withWire } from "../_kafka_wire.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const T1 = "00000000-0000-0000-0000-000000000001";
const T2 = "00000000-0000-0000-0000-000000000002";

/** Every partition of an assignment as "topic:p", sorted. */
function flat(a: Assignment | undefined): string[] {
  return [...(a ?? new Map())].flatMap(([t, s]) => [...s].map((p) => `${t}:${p}`)).sort();
}

/** Asserts each of `total` partitions is in exactly one member's assignment. */
function assertEachOnce(out: Map<string, Assignment>, expected: string[]): void {
  const all = [...out.values()].flatMap(flat).sort();
  assert.deepEqual(all, [...expected].sort(), "each partition exactly once");
}

const parts = (id: string, n: number) => Array.from({ length: n }, (_, p) => `${id}:${p}`);

Deno.test("uniform: one subscription for all spreads partitions within one of each other, every partition once", () => {
  for (const [members, partitions] of [[3, 8], [4, 4], [5, 3], [1, 7]]) {
    const out = uniformAssignor({
      members: new Map(Array.from({ length: members }, (_, i) => [`m${i}`, ["a"]])),
      topics: new Map([["a", { id: T1, partitions }]]),
      previous: new Map(),
    });
    assertEachOnce(out, parts(T1, partitions));
    const counts = [...out.values()].map(countPartitions);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `balanced: ${counts}`);
  }
});

Deno.test("uniform: sticky — a member joining takes partitions from the others, who keep the rest", () => {
  const topics = new Map([["a", { id: T1, partitions: 6 }]]);
  const before = uniformAssignor({
    members: new Map([["m0", ["a"]], ["m1", ["a"]]]),
    topics,
    previous: new Map(),
  });
  const after = uniformAssignor({
    members: new Map([["m0", ["a"]], ["m1", ["a"]], ["m2", ["a"]]]),
    topics,
    previous: before,
  });
  assertEachOnce(after, parts(T1, 6));
  for (const m of ["m0", "m1"]) {
    const kept = flat(after.get(m)).filter((p) => flat(before.get(m)).includes(p));
    assert.equal(kept.length, 2, `${m} keeps 2 of its 3 partitions`);
  }
  assert.equal(countPartitions(after.get("m2")), 2);
});

Deno.test("uniform: different subscriptions — a partition goes only to a member subscribed to its topic, balanced where they can be", () => {
  const out = uniformAssignor({
    members: new Map([["m0", ["a"]], ["m1", ["a", "b"]], ["m2", ["b"]]]),
    topics: new Map([["a", { id: T1, partitions: 4 }], ["b", { id: T2, partitions: 2 }]]),
    previous: new Map(),
  });
  assertEachOnce(out, [...parts(T1, 4), ...parts(T2, 2)]);
  assert.ok(flat(out.get("m0")).every((p) => p.startsWith(T1)));
  assert.ok(flat(out.get("m2")).every((p) => p.startsWith(T2)));
  assert.deepEqual([...out.values()].map(countPartitions), [2, 2, 2]);
});

Deno.test("range: contiguous ranges per topic in member id order, the first members one more", () => {
  const out = rangeAssignor({
    members: new Map([["b", ["a", "x"]], ["a", ["a", "x"]], ["c", ["a", "x"]]]),
    topics: new Map([["a", { id: T1, partitions: 7 }], ["x", { id: T2, partitions: 3 }]]),
    previous: new Map(),
  });
  assert.deepEqual(flat(out.get("a")), [`${T1}:0`, `${T1}:1`, `${T1}:2`, `${T2}:0`]);
  assert.deepEqual(flat(out.get("b")), [`${T1}:3`, `${T1}:4`, `${T2}:1`]);
  assert.deepEqual(flat(out.get("c")), [`${T1}:5`, `${T1}:6`, `${T2}:2`]);
});

// ---------------------------------------------------------------------------------------
// The coordinator on its own

/**
 * A coordinator over one topic "a" (T1) of `n` partitions; more go in `topics` (name to id
 * and partitions).
 */
function coordinator(
  n: number,
  opts: { sessionTimeoutMs?: number } = {},
  topics = new Map([["a", { id: T1, partitions: n }]]),
) {
  return new ConsumerGroupCoordinator({
    topic: (name) => topics.get(name),
    topicName: (id) => [...topics].find(([, t]) => t.id === id)?.[0],
    topicNames: () => topics.keys(),
    classicMembers: () => 0,
    dropClassic: () => {},
    ...opts,
  });
}

function hb(over: Partial<HeartbeatRequest>): HeartbeatRequest {
  return {
    groupId: "g",
    memberId: "",
    memberEpoch: 0,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: -1,
    subscribedTopicNames: null,
    subscribedTopicRegex: null,
    serverAssignor: null,
    topicPartitions: null,
    clientId: "test",
    clientHost: "/127.0.0.1",
    ...over,
  };
}

const join = (memberId: string, extra: Partial<HeartbeatRequest> = {}) =>
  hb({
    memberId,
    memberEpoch: 0,
    rebalanceTimeoutMs: 30_000,
    subscribedTopicNames: ["a"],
    topicPartitions: [],
    ...extra,
  });

const owned = (ps: number[]): TopicPartitions[] =>
  ps.length ? [{ topicId: T1, partitions: ps }] : [];
const got = (r: HeartbeatResult) => r.assignment?.topicPartitions[0]?.partitions ?? [];

/** No partition is owned (assigned or being revoked) by two members. */
function assertNoDoubleOwner(c: ConsumerGroupCoordinator): void {
  const seen = new Map<string, string>();
  for (const m of c.groups.get("g")!.members.values()) {
    for (const p of [...flat(m.assigned), ...flat(m.revoking)]) {
      assert.ok(!seen.has(p), `${p} owned by ${seen.get(p)} and ${m.id}`);
      seen.set(p, m.id);
    }
  }
}

Deno.test("reconciliation: a second member gets partitions only after the first has revoked them", () => {
  const c = coordinator(4);
  try {
    const a1 = c.heartbeat(join("A"));
    assert.equal(a1.errorCode, 0);
    assert.equal(a1.memberId, "A");
    assert.equal(a1.memberEpoch, 1);
    assert.deepEqual(got(a1), [0, 1, 2, 3]);
    assert.equal(a1.heartbeatIntervalMs, 5000);
    assert.equal(c.describe("g")!.groupState, "Stable");

    // B joins at epoch 2: its target is two of A's partitions, still A's: none yet.
    const b1 = c.heartbeat(join("B"));
    assert.equal(b1.memberEpoch, 2);
    assert.deepEqual(got(b1), []);
    assert.equal(c.describe("g")!.groupState, "Reconciling");
    assertNoDoubleOwner(c);

    // A is told to keep two: it stays at epoch 1 until it no longer owns the others.
    const a2 = c.heartbeat(
      hb({ memberId: "A", memberEpoch: 1, topicPartitions: owned([0, 1, 2, 3]) }),
    );
    assert.equal(a2.memberEpoch, 1);
    const keep = got(a2);
    assert.equal(keep.length, 2);
    assertNoDoubleOwner(c);
    // B asks again: still nothing, A has not let go.
    assert.equal(c.heartbeat(hb({ memberId: "B", memberEpoch: 2 })).assignment, null);

    // A acknowledges (its owned partitions are the kept ones): epoch 2.
    const a3 = c.heartbeat(hb({ memberId: "A", memberEpoch: 1, topicPartitions: owned(keep) }));
    assert.equal(a3.memberEpoch, 2);
    assertNoDoubleOwner(c);
    // Now B gets the released two.
    const b2 = c.heartbeat(hb({ memberId: "B", memberEpoch: 2, topicPartitions: owned([]) }));
    assert.deepEqual(got(b2), [0, 1, 2, 3].filter((p) => !keep.includes(p)));
    assert.equal(c.describe("g")!.groupState, "Stable");
    const d = c.describe("g")!;
    assert.equal(d.groupEpoch, 2);
    assert.equal(d.assignmentEpoch, 2);
    assert.equal(d.assignorName, "uniform");
    assert.deepEqual(
      d.members.map((m) => [m.memberId, m.memberEpoch, m.assignment.topicPartitions[0].topicName]),
      [["A", 2, "a"], ["B", 2, "a"]],
    );
  } finally {
    c.close();
  }
});

Deno.test("member epochs: a greater epoch is fenced; the previous one is forgiven only with a subset of the assignment", () => {
  const c = coordinator(2);
  try {
    c.heartbeat(join("A"));
    c.heartbeat(join("B"));
    assert.equal(
      c.heartbeat(hb({ memberId: "A", memberEpoch: 9 })).errorCode,
      ErrorCode.FENCED_MEMBER_EPOCH,
    );
    assert.equal(
      c.heartbeat(hb({ memberId: "Z", memberEpoch: 3 })).errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    const a = c.heartbeat(hb({ memberId: "A", memberEpoch: 1, topicPartitions: owned([0, 1]) }));
    const keep = got(a);
    c.heartbeat(hb({ memberId: "A", memberEpoch: 1, topicPartitions: owned(keep) })); // now epoch 2
    // A lost that answer: epoch 1 again, owning its kept partition: accepted.
    const again = c.heartbeat(hb({ memberId: "A", memberEpoch: 1, topicPartitions: owned(keep) }));
    assert.equal(again.errorCode, 0);
    assert.equal(again.memberEpoch, 2);
    // Epoch 1 claiming a partition it no longer has: fenced.
    const bad = c.heartbeat(hb({ memberId: "A", memberEpoch: 1, topicPartitions: owned([0, 1]) }));
    assert.equal(bad.errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
  } finally {
    c.close();
  }
});

Deno.test("a member silent past the session timeout is removed and the others take its partitions", async () => {
  const c = coordinator(4, { sessionTimeoutMs: 150 });
  try {
    c.heartbeat(join("A"));
    const b = c.heartbeat(join("B"));
    const a = c.heartbeat(
      hb({ memberId: "A", memberEpoch: 1, topicPartitions: owned([0, 1, 2, 3]) }),
    );
    c.heartbeat(hb({ memberId: "A", memberEpoch: 1, topicPartitions: owned(got(a)) }));
    c.heartbeat(hb({ memberId: "B", memberEpoch: b.memberEpoch, topicPartitions: owned([]) }));
    // Only A goes on heartbeating.
    let last: HeartbeatResult | undefined;
    await waitFor(
      "B to be removed and A to have every partition",
      () => {
        last = c.heartbeat(
          hb({ memberId: "A", memberEpoch: c.groups.get("g")!.members.get("A")!.epoch }),
        );
        return !c.groups.get("g")!.members.has("B") &&
          countPartitions(c.groups.get("g")!.members.get("A")!.assigned) === 4;
      },
      5000,
      30,
    );
    assert.equal(last!.errorCode, 0);
    assert.equal(c.describe("g")!.groupState, "Stable");
  } finally {
    c.close();
  }
});

Deno.test("a member that does not revoke within its rebalance timeout is fenced", async () => {
  const c = coordinator(2);
  try {
    c.heartbeat(join("A", { rebalanceTimeoutMs: 100 }));
    c.heartbeat(join("B"));
    // A is asked to give one partition up and never does.
    const a = c.heartbeat(hb({ memberId: "A", memberEpoch: 1, topicPartitions: owned([0, 1]) }));
    assert.equal(got(a).length, 1);
    await waitFor("A to be fenced", () => !c.groups.get("g")!.members.has("A"), 5000);
    assert.equal(
      c.heartbeat(hb({ memberId: "A", memberEpoch: 1 })).errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    const b = c.heartbeat(hb({ memberId: "B", memberEpoch: 2, topicPartitions: owned([]) }));
    assert.deepEqual(got(b), [0, 1]);
  } finally {
    c.close();
  }
});

Deno.test("leaving: -1 removes the member; a static member's -2 keeps its assignment for the one rejoining with its instance id", () => {
  const c = coordinator(2);
  try {
    const s1 = c.heartbeat(join("S1", { instanceId: "i-1" }));
    assert.deepEqual(got(s1), [0, 1]);
    const gone = c.heartbeat(hb({ memberId: "S1", memberEpoch: -2, instanceId: "i-1" }));
    assert.deepEqual([gone.errorCode, gone.memberEpoch], [0, -2]);
    // The instance id comes back under a new member id: same partitions, same epoch.
    const s2 = c.heartbeat(join("S2", { instanceId: "i-1" }));
    assert.equal(s2.errorCode, 0);
    assert.deepEqual([s2.memberId, s2.memberEpoch, got(s2)], ["S2", 1, [0, 1]]);
    // A third with the id while S2 is live: refused.
    const s3 = c.heartbeat(join("S3", { instanceId: "i-1" }));
    assert.equal(s3.errorCode, ErrorCode.UNRELEASED_INSTANCE_ID);
    const left = c.heartbeat(hb({ memberId: "S2", memberEpoch: -1 }));
    assert.deepEqual([left.errorCode, left.memberEpoch], [0, -1]);
    assert.equal(c.describe("g")!.groupState, "Empty");
  } finally {
    c.close();
  }
});

Deno.test("bad heartbeats get Kafka's INVALID_REQUEST and UNSUPPORTED_ASSIGNOR", () => {
  const c = coordinator(1);
  try {
    const cases: [Partial<HeartbeatRequest>, number, string][] = [
      [
        { subscribedTopicNames: null, topicPartitions: [], rebalanceTimeoutMs: 1 },
        ErrorCode.INVALID_REQUEST,
        "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.",
      ],
      [
        { subscribedTopicNames: ["a"], topicPartitions: null, rebalanceTimeoutMs: 1 },
        ErrorCode.INVALID_REQUEST,
        "TopicPartitions must be empty when (re-)joining.",
      ],
      [
        { subscribedTopicNames: ["a"], topicPartitions: [] },
        ErrorCode.INVALID_REQUEST,
        "RebalanceTimeoutMs must be provided in first request.",
      ],
      [{ memberEpoch: 3 }, ErrorCode.INVALID_REQUEST, "MemberId can't be empty."],
      [{ memberEpoch: -3, memberId: "x" }, ErrorCode.INVALID_REQUEST, "MemberEpoch is invalid."],
      [{ groupId: "" }, ErrorCode.INVALID_REQUEST, "GroupId can't be empty."],
      [
        { subscribedTopicRegex: "a[", topicPartitions: [], rebalanceTimeoutMs: 1 },
        ErrorCode.INVALID_REGULAR_EXPRESSION,
        "SubscribedTopicRegex `a[` is not a valid regular expression: Invalid regular " +
        "expression: /^(?:a[)$/u: Unterminated character class.",
      ],
    ];
    for (const [over, code, message] of cases) {
      const r = c.heartbeat(hb(over));
      assert.deepEqual([r.errorCode, r.errorMessage], [code, message], JSON.stringify(over));
    }
    const r = c.heartbeat(join("A", { serverAssignor: "sticky" }));
    assert.equal(r.errorCode, ErrorCode.UNSUPPORTED_ASSIGNOR);
    assert.match(r.errorMessage!, /uniform, range/);
    assert.equal(c.heartbeat(join("A", { serverAssignor: "range" })).errorCode, 0);
    assert.equal(c.describe("g")!.assignorName, "range");
  } finally {
    c.close();
  }
});

Deno.test("regex subscriptions: the topics whose whole name matches, names beside them, a later topic joining at the next heartbeat, an empty regex dropping it", () => {
  const T3 = "cccccccccccccccccccccccccccccccc";
  const topics = new Map([
    ["pin.a", { id: T1, partitions: 2 }],
    ["xpin.a", { id: T2, partitions: 1 }],
  ]);
  const c = coordinator(0, {}, topics);
  try {
    const first = c.heartbeat(hb({
      memberId: "A",
      subscribedTopicRegex: "pin\\..*",
      topicPartitions: [],
      rebalanceTimeoutMs: 30_000,
    }));
    assert.equal(first.errorCode, ErrorCode.NONE, first.errorMessage ?? "");
    // "xpin.a" contains a match but is not one as a whole name.
    assert.deepEqual(flat(c.groups.get("g")!.target.get("A")), [`${T1}:0`, `${T1}:1`]);
    assert.equal(c.describe("g")!.members[0].subscribedTopicRegex, "pin\\..*");
    const epoch = c.groups.get("g")!.groupEpoch;
    topics.set("pin.b", { id: T3, partitions: 1 });
    const next = c.heartbeat(hb({ memberId: "A", memberEpoch: first.memberEpoch }));
    assert.equal(c.groups.get("g")!.groupEpoch, epoch + 1, "a new matching topic bumps the epoch");
    assert.deepEqual(flat(c.groups.get("g")!.target.get("A")), [
      `${T1}:0`,
      `${T1}:1`,
      `${T3}:0`,
    ]);
    // Names and a regex together: their union; an empty regex then drops the regex.
    const both = c.heartbeat(hb({
      memberId: "A",
      memberEpoch: next.memberEpoch,
      subscribedTopicNames: ["xpin.a"],
      subscribedTopicRegex: "pin\\.b",
    }));
    assert.deepEqual(flat(c.groups.get("g")!.target.get("A")), [`${T2}:0`, `${T3}:0`]);
    c.heartbeat(hb({ memberId: "A", memberEpoch: both.memberEpoch, subscribedTopicRegex: "" }));
    assert.deepEqual(flat(c.groups.get("g")!.target.get("A")), [`${T2}:0`]);
    assert.equal(c.describe("g")!.members[0].subscribedTopicRegex, "");
  } finally {
    c.close();
  }
});

// ---------------------------------------------------------------------------------------
// Through the broker, on the wire

async function createTopic(w: WireClient, name: string, partitions: number): Promise<string> {
  const r = await w.call("CreateTopics", 7, {
    topics: [{
      name,
      numPartitions: partitions,
      replicationFactor: 1,
      assignments: [],
      configs: [],
    }],
    timeoutMs: 5000,
  });
  assert.equal(r.topics[0].errorCode, 0);
  return r.topics[0].topicId;
}

const wireJoin = (groupId: string, memberId: string, topic: string) => ({
  groupId,
  memberId,
  memberEpoch: 0,
  rebalanceTimeoutMs: 30_000,
  subscribedTopicNames: [topic],
  topicPartitions: [],
});

const commit = (
  w: WireClient,
  v: number,
  groupId: string,
  memberId: string,
  epoch: number,
  topic: string,
) =>
  w.call("OffsetCommit", v, {
    groupId,
    generationIdOrMemberEpoch: epoch,
    memberId,
    topics: [{
      name: topic,
      partitions: [{ partitionIndex: 0, committedOffset: 5, committedMetadata: "" }],
    }],
  }).then((r: Any) => r.topics[0].partitions[0].errorCode);

Deno.test("ConsumerGroupHeartbeat and ConsumerGroupDescribe on the wire, with OffsetCommit/OffsetFetch member epochs", async () => {
  await withBroker(async (broker) => {
    await withWire(broker.bootstrap, async (w) => {
      const versions = await w.call("ApiVersions", 3, {
        clientSoftwareName: "t",
        clientSoftwareVersion: "1",
      });
      const adv = (k: number) => versions.apiKeys.find((a: Any) => a.apiKey === k);
      assert.deepEqual([adv(68).minVersion, adv(68).maxVersion], [0, 1]);
      assert.deepEqual([adv(69).minVersion, adv(69).maxVersion], [0, 1]);

      const topicId = await createTopic(w, "cg-topic", 3);
      const hb = await w.call("ConsumerGroupHeartbeat", 1, wireJoin("cg", "m-1", "cg-topic"));
      assert.equal(hb.errorCode, 0);
      assert.equal(hb.memberId, "m-1");
      assert.equal(hb.memberEpoch, 1);
      assert.deepEqual(hb.assignment.topicPartitions, [{ topicId, partitions: [0, 1, 2] }]);

      // v0 without a member id: the broker names the member.
      const anon = await w.call("ConsumerGroupHeartbeat", 0, wireJoin("cg-anon", "", "cg-topic"));
      assert.equal(anon.errorCode, 0);
      assert.ok(anon.memberId.length > 0);

      const desc = await w.call("ConsumerGroupDescribe", 1, {
        groupIds: ["cg", "nope"],
        includeAuthorizedOperations: false,
      });
      const [g, missing] = desc.groups;
      assert.deepEqual(
        [g.errorCode, g.groupState, g.groupEpoch, g.assignmentEpoch, g.assignorName],
        [0, "Stable", 1, 1, "uniform"],
      );
      assert.equal(g.members[0].memberType, 1);
      assert.deepEqual(g.members[0].assignment.topicPartitions, [{
        topicId,
        topicName: "cg-topic",
        partitions: [0, 1, 2],
      }]);
      assert.deepEqual(g.members[0].subscribedTopicNames, ["cg-topic"]);
      assert.deepEqual([missing.errorCode, missing.errorMessage], [
        ErrorCode.GROUP_ID_NOT_FOUND,
        null,
      ]);

      assert.equal(await commit(w, 9, "cg", "m-1", 1, "cg-topic"), 0);
      assert.equal(await commit(w, 9, "cg", "m-1", 0, "cg-topic"), ErrorCode.STALE_MEMBER_EPOCH);
      assert.equal(await commit(w, 9, "cg", "who", 1, "cg-topic"), ErrorCode.UNKNOWN_MEMBER_ID);
      assert.equal(await commit(w, 8, "cg", "m-1", 1, "cg-topic"), ErrorCode.UNSUPPORTED_VERSION);
      // An admin's commit (epoch -1) into a group with members: refused.
      assert.equal(await commit(w, 9, "cg", "", -1, "cg-topic"), ErrorCode.UNKNOWN_MEMBER_ID);

      const fetch = (memberId: string | null, memberEpoch: number) =>
        w.call("OffsetFetch", 9, {
          groups: [{
            groupId: "cg",
            memberId,
            memberEpoch,
            topics: [{ name: "cg-topic", partitionIndexes: [0] }],
          }],
          requireStable: true,
        }).then((r: Any) => r.groups[0]);
      const ok = await fetch("m-1", 1);
      assert.deepEqual([ok.errorCode, ok.topics[0].partitions[0].committedOffset], [0, 5]);
      assert.equal((await fetch("m-1", 7)).errorCode, ErrorCode.STALE_MEMBER_EPOCH);
      assert.equal((await fetch("ghost", 1)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
      assert.equal((await fetch(null, -1)).errorCode, 0);

      // A classic member joins the consumer group (first asked for its member id: the rest of
      // the path is in broker_consumer_groups_classic_test.ts); the id is no classic group.
      const classic = await w.call("JoinGroup", 9, {
        groupId: "cg",
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        memberId: "",
        groupInstanceId: null,
        protocolType: "consumer",
        protocols: [{ name: "range", metadata: new Uint8Array(0) }],
        reason: null,
      });
      assert.equal(classic.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
      const dg = await w.call("DescribeGroups", 5, {
        groups: ["cg"],
        includeAuthorizedOperations: false,
      });
      assert.deepEqual([dg.groups[0].errorCode, dg.groups[0].groupState], [0, "Dead"]);

      // A classic group beside it: listed by type; ConsumerGroupDescribe says it is not one.
      const cj = await w.call("JoinGroup", 9, {
        groupId: "classic",
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        memberId: "",
        groupInstanceId: "static-1",
        protocolType: "consumer",
        protocols: [{ name: "range", metadata: new Uint8Array(0) }],
        reason: null,
      });
      assert.equal(cj.errorCode, 0);
      const lg = await w.call("ListGroups", 5, { statesFilter: [], typesFilter: [] });
      assert.deepEqual(
        lg.groups.map((x: Any) => [x.groupId, x.protocolType, x.groupType]),
        [["cg", "consumer", "consumer"], ["cg-anon", "consumer", "consumer"], [
          "classic",
          "consumer",
          "classic",
        ]]
          .sort(([a], [b]) => a < b ? -1 : 1),
      );
      const onlyConsumer = await w.call("ListGroups", 5, {
        statesFilter: [],
        typesFilter: ["Consumer"],
      });
      assert.deepEqual(onlyConsumer.groups.map((x: Any) => x.groupId), ["cg", "cg-anon"]);
      const cd = await w.call("ConsumerGroupDescribe", 0, {
        groupIds: ["classic"],
        includeAuthorizedOperations: false,
      });
      assert.deepEqual([cd.groups[0].errorCode, cd.groups[0].errorMessage], [
        ErrorCode.GROUP_ID_NOT_FOUND,
        null,
      ]);
      const onClassic = await w.call(
        "ConsumerGroupHeartbeat",
        0,
        wireJoin("classic", "m-x", "cg-topic"),
      );
      // Kafka 3.9.1's words.
      assert.deepEqual([onClassic.errorCode, onClassic.errorMessage], [
        ErrorCode.GROUP_ID_NOT_FOUND,
        "Group classic is not a consumer group.",
      ]);

      // Leaving empties the group; then it can be deleted, offsets and all.
      const left = await w.call("ConsumerGroupHeartbeat", 1, {
        groupId: "cg",
        memberId: "m-1",
        memberEpoch: -1,
      });
      assert.deepEqual([left.errorCode, left.memberEpoch], [0, -1]);
      const del = await w.call("DeleteGroups", 2, { groupsNames: ["cg"] });
      assert.equal(del.results[0].errorCode, 0);
      const after = await w.call("ConsumerGroupDescribe", 1, {
        groupIds: ["cg"],
        includeAuthorizedOperations: false,
      });
      assert.equal(after.groups[0].errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
    });
  });
});

Deno.test("after a restart the consumer groups are there with their members, epochs and assignments: members go on at their epoch, commits included", async () => {
  await withTempDir(async (dataDir) => {
    let broker = await startTestBroker({
      dataDir,
      consumerSessionTimeoutMs: 2000,
      consumerHeartbeatIntervalMs: 700,
    });
    try {
      await withWire(broker.bootstrap, async (w) => {
        await createTopic(w, "rt", 2);
        const j = await w.call("ConsumerGroupHeartbeat", 1, wireJoin("rg", "m-1", "rt"));
        assert.equal(j.memberEpoch, 1);
        assert.equal(j.heartbeatIntervalMs, 700, "the broker's consumerHeartbeatIntervalMs");
        const k = await w.call("ConsumerGroupHeartbeat", 1, wireJoin("rg", "m-2", "rt"));
        assert.equal(k.memberEpoch, 2);
        // m-1 is asked to give one partition up, and has not yet: mid-reconciliation.
        const a = await w.call("ConsumerGroupHeartbeat", 1, {
          groupId: "rg",
          memberId: "m-1",
          memberEpoch: 1,
          topicPartitions: [{
            topicId: j.assignment.topicPartitions[0].topicId,
            partitions: [0, 1],
          }],
          subscribedTopicNames: null,
        });
        assert.equal(a.assignment.topicPartitions[0].partitions.length, 1);
        assert.equal(await commit(w, 9, "rg", "m-1", 1, "rt"), 0);
      });
      await broker.close();
      broker = await startTestBroker({ dataDir, consumerSessionTimeoutMs: 2000 });
      await withWire(broker.bootstrap, async (w) => {
        const d = await w.call("ConsumerGroupDescribe", 1, {
          groupIds: ["rg"],
          includeAuthorizedOperations: false,
        });
        const g = d.groups[0];
        assert.deepEqual([g.errorCode, g.groupState, g.groupEpoch, g.assignmentEpoch], [
          0,
          "Reconciling",
          2,
          2,
        ]);
        assert.deepEqual(g.members.map((m: Any) => [m.memberId, m.memberEpoch]).sort(), [
          ["m-1", 1],
          ["m-2", 2],
        ]);
        // The members go on where they were: m-1 commits at its epoch, then revokes.
        assert.equal(await commit(w, 9, "rg", "m-1", 1, "rt"), 0);
        const f = await w.call("OffsetFetch", 9, {
          groups: [{ groupId: "rg", memberId: "m-1", memberEpoch: 1, topics: null }],
          requireStable: false,
        });
        assert.equal(f.groups[0].topics[0].partitions[0].committedOffset, 5);
        const kept = g.members.find((m: Any) => m.memberId === "m-1").assignment.topicPartitions[0];
        const done = await w.call("ConsumerGroupHeartbeat", 1, {
          groupId: "rg",
          memberId: "m-1",
          memberEpoch: 1,
          topicPartitions: [{ topicId: kept.topicId, partitions: kept.partitions }],
          subscribedTopicNames: null,
        });
        assert.deepEqual([done.errorCode, done.memberEpoch], [0, 2]);
        const two = await w.call("ConsumerGroupHeartbeat", 1, {
          groupId: "rg",
          memberId: "m-2",
          memberEpoch: 2,
          topicPartitions: [],
          subscribedTopicNames: null,
        });
        assert.equal(two.assignment.topicPartitions[0].partitions.length, 1);
        // A group never made: GROUP_ID_NOT_FOUND, as Kafka answers.
        const never = await w.call("ConsumerGroupHeartbeat", 1, {
          groupId: "never",
          memberId: "m-0",
          memberEpoch: 3,
        });
        assert.deepEqual([never.errorCode, never.errorMessage], [
          ErrorCode.GROUP_ID_NOT_FOUND,
          "Consumer group never not found.",
        ]);
        // Members that never come back are removed when their session ends.
        await waitFor(
          "both sessions to end",
          async () => {
            const x = await w.call("ConsumerGroupDescribe", 1, {
              groupIds: ["rg"],
              includeAuthorizedOperations: false,
            });
            return x.groups[0].groupState === "Empty";
          },
          10_000,
          100,
        );
      });
      await broker.close();
      // A damaged consumer_groups.json is an error naming it, not a silent reset.
      await Deno.writeTextFile(joinPath(dataDir, "consumer_groups.json"), "{not json");
      await assert.rejects(
        () => startTestBroker({ dataDir }),
        /Cannot read ".*consumer_groups\.json".*remove it to start the consumer groups empty/,
      );
      broker = await startTestBroker();
    } finally {
      await broker.close();
    }
  });
});

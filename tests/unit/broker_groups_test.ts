/**
 * The classic group coordinator's state machine, driven directly (no sockets): joins held
 * for a rebalance, the leader's assignments, heartbeats during a rebalance, session and
 * rebalance timeouts, protocol selection and the error codes Kafka answers.
 */
import assert from "node:assert/strict";
import { GroupCoordinator, type JoinRequest } from "../../lib/broker/groups.ts";
import { ErrorCode } from "../../lib/broker/error_codes.ts";
import { waitFor } from "../_fixtures.ts";

const enc = new TextEncoder();

function req(over: Partial<JoinRequest> = {}): JoinRequest {
  return {
    groupId: "g",
    memberId: "",
    groupInstanceId: null,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    protocolType: "consumer",
    protocols: [{ name: "range", metadata: enc.encode("meta") }],
    clientId: "c",
    clientHost: "/127.0.0.1",
    ...over,
  };
}

/** Runs `fn` with a coordinator that is closed (timers stopped) afterwards. */
async function withGroups(fn: (g: GroupCoordinator) => Promise<void>): Promise<void> {
  const g = new GroupCoordinator();
  try {
    await fn(g);
  } finally {
    g.close();
  }
}

/** Whether `p` has settled, checked after the current microtasks. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => done = true, () => done = true);
  await new Promise((r) => setTimeout(r, 0));
  return done;
}

Deno.test("the first member of an empty group is answered at once and leads it", () =>
  withGroups(async (g) => {
    const res = await g.join(req());
    assert.equal(res.error, ErrorCode.NONE);
    assert.equal(res.generationId, 1);
    assert.equal(res.leader, res.memberId);
    assert.equal(res.protocolName, "range");
    assert.deepEqual(res.members.map((m) => m.memberId), [res.memberId]);
    const sync = await g.sync("g", 1, res.memberId, [
      { memberId: res.memberId, assignment: enc.encode("all") },
    ]);
    assert.equal(sync.error, ErrorCode.NONE);
    assert.deepEqual(sync.assignment, enc.encode("all"));
    assert.equal(g.describe("g")?.state, "Stable");
  }));

Deno.test("a new member's join is held until the others rejoin; their heartbeats say REBALANCE_IN_PROGRESS", () =>
  withGroups(async (g) => {
    const a = await g.join(req({ clientId: "a" }));
    await g.sync("g", 1, a.memberId, []);
    const bJoin = g.join(req({ clientId: "b" }));
    assert.equal(await settled(bJoin), false, "b waits for a to rejoin");
    assert.equal(g.heartbeat("g", 1, a.memberId), ErrorCode.REBALANCE_IN_PROGRESS);
    assert.equal(g.describe("g")?.state, "PreparingRebalance");
    const aAgain = await Promise.all([g.join(req({ memberId: a.memberId, clientId: "a" })), bJoin]);
    const [ra, rb] = aAgain;
    assert.equal(ra.generationId, 2);
    assert.equal(rb.generationId, 2);
    assert.equal(ra.leader, a.memberId, "the leader stays the leader");
    assert.equal(ra.members.length, 2, "the leader's answer lists the members");
    assert.deepEqual(rb.members, [], "a follower's answer does not");
    // The follower's sync waits for the leader's assignments.
    const bSync = g.sync("g", 2, rb.memberId, []);
    assert.equal(await settled(bSync), false);
    assert.equal(g.heartbeat("g", 2, rb.memberId), ErrorCode.NONE, "heartbeats are fine meanwhile");
    const aSync = await g.sync("g", 2, a.memberId, [
      { memberId: a.memberId, assignment: enc.encode("p0") },
      { memberId: rb.memberId, assignment: enc.encode("p1") },
    ]);
    assert.deepEqual(aSync.assignment, enc.encode("p0"));
    assert.deepEqual((await bSync).assignment, enc.encode("p1"));
    assert.equal(g.describe("g")?.state, "Stable");
  }));

Deno.test("members that do not rejoin within the rebalance timeout are evicted", () =>
  withGroups(async (g) => {
    const a = await g.join(req({ clientId: "a", rebalanceTimeoutMs: 150 }));
    await g.sync("g", 1, a.memberId, []);
    const b = await g.join(req({ clientId: "b", rebalanceTimeoutMs: 150 }));
    assert.equal(b.generationId, 2, "a silent a is dropped when the timeout fires");
    assert.deepEqual(b.members.map((m) => m.memberId), [b.memberId]);
    assert.equal(b.leader, b.memberId);
    assert.equal(g.heartbeat("g", 2, a.memberId), ErrorCode.UNKNOWN_MEMBER_ID);
  }));

Deno.test("a member silent for its session timeout is evicted and the others rebalance", () =>
  withGroups(async (g) => {
    const a = await g.join(req({ clientId: "a", sessionTimeoutMs: 5_000 }));
    const bJoin = g.join(req({ clientId: "b", sessionTimeoutMs: 150 }));
    const [ra, rb] = await Promise.all([g.join(req({ memberId: a.memberId })), bJoin]);
    const synced = await Promise.all([
      g.sync("g", 2, rb.memberId, []),
      g.sync("g", 2, ra.memberId, []),
    ]);
    assert.deepEqual(synced.map((r) => r.error), [ErrorCode.NONE, ErrorCode.NONE]);
    // a keeps heartbeating; b says nothing.
    await waitFor(
      "b's eviction to start a rebalance",
      () => {
        return g.heartbeat("g", 2, a.memberId) === ErrorCode.REBALANCE_IN_PROGRESS;
      },
      10_000,
      30,
    );
    assert.equal(g.heartbeat("g", 2, rb.memberId), ErrorCode.UNKNOWN_MEMBER_ID);
    const again = await g.join(req({ memberId: a.memberId }));
    assert.equal(again.generationId, 3);
    assert.deepEqual(again.members.map((m) => m.memberId), [a.memberId]);
  }));

Deno.test("a member sharing no protocol or protocol type with the group gets INCONSISTENT_GROUP_PROTOCOL", () =>
  withGroups(async (g) => {
    await g.join(req({ protocols: [{ name: "RoundRobinAssigner", metadata: enc.encode("") }] }));
    const range = await g.join(req({ protocols: [{ name: "range", metadata: enc.encode("") }] }));
    assert.equal(range.error, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const connect = await g.join(req({ protocolType: "connect" }));
    assert.equal(connect.error, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const none = await g.join(req({ groupId: "other", protocols: [] }));
    assert.equal(none.error, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  }));

Deno.test("the protocol most members prefer wins among those all of them support", () =>
  withGroups(async (g) => {
    const p = (...names: string[]) => names.map((name) => ({ name, metadata: enc.encode(name) }));
    const a = await g.join(req({ protocols: p("range", "roundrobin") }));
    const joins = [
      g.join(req({ protocols: p("roundrobin", "range", "sticky") })),
      g.join(req({ protocols: p("roundrobin", "range") })),
      g.join(req({ memberId: a.memberId, protocols: p("range", "roundrobin") })),
    ];
    const res = await Promise.all(joins);
    assert.ok(res.every((r) => r.protocolName === "roundrobin"));
    const leader = res.find((r) => r.members.length)!;
    assert.ok(leader.members.every((m) => new TextDecoder().decode(m.metadata) === "roundrobin"));
  }));

Deno.test("stale generations get ILLEGAL_GENERATION and strangers UNKNOWN_MEMBER_ID, commits included", () =>
  withGroups(async (g) => {
    const a = await g.join(req());
    assert.equal(g.heartbeat("g", 0, a.memberId), ErrorCode.ILLEGAL_GENERATION);
    assert.equal(g.heartbeat("g", 1, "nobody"), ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal(g.heartbeat("nogroup", 1, a.memberId), ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal((await g.join(req({ memberId: "nobody" }))).error, ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal(g.checkCommit("g", 1, a.memberId), ErrorCode.REBALANCE_IN_PROGRESS, "before sync");
    await g.sync("g", 1, a.memberId, []);
    assert.equal(g.checkCommit("g", 1, a.memberId), ErrorCode.NONE);
    assert.equal(g.checkCommit("g", 0, a.memberId), ErrorCode.ILLEGAL_GENERATION);
    assert.equal(g.checkCommit("g", 1, "nobody"), ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal(
      g.checkCommit("g", -1, ""),
      ErrorCode.UNKNOWN_MEMBER_ID,
      "not while it has members",
    );
    assert.equal(g.checkCommit("empty", -1, ""), ErrorCode.NONE, "simple commits to empty groups");
    assert.equal((await g.join(req({ groupId: "" }))).error, ErrorCode.INVALID_GROUP_ID);
    assert.equal(
      (await g.join(req({ groupId: "t", sessionTimeoutMs: 1 }))).error,
      ErrorCode.INVALID_SESSION_TIMEOUT,
    );
    assert.equal(g.leave("g", a.memberId), ErrorCode.NONE);
    assert.equal(g.describe("g")?.state, "Empty");
    assert.equal(g.leave("g", a.memberId), ErrorCode.UNKNOWN_MEMBER_ID);
  }));

Deno.test("a static member rejoining with an empty member id gets its old id back", () =>
  withGroups(async (g) => {
    const a = await g.join(req({ groupInstanceId: "pod-1" }));
    await g.sync("g", 1, a.memberId, []);
    const again = await g.join(req({ groupInstanceId: "pod-1" }));
    assert.equal(again.memberId, a.memberId);
    assert.equal(g.describe("g")?.members.length, 1);
  }));

Deno.test("closing the coordinator answers held joins and syncs with COORDINATOR_NOT_AVAILABLE", async () => {
  const g = new GroupCoordinator();
  const a = await g.join(req());
  await g.sync("g", 1, a.memberId, []);
  const held = g.join(req());
  g.close();
  assert.equal((await held).error, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  assert.equal(g.heartbeat("g", 1, a.memberId), ErrorCode.COORDINATOR_NOT_AVAILABLE);
});

Deno.test("a stable group is kept across a restart: the same generation, members and assignments, no rebalance; an emptied group is forgotten", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "pinpipe-groups-" });
  try {
    let g = new GroupCoordinator(() => {}, { dataDir });
    const first = await g.join(req({ clientId: "a" }));
    await g.sync("g", 1, first.memberId, []);
    const bJoin = g.join(req({ clientId: "b" })); // held until a rejoins
    const [a, b] = await Promise.all([
      g.join(req({ memberId: first.memberId, clientId: "a" })),
      bJoin,
    ]);
    assert.equal(a.generationId, 2);
    const leader = a.leader === a.memberId ? a : b;
    const follower = leader === a ? b : a;
    const synced = await Promise.all([
      g.sync("g", leader.generationId, leader.memberId, [
        { memberId: leader.memberId, assignment: enc.encode("to-leader") },
        { memberId: follower.memberId, assignment: enc.encode("to-follower") },
      ]),
      g.sync("g", follower.generationId, follower.memberId, []),
    ]);
    assert.deepEqual(synced.map((s) => s.error), [ErrorCode.NONE, ErrorCode.NONE]);
    g.close();

    // As after a SIGKILL: a new coordinator on the data dir.
    g = new GroupCoordinator(() => {}, { dataDir });
    try {
      assert.equal(g.heartbeat("g", leader.generationId, leader.memberId), ErrorCode.NONE);
      assert.equal(g.heartbeat("g", follower.generationId, follower.memberId), ErrorCode.NONE);
      const d = g.describe("g")!;
      assert.equal(d.state, "Stable");
      assert.equal(d.protocol, "range");
      assert.deepEqual(
        d.members.map((m) => [m.memberId, new TextDecoder().decode(m.assignment)]).sort(),
        [
          [leader.memberId, "to-leader"],
          [follower.memberId, "to-follower"],
        ].sort(),
      );
      const again = await g.sync("g", follower.generationId, follower.memberId, []);
      assert.equal(new TextDecoder().decode(again.assignment), "to-follower");
      // Both leave: the group empties and is dropped from groups.json.
      assert.equal(g.leave("g", leader.memberId), ErrorCode.NONE);
      assert.equal(g.leave("g", follower.memberId), ErrorCode.NONE);
    } finally {
      g.close();
    }
    g = new GroupCoordinator(() => {}, { dataDir });
    try {
      assert.equal(g.describe("g"), undefined);
      assert.equal(
        g.heartbeat("g", leader.generationId, leader.memberId),
        ErrorCode.UNKNOWN_MEMBER_ID,
      );
    } finally {
      g.close();
    }
    // A damaged file names itself and what removing it loses.
    await Deno.writeTextFile(`${dataDir}/groups.json`, "{not json");
    assert.throws(
      () => new GroupCoordinator(() => {}, { dataDir }),
      /Cannot read ".*groups\.json": .*remove it to start the classic groups empty/,
    );
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

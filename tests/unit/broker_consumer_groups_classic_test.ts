/**
 * Classic-protocol members inside a consumer group (KIP-848's online upgrade,
 * lib/broker/consumer_groups.ts), on the wire of an in-process embedded broker: JoinGroup,
 * SyncGroup, Heartbeat, OffsetCommit and LeaveGroup of a classic member beside a member
 * heartbeating with ConsumerGroupHeartbeat. Side by side with Apache Kafka 3.9.1 (which
 * admits such a member): tests/engine/broker_verifiable_test.ts.
 */
import assert from "node:assert/strict";
import { Writer } from "../../lib/broker/codec.ts";
import { decodeSubscription, encodeAssignment } from "../../lib/broker/consumer_groups.ts";
import { ErrorCode } from "../../lib/broker/error_codes.ts";
import { withBroker } from "../_fixtures.ts";
import { type WireClient, withWire } from "../_kafka_wire.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** A ConsumerProtocolSubscription v3, as the Java client writes it. */
function subscription(topics: string[], owned: { topic: string; partitions: number[] }[]) {
  const w = new Writer();
  w.int16(3);
  w.array(topics, (w, t) => w.string(t));
  w.nullableBytes(null);
  w.array(owned, (w, o) => w.string(o.topic).array(o.partitions, (w, p) => w.int32(p)));
  w.int32(-1);
  w.nullableString(null);
  return w.toBytes();
}

Deno.test("ConsumerProtocolSubscription read, ConsumerProtocolAssignment written", () => {
  const sub = decodeSubscription(subscription(["a", "b"], [{ topic: "a", partitions: [2, 0] }]));
  assert.deepEqual(sub, {
    version: 3,
    topics: ["a", "b"],
    owned: [{ topic: "a", partitions: [2, 0] }],
    rackId: null,
  });
  // v0: topics and user data only.
  const v0 = new Writer().int16(0).array(["t"], (w, t) => w.string(t)).nullableBytes(null);
  assert.deepEqual(decodeSubscription(v0.toBytes()).owned, []);
  assert.throws(() => decodeSubscription(new Uint8Array([0, 3, 0, 0])));
  // Version 3, topic "mx" with partitions 3 and 4, no user data.
  assert.deepEqual(
    [...encodeAssignment(3, [{ topic: "mx", partitions: [3, 4] }])],
    [0, 3, 0, 0, 0, 1, 0, 2, 109, 120, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 255, 255, 255, 255],
  );
});

const join = (w: WireClient, memberId: string, owned: number[] = []) =>
  w.call("JoinGroup", 9, {
    groupId: "mixed",
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    memberId,
    groupInstanceId: null,
    protocolType: "consumer",
    protocols: [
      {
        name: "range",
        metadata: subscription(["t"], owned.length ? [{ topic: "t", partitions: owned }] : []),
      },
      { name: "cooperative-sticky", metadata: subscription(["t"], []) },
    ],
    reason: null,
  });

const sync = (w: WireClient, memberId: string, generationId: number) =>
  w.call("SyncGroup", 5, {
    groupId: "mixed",
    generationId,
    memberId,
    groupInstanceId: null,
    protocolType: "consumer",
    protocolName: "range",
    assignments: [],
  });

const heartbeat = (w: WireClient, memberId: string, generationId: number) =>
  w.call("Heartbeat", 4, { groupId: "mixed", generationId, memberId, groupInstanceId: null })
    .then((r: Any) => r.errorCode);

/** The partitions of a SyncGroup's ConsumerProtocolAssignment (one topic). */
function partitions(assignment: Uint8Array): number[] {
  if (assignment.length === 0) return [];
  const v = new DataView(assignment.buffer, assignment.byteOffset, assignment.byteLength);
  if (v.getInt32(2) === 0) return [];
  const nameLen = v.getInt16(6);
  const at = 8 + nameLen;
  const n = v.getInt32(at);
  return Array.from({ length: n }, (_, i) => v.getInt32(at + 4 + 4 * i));
}

Deno.test("a classic member joins a consumer group with members: partitions split, revoked and released in turn; commits at its generation; leaves", async () => {
  await withBroker(async (broker) => {
    await withWire(broker.bootstrap, async (w) => {
      const created = await w.call("CreateTopics", 7, {
        topics: [{
          name: "t",
          numPartitions: 4,
          replicationFactor: 1,
          assignments: [],
          configs: [],
        }],
        timeoutMs: 5000,
      });
      const topicId = created.topics[0].topicId;
      const cgh = (epoch: number, owned: number[] | null) =>
        w.call("ConsumerGroupHeartbeat", 0, {
          groupId: "mixed",
          memberId: "c-1",
          memberEpoch: epoch,
          instanceId: null,
          rackId: null,
          rebalanceTimeoutMs: epoch === 0 ? 30_000 : -1,
          subscribedTopicNames: epoch === 0 ? ["t"] : null,
          serverAssignor: null,
          topicPartitions: owned === null
            ? null
            : owned.length
            ? [{ topicId, partitions: owned }]
            : [],
        });
      const first = await cgh(0, []);
      assert.deepEqual([first.errorCode, first.memberEpoch], [0, 1]);
      assert.deepEqual(first.assignment.topicPartitions[0].partitions, [0, 1, 2, 3]);

      // A dynamic classic member: first its member id, then its generation (its epoch).
      const asked = await join(w, "");
      assert.equal(asked.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
      const id = asked.memberId;
      const joined = await join(w, id);
      assert.deepEqual(
        [joined.errorCode, joined.generationId, joined.protocolType, joined.protocolName],
        [0, 2, "consumer", "range"],
      );
      assert.deepEqual([joined.leader, joined.members], ["", []]);
      // Its partitions are still the consumer member's: none yet, and nothing to do.
      const s1 = await sync(w, id, 2);
      assert.deepEqual([s1.errorCode, partitions(s1.assignment)], [0, []]);
      assert.equal(await heartbeat(w, id, 2), ErrorCode.NONE);
      assert.equal(await heartbeat(w, id, 1), ErrorCode.ILLEGAL_GENERATION);
      assert.equal(await heartbeat(w, "who", 2), ErrorCode.UNKNOWN_MEMBER_ID);
      const wrongName = await w.call("SyncGroup", 5, {
        groupId: "mixed",
        generationId: 2,
        memberId: id,
        groupInstanceId: null,
        protocolType: "consumer",
        protocolName: "roundrobin",
        assignments: [],
      });
      assert.equal(wrongName.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);

      // The consumer member gives up two partitions; then the classic member must rejoin.
      const revoke = await cgh(1, [0, 1, 2, 3]);
      const kept: number[] = revoke.assignment.topicPartitions[0].partitions;
      assert.equal(kept.length, 2);
      await cgh(1, kept);
      assert.equal(await heartbeat(w, id, 2), ErrorCode.REBALANCE_IN_PROGRESS);
      const rejoined = await join(w, id);
      assert.equal(rejoined.generationId, 2);
      const s2 = await sync(w, id, 2);
      const mine = partitions(s2.assignment);
      assert.deepEqual([...mine, ...kept].sort(), [0, 1, 2, 3]);
      assert.equal(await heartbeat(w, id, 2), ErrorCode.NONE);

      // It commits with its generation, at a classic version.
      const commit = (generation: number) =>
        w.call("OffsetCommit", 8, {
          groupId: "mixed",
          generationIdOrMemberEpoch: generation,
          memberId: id,
          groupInstanceId: null,
          retentionTimeMs: -1,
          topics: [{
            name: "t",
            partitions: [{
              partitionIndex: mine[0],
              committedOffset: 0,
              committedLeaderEpoch: -1,
              committedMetadata: null,
            }],
          }],
        }).then((r: Any) => r.topics[0].partitions[0].errorCode);
      assert.equal(await commit(2), ErrorCode.NONE);
      assert.equal(await commit(1), ErrorCode.ILLEGAL_GENERATION);

      const desc = await w.call("ConsumerGroupDescribe", 1, {
        groupIds: ["mixed"],
        includeAuthorizedOperations: false,
      });
      assert.deepEqual(
        desc.groups[0].members.map((
          m: Any,
        ) => [m.memberId === id ? "classic" : m.memberId, m.memberType])
          .sort(),
        [["c-1", 1], ["classic", 0]],
      );

      // It leaves: its partitions go back to the consumer member.
      const left = await w.call("LeaveGroup", 5, {
        groupId: "mixed",
        members: [{ memberId: id, groupInstanceId: null, reason: null }],
      });
      assert.deepEqual([left.errorCode, left.members[0].errorCode], [0, 0]);
      const back = await cgh(2, kept);
      assert.deepEqual(back.assignment.topicPartitions[0].partitions, [0, 1, 2, 3]);
      assert.equal(await heartbeat(w, id, 2), ErrorCode.UNKNOWN_MEMBER_ID);
    });
  });
});

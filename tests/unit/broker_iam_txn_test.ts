/**
 * Transactions under MSK IAM (lib/broker/iam_authz.ts), in process: a principal's policies
 * grant `kafka-cluster:DescribeTransactionalId` / `AlterTransactionalId` on some
 * transactional-id ARNs, WriteData/ReadData on some topics and AlterGroup on some groups,
 * and each transaction API answers Kafka's authorization errors where Kafka 3.9 checks its
 * ACLs (TRANSACTIONAL_ID_AUTHORIZATION_FAILED, TOPIC_/GROUP_/CLUSTER_AUTHORIZATION_FAILED,
 * OPERATION_NOT_ATTEMPTED beside a denied topic, descriptions and lists filtered), with the
 * denial logged naming the action and the ARN. kafkajs's transactional producer, signing
 * OAUTHBEARER tokens with aws-msk-iam-sasl-signer-js, commits through the same policies and is
 * refused without them.
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "../../lib/deps/kafkajs.ts";
import { localClusterArn, MskArns } from "../../lib/broker/iam_policy.ts";
import { ErrorCode } from "../../lib/broker/error_codes.ts";
import { markerBatch } from "../../lib/broker/record_batch.ts";
import { crc32c } from "../../lib/broker/crc32c.ts";
import { waitFor } from "../_fixtures.ts";
import { WireClient } from "../_kafka_wire.ts";
import { iamLogin, iamToken, startIamBroker } from "../_iam_broker.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const REGION = "us-east-1";
const KEY = "AKIAPINPIPETXN00001";
const SECRET = "txn-Secret-Key-0123456789";
const PRINCIPAL = "arn:aws:iam::000000000000:role/pinpipe-txn";
const arns = new MskArns(localClusterArn(REGION));
const E = ErrorCode;

/**
 * The policy: transactional ids tx-ok* may be described and altered, tx-ro* only described;
 * topics in-* written, read and described, out-* only described; groups g-ok* altered and
 * described.
 */
const POLICY = {
  Version: "2012-10-17",
  Statement: [
    { Effect: "Allow", Action: "kafka-cluster:Connect", Resource: arns.cluster },
    {
      Effect: "Allow",
      Action: ["kafka-cluster:DescribeTransactionalId", "kafka-cluster:AlterTransactionalId"],
      Resource: arns.transactionalId("tx-ok*"),
    },
    {
      Effect: "Allow",
      Action: "kafka-cluster:DescribeTransactionalId",
      Resource: arns.transactionalId("tx-ro*"),
    },
    {
      Effect: "Allow",
      Action: ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData", "kafka-cluster:ReadData"],
      Resource: arns.topic("in-*"),
    },
    { Effect: "Allow", Action: "kafka-cluster:DescribeTopic", Resource: arns.topic("out-*") },
    {
      Effect: "Allow",
      Action: ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"],
      Resource: arns.group("g-ok*"),
    },
  ],
};

const WHO = { region: REGION, key: KEY, secret: SECRET, principal: PRINCIPAL, policy: POLICY };
const iamBroker = () => startIamBroker(WHO);
const token = () => iamToken(WHO);
const login = (bootstrap: string) => iamLogin(bootstrap, WHO);

/** A transactional data batch (one record) of `producerId`/`epoch`. */
function txnBatch(producerId: number, epoch: number, seq: number): Uint8Array {
  const bytes = markerBatch(producerId, epoch, 0, 1);
  const v = new DataView(bytes.buffer);
  v.setInt16(21, 0x10); // transactional, not control
  v.setInt32(53, seq);
  v.setUint32(17, crc32c(bytes.subarray(21)));
  return bytes;
}

/** Partition error codes of an AddPartitionsToTxn v3 answer, as {topic: [codes]}. */
function codes(
  res: {
    resultsByTopicV3AndBelow: {
      name: string;
      resultsByPartition: { partitionErrorCode: number }[];
    }[];
  },
) {
  return Object.fromEntries(
    res.resultsByTopicV3AndBelow.map((t) => [
      t.name,
      t.resultsByPartition.map((p) => p.partitionErrorCode),
    ]),
  );
}

Deno.test(
  "IAM decides the transaction APIs where Kafka checks its ACLs: AlterTransactionalId, DescribeTransactionalId, WriteData, AlterGroup, ReadData",
  opts,
  async () => {
    const b = await iamBroker();
    const plain = await WireClient.open(b.plain);
    const c = await login(b.iam);
    try {
      // Set up over PLAINTEXT (no principal, nothing checked): the topics and, for the
      // description and list below, transactions the principal may not see whole.
      const made = await plain.call("CreateTopics", 4, {
        topics: ["in-a", "out-a", "hidden"].map((name) => ({
          name,
          numPartitions: 1,
          replicationFactor: 1,
          assignments: [],
          configs: [],
        })),
        timeoutMs: 5000,
        validateOnly: false,
      });
      assert.deepEqual(made.topics.map((t: { errorCode: number }) => t.errorCode), [0, 0, 0]);
      for (const id of ["tx-ok-seen", "secret-txn"]) {
        const init = await plain.call("InitProducerId", 4, {
          transactionalId: id,
          transactionTimeoutMs: 60_000,
          producerId: -1,
          producerEpoch: -1,
        });
        const added = await plain.call("AddPartitionsToTxn", 3, {
          v3AndBelowTransactionalId: id,
          v3AndBelowProducerId: init.producerId,
          v3AndBelowProducerEpoch: init.producerEpoch,
          v3AndBelowTopics: [{ name: "in-a", partitions: [0] }, {
            name: "hidden",
            partitions: [0],
          }],
        });
        assert.deepEqual(codes(added), { "in-a": [0], hidden: [0] });
      }

      // FindCoordinator for a transactional id: DescribeTransactionalId.
      const found = await c.call("FindCoordinator", 4, {
        keyType: 1,
        coordinatorKeys: ["tx-ok-1", "tx-ro-1", "nope"],
      });
      assert.deepEqual(
        found.coordinators.map((k: { key: string; errorCode: number }) => [k.key, k.errorCode]),
        [["tx-ok-1", 0], ["tx-ro-1", 0], ["nope", E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED]],
      );
      // In the request's order, refusals worded as Apache Kafka 3.9.1 words them ("" in v4's
      // entries, the error's message in v1-3).
      const mixed = await c.call("FindCoordinator", 4, {
        keyType: 1,
        coordinatorKeys: ["nope", "tx-ok-1"],
      });
      assert.deepEqual(
        mixed.coordinators.map((k: { key: string; errorCode: number; errorMessage: string }) => [
          k.key,
          k.errorCode,
          k.errorMessage,
        ]),
        [["nope", E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, ""], ["tx-ok-1", 0, ""]],
      );
      const one = await c.call("FindCoordinator", 3, { key: "nope", keyType: 1 });
      assert.deepEqual(
        [one.errorCode, one.errorMessage, one.nodeId],
        [E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, "Transactional Id authorization failed.", -1],
      );
      const group = await c.call("FindCoordinator", 3, { key: "g-no", keyType: 0 });
      assert.deepEqual(
        [group.errorCode, group.errorMessage],
        [E.GROUP_AUTHORIZATION_FAILED, "Group authorization failed."],
      );

      // InitProducerId with a transactional id: AlterTransactionalId (describing is not enough).
      const init = (id: string) =>
        c.call("InitProducerId", 4, {
          transactionalId: id,
          transactionTimeoutMs: 60_000,
          producerId: -1,
          producerEpoch: -1,
        });
      for (const id of ["tx-ro-1", "nope"]) {
        const r = await init(id);
        assert.deepEqual(
          [r.errorCode, Number(r.producerId), r.producerEpoch],
          [E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1, -1],
        );
      }
      const pid = await init("tx-ok-1");
      assert.equal(pid.errorCode, 0);
      const producer = {
        v3AndBelowTransactionalId: "tx-ok-1",
        v3AndBelowProducerId: pid.producerId,
        v3AndBelowProducerEpoch: pid.producerEpoch,
      };

      // AddPartitionsToTxn: one topic denied fails the request; the others are not attempted,
      // a missing (but allowed) one is unknown, as Kafka answers.
      const partial = await c.call("AddPartitionsToTxn", 3, {
        ...producer,
        v3AndBelowTopics: [
          { name: "in-a", partitions: [0] },
          { name: "out-a", partitions: [0] },
          { name: "in-missing", partitions: [0] },
        ],
      });
      assert.deepEqual(codes(partial), {
        "in-a": [E.OPERATION_NOT_ATTEMPTED],
        "out-a": [E.TOPIC_AUTHORIZATION_FAILED],
        "in-missing": [E.UNKNOWN_TOPIC_OR_PARTITION],
      });
      const otherId = await c.call("AddPartitionsToTxn", 3, {
        ...producer,
        v3AndBelowTransactionalId: "tx-ro-1",
        v3AndBelowTopics: [{ name: "in-a", partitions: [0] }],
      });
      assert.deepEqual(codes(otherId), { "in-a": [E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED] });
      // v4+ is the brokers' batched form: Kafka's CLUSTER_ACTION, which IAM never grants.
      const batched = await c.call("AddPartitionsToTxn", 4, {
        transactions: [{
          transactionalId: "tx-ok-1",
          producerId: pid.producerId,
          producerEpoch: pid.producerEpoch,
          verifyOnly: true,
          topics: [{ name: "in-a", partitions: [0] }],
        }],
      });
      assert.deepEqual([batched.errorCode, batched.resultsByTransaction], [
        E.CLUSTER_AUTHORIZATION_FAILED,
        [],
      ]);
      const added = await c.call("AddPartitionsToTxn", 3, {
        ...producer,
        v3AndBelowTopics: [{ name: "in-a", partitions: [0] }],
      });
      assert.deepEqual(codes(added), { "in-a": [0] });

      // A transactional produce: the request's transactional id must be AlterTransactionalId.
      const produce = (transactionalId: string) =>
        c.call("Produce", 9, {
          transactionalId,
          acks: -1,
          timeoutMs: 5000,
          topicData: [{
            name: "in-a",
            partitionData: [{
              index: 0,
              records: txnBatch(Number(pid.producerId), pid.producerEpoch, 0),
            }],
          }],
        });
      const refused = (await produce("tx-ro-1")).responses[0].partitionResponses[0];
      assert.deepEqual(
        [refused.errorCode, Number(refused.baseOffset), refused.errorMessage],
        [E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1, "Transactional Id authorization failed."],
      );
      const written = (await produce("tx-ok-1")).responses[0].partitionResponses[0];
      assert.deepEqual([written.errorCode, Number(written.baseOffset)], [0, 0]);

      // AddOffsetsToTxn: AlterTransactionalId, then AlterGroup (Kafka's READ on the group).
      const addOffsets = (transactionalId: string, groupId: string) =>
        c.call("AddOffsetsToTxn", 3, {
          transactionalId,
          producerId: pid.producerId,
          producerEpoch: pid.producerEpoch,
          groupId,
        });
      assert.equal(
        (await addOffsets("tx-ro-1", "g-ok")).errorCode,
        E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
      );
      assert.equal((await addOffsets("tx-ok-1", "g-no")).errorCode, E.GROUP_AUTHORIZATION_FAILED);
      assert.equal((await addOffsets("tx-ok-1", "g-ok")).errorCode, 0);

      // TxnOffsetCommit: the id, the group, then ReadData per topic.
      const commit = async (transactionalId: string, groupId: string) => {
        const r = await c.call("TxnOffsetCommit", 3, {
          transactionalId,
          groupId,
          producerId: pid.producerId,
          producerEpoch: pid.producerEpoch,
          generationId: -1,
          memberId: "",
          groupInstanceId: null,
          topics: ["in-a", "out-a"].map((name) => ({
            name,
            partitions: [{
              partitionIndex: 0,
              committedOffset: 1,
              committedLeaderEpoch: -1,
              committedMetadata: null,
            }],
          })),
        });
        return Object.fromEntries(
          r.topics.map((t: { name: string; partitions: { errorCode: number }[] }) => [
            t.name,
            t.partitions[0].errorCode,
          ]),
        );
      };
      const T = E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
      assert.deepEqual(await commit("tx-ro-1", "g-ok"), { "in-a": T, "out-a": T });
      const G = E.GROUP_AUTHORIZATION_FAILED;
      assert.deepEqual(await commit("tx-ok-1", "g-no"), { "in-a": G, "out-a": G });
      assert.deepEqual(await commit("tx-ok-1", "g-ok"), {
        "in-a": 0,
        "out-a": E.TOPIC_AUTHORIZATION_FAILED,
      });
      // In Kafka 3.9's order: the partitions the broker answers itself (refused, unknown)
      // first, topic by topic in the request's order, then the coordinator's.
      const ordered = await c.call("TxnOffsetCommit", 3, {
        transactionalId: "tx-ok-1",
        groupId: "g-ok",
        producerId: pid.producerId,
        producerEpoch: pid.producerEpoch,
        generationId: -1,
        memberId: "",
        groupInstanceId: null,
        topics: [["in-a", [0, 7]], ["out-a", [0]], ["in-missing", [0]]].map(([name, ps]) => ({
          name,
          partitions: (ps as number[]).map((partitionIndex) => ({
            partitionIndex,
            committedOffset: 1,
            committedLeaderEpoch: -1,
            committedMetadata: null,
          })),
        })),
      });
      assert.deepEqual(
        ordered.topics.map((
          t: { name: string; partitions: { partitionIndex: number; errorCode: number }[] },
        ) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]),
        [
          ["in-a", [[7, E.UNKNOWN_TOPIC_OR_PARTITION], [0, 0]]],
          ["out-a", [[0, E.TOPIC_AUTHORIZATION_FAILED]]],
          ["in-missing", [[0, E.UNKNOWN_TOPIC_OR_PARTITION]]],
        ],
      );

      // DescribeTransactions: DescribeTransactionalId per id; partitions of topics the
      // principal may not describe are left out.
      const described = await c.call("DescribeTransactions", 0, {
        transactionalIds: ["tx-ok-1", "tx-ok-seen", "tx-ro-1", "secret-txn"],
      });
      assert.deepEqual(
        described.transactionStates.map((
          t: {
            transactionalId: string;
            errorCode: number;
            transactionState: string;
            topics: unknown;
          },
        ) => [t.transactionalId, t.errorCode, t.transactionState, t.topics]),
        [
          ["tx-ok-1", 0, "Ongoing", [{ topic: "in-a", partitions: [0] }]],
          ["tx-ok-seen", 0, "Ongoing", [{ topic: "in-a", partitions: [0] }]],
          ["tx-ro-1", E.TRANSACTIONAL_ID_NOT_FOUND, "", []],
          ["secret-txn", T, "", []],
        ],
      );
      // ListTransactions: only what the principal may describe.
      const listed = await c.call("ListTransactions", 1, {
        stateFilters: [],
        producerIdFilters: [],
        durationFilter: -1,
      });
      assert.deepEqual(
        listed.transactionStates.map((t: { transactionalId: string }) => t.transactionalId).sort(),
        ["tx-ok-1", "tx-ok-seen"],
      );
      // DescribeProducers: ReadData per topic.
      // In the request's order, worded as Kafka words them.
      const producers = await c.call("DescribeProducers", 0, {
        topics: ["out-a", "in-a", "in-missing"].map((name) => ({ name, partitionIndexes: [0] })),
      });
      assert.deepEqual(
        producers.topics.map((
          t: { name: string; partitions: { errorCode: number; errorMessage: string | null }[] },
        ) => [t.name, t.partitions[0].errorCode, t.partitions[0].errorMessage]),
        [
          ["out-a", E.TOPIC_AUTHORIZATION_FAILED, "Topic authorization failed."],
          ["in-a", 0, null],
          [
            "in-missing",
            E.UNKNOWN_TOPIC_OR_PARTITION,
            "This server does not host this topic-partition.",
          ],
        ],
      );

      // EndTxn: AlterTransactionalId.
      const end = (transactionalId: string) =>
        c.call("EndTxn", 3, {
          transactionalId,
          producerId: pid.producerId,
          producerEpoch: pid.producerEpoch,
          committed: true,
        });
      assert.equal((await end("tx-ro-1")).errorCode, T);
      assert.equal((await end("tx-ok-1")).errorCode, 0);
      const fetched = await c.call("OffsetFetch", 8, {
        groups: [{ groupId: "g-ok", topics: [{ name: "in-a", partitionIndexes: [0] }] }],
        requireStable: true,
      });
      assert.equal(Number(fetched.groups[0].topics[0].partitions[0].committedOffset), 1);

      // Each denial logged once, naming the action, the ARN and why.
      const denial = (action: string, arn: string) =>
        b.lines.filter((l) =>
          l.startsWith(
            `denied ${PRINCIPAL} kafka-cluster:${action} on ${arn}: no statement allows it (`,
          )
        ).length;
      assert.equal(denial("AlterTransactionalId", arns.transactionalId("tx-ro-1")), 1);
      assert.equal(denial("DescribeTransactionalId", arns.transactionalId("nope")), 1);
      assert.equal(denial("WriteData", arns.topic("out-a")), 1);
      assert.equal(denial("AlterGroup", arns.group("g-no")), 1);
      assert.equal(denial("DescribeTopic", arns.topic("hidden")), 1);
      assert.ok(
        b.lines.some((l) =>
          l === `denied ${PRINCIPAL} ClusterAction on ${arns.cluster}: no kafka-cluster action ` +
              "grants it"
        ),
        b.lines.join("\n"),
      );
      // ListTransactions leaves ids out without logging them, as Kafka does.
      assert.equal(denial("DescribeTransactionalId", arns.transactionalId("secret-txn")), 1);
    } finally {
      c.close();
      plain.close();
      await b.close();
    }
  },
);

Deno.test(
  "kafkajs's transactional producer over MSK IAM: commits with the transactional-id actions; without AlterTransactionalId or DescribeTransactionalId it is refused",
  opts,
  async () => {
    const b = await iamBroker();
    const kafka = new Kafka({
      brokers: [b.iam],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
      sasl: {
        mechanism: "oauthbearer",
        oauthBearerProvider: async () => ({ value: await token() }),
      },
    });
    try {
      // Set up and checked over PLAINTEXT (no principal, nothing decided).
      const admin = new Kafka({ brokers: [b.plain], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: "in-k", numPartitions: 1 }] });

      const producer = kafka.producer({ transactionalId: "tx-ok-k", maxInFlightRequests: 1 });
      await producer.connect();
      const tx = await producer.transaction();
      await tx.send({ topic: "in-k", messages: [{ value: "committed" }] });
      await tx.sendOffsets({
        consumerGroupId: "g-ok-k",
        topics: [{ topic: "in-k", partitions: [{ partition: 0, offset: "1" }] }],
      });
      await tx.commit();
      await producer.disconnect();

      const consumer = kafka.consumer({ groupId: "g-ok-reader", maxWaitTimeInMs: 100 });
      await consumer.connect();
      await consumer.subscribe({ topic: "in-k", fromBeginning: true });
      const got: string[] = [];
      await consumer.run({
        eachMessage: ({ message }) => Promise.resolve(void got.push(String(message.value))),
      });
      try {
        await waitFor("the committed record", () => got.length > 0, 20_000);
      } finally {
        await consumer.disconnect();
      }
      assert.deepEqual(got, ["committed"]);
      const [fetched] = await admin.fetchOffsets({ groupId: "g-ok-k", topics: ["in-k"] });
      await admin.disconnect();
      assert.equal(fetched.partitions[0].offset, "1");

      for (
        const [id, why] of [
          ["tx-ro-k", /Transactional Id authorization failed/],
          // kafkajs reports a coordinator it may not find so; the broker's log says why.
          ["other-k", /Failed to find group coordinator/],
        ] as const
      ) {
        const denied = kafka.producer({ transactionalId: id, retry: { retries: 0 } });
        await denied.connect(); // kafkajs finds the coordinator and inits at the first transaction
        await assert.rejects(() => denied.transaction(), why);
        await denied.disconnect();
      }
      assert.ok(
        b.lines.some((l) =>
          l.startsWith(
            `denied ${PRINCIPAL} kafka-cluster:AlterTransactionalId on ${
              arns.transactionalId("tx-ro-k")
            }: no statement allows it`,
          )
        ),
        b.lines.join("\n"),
      );
      assert.ok(
        b.lines.some((l) =>
          l.startsWith(
            `denied ${PRINCIPAL} kafka-cluster:DescribeTransactionalId on ${
              arns.transactionalId("other-k")
            }: no statement allows it`,
          )
        ),
        b.lines.join("\n"),
      );
    } finally {
      await b.close();
    }
  },
);

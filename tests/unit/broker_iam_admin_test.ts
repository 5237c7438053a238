/**
 * The admin and KIP-848 APIs under MSK IAM (lib/broker/iam_authz.ts), in process: every API
 * the broker serves has a rule, and DeleteRecords (DeleteTopic), IncrementalAlterConfigs
 * (AlterTopicDynamicConfiguration / AlterClusterDynamicConfiguration), OffsetDelete
 * (DeleteGroup, then ReadData), DescribeClientQuotas (DescribeClusterDynamicConfiguration),
 * DescribeUserScramCredentials (DescribeCluster), AlterUserScramCredentials (AlterCluster),
 * ConsumerGroupHeartbeat (AlterGroup) and ConsumerGroupDescribe (DescribeGroup) each do
 * their work where the policy allows it and answer Kafka 3.9's authorization error, shaped
 * as Kafka shapes it, where it does not; never a closed connection. Each denial is logged
 * naming the action and the ARN. Metadata's auto-creation asks CreateTopic only of the
 * missing topics, as Kafka asks CREATE.
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "../../lib/deps/kafkajs.ts";
import { localClusterArn, MskArns } from "../../lib/broker/iam_policy.ts";
import { ErrorCode } from "../../lib/broker/error_codes.ts";
import { MAPPED_APIS } from "../../lib/broker/iam_authz.ts";
import { APIS } from "../../lib/broker/registry.ts";
import { iamLogin, type IamPrincipal, startIamBroker } from "../_iam_broker.ts";
import { WireClient } from "../_kafka_wire.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const opts = { sanitizeOps: false, sanitizeResources: false };
const REGION = "us-east-1";
const arns = new MskArns(localClusterArn(REGION));
const E = ErrorCode;

/**
 * The application: topics ok-* described, deleted from, reconfigured and read, no-* only
 * described, auto-* described and created; groups g-ok* joined, described and deleted, g-ro* only described; nothing on
 * the cluster beyond Connect.
 */
const APP: IamPrincipal = {
  region: REGION,
  key: "AKIAPINPIPEADMAPP01",
  secret: "app-Secret-Key-0123456789",
  principal: "arn:aws:iam::000000000000:role/pinpipe-app",
  policy: {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: "kafka-cluster:Connect", Resource: arns.cluster },
      {
        Effect: "Allow",
        Action: [
          "kafka-cluster:DescribeTopic",
          "kafka-cluster:DeleteTopic",
          "kafka-cluster:AlterTopicDynamicConfiguration",
          "kafka-cluster:ReadData",
        ],
        Resource: arns.topic("ok-*"),
      },
      { Effect: "Allow", Action: "kafka-cluster:DescribeTopic", Resource: arns.topic("no-*") },
      {
        Effect: "Allow",
        Action: ["kafka-cluster:DescribeTopic", "kafka-cluster:CreateTopic"],
        Resource: arns.topic("auto-*"),
      },
      {
        Effect: "Allow",
        Action: [
          "kafka-cluster:AlterGroup",
          "kafka-cluster:DescribeGroup",
          "kafka-cluster:DeleteGroup",
        ],
        Resource: arns.group("g-ok*"),
      },
      { Effect: "Allow", Action: "kafka-cluster:DescribeGroup", Resource: arns.group("g-ro*") },
    ],
  },
};

/** The operator: the cluster-wide actions, and nothing on topics or groups. */
const OPERATOR: IamPrincipal = {
  region: REGION,
  key: "AKIAPINPIPEADMOPS01",
  secret: "ops-Secret-Key-0123456789",
  principal: "arn:aws:iam::000000000000:role/pinpipe-ops",
  policy: {
    Version: "2012-10-17",
    Statement: [{
      Effect: "Allow",
      Action: [
        "kafka-cluster:Connect",
        "kafka-cluster:DescribeCluster",
        "kafka-cluster:AlterCluster",
        "kafka-cluster:DescribeClusterDynamicConfiguration",
        "kafka-cluster:AlterClusterDynamicConfiguration",
      ],
      Resource: arns.cluster,
    }],
  },
};

/** True when the broker logged `who`'s denial of `action` on `arn` (by no statement). */
function denied(lines: string[], who: IamPrincipal, action: string, arn: string): boolean {
  const line = `denied ${who.principal} kafka-cluster:${action} on ${arn}: no statement allows it`;
  return lines.some((l) => l.startsWith(line));
}

/** [name, code] of each partition of a per-topic answer, in the answer's order. */
function partitionCodes(topics: { name: string; partitions: { errorCode: number }[] }[]) {
  return topics.flatMap((t) => t.partitions.map((p) => [t.name, p.errorCode]));
}

Deno.test("every API the broker serves maps to MSK's IAM actions", () => {
  const unmapped = [...APIS.values()].map((a) => a.name).filter((n) => !MAPPED_APIS.has(n));
  assert.deepEqual(unmapped, []);
});

Deno.test(
  "IAM decides DeleteRecords (DeleteTopic) and IncrementalAlterConfigs (AlterTopicDynamicConfiguration, AlterClusterDynamicConfiguration) per resource",
  opts,
  async () => {
    const b = await startIamBroker([APP, OPERATOR]);
    const plain = new Kafka({ brokers: [b.plain], logLevel: logLevel.NOTHING });
    const admin = plain.admin();
    await admin.connect();
    const app = await iamLogin(b.iam, APP);
    const ops = await iamLogin(b.iam, OPERATOR);
    try {
      await admin.createTopics({ topics: ["ok-a", "no-a"].map((topic) => ({ topic })) });
      const producer = plain.producer();
      await producer.connect();
      for (const topic of ["ok-a", "no-a"]) {
        await producer.send({ topic, messages: [{ value: "1" }, { value: "2" }, { value: "3" }] });
      }
      await producer.disconnect();

      // DeleteRecords: DeleteTopic per topic, checked before the topic is looked up.
      const del = await app.call("DeleteRecords", 2, {
        topics: ["ok-a", "no-a", "ok-missing", "zz-missing"].map((name) => ({
          name,
          partitions: [{ partitionIndex: 0, offset: 2 }],
        })),
        timeoutMs: 5000,
      });
      const byName = Object.fromEntries(
        del.topics.map((t: { name: string; partitions: unknown[] }) => [t.name, t.partitions]),
      );
      assert.deepEqual(byName, {
        "ok-a": [{ partitionIndex: 0, lowWatermark: 2, errorCode: E.NONE }],
        "no-a": [{ partitionIndex: 0, lowWatermark: -1, errorCode: E.TOPIC_AUTHORIZATION_FAILED }],
        "ok-missing": [{
          partitionIndex: 0,
          lowWatermark: -1,
          errorCode: E.UNKNOWN_TOPIC_OR_PARTITION,
        }],
        "zz-missing": [{
          partitionIndex: 0,
          lowWatermark: -1,
          errorCode: E.TOPIC_AUTHORIZATION_FAILED,
        }],
      });
      const low = async (topic: string) => (await admin.fetchTopicOffsets(topic))[0].low;
      assert.equal(await low("ok-a"), "2");
      assert.equal(await low("no-a"), "0"); // untouched
      assert.ok(denied(b.lines, APP, "DeleteTopic", arns.topic("no-a")), b.lines.join("\n"));

      // IncrementalAlterConfigs: a topic's configs AlterTopicDynamicConfiguration, the
      // broker's and a broker logger's AlterClusterDynamicConfiguration; in the request's order.
      const retention = (resourceType: number, resourceName: string, name = "retention.ms") => ({
        resourceType,
        resourceName,
        configs: [{ name, configOperation: 0, value: "3600000" }],
      });
      const alter = (c: typeof app) =>
        c.call("IncrementalAlterConfigs", 1, {
          resources: [
            retention(2, "no-a"),
            retention(2, "ok-a"),
            retention(4, "1", "log.retention.ms"),
            retention(8, "1", "kafka.server"),
            retention(2, "ok-missing"),
          ],
          validateOnly: false,
        });
      const codes = (res: { responses: { resourceName: string; errorCode: number }[] }) =>
        res.responses.map((r) => [r.resourceName, r.errorCode]);
      assert.deepEqual(codes(await alter(app)), [
        ["no-a", E.TOPIC_AUTHORIZATION_FAILED],
        ["ok-a", E.NONE],
        ["1", E.CLUSTER_AUTHORIZATION_FAILED],
        ["1", E.CLUSTER_AUTHORIZATION_FAILED],
        ["ok-missing", E.UNKNOWN_TOPIC_OR_PARTITION],
      ]);
      // Worded as Apache Kafka 3.9.1 words them (tests/engine/broker_iam_authz_oracle_test.ts).
      assert.deepEqual((await alter(app)).responses.slice(0, 4).map((r: Any) => r.errorMessage), [
        "Topic authorization failed.",
        null,
        "Cluster authorization failed.",
        null,
      ]);
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: ["ok-a", "no-a"].map((name) => ({
          type: 2,
          name,
          configNames: ["retention.ms"],
        })),
      });
      assert.deepEqual(
        described.resources.map((r) => [r.resourceName, r.configEntries[0].configValue]),
        [["ok-a", "3600000"], ["no-a", "604800000"]],
      );
      assert.ok(
        denied(b.lines, APP, "AlterTopicDynamicConfiguration", arns.topic("no-a")),
        b.lines.join("\n"),
      );
      assert.ok(
        denied(b.lines, APP, "AlterClusterDynamicConfiguration", arns.cluster),
        b.lines.join("\n"),
      );
      // The operator may alter the cluster's configs (the broker then refuses the change
      // itself: its settings are its flags) but no topic's.
      assert.deepEqual(codes(await alter(ops)), [
        ["no-a", E.TOPIC_AUTHORIZATION_FAILED],
        ["ok-a", E.TOPIC_AUTHORIZATION_FAILED],
        ["1", E.INVALID_REQUEST],
        ["1", E.INVALID_REQUEST],
        ["ok-missing", E.TOPIC_AUTHORIZATION_FAILED],
      ]);
    } finally {
      app.close();
      ops.close();
      await admin.disconnect();
      await b.close();
    }
  },
);

Deno.test(
  "IAM decides OffsetDelete (DeleteGroup, then ReadData), ConsumerGroupHeartbeat (AlterGroup) and ConsumerGroupDescribe (DescribeGroup)",
  opts,
  async () => {
    const b = await startIamBroker([APP, OPERATOR]);
    const admin = new Kafka({ brokers: [b.plain], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const app = await iamLogin(b.iam, APP);
    try {
      await admin.createTopics({ topics: ["ok-a", "no-a"].map((topic) => ({ topic })) });
      const plain = await WireClient.open(b.plain);
      for (const groupId of ["g-ok-1", "g-ro-1"]) {
        const commit = await plain.call("OffsetCommit", 8, {
          groupId,
          generationIdOrMemberEpoch: -1,
          memberId: "",
          groupInstanceId: null,
          topics: ["ok-a", "no-a"].map((name) => ({
            name,
            partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: null }],
          })),
        });
        assert.deepEqual(partitionCodes(commit.topics), [["ok-a", 0], ["no-a", 0]]);
      }
      plain.close();
      const committed = async (groupId: string) =>
        (await admin.fetchOffsets({ groupId, topics: ["ok-a", "no-a"] }))
          .map((t) => [t.topic, t.partitions[0].offset]);

      // OffsetDelete: DeleteGroup on the group, else the whole answer is refused.
      const offsetDelete = (groupId: string, topics: string[]) =>
        app.call("OffsetDelete", 0, {
          groupId,
          topics: topics.map((name) => ({ name, partitions: [{ partitionIndex: 0 }] })),
        });
      const ro = await offsetDelete("g-ro-1", ["ok-a", "no-a"]);
      assert.equal(ro.errorCode, E.GROUP_AUTHORIZATION_FAILED);
      assert.deepEqual(ro.topics, []);
      assert.deepEqual(await committed("g-ro-1"), [["ok-a", "1"], ["no-a", "1"]]);
      assert.ok(denied(b.lines, APP, "DeleteGroup", arns.group("g-ro-1")), b.lines.join("\n"));
      // Then ReadData per topic: the denied topics first, as Kafka answers them.
      const ok = await offsetDelete("g-ok-1", ["ok-a", "no-a"]);
      assert.equal(ok.errorCode, E.NONE);
      assert.deepEqual(partitionCodes(ok.topics), [
        ["no-a", E.TOPIC_AUTHORIZATION_FAILED],
        ["ok-a", E.NONE],
      ]);
      assert.deepEqual(await committed("g-ok-1"), [["ok-a", "-1"], ["no-a", "1"]]);
      assert.ok(denied(b.lines, APP, "ReadData", arns.topic("no-a")), b.lines.join("\n"));
      // Every topic denied: the group is still asked, with none, and its own error is the
      // whole answer (Kafka's OffsetDelete answer keeps the coordinator's error alone).
      const none = await offsetDelete("g-ok-none", ["no-a"]);
      assert.equal(none.errorCode, E.GROUP_ID_NOT_FOUND);
      assert.deepEqual(none.topics, []);

      // ConsumerGroupHeartbeat: AlterGroup on the group.
      const heartbeat = (groupId: string) =>
        app.call("ConsumerGroupHeartbeat", 0, {
          groupId,
          memberId: "",
          memberEpoch: 0,
          instanceId: null,
          rackId: null,
          rebalanceTimeoutMs: 30_000,
          subscribedTopicNames: ["ok-a"],
          serverAssignor: null,
          topicPartitions: [],
        });
      const refused = await heartbeat("g-ro-2");
      assert.deepEqual(
        [refused.errorCode, refused.memberId, refused.memberEpoch, refused.assignment],
        [E.GROUP_AUTHORIZATION_FAILED, null, 0, null],
      );
      assert.ok(denied(b.lines, APP, "AlterGroup", arns.group("g-ro-2")), b.lines.join("\n"));
      const joined = await heartbeat("g-ok-hb");
      assert.equal(joined.errorCode, E.NONE, joined.errorMessage);
      assert.ok(joined.memberEpoch > 0);

      // ConsumerGroupDescribe: DescribeGroup per group, the denied ones first.
      const desc = await app.call("ConsumerGroupDescribe", 0, {
        groupIds: ["g-ro-2", "secret-group", "g-ok-hb"],
        includeAuthorizedOperations: false,
      });
      assert.deepEqual(
        desc.groups.map((g: { groupId: string; errorCode: number }) => [g.groupId, g.errorCode]),
        [
          ["secret-group", E.GROUP_AUTHORIZATION_FAILED],
          ["g-ro-2", E.GROUP_ID_NOT_FOUND], // described, but never joined (denied above)
          ["g-ok-hb", E.NONE],
        ],
      );
      assert.equal(desc.groups[2].members[0].memberId, joined.memberId);
      assert.ok(
        denied(b.lines, APP, "DescribeGroup", arns.group("secret-group")),
        b.lines.join("\n"),
      );
      const onlyDenied = await app.call("ConsumerGroupDescribe", 0, {
        groupIds: ["secret-group"],
        includeAuthorizedOperations: false,
      });
      assert.deepEqual(
        onlyDenied.groups.map((g: { groupId: string; errorCode: number }) => [
          g.groupId,
          g.errorCode,
        ]),
        [["secret-group", E.GROUP_AUTHORIZATION_FAILED]],
      );
    } finally {
      app.close();
      await admin.disconnect();
      await b.close();
    }
  },
);

Deno.test(
  "IAM decides DescribeClientQuotas (DescribeClusterDynamicConfiguration) and the SCRAM credential APIs (DescribeCluster, AlterCluster)",
  opts,
  async () => {
    const b = await startIamBroker([APP, OPERATOR]);
    const app = await iamLogin(b.iam, APP);
    const ops = await iamLogin(b.iam, OPERATOR);
    try {
      const quotas = (c: typeof app) =>
        c.call("DescribeClientQuotas", 1, {
          components: [{ entityType: "user", matchType: 1, match: null }],
          strict: false,
        });
      const appQuotas = await quotas(app);
      assert.deepEqual(
        [appQuotas.errorCode, appQuotas.errorMessage, appQuotas.entries],
        [E.CLUSTER_AUTHORIZATION_FAILED, null, null],
      );
      assert.deepEqual((await quotas(ops)).entries, []);
      assert.equal((await quotas(ops)).errorCode, E.NONE);

      // AlterUserScramCredentials: AlterCluster; every user named once, sorted.
      const upsert = (name: string) => ({
        name,
        mechanism: 2, // SCRAM-SHA-512
        iterations: 4096,
        salt: new TextEncoder().encode("salt-of-" + name),
        saltedPassword: new Uint8Array(64).fill(7),
      });
      const alter = (c: typeof app) =>
        c.call("AlterUserScramCredentials", 0, {
          deletions: [{ name: "zed", mechanism: 1 }],
          upsertions: [upsert("carol"), upsert("zed")],
        });
      const appAlter = await alter(app);
      assert.deepEqual(appAlter.results, [
        { user: "carol", errorCode: E.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null },
        { user: "zed", errorCode: E.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null },
      ]);
      assert.ok(denied(b.lines, APP, "AlterCluster", arns.cluster), b.lines.join("\n"));

      // DescribeUserScramCredentials: DescribeCluster; one result per user asked, unnamed.
      const describe = (c: typeof app) =>
        c.call("DescribeUserScramCredentials", 0, { users: [{ name: "carol" }, { name: "x" }] });
      const appDescribe = await describe(app);
      assert.equal(appDescribe.errorCode, E.CLUSTER_AUTHORIZATION_FAILED);
      assert.deepEqual(
        appDescribe.results.map((r: { user: string; errorCode: number }) => [r.user, r.errorCode]),
        [["", E.CLUSTER_AUTHORIZATION_FAILED], ["", E.CLUSTER_AUTHORIZATION_FAILED]],
      );
      assert.ok(denied(b.lines, APP, "DescribeCluster", arns.cluster), b.lines.join("\n"));

      // The operator may: carol is added (deleting what zed does not have is refused, and
      // with it zed's upsert), then described.
      const opsAlter = await alter(ops);
      assert.deepEqual(
        opsAlter.results.map((r: { user: string; errorCode: number }) => [r.user, r.errorCode]),
        [["zed", E.RESOURCE_NOT_FOUND], ["carol", E.NONE]],
      );
      const opsDescribe = await describe(ops);
      assert.equal(opsDescribe.errorCode, E.NONE);
      assert.deepEqual(
        opsDescribe.results.map((r: { user: string; errorCode: number }) => [r.user, r.errorCode]),
        [["carol", E.NONE], ["x", E.RESOURCE_NOT_FOUND]],
      );
    } finally {
      app.close();
      ops.close();
      await b.close();
    }
  },
);

Deno.test(
  "Metadata asks CreateTopic only of the missing topics it would create: one it may not create gets TOPIC_AUTHORIZATION_FAILED, the others are made",
  opts,
  async () => {
    const b = await startIamBroker(APP, { autoCreate: true });
    const admin = new Kafka({ brokers: [b.plain], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const app = await iamLogin(b.iam, APP);
    try {
      await admin.createTopics({ topics: [{ topic: "ok-a" }] });
      const md = await app.call("Metadata", 9, {
        topics: ["ok-a", "ok-new", "auto-1", "no-new"].map((name) => ({ name })),
        allowAutoTopicCreation: true,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
      const byName = Object.fromEntries(
        md.topics.map((t: { name: string; errorCode: number }) => [t.name, t.errorCode]),
      );
      assert.equal(byName["ok-a"], E.NONE);
      assert.equal(byName["ok-new"], E.TOPIC_AUTHORIZATION_FAILED); // described, not creatable
      assert.equal(byName["no-new"], E.TOPIC_AUTHORIZATION_FAILED); // not even described
      assert.notEqual(byName["auto-1"], E.TOPIC_AUTHORIZATION_FAILED);
      assert.deepEqual((await admin.listTopics()).sort(), ["auto-1", "ok-a"]);
      assert.ok(denied(b.lines, APP, "CreateTopic", arns.topic("ok-new")), b.lines.join("\n"));
      // An existing topic is not asked CreateTopic (nothing to create).
      assert.ok(!b.lines.some((l) => l.includes(`CreateTopic on ${arns.topic("ok-a")}`)));
    } finally {
      app.close();
      await admin.disconnect();
      await b.close();
    }
  },
);

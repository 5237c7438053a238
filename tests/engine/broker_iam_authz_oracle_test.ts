/**
 * The IAM answers of the admin and KIP-848 APIs (lib/broker/iam_authz.ts) against Apache
 * Kafka 3.9.1's own ACL authorizer: the same requests, byte for byte, from a principal
 * allowed the same things, once as an MSK IAM policy on the embedded broker (an
 * OAUTHBEARER token of aws-msk-iam-sasl-signer-js) and once as ACLs on Apache Kafka with
 * the StandardAuthorizer (SCRAM-SHA-512 user alice), each kafka-cluster action granted as
 * the Kafka operation MSK's action table calls it equivalent to. Both must answer the same
 * error codes in the same places and shapes: DeleteRecords, IncrementalAlterConfigs,
 * OffsetDelete, DescribeClientQuotas, Describe/AlterUserScramCredentials,
 * ConsumerGroupHeartbeat, ConsumerGroupDescribe, and Metadata's auto-creation.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { Kafka, logLevel } from "../../lib/deps/kafkajs.ts";
import { localClusterArn, MskArns } from "../../lib/broker/iam_policy.ts";
import { startKafka } from "../_engines.ts";
import { envTest, waitFor } from "../_fixtures.ts";
import { iamLogin, type IamPrincipal, startIamBroker } from "../_iam_broker.ts";
import { WireClient } from "../_kafka_wire.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const REGION = "us-east-1";
const arns = new MskArns(localClusterArn(REGION));
const PASSWORD = "alice-Secret-0123456789";

/**
 * What the principal may do, as [resource type, name prefix, MSK actions]; on Apache Kafka
 * each action is its ACL operation (MSK's table: DescribeTopic DESCRIBE, DeleteTopic DELETE,
 * AlterTopicDynamicConfiguration ALTER_CONFIGS, ReadData READ, CreateTopic CREATE,
 * AlterGroup READ, DescribeGroup DESCRIBE, DeleteGroup DELETE). Nothing on the cluster.
 */
const GRANTS: ["topic" | "group", string, string[]][] = [
  ["topic", "ok-", ["DescribeTopic", "DeleteTopic", "AlterTopicDynamicConfiguration", "ReadData"]],
  ["topic", "no-", ["DescribeTopic"]],
  ["topic", "auto-", ["DescribeTopic", "CreateTopic"]],
  ["group", "g-ok", ["AlterGroup", "DescribeGroup", "DeleteGroup"]],
  ["group", "g-ro", ["DescribeGroup"]],
];
const OPERATION: Record<string, number> = {
  ReadData: 3,
  AlterGroup: 3,
  CreateTopic: 5,
  DeleteTopic: 6,
  DeleteGroup: 6,
  DescribeTopic: 8,
  DescribeGroup: 8,
  AlterTopicDynamicConfiguration: 11,
};

const WHO: IamPrincipal = {
  region: REGION,
  key: "AKIAPINPIPEORACLE01",
  secret: "oracle-Secret-Key-0123456789",
  principal: "arn:aws:iam::000000000000:role/pinpipe-oracle",
  policy: {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: "kafka-cluster:Connect", Resource: arns.cluster },
      ...GRANTS.map(([type, prefix, actions]) => ({
        Effect: "Allow",
        Action: actions.map((a) => `kafka-cluster:${a}`),
        Resource: type === "topic" ? arns.topic(`${prefix}*`) : arns.group(`${prefix}*`),
      })),
    ],
  },
};

/** One broker under test: where to set up (no checks) and a connection as the principal. */
interface Target {
  name: string;
  plain: string;
  login(): Promise<WireClient>;
  stop(): Promise<void>;
}

async function embedded(): Promise<Target> {
  const b = await startIamBroker(WHO, { autoCreate: true });
  return { name: "embedded", plain: b.plain, login: () => iamLogin(b.iam, WHO), stop: b.close };
}

/** SCRAM-SHA-512's client side over SaslHandshake v1 / SaslAuthenticate v2. */
async function scramLogin(bootstrap: string, user: string, password: string) {
  const c = await WireClient.open(bootstrap);
  assert.equal((await c.call("SaslHandshake", 1, { mechanism: "SCRAM-SHA-512" })).errorCode, 0);
  const bare = `n=${user},r=oracleclientnonce`;
  const first = await c.call("SaslAuthenticate", 2, { authBytes: Buffer.from(`n,,${bare}`) });
  assert.equal(first.errorCode, 0, first.errorMessage);
  const serverFirst = Buffer.from(first.authBytes).toString();
  const attrs = Object.fromEntries(serverFirst.split(",").map((p) => [p[0], p.slice(2)]));
  const salted = pbkdf2Sync(
    password,
    Buffer.from(attrs.s, "base64"),
    Number(attrs.i),
    64,
    "sha512",
  );
  const clientKey = createHmac("sha512", salted).update("Client Key").digest();
  const storedKey = createHash("sha512").update(clientKey).digest();
  const withoutProof = `c=biws,r=${attrs.r}`;
  const signature = createHmac("sha512", storedKey)
    .update(`${bare},${serverFirst},${withoutProof}`).digest();
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i])).toString("base64");
  const last = await c.call("SaslAuthenticate", 2, {
    authBytes: Buffer.from(`${withoutProof},p=${proof}`),
  });
  assert.equal(last.errorCode, 0, last.errorMessage);
  return c;
}

async function apacheKafka(): Promise<Target> {
  const kafka = await startKafka({
    config: {
      "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
      // PLAINTEXT (setup, the controller and the broker itself) is ANONYMOUS: a super user.
      "super.users": "User:ANONYMOUS",
      "sasl.enabled.mechanisms": "SCRAM-SHA-512",
      "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config":
        "org.apache.kafka.common.security.scram.ScramLoginModule required;",
      "group.coordinator.rebalance.protocols": "classic,consumer",
    },
    listeners: [{ name: "SASL_PLAINTEXT", protocol: "SASL_PLAINTEXT" }],
  });
  try {
    const plain = await WireClient.open(kafka.bootstrap);
    const salt = new TextEncoder().encode("oracle-salt");
    const made = await plain.call("AlterUserScramCredentials", 0, {
      deletions: [],
      upsertions: [{
        name: "alice",
        mechanism: 2,
        iterations: 4096,
        salt,
        saltedPassword: pbkdf2Sync(PASSWORD, salt, 4096, 64, "sha512"),
      }],
    });
    plain.close();
    assert.equal(made.results[0].errorCode, 0, made.results[0].errorMessage);
    const admin = new Kafka({ brokers: [kafka.bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createAcls({
      acl: GRANTS.flatMap(([type, prefix, actions]) =>
        actions.map((a) => ({
          resourceType: type === "topic" ? 2 : 3,
          resourceName: prefix,
          resourcePatternType: 4, // PREFIXED
          principal: "User:alice",
          host: "*",
          operation: OPERATION[a],
          permissionType: 3, // ALLOW
        }))
      ),
    } as Any);
    await admin.disconnect();
    // The ACLs reach the broker's authorizer through the metadata log: wait until alice may
    // describe an ok- topic (then unknown, not refused).
    const alice = await scramLogin(kafka.listeners.SASL_PLAINTEXT, "alice", PASSWORD);
    try {
      await waitFor("alice's ACLs to apply", async () => {
        const md = await alice.call("Metadata", 9, {
          topics: [{ name: "ok-probe" }],
          allowAutoTopicCreation: false,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        });
        return md.topics[0].errorCode === 3; // UNKNOWN_TOPIC_OR_PARTITION
      });
    } finally {
      alice.close();
    }
  } catch (err) {
    await kafka.stop();
    throw err;
  }
  return {
    name: "Apache Kafka",
    plain: kafka.bootstrap,
    login: () => scramLogin(kafka.listeners.SASL_PLAINTEXT, "alice", PASSWORD),
    stop: () => kafka.stop(),
  };
}

/** [name, code] of each partition of a per-topic answer, in the answer's order. */
function partitionCodes(topics: { name: string; partitions: { errorCode: number }[] }[]) {
  return topics.flatMap((t) => t.partitions.map((p) => [t.name, p.errorCode]));
}

/** Runs the same requests on `t`; answers what each came back with. */
async function scenario(t: Target): Promise<Record<string, unknown>> {
  const seen: Record<string, unknown> = {};
  const plainKafka = new Kafka({ brokers: [t.plain], logLevel: logLevel.NOTHING });
  const admin = plainKafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: ["ok-a", "no-a"].map((topic) => ({ topic })) });
  const producer = plainKafka.producer();
  await producer.connect();
  for (const topic of ["ok-a", "no-a"]) {
    await producer.send({ topic, messages: [{ value: "1" }, { value: "2" }, { value: "3" }] });
  }
  await producer.disconnect();
  const plain = await WireClient.open(t.plain);
  for (const groupId of ["g-ok-1", "g-ro-1"]) {
    // Apache Kafka makes its offsets topic at the first FindCoordinator and answers
    // NOT_COORDINATOR until the topic is up: ask, then commit until it is taken.
    await waitFor(`${groupId}'s offsets committed on ${t.name}`, async () => {
      await plain.call("FindCoordinator", 4, { keyType: 0, coordinatorKeys: [groupId] });
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
      const codes = partitionCodes(commit.topics).map(([, code]) => Number(code));
      // 14 COORDINATOR_LOAD_IN_PROGRESS and 16 NOT_COORDINATOR are asked again.
      assert.ok(codes.every((code) => [0, 14, 16].includes(code)), JSON.stringify(codes));
      return codes.every((code) => code === 0);
    }, 30_000);
  }
  plain.close();
  const c = await t.login();
  try {
    const del = await c.call("DeleteRecords", 2, {
      topics: ["ok-a", "no-a", "ok-missing", "zz-missing"].map((name) => ({
        name,
        partitions: [{ partitionIndex: 0, offset: 2 }],
      })),
      timeoutMs: 5000,
    });
    seen.deleteRecords = Object.fromEntries(
      del.topics.map((
        x: Any,
      ) => [x.name, x.partitions.map((p: Any) => [p.errorCode, p.lowWatermark])]),
    );

    const alter = await c.call("IncrementalAlterConfigs", 1, {
      resources: [
        [2, "no-a", "retention.ms", "3600000"],
        [2, "ok-a", "retention.ms", "3600000"],
        [4, "1", "log.cleaner.threads", "2"],
        [8, "1", "kafka.server", "INFO"],
        [2, "ok-missing", "retention.ms", "3600000"],
      ].map(([resourceType, resourceName, name, value]) => ({
        resourceType,
        resourceName,
        configs: [{ name, configOperation: 0, value }],
      })),
      validateOnly: false,
    });
    seen.incrementalAlterConfigs = alter.responses.map((r: Any) => [
      r.resourceType,
      r.resourceName,
      r.errorCode,
      // Messages of the denials only (the others are each broker's own words).
      [29, 31].includes(r.errorCode) ? r.errorMessage : "-",
    ]);

    const offsetDelete = async (groupId: string, topics: string[]) => {
      const r = await c.call("OffsetDelete", 0, {
        groupId,
        topics: topics.map((name) => ({ name, partitions: [{ partitionIndex: 0 }] })),
      });
      return [r.errorCode, partitionCodes(r.topics)];
    };
    seen.offsetDelete = [
      await offsetDelete("g-ro-1", ["ok-a", "no-a"]),
      await offsetDelete("g-ok-1", ["ok-a", "no-a"]),
      await offsetDelete("g-ok-none", ["no-a"]),
    ];

    const heartbeat = async (groupId: string) => {
      const r = await c.call("ConsumerGroupHeartbeat", 0, {
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
      return r.errorCode === 0
        ? [0, r.memberEpoch > 0]
        : [r.errorCode, r.errorMessage, r.memberId, r.memberEpoch, r.assignment];
    };
    seen.consumerGroupHeartbeat = [await heartbeat("g-ro-2"), await heartbeat("g-ok-hb")];

    // One group at a time but for the mixed case, whose one allowed group keeps Kafka 3.9's
    // coordinator to one shard: 3.9 asks every shard about every group of the request and
    // answers each group once per shard asked (GroupCoordinatorService.consumerGroupDescribe
    // passes groupIds, not groupList), a bug this broker does not copy.
    const describe = async (groupIds: string[]) =>
      (await c.call("ConsumerGroupDescribe", 0, { groupIds, includeAuthorizedOperations: false }))
        .groups.map((g: Any) => [g.groupId, g.errorCode]);
    seen.consumerGroupDescribe = [
      await describe(["g-ro-2"]),
      await describe(["g-ok-hb", "secret-group"]),
    ];

    const quotas = await c.call("DescribeClientQuotas", 1, {
      components: [{ entityType: "user", matchType: 1, match: null }],
      strict: false,
    });
    seen.describeClientQuotas = [quotas.errorCode, quotas.errorMessage, quotas.entries];

    const scramDescribe = await c.call("DescribeUserScramCredentials", 0, {
      users: [{ name: "carol" }, { name: "x" }],
    });
    seen.describeUserScramCredentials = [
      scramDescribe.errorCode,
      scramDescribe.errorMessage,
      scramDescribe.results.map((r: Any) => [r.user, r.errorCode, r.errorMessage]),
    ];
    const scramAlter = await c.call("AlterUserScramCredentials", 0, {
      deletions: [{ name: "zed", mechanism: 1 }],
      upsertions: ["zed", "carol"].map((name) => ({
        name,
        mechanism: 2,
        iterations: 4096,
        salt: new TextEncoder().encode(`salt-of-${name}`),
        saltedPassword: new Uint8Array(64).fill(7),
      })),
    });
    // Apache Kafka's controller words its refusal with the whole request: codes and users.
    seen.alterUserScramCredentials = scramAlter.results.map((r: Any) => [r.user, r.errorCode]);

    const md = await c.call("Metadata", 9, {
      topics: ["ok-a", "ok-new", "auto-1", "no-new"].map((name) => ({ name })),
      allowAutoTopicCreation: true,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    // auto-1 is created: Kafka answers LEADER_NOT_AVAILABLE until its leader is elected.
    seen.metadata = Object.fromEntries(
      md.topics.map((x: Any) => [x.name, x.name === "auto-1" ? x.errorCode !== 29 : x.errorCode]),
    );
  } finally {
    c.close();
    await admin.disconnect();
  }
  return seen;
}

await envTest(
  "IAM's admin and KIP-848 answers on the embedded broker equal Apache Kafka 3.9.1's under the ACLs MSK's action table calls equivalent",
  ["kafka"],
  async () => {
    const results: Record<string, unknown>[] = [];
    for (const make of [embedded, apacheKafka]) {
      const t = await make();
      try {
        results.push(await scenario(t));
      } finally {
        await t.stop();
      }
    }
    const [ours, theirs] = results;
    // Apache Kafka's answers are the expected ones (the harness works), and ours equal them.
    assert.deepEqual(theirs.deleteRecords, {
      "ok-a": [[0, 2]],
      "no-a": [[29, -1]],
      "ok-missing": [[3, -1]],
      "zz-missing": [[29, -1]],
    });
    assert.deepEqual(
      (theirs.incrementalAlterConfigs as unknown[][]).map((r) => r[2]),
      [29, 0, 31, 31, 3],
    );
    assert.deepEqual(theirs.consumerGroupDescribe, [
      [["g-ro-2", 69]],
      [["secret-group", 30], ["g-ok-hb", 0]],
    ]);
    for (const key of Object.keys(theirs)) {
      assert.deepEqual(ours[key], theirs[key], `${key}: embedded vs Apache Kafka`);
    }
  },
);

/**
 * `deno task topics` against the embedded broker (real Kafka protocol, real kafkajs):
 * creating the three topics, skipping those that exist, deleting with and without
 * confirmation, a dry run, and the task run as a program.
 */
import assert from "node:assert/strict";
import { startBroker } from "../../lib/broker/broker.ts";
import type { Broker } from "../../lib/broker/broker.ts";
import { createKafka } from "../../lib/kafka/kafka_client.ts";
import type { Admin } from "../../lib/deps/kafkajs.ts";
import { UsageError } from "../../lib/shell/errors.ts";
import { manageTopics, parseOptions, topicNames } from "../../tasks/topics.ts";

const T = { sanitizeOps: false, sanitizeResources: false };
const BASE = {
  prefix: "t",
  partitions: 3,
  replication: -1,
  delete: false,
  yes: false,
  dryRun: false,
};

async function withAdmin(fn: (admin: Admin, broker: Broker) => Promise<void>): Promise<void> {
  const broker = await startBroker({ port: 0 });
  const admin = createKafka({ bootstrap: broker.bootstrap, clientId: "topics-test" }).admin();
  await admin.connect();
  try {
    await fn(admin, broker);
  } finally {
    await admin.disconnect();
    await broker.close();
  }
}

async function partitions(admin: Admin, topics: string[]): Promise<Record<string, number>> {
  const meta = await admin.fetchTopicMetadata({ topics });
  return Object.fromEntries(meta.topics.map((t) => [t.name, t.partitions.length]));
}

Deno.test({
  ...T,
  name: "topics creates pin, geo and user with the partitions asked for",
  fn: () =>
    withAdmin(async (admin) => {
      const r = await manageTopics({ ...BASE, partitions: 4 }, { admin });
      assert.deepEqual(r.topics, [
        { topic: "t.pin", action: "created", partitions: 4 },
        { topic: "t.geo", action: "created", partitions: 4 },
        { topic: "t.user", action: "created", partitions: 4 },
      ]);
      assert.deepEqual((await admin.listTopics()).sort(), ["t.geo", "t.pin", "t.user"]);
      assert.deepEqual(await partitions(admin, topicNames("t")), {
        "t.pin": 4,
        "t.geo": 4,
        "t.user": 4,
      });
    }),
});

Deno.test({
  ...T,
  name: "topics skips the topics that exist and says so, creating only the missing ones",
  fn: () =>
    withAdmin(async (admin) => {
      await admin.createTopics({ topics: [{ topic: "t.geo", numPartitions: 1 }] });
      const r = await manageTopics(BASE, { admin });
      assert.deepEqual(r.topics.map((t) => [t.topic, t.action, t.partitions]), [
        ["t.pin", "created", 3],
        ["t.geo", "exists", 1],
        ["t.user", "created", 3],
      ]);
      assert.equal(r.topics[1].note, "has 1 partition, not 3: left as it is");
      const again = await manageTopics(BASE, { admin });
      assert.deepEqual(again.topics.map((t) => t.action), ["exists", "exists", "exists"]);
      assert.deepEqual(await partitions(admin, ["t.geo"]), { "t.geo": 1 });
    }),
});

Deno.test({
  ...T,
  name: "a replication factor the cluster cannot meet is an error naming the topics",
  fn: () =>
    withAdmin(async (admin) => {
      await assert.rejects(
        manageTopics({ ...BASE, replication: 3 }, { admin, where: "the test broker" }),
        new Error(
          'Cannot create topics "t.pin", "t.geo", "t.user": the test broker answered INVALID_REPLICATION_FACTOR',
        ),
      );
      assert.deepEqual(await admin.listTopics(), []);
    }),
});

Deno.test({
  ...T,
  name: "a dry run creates and deletes nothing",
  fn: () =>
    withAdmin(async (admin) => {
      const r = await manageTopics({ ...BASE, dryRun: true }, { admin });
      assert.deepEqual(r.topics.map((t) => t.action), [
        "would-create",
        "would-create",
        "would-create",
      ]);
      assert.deepEqual(await admin.listTopics(), []);
      await manageTopics(BASE, { admin });
      const d = await manageTopics({ ...BASE, delete: true, dryRun: true }, { admin });
      assert.deepEqual(d.topics.map((t) => t.action), [
        "would-delete",
        "would-delete",
        "would-delete",
      ]);
      assert.equal((await admin.listTopics()).length, 3);
    }),
});

Deno.test({
  ...T,
  name: "delete asks first: yes deletes, no keeps, and nobody to ask without --yes refuses",
  fn: () =>
    withAdmin(async (admin) => {
      await manageTopics(BASE, { admin });
      const questions: string[] = [];
      const no = await manageTopics({ ...BASE, delete: true }, {
        admin,
        confirm: (q) => (questions.push(q), Promise.resolve(false)),
      });
      assert.deepEqual(no, { topics: [], confirmed: false });
      assert.equal((await admin.listTopics()).length, 3);
      assert.deepEqual(questions, [
        "Delete t.pin, t.geo, t.user and every record in them from the cluster?",
      ]);
      await assert.rejects(
        manageTopics({ ...BASE, delete: true }, { admin }),
        (err: Error) =>
          err instanceof UsageError && /without confirmation: pass --yes/.test(err.message),
      );
      const yes = await manageTopics({ ...BASE, delete: true }, {
        admin,
        confirm: () => Promise.resolve(true),
      });
      assert.deepEqual(yes.topics.map((t) => t.action), ["deleted", "deleted", "deleted"]);
      assert.deepEqual(await admin.listTopics(), []);
      const gone = await manageTopics({ ...BASE, delete: true, yes: true }, { admin });
      assert.deepEqual(gone.topics.map((t) => t.action), ["absent", "absent", "absent"]);
    }),
});

Deno.test("the topics task reads its options and reports every bad one together", () => {
  const o = parseOptions(
    ["--bootstrap", "b:9092", "--replication", "2"],
    { PINPIPE_PREFIX: "env" },
    { prefix: "cfg" },
  );
  assert.deepEqual([o.prefix, o.partitions, o.replication, o.kafka.bootstrap], [
    "env",
    3,
    2,
    "b:9092",
  ]);
  assert.equal(parseOptions([], {}, { bootstrapBrokers: "h:9098", prefix: "cfg" }).replication, -1);
  assert.equal(parseOptions([], {}, { bootstrapBrokers: "h:9098", prefix: "cfg" }).prefix, "cfg");
  assert.throws(
    () =>
      parseOptions(
        ["--partitions", "0", "--replication", "two", "--prefix", "a b", "--yes"],
        {},
        {},
      ),
    (err: Error) =>
      err instanceof UsageError && /^5 problems/.test(err.message) &&
      /Missing --bootstrap/.test(err.message) &&
      /Invalid --partitions "0": must be at least 1/.test(err.message) &&
      /Invalid --replication "two"/.test(err.message) &&
      /Invalid --prefix "a b"/.test(err.message) &&
      /--yes only goes with --delete/.test(err.message),
  );
});

Deno.test("the topics task reads each flag's variable, and the Kafka client's flags as every Kafka task does", () => {
  const o = parseOptions([], {
    PINPIPE_BOOTSTRAP: "k1:9098,k2:9098",
    PINPIPE_PARTITIONS: "6",
    PINPIPE_REPLICATION: "default",
    PINPIPE_KAFKA_AUTH: "aws-iam",
    PINPIPE_KAFKA_LOG: "warn",
    PINPIPE_DRY_RUN: "1",
    PINPIPE_JSON: "1",
    AWS_DEFAULT_REGION: "eu-north-1",
  }, { region: "eu-west-3" });
  assert.deepEqual([o.partitions, o.replication, o.dryRun, o.json], [6, -1, true, true]);
  assert.deepEqual(
    [o.kafka.bootstrap, o.kafka.bootstrapFrom, o.kafka.auth, o.kafka.tls, o.kafka.log],
    ["k1:9098,k2:9098", "PINPIPE_BOOTSTRAP", "aws-iam", true, "warn"],
  );
  assert.equal(o.kafka.region, "eu-west-3", "the config file's region before AWS_DEFAULT_REGION");
  assert.equal(parseOptions(["--bootstrap=b:1", "--auth=aws-iam"], {}).kafka.region, "us-east-1");
  assert.equal(parseOptions(["--bootstrap=b:1", "--delete", "--yes"], {}).delete, true);
});

Deno.test("the topics task refuses a bootstrap that is not host:port and SCRAM without its secrets", () => {
  assert.throws(
    () =>
      parseOptions(["--auth", "scram-sha-512", "--kafka-log", "loud"], { PINPIPE_BOOTSTRAP: "b" }),
    (err: Error) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /^3 problems/);
      assert.match(err.message, /Invalid PINPIPE_BOOTSTRAP "b": expected host:port\[,host:port…\]/);
      assert.match(err.message, /Invalid --kafka-log "loud": expected one of nothing, error/);
      assert.match(
        err.message,
        /--auth scram-sha-512 needs PINPIPE_KAFKA_USER and PINPIPE_KAFKA_PASSWORD/,
      );
      return true;
    },
  );
  const scram = parseOptions(["--bootstrap=b:1", "--auth=scram-sha-512"], {
    PINPIPE_KAFKA_USER: "u",
    PINPIPE_KAFKA_PASSWORD: "p",
  });
  assert.deepEqual([scram.kafka.username, scram.kafka.password], ["u", "p"]);
});

Deno.test("topic creation that times out says how long Kafka was given and the flag", async () => {
  // An admin whose cluster never finishes creating: kafkajs' own timeout error.
  const timedOut = Object.assign(new Error("Timed out while waiting for topic leaders"), {
    name: "KafkaJSTimeout",
  });
  const admin = {
    listTopics: () => Promise.resolve([]),
    fetchTopicMetadata: () => Promise.resolve({ topics: [] }),
    createTopics: (args: { timeout?: number }) => {
      assert.equal(args.timeout, 1500);
      return Promise.reject(timedOut);
    },
  } as unknown as Admin;
  await assert.rejects(
    manageTopics(
      { ...BASE, timeoutMs: 1500, timeoutFlag: "--timeout or PINPIPE_TOPICS_TIMEOUT" },
      { admin, where: "the test cluster" },
    ),
    (err: Error) => {
      assert.equal(
        err.message,
        'Cannot create topics "t.pin", "t.geo", "t.user": the test cluster answered an error ' +
          "(Kafka was given 1.5 s to create them and elect their leaders; --timeout or " +
          "PINPIPE_TOPICS_TIMEOUT gives it longer)",
      );
      return true;
    },
  );
  assert.equal(parseOptions(["--bootstrap", "b:1", "--timeout", "2m"], {}, {}).timeoutMs, 120_000);
  assert.equal(parseOptions(["--bootstrap", "b:1"], {}, {}).timeoutMs, 30_000);
});

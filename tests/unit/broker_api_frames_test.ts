/**
 * Each API file of the broker (lib/broker/NN_*.ts) on the bytes Apache Kafka's own Java
 * clients (kafka-clients 3.9 and 4.x) and Apache Kafka 3.9 exchanged, captured by
 * tests/tools/capture_frames.ts into tests/testdata/kafka_frames/<NN_api>/ (one JSON file per
 * version and client; see the tool's header). For every capture:
 *
 * - the request header is what was sent, the body decodes with the API's request schema
 *   with nothing left over, and the whole frame encodes back to the same bytes;
 * - Apache Kafka's response decodes with the response schema and the whole frame encodes
 *   back to the same bytes (ApiVersions: apart from the feature tags the broker leaves out
 *   on purpose, which are checked to be the only difference);
 * - the decoded fields are what the scenario did (topic, group, offsets, configs, records),
 *   so a schema that reads the right number of bytes into the wrong fields fails too;
 * - where a fresh in-memory broker can answer the same request without a consumer group's
 *   history, its answer has the shape of Apache Kafka's: the same entries, fields and error
 *   codes, with ids, addresses and clocks masked.
 *
 * Pure: it reads the fixture files only (no network, no process).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Api, isFlexible, NO_RESPONSE, type RequestContext } from "../../lib/broker/api.ts";
import { Reader, Writer } from "../../lib/broker/codec.ts";
import { KAFKA_LOG_DEFAULTS } from "../../lib/broker/configs.ts";
import { ErrorCode } from "../../lib/broker/error_codes.ts";
import {
  batchCrcOk,
  batchHeader,
  COMMIT_MARKER,
  markerBatch,
  splitBatches,
} from "../../lib/broker/record_batch.ts";
import { crc32c } from "../../lib/broker/crc32c.ts";
import { APIS } from "../../lib/broker/registry.ts";
import { arr, type Fields, message, type Schema, ZERO_UUID } from "../../lib/broker/schema.ts";
import { BrokerState } from "../../lib/broker/state.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const ROOT = new URL("../..", import.meta.url).pathname;
const FIXTURES = join(ROOT, "tests", "testdata", "kafka_frames");
/** The Java clients the fixtures come from (tests/engines/kafka-clients-N.pom.xml). */
const CLIENTS = ["3", "4"].map((major) =>
  `kafka-clients ${
    /<kafka\.clients\.version>([^<]+)</.exec(
      Deno.readTextFileSync(join(ROOT, "tests", "engines", `kafka-clients-${major}.pom.xml`)),
    )![1]
  }`
);

/** One captured exchange (tests/tools/capture_frames.ts writes them). */
interface Fixture {
  api: string;
  key: number;
  version: number;
  client: string;
  broker: string;
  client_id: string | null;
  correlation_id: number;
  scenario: string;
  request_hex: string;
  response_hex: string;
  /** Where it was read from (not in the file). */
  file: string;
}

/** The API files of lib/broker/ (`00_produce`, …), sorted. */
const API_FILES = [...Deno.readDirSync(join(ROOT, "lib", "broker"))]
  .map((e) => /^(\d\d_\w+)\.ts$/.exec(e.name)?.[1])
  .filter((n): n is string => n !== undefined)
  .sort();

function fixturesOf(dir: string): Fixture[] {
  let names: string[];
  try {
    names = [...Deno.readDirSync(join(FIXTURES, dir))].map((e) => e.name).sort();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  return names.filter((n) => n.endsWith(".json")).map((n) => ({
    ...JSON.parse(Deno.readTextFileSync(join(FIXTURES, dir, n))),
    file: `${dir}/${n}`,
  }));
}

const unhex = (s: string) => new Uint8Array(s.match(/../g)!.map((h) => parseInt(h, 16)));
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** The topic and group the scenario used with this fixture's client (FramesScenario.java). */
function names(fx: Fixture): { topic: string; group: string } {
  const major = /kafka-clients (\d+)\./.exec(fx.client)![1];
  return { topic: `frames-v${major}`, group: `frames-group-v${major}` };
}

// ---------------------------------------------------------------------------------------
// Round trips

/**
 * Fields Apache Kafka sends that a broker schema leaves out on purpose, as Kafka's message
 * specs declare them: ApiVersions v3+ feature tags (this broker has no features to finalize).
 */
const UNDECLARED: Record<string, { fields: Fields; defaults: Record<string, unknown> }> = {
  ApiVersions: {
    fields: {
      supportedFeatures: arr(
        { name: "string", minVersion: "int16", maxVersion: "int16" },
        "v3+ tag0",
      ),
      finalizedFeaturesEpoch: "int64 v3+ tag1 =-1",
      finalizedFeatures: arr(
        { name: "string", maxVersionLevel: "int16", minVersionLevel: "int16" },
        "v3+ tag2",
      ),
      zkMigrationReady: "bool v3+ tag3",
    },
    defaults: {
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1,
      finalizedFeatures: [],
      zkMigrationReady: false,
    },
  },
};

/** Encodes a message after a header written by `header`. */
function frame(header: (w: Writer) => void, write: (w: Writer) => void): string {
  const w = new Writer();
  header(w);
  write(w);
  return hex(w.toBytes());
}

/** Decodes the request of `fx` and checks it encodes back to the captured bytes. */
function requestRoundTrip(api: Api, fx: Fixture): Any {
  const v = fx.version;
  const flex = isFlexible(api, v);
  const r = new Reader(unhex(fx.request_hex));
  assert.deepEqual(
    { key: r.int16(), version: r.int16(), correlationId: r.int32(), clientId: r.nullableString() },
    { key: api.key, version: v, correlationId: fx.correlation_id, clientId: fx.client_id },
    `${fx.file}: the request header`,
  );
  if (flex) r.skipTags(); // request header v2, as the server reads it
  const req = api.request.decode(r, v, flex);
  assert.equal(r.remaining, 0, `${fx.file}: bytes left after the request`);
  const header = (w: Writer) => {
    w.int16(api.key).int16(v).int32(fx.correlation_id).nullableString(fx.client_id);
    if (flex) w.uvarint(0);
  };
  assert.equal(
    frame(header, (w) => api.request.encode(w, v, flex, req)),
    fx.request_hex,
    `${fx.file}: the request written back`,
  );
  return req;
}

/** Decodes Kafka's response of `fx` and checks it encodes back, as the server writes it. */
function responseRoundTrip(api: Api, fx: Fixture): Any {
  const v = fx.version;
  const flex = isFlexible(api, v);
  const tags = flex && !api.responseHeaderV0; // response header v1
  const header = (w: Writer) => {
    w.int32(fx.correlation_id);
    if (tags) w.uvarint(0);
  };
  const decode = (schema: Schema<Any>) => {
    const r = new Reader(unhex(fx.response_hex));
    assert.equal(r.int32(), fx.correlation_id, `${fx.file}: the response's correlation id`);
    if (tags) r.skipTags();
    const res = schema.decode(r, v, flex);
    assert.equal(r.remaining, 0, `${fx.file}: bytes left after the response`);
    return res;
  };
  const res = decode(api.response);
  const ours = frame(header, (w) => api.response.encode(w, v, flex, res));
  const left = UNDECLARED[api.name];
  if (!left) {
    assert.equal(ours, fx.response_hex, `${fx.file}: the response written back`);
    return res;
  }
  // With the left-out fields declared, the bytes come back whole; the broker's own schema
  // reads every field it declares the same, and writes exactly the same minus those fields.
  const full = message(`${api.name}Response+`, { ...api.response.spec, ...left.fields });
  const all = decode(full);
  assert.equal(frame(header, (w) => full.encode(w, v, flex, all)), fx.response_hex);
  for (const k of Object.keys(api.response.spec)) assert.deepEqual(res[k], all[k], k);
  assert.equal(
    ours,
    frame(header, (w) => full.encode(w, v, flex, { ...all, ...left.defaults })),
    `${fx.file}: the broker's schema drops more than ${Object.keys(left.fields)}`,
  );
  return res;
}

// ---------------------------------------------------------------------------------------
// What the scenario did (tests/tools/FramesScenario.java)

const RETENTION_CREATED = "86400000";
const RETENTION_SET = "3600000";

/** The records of a Produce or Fetch partition: its batches, each checked. */
function batches(records: Uint8Array, what: string) {
  const found = splitBatches(records);
  assert.ok(Array.isArray(found), `${what}: ${JSON.stringify(found)}`);
  return found.map((b) => {
    assert.ok(batchCrcOk(records, b.start, b.size), `${what}: a batch fails its CRC`);
    return batchHeader(records, b.start);
  });
}

type Check = (req: Any, res: Any, fx: Fixture) => void;

/** Per API: the decoded request and response against what the scenario did. */
const CHECKS: Record<string, Check> = {
  SaslHandshake(req, res) {
    assert.equal(req.mechanism, "SCRAM-SHA-512");
    assert.deepEqual([res.errorCode, res.mechanisms], [0, ["SCRAM-SHA-512"]]);
  },
  SaslAuthenticate(req, res) {
    // The largest exchange is SCRAM's final one: the client's proof, the server's signature.
    assert.match(new TextDecoder().decode(req.authBytes), /^c=biws,r=[^,]+,p=[A-Za-z0-9+/=]+$/);
    assert.equal(res.errorCode, 0);
    assert.match(new TextDecoder().decode(res.authBytes), /^v=[A-Za-z0-9+/=]+$/);
    assert.equal(res.sessionLifetimeMs, 0, "connections.max.reauth.ms is 0 by default");
  },
  DescribeClientQuotas(req, res) {
    assert.deepEqual([req.components, req.strict], [[], false]);
    assert.deepEqual([res.errorCode, res.entries], [0, []]);
  },
  DescribeUserScramCredentials(req, res, fx) {
    const user = `frames-user-v${/kafka-clients (\d+)\./.exec(fx.client)![1]}`;
    assert.deepEqual(req.users, [{ name: user }]);
    assert.equal(res.errorCode, 0);
    assert.deepEqual(
      res.results.map((r: Any) => [r.user, r.errorCode, r.credentialInfos]),
      [[user, 0, [{ mechanism: 2, iterations: 4096 }]]],
    );
  },
  AlterUserScramCredentials(req, res, fx) {
    const user = `frames-user-v${/kafka-clients (\d+)\./.exec(fx.client)![1]}`;
    assert.deepEqual(req.deletions, []);
    const [u] = req.upsertions;
    assert.deepEqual([u.name, u.mechanism, u.iterations], [user, 2, 4096]);
    assert.equal(u.saltedPassword.byteLength, 64, "SHA-512's salted password");
    assert.deepEqual(res.results, [{ user, errorCode: 0, errorMessage: null }]);
  },
  Produce(req, res, fx) {
    const { topic } = names(fx);
    assert.equal(req.acks, -1);
    assert.equal(req.transactionalId, null);
    assert.equal(req.topicData[0].name, topic);
    const [batch] = batches(req.topicData[0].partitionData[0].records, fx.file);
    assert.ok(batch.producerId >= 0, "an idempotent producer's batch carries its id");
    assert.equal(batch.recordCount, 1);
    const p = res.responses[0].partitionResponses[0];
    assert.deepEqual([res.responses[0].name, p.index, p.errorCode], [topic, 0, 0]);
    // One record per send into a new partition: the base offset is the sequence number.
    assert.equal(p.baseOffset, batch.baseSequence);
  },
  Fetch(req, res) {
    assert.notEqual(req.topics[0].topicId, ZERO_UUID);
    assert.deepEqual(req.topics[0].partitions.map((p: Any) => p.partition), [0, 1]);
    assert.equal(res.errorCode, 0);
    assert.equal(res.responses[0].topicId, req.topics[0].topicId);
    const p0 = res.responses[0].partitions.find((p: Any) => p.partitionIndex === 0);
    assert.equal(p0.highWatermark, 3);
    const got = batches(p0.records[0], "Fetch");
    assert.deepEqual(got.map((b) => [b.baseOffset, b.recordCount]), [[0, 1], [1, 1], [2, 1]]);
  },
  ListOffsets(req, res, fx) {
    const asked = req.topics[0].partitions[0];
    assert.equal(req.topics[0].name, names(fx).topic);
    const p = res.topics[0].partitions.find((x: Any) => x.partitionIndex === 0);
    assert.equal(p.errorCode, 0);
    // The consumer asks for the earliest offset (-2), the admin for the latest (-1).
    assert.equal(p.offset, asked.timestamp === -2 ? 0 : 3, `offset for ${asked.timestamp}`);
  },
  Metadata(_req, res, fx) {
    assert.equal(res.brokers.length, 1);
    const t = res.topics.find((x: Any) => x.name === names(fx).topic);
    assert.ok(t, `${names(fx).topic} in ${res.topics.map((x: Any) => x.name)}`);
    assert.equal(t.errorCode, 0);
    assert.notEqual(t.topicId, ZERO_UUID);
    assert.ok(t.partitions.every((p: Any) => p.leaderId === res.brokers[0].nodeId));
  },
  OffsetCommit(req, res, fx) {
    assert.equal(req.groupId, names(fx).group);
    assert.ok(req.generationIdOrMemberEpoch >= 1);
    assert.match(req.memberId, /^frames-consumer-/);
    const offsets = Object.fromEntries(
      req.topics[0].partitions.map((p: Any) => [p.partitionIndex, p.committedOffset]),
    );
    assert.deepEqual(offsets, { 0: 3, 1: 0 });
    assert.ok(res.topics[0].partitions.every((p: Any) => p.errorCode === 0));
  },
  OffsetFetch(req, res, fx) {
    assert.equal(req.groups[0].groupId, names(fx).group);
    assert.equal(res.groups[0].groupId, names(fx).group);
    assert.equal(res.groups[0].errorCode, 0);
    for (const p of res.groups[0].topics.flatMap((t: Any) => t.partitions)) {
      assert.equal(p.errorCode, 0);
      // Before the commit: none (-1); after: where the consumer stopped.
      assert.ok([-1, p.partitionIndex === 0 ? 3 : 0].includes(p.committedOffset));
    }
  },
  FindCoordinator(req, res) {
    assert.deepEqual(res.coordinators.map((c: Any) => c.key), req.coordinatorKeys);
    assert.ok(res.coordinators.every((c: Any) => c.errorCode === 0 && c.port > 0));
  },
  JoinGroup(req, res, fx) {
    assert.equal(req.groupId, names(fx).group);
    assert.equal(req.protocolType, "consumer");
    assert.equal(res.errorCode, 0);
    assert.ok(res.generationId >= 1);
    assert.ok(req.protocols.some((p: Any) => p.name === res.protocolName));
    assert.equal(res.leader, res.memberId, "the only member leads");
    assert.deepEqual(res.members.map((m: Any) => m.memberId), [res.memberId]);
  },
  Heartbeat(req, res, fx) {
    assert.equal(req.groupId, names(fx).group);
    assert.ok(req.generationId >= 1);
    assert.equal(res.errorCode, 0);
  },
  LeaveGroup(req, res, fx) {
    assert.equal(req.groupId, names(fx).group);
    assert.equal(res.errorCode, 0);
    assert.deepEqual(res.members.map((m: Any) => m.memberId), [req.members[0].memberId]);
  },
  SyncGroup(req, res, fx) {
    assert.equal(req.groupId, names(fx).group);
    assert.equal(req.protocolType, "consumer");
    assert.deepEqual(req.assignments.map((a: Any) => a.memberId), [req.memberId]);
    assert.equal(res.errorCode, 0);
    assert.equal(res.protocolName, req.protocolName);
    assert.ok(res.assignment.byteLength > 0);
  },
  DescribeGroups(req, res, fx) {
    assert.deepEqual(req.groups, [names(fx).group]);
    const g = res.groups[0];
    // Described once the consumer left.
    assert.deepEqual([g.errorCode, g.groupId, g.groupState, g.protocolType], [
      0,
      names(fx).group,
      "Empty",
      "consumer",
    ]);
  },
  ListGroups(_req, res, fx) {
    assert.equal(res.errorCode, 0);
    assert.ok(res.groups.some((g: Any) => g.groupId === names(fx).group));
    if (fx.version >= 5) {
      // The KIP-848 step's group is listed beside the classic one, each with its type.
      const major = /kafka-clients (\d+)\./.exec(fx.client)![1];
      const types = Object.fromEntries(res.groups.map((g: Any) => [g.groupId, g.groupType]));
      assert.equal(types[names(fx).group], "classic");
      assert.equal(types[`frames-cgroup-v${major}`], "consumer");
    }
  },
  ConsumerGroupHeartbeat(req, res, fx) {
    const major = /kafka-clients (\d+)\./.exec(fx.client)![1];
    assert.equal(req.groupId, `frames-cgroup-v${major}`);
    assert.ok(req.memberEpoch >= 0, "the member's largest heartbeat is a join or a full one");
    assert.deepEqual([res.errorCode, res.errorMessage, res.memberEpoch], [0, null, 1]);
    assert.equal(res.heartbeatIntervalMs, 5000, "Kafka's group.consumer.heartbeat.interval.ms");
    // The single member has both partitions of the topic.
    if (res.assignment) assert.deepEqual(res.assignment.topicPartitions[0].partitions, [0, 1]);
    if (req.topicPartitions?.length) assert.deepEqual(req.topicPartitions[0].partitions, [0, 1]);
  },
  ConsumerGroupDescribe(req, res, fx) {
    const { topic } = names(fx);
    const major = /kafka-clients (\d+)\./.exec(fx.client)![1];
    assert.deepEqual(req.groupIds, [`frames-cgroup-v${major}`]);
    const g = res.groups[0];
    assert.deepEqual(
      [g.errorCode, g.groupState, g.groupEpoch, g.assignmentEpoch, g.assignorName],
      [0, "Stable", 1, 1, "uniform"],
    );
    const [m] = g.members;
    assert.deepEqual([m.memberEpoch, m.clientId, m.subscribedTopicNames], [
      1,
      "frames-kip848",
      [topic],
    ]);
    for (const a of [m.assignment, m.targetAssignment]) {
      assert.deepEqual(
        a.topicPartitions.map((t: Any) => [t.topicName, t.partitions]),
        [[topic, [0, 1]]],
      );
    }
  },
  ApiVersions(req, res, fx) {
    assert.equal(req.clientSoftwareName, "apache-kafka-java");
    assert.equal(`kafka-clients ${req.clientSoftwareVersion}`, fx.client);
    assert.equal(res.errorCode, 0);
    // Apache Kafka serves every version the broker advertises.
    const kafka = new Map(res.apiKeys.map((k: Any) => [k.apiKey, k]));
    for (const api of APIS.values()) {
      const k = kafka.get(api.key) as Any;
      assert.ok(k, `Apache Kafka lists ${api.name}`);
      // KIP-848's APIs: Kafka 3.9 (its preview, enabled for the capture) serves v0 of each;
      // the broker also serves v1, as Kafka 4 does.
      const max = api.key === 68 || api.key === 69 ? 0 : api.maxVersion;
      assert.ok(k.minVersion <= api.minVersion && max <= k.maxVersion, api.name);
    }
  },
  CreateTopics(req, res, fx) {
    const { topic } = names(fx);
    const t = req.topics[0];
    assert.deepEqual([t.name, t.numPartitions, t.replicationFactor, t.configs], [topic, 1, 1, [{
      name: "retention.ms",
      value: RETENTION_CREATED,
    }]]);
    const r = res.topics[0];
    assert.deepEqual([r.name, r.errorCode, r.numPartitions, r.replicationFactor], [topic, 0, 1, 1]);
    assert.notEqual(r.topicId, ZERO_UUID);
    const retention = r.configs.find((c: Any) => c.name === "retention.ms");
    assert.equal(retention.value, RETENTION_CREATED);
  },
  DeleteTopics(req, res, fx) {
    assert.deepEqual(req.topics.map((t: Any) => t.name), [names(fx).topic]);
    assert.deepEqual(res.responses.map((r: Any) => [r.name, r.errorCode]), [[names(fx).topic, 0]]);
  },
  DeleteRecords(req, res, fx) {
    assert.equal(req.topics[0].name, names(fx).topic);
    assert.deepEqual(req.topics[0].partitions, [{ partitionIndex: 0, offset: 1 }]);
    assert.deepEqual(res.topics[0].partitions, [{
      partitionIndex: 0,
      lowWatermark: 1,
      errorCode: 0,
    }]);
  },
  InitProducerId(req, res) {
    assert.equal(req.transactionalId, null);
    assert.deepEqual([req.producerId, req.producerEpoch], [-1, -1]);
    assert.equal(res.errorCode, 0);
    assert.ok(res.producerId >= 0);
    assert.equal(res.producerEpoch, 0);
  },
  DescribeConfigs(req, res, fx) {
    const { topic } = names(fx);
    assert.deepEqual([req.resources[0].resourceType, req.resources[0].resourceName], [2, topic]);
    const r = res.results[0];
    assert.deepEqual([r.errorCode, r.resourceType, r.resourceName], [0, 2, topic]);
    const retention = r.configs.find((c: Any) => c.name === "retention.ms");
    assert.equal(retention.value, RETENTION_CREATED);
  },
  CreatePartitions(req, res, fx) {
    assert.deepEqual([req.topics[0].name, req.topics[0].count], [names(fx).topic, 2]);
    assert.deepEqual(res.results.map((r: Any) => [r.name, r.errorCode]), [[names(fx).topic, 0]]);
  },
  DeleteGroups(req, res, fx) {
    assert.deepEqual(req.groupsNames, [names(fx).group]);
    assert.deepEqual(res.results, [{ groupId: names(fx).group, errorCode: 0 }]);
  },
  IncrementalAlterConfigs(req, res, fx) {
    const r = req.resources[0];
    assert.deepEqual([r.resourceType, r.resourceName, r.configs], [2, names(fx).topic, [{
      name: "retention.ms",
      configOperation: 0,
      value: RETENTION_SET,
    }]]);
    assert.deepEqual(res.responses.map((x: Any) => x.errorCode), [0]);
  },
  OffsetDelete(req, res, fx) {
    assert.equal(req.groupId, names(fx).group);
    assert.deepEqual(req.topics, [{ name: names(fx).topic, partitions: [{ partitionIndex: 0 }] }]);
    assert.equal(res.errorCode, 0);
    assert.deepEqual(res.topics[0].partitions, [{ partitionIndex: 0, errorCode: 0 }]);
  },
  DescribeCluster(req, res) {
    assert.equal(req.endpointType, 1);
    assert.equal(res.errorCode, 0);
    assert.ok(res.clusterId.length > 0);
    assert.equal(res.brokers.length, 1);
    assert.equal(res.controllerId, res.brokers[0].brokerId);
  },
  AddPartitionsToTxn(req, res, fx) {
    if (fx.version >= 4) {
      // Kafka verifying the producer's offsets partition (KIP-890), from its own client.
      const t = req.transactions[0];
      assert.match(t.transactionalId, /^frames-txn-v\d$/);
      assert.equal(t.verifyOnly, true);
      assert.equal(t.topics[0].name, "__consumer_offsets");
      assert.equal(res.errorCode, 0);
      const r = res.resultsByTransaction[0];
      assert.equal(r.transactionalId, t.transactionalId);
      assert.equal(r.topicResults[0].resultsByPartition[0].partitionErrorCode, 0);
      return;
    }
    const { topic } = names(fx);
    assert.equal(req.v3AndBelowTransactionalId, `frames-txn-${topic.slice(7)}`);
    assert.deepEqual(req.v3AndBelowTopics, [{ name: topic, partitions: [1] }]);
    assert.deepEqual(res.resultsByTopicV3AndBelow, [
      { name: topic, resultsByPartition: [{ partitionIndex: 1, partitionErrorCode: 0 }] },
    ]);
  },
  AddOffsetsToTxn(req, res, fx) {
    assert.equal(req.groupId, names(fx).group);
    assert.equal(res.errorCode, 0);
  },
  EndTxn(req, res) {
    // The largest is either; the scenario commits one and aborts the other.
    assert.equal(typeof req.committed, "boolean");
    assert.equal(res.errorCode, 0);
  },
  TxnOffsetCommit(req, res, fx) {
    const { topic, group } = names(fx);
    assert.equal(req.groupId, group);
    assert.deepEqual([req.generationId, req.memberId], [-1, ""]);
    assert.equal(req.topics[0].partitions[0].committedOffset, 3);
    assert.deepEqual(res.topics, [{
      name: topic,
      partitions: [{ partitionIndex: 0, errorCode: 0 }],
    }]);
  },
  DescribeProducers(req, res, fx) {
    const { topic } = names(fx);
    assert.deepEqual(req.topics, [{ name: topic, partitionIndexes: [1] }]);
    const p = res.topics[0].partitions[0];
    assert.deepEqual([p.partitionIndex, p.errorCode], [1, 0]);
    // The transactional producer: a committed record (offset 0, its marker at 1), then one
    // in the open transaction at offset 2.
    const [producer] = p.activeProducers;
    assert.deepEqual(
      [producer.producerEpoch, producer.lastSequence, producer.currentTxnStartOffset],
      [0, 1, 2],
    );
  },
  DescribeTransactions(req, res, fx) {
    const { topic } = names(fx);
    assert.deepEqual(req.transactionalIds, [`frames-txn-${topic.slice(7)}`]);
    const t = res.transactionStates[0];
    assert.deepEqual([t.errorCode, t.transactionState, t.producerEpoch], [0, "Ongoing", 0]);
    assert.deepEqual(t.topics, [{ topic, partitions: [1] }]);
  },
  ListTransactions(req, res, fx) {
    assert.deepEqual([req.stateFilters, req.producerIdFilters], [[], []]);
    assert.equal(res.errorCode, 0);
    const mine = res.transactionStates.find((t: Any) =>
      t.transactionalId === `frames-txn-${names(fx).topic.slice(7)}`
    );
    assert.equal(mine?.transactionState, "CompleteAbort");
  },
};

// ---------------------------------------------------------------------------------------
// The embedded broker's own answer

/** A fresh in-memory broker state, as startBroker opens it, without listening. */
async function freshState(): Promise<BrokerState> {
  return await BrokerState.open({
    host: "127.0.0.1",
    partitions: 1,
    autoCreate: false,
    fsync: "never",
    maxFrameBytes: 1024 ** 2,
    logger: () => {},
    onCorruption: "truncate",
    logDefaults: { ...KAFKA_LOG_DEFAULTS },
    maxMemoryBytes: 64 * 1024 ** 2,
    maxOpenFiles: 64,
    maxConnections: 64,
    maxConnectionsPerIp: 64,
    maxConnectionsPerIpOverrides: new Map(),
    maxRequestMemory: 64 * 1024 ** 2,
    idleTimeoutMs: 60_000,
    frameTimeoutMs: 60_000,
    maintenanceMs: 60_000,
  });
}

/** Calls `name`'s handler on `state` as the server would, and decodes what it would send. */
async function answer(state: BrokerState, name: string, version: number, req: Any): Promise<Any> {
  const api = [...APIS.values()].find((a) => a.name === name)!;
  const ctx: RequestContext = {
    state,
    apiKey: api.key,
    apiVersion: version,
    correlationId: 1,
    clientId: "frames-test",
    clientHost: "/127.0.0.1",
    signal: new AbortController().signal,
    apis: APIS,
    memory: { free: 64 * 1024 ** 2, hold: () => {} },
  };
  const flex = isFlexible(api, version);
  // Through the codec, so a request given in short gets every field's default.
  const w = new Writer();
  api.request.encode(w, version, flex, req);
  const res = await api.handle(api.request.decode(new Reader(w.toBytes()), version, flex), ctx);
  assert.notEqual(res, NO_RESPONSE);
  const out = new Writer();
  api.response.encode(out, version, flex, res as Any);
  const r = new Reader(out.toBytes());
  const decoded = api.response.decode(r, version, flex);
  assert.equal(r.remaining, 0);
  return decoded;
}

/** The topic of the scenario, as it stood when the request was made. */
async function seed(
  state: BrokerState,
  fx: Fixture,
  opts: { partitions?: number; configs?: Record<string, string>; records?: number } = {},
): Promise<void> {
  const { topic } = names(fx);
  const made = state.topics.createMany([{
    name: topic,
    partitions: opts.partitions ?? 2,
    configs: opts.configs ?? { "retention.ms": RETENTION_CREATED },
  }]);
  assert.ok(!(made[0] instanceof Error), String(made[0]));
  if (!opts.records) return;
  // The first batches the Java producer wrote (one record each), as Apache Kafka served
  // them: the same idempotent producer and sequence numbers.
  const fetched = fixturesOf("01_fetch").find((f) => f.client === fx.client)!;
  const res = responseRoundTrip(APIS.get(1)!, fetched);
  const records: Uint8Array = res.responses[0].partitions[0].records[0];
  for (const b of (splitBatches(records) as Any[]).slice(0, opts.records)) {
    const produced = await answer(state, "Produce", 11, {
      acks: -1,
      timeoutMs: 1000,
      topicData: [{
        name: topic,
        partitionData: [{ index: 0, records: records.slice(b.start, b.start + b.size) }],
      }],
    });
    assert.equal(produced.responses[0].partitionResponses[0].errorCode, 0);
  }
}

/** Fields whose values differ between any two brokers (ids, addresses, clocks, wording). */
const VARY = new Set([
  "nodeId",
  "brokerId",
  "leaderId",
  "controllerId",
  "host",
  "port",
  "clusterId",
  "topicId",
  "errorMessage",
  "throttleTimeMs",
  "producerId",
  "logAppendTimeMs",
  "replicaNodes",
  "isrNodes",
  "coordinatorKeys",
]);

/** A decoded message with VARY fields masked, bytes as their length, lists sorted. */
function shapeOf(x: Any): Any {
  if (x instanceof Uint8Array) return `<${x.byteLength} bytes>`;
  if (Array.isArray(x)) {
    const items = x.map(shapeOf);
    return items.every((i) => i && typeof i === "object")
      ? items.sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)
      : items;
  }
  if (x && typeof x === "object") {
    return Object.fromEntries(
      Object.entries(x).map((
        [k, v],
      ) => [k, VARY.has(k) && v !== null && v !== -1 ? "*" : shapeOf(v)]),
    );
  }
  return x;
}

/**
 * Per API that a fresh broker can answer like Apache Kafka did: the state to set up first,
 * and how to turn Kafka's request into the same request to this broker (topic ids), and
 * what of the two answers to compare, when not all of it.
 */
interface Embedded {
  given?(state: BrokerState, fx: Fixture): Promise<void>;
  request?(req: Any, state: BrokerState, fx: Fixture): Any;
  compare?(res: Any): Any;
}

const EMBEDDED: Record<string, Embedded> = {
  Produce: {
    // The batches before this one, so its sequence number follows theirs.
    given: (s, fx) =>
      seed(s, fx, {
        records:
          batches(requestOf(fx).topicData[0].partitionData[0].records, fx.file)[0].baseSequence,
      }),
  },
  Fetch: {
    given: (s, fx) => seed(s, fx, { records: 3 }),
    request: (req, s, fx) => ({
      ...req,
      topics: req.topics.map((t: Any) => ({ ...t, topicId: s.topics.get(names(fx).topic)!.id })),
    }),
    // No fetch sessions here (KIP-227 lets a broker refuse them): session id 0, where Kafka
    // made one. The records are compared byte for byte: the same batches, stored and served.
    compare: (res) => ({
      ...res,
      sessionId: "*",
      responses: res.responses.map((t: Any) => ({
        ...t,
        partitions: t.partitions.map((p: Any) => ({ ...p, records: p.records?.map(hex) })),
      })),
    }),
  },
  ListOffsets: { given: (s, fx) => seed(s, fx, { records: 3 }) },
  Metadata: { given: (s, fx) => seed(s, fx) },
  FindCoordinator: {},
  InitProducerId: {},
  CreateTopics: {
    // Kafka lists every config of the new topic; the broker those it knows (configs.ts).
    compare: (res) => ({
      ...res,
      topics: res.topics.map((t: Any) => ({
        ...t,
        configs: t.configs.filter((c: Any) => c.name === "retention.ms"),
      })),
    }),
  },
  DeleteTopics: { given: (s, fx) => seed(s, fx) },
  DeleteRecords: { given: (s, fx) => seed(s, fx, { records: 3 }) },
  DescribeConfigs: {
    given: (s, fx) => seed(s, fx, { partitions: 1 }),
    compare: (res) => ({
      ...res,
      results: res.results.map((r: Any) => ({
        ...r,
        configs: r.configs.filter((c: Any) => c.name === "retention.ms"),
      })),
    }),
  },
  CreatePartitions: { given: (s, fx) => seed(s, fx, { partitions: 1 }) },
  IncrementalAlterConfigs: { given: (s, fx) => seed(s, fx, { partitions: 1 }) },
  DescribeCluster: {},
  DescribeClientQuotas: {},
  // The transaction APIs: the transactional id as it stood, with this broker's producer id
  // put into Kafka's request (ids differ between brokers).
  AddPartitionsToTxn: {
    given: async (s, fx) => {
      await seed(s, fx);
      const req = requestOf(fx);
      if (fx.version < 4) await txnAs(s, req.v3AndBelowTransactionalId);
      else {
        const id = req.transactions[0].transactionalId;
        await txnAs(s, id, { group: `frames-group-${id.slice(11)}` });
      }
    },
    request: (req, s) =>
      req.transactions.length
        ? {
          ...req,
          transactions: req.transactions.map((t: Any) => ({
            ...t,
            producerId: s.txns.get(t.transactionalId)!.producerId,
          })),
        }
        : { ...req, v3AndBelowProducerId: s.txns.get(req.v3AndBelowTransactionalId)!.producerId },
  },
  AddOffsetsToTxn: {
    given: async (s, fx) => void await txnAs(s, requestOf(fx).transactionalId),
    request: (req, s) => ({ ...req, producerId: s.txns.get(req.transactionalId)!.producerId }),
  },
  EndTxn: {
    given: async (s, fx) => {
      await seed(s, fx);
      await txnAs(s, requestOf(fx).transactionalId, { partition: [names(fx).topic, 1] });
    },
    request: (req, s) => ({ ...req, producerId: s.txns.get(req.transactionalId)!.producerId }),
  },
  TxnOffsetCommit: {
    given: async (s, fx) => {
      await seed(s, fx);
      await txnAs(s, requestOf(fx).transactionalId, { group: names(fx).group });
    },
    request: (req, s) => ({ ...req, producerId: s.txns.get(req.transactionalId)!.producerId }),
  },
  DescribeProducers: {
    // Partition 1 as the transactional step left it: a record and its commit marker, then a
    // record of the open transaction, from one producer.
    given: async (s, fx) => {
      await seed(s, fx);
      const log = s.topics.get(names(fx).topic)!.partitions[1];
      for (const seq of [0, 1]) {
        const b = markerBatch(0, 0, 0, Date.now());
        const v = new DataView(b.buffer);
        v.setInt16(21, 0x10); // a transactional data batch, not a control one
        v.setInt32(53, seq);
        v.setUint32(17, crc32c(b.subarray(21)));
        log.append(b, splitBatches(b) as Any[]);
        if (seq === 0) log.appendMarker(0, 0, COMMIT_MARKER);
      }
    },
    compare: (res) => ({
      ...res,
      topics: res.topics.map((t: Any) => ({
        ...t,
        partitions: t.partitions.map((p: Any) => ({
          ...p,
          activeProducers: p.activeProducers.map((a: Any) => ({ ...a, lastTimestamp: "*" })),
        })),
      })),
    }),
  },
  DescribeTransactions: {
    given: async (s, fx) => {
      await seed(s, fx);
      await txnAs(s, requestOf(fx).transactionalIds[0], { partition: [names(fx).topic, 1] });
    },
    compare: (res) => ({
      ...res,
      transactionStates: res.transactionStates.map((t: Any) => ({
        ...t,
        transactionStartTimeMs: t.transactionStartTimeMs > 0 ? "*" : t.transactionStartTimeMs,
      })),
    }),
  },
  ListTransactions: {
    // Every transactional id Kafka listed, in the state it listed (aborted, here).
    given: async (s, fx) => {
      await seed(s, fx);
      const listed = responseRoundTrip(APIS.get(66)!, fx).transactionStates;
      for (const t of listed) {
        assert.equal(t.transactionState, "CompleteAbort", "the scenario ends its last one so");
        await txnAs(s, t.transactionalId, { partition: [names(fx).topic, 1], end: false });
      }
    },
  },
};

/**
 * Makes `id` a transactional id of `s` with epoch 0 and, as given, an open transaction on a
 * partition or a group's offsets, ended (end: false aborts it) when `end` is given.
 */
async function txnAs(
  s: BrokerState,
  id: string,
  opts: { partition?: [string, number]; group?: string; end?: boolean } = {},
): Promise<void> {
  const init = await s.txns.initProducerId(id, 60_000, { producerId: -1, producerEpoch: -1 });
  assert.equal(init.errorCode, 0);
  const { producerId, producerEpoch } = init;
  if (opts.partition) {
    const [topic, partition] = opts.partition;
    const codes = s.txns.addPartitions(id, producerId, producerEpoch, [{ topic, partition }]);
    assert.deepEqual([...codes.values()], [0]);
  }
  if (opts.group) assert.equal(s.txns.addOffsets(id, producerId, producerEpoch, opts.group), 0);
  if (opts.end !== undefined) {
    assert.equal(await s.txns.endTxn(id, producerId, producerEpoch, opts.end), 0);
  }
}

/** The decoded request of a fixture. */
function requestOf(fx: Fixture): Any {
  return requestRoundTrip(APIS.get(fx.key)!, fx);
}

/** The broker's answer to the captured request, against Apache Kafka's. */
async function compareWithBroker(api: Api, fx: Fixture, req: Any, kafka: Any): Promise<void> {
  const how = EMBEDDED[api.name];
  if (!how) return;
  const state = await freshState();
  try {
    await how.given?.(state, fx);
    const ours = await answer(state, api.name, fx.version, how.request?.(req, state, fx) ?? req);
    const view = how.compare ?? ((x: Any) => x);
    assert.deepEqual(
      shapeOf(view(ours)),
      shapeOf(view(kafka)),
      `${fx.file}: the broker's answer (actual) against Apache Kafka's (expected)`,
    );
  } finally {
    await state.close();
  }
}

// ---------------------------------------------------------------------------------------
// The tests: one per API file

for (const file of API_FILES) {
  const api = APIS.get(Number(file.slice(0, 2)));
  const fixtures = fixturesOf(file);
  Deno.test(
    `lib/broker/${file}.ts reads and writes back the ${api?.name} frames of Apache Kafka and its Java clients`,
    async () => {
      assert.ok(api, `lib/broker/${file}.ts is in the registry under key ${file.slice(0, 2)}`);
      assert.ok(fixtures.length > 0, `tests/testdata/kafka_frames/${file}/ has fixtures`);
      for (const fx of fixtures) {
        assert.deepEqual([fx.api, fx.key], [api.name, api.key], fx.file);
        if (fx.version > api.maxVersion) {
          unsupportedVersion(api, fx);
          continue;
        }
        const req = requestRoundTrip(api, fx);
        const res = responseRoundTrip(api, fx);
        const check: Check | undefined = CHECKS[api.name];
        assert.ok(check, `a check of what the scenario did with ${api.name}`);
        try {
          check(req, res, fx);
        } catch (err) {
          (err as Error).message = `${fx.file}: ${(err as Error).message}`;
          throw err;
        }
        await compareWithBroker(api, fx, req, res);
      }
    },
  );
}

/**
 * A request above every version both brokers serve (the 4.x client's first ApiVersions):
 * Apache Kafka answers v0 with UNSUPPORTED_VERSION and its ApiVersions range, as the broker
 * does with its own range.
 */
function unsupportedVersion(api: Api, fx: Fixture): void {
  assert.ok(api.answerUnsupported, `${fx.file}: v${fx.version} is above ${api.name}'s range`);
  const r = new Reader(unhex(fx.response_hex));
  assert.equal(r.int32(), fx.correlation_id);
  const kafka = api.response.decode(r, 0, false);
  assert.equal(r.remaining, 0, `${fx.file}: bytes left after the v0 answer`);
  const w = new Writer();
  w.int32(fx.correlation_id);
  api.response.encode(w, 0, false, kafka);
  assert.equal(hex(w.toBytes()), fx.response_hex, `${fx.file}: the response written back`);
  const ours = api.answerUnsupported({ apis: APIS } as RequestContext);
  assert.equal(ours.version, 0);
  const gist = (res: Any) => ({
    errorCode: res.errorCode,
    apiKeys: res.apiKeys.map((k: Any) => [k.apiKey, k.minVersion]),
  });
  assert.deepEqual(gist(ours.response), gist(kafka));
  assert.equal(kafka.errorCode, ErrorCode.UNSUPPORTED_VERSION);
}

Deno.test("every API file in lib/broker/ has frames captured from each Java client, and every fixture names one", () => {
  const registry = [...APIS.values()].map((a) => a.key).sort((a, b) => a - b);
  assert.deepEqual(API_FILES.map((f) => Number(f.slice(0, 2))), registry);
  for (const file of API_FILES) {
    const clients = new Set(fixturesOf(file).map((fx) => fx.client));
    for (const client of CLIENTS) {
      assert.ok(
        clients.has(client),
        `tests/testdata/kafka_frames/${file}/ has no frames of ${client}`,
      );
    }
  }
  const dirs = [...Deno.readDirSync(FIXTURES)].map((e) => e.name);
  assert.deepEqual(
    dirs.filter((d) => !API_FILES.includes(d)),
    [],
    "fixture folders with no API file",
  );
});

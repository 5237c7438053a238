/**
 * The broker's wire protocol, API by API and version by version, with kafkajs 2.2.4's own
 * request encoders and response decoders as the oracle: requests go out byte for byte as
 * kafkajs builds them, over a raw socket (no client retries or metadata logic in the way),
 * and the answers are read back with kafkajs's decoders.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { APIS } from "../../lib/broker/registry.ts";
import { ErrorCode } from "../../lib/broker/error_codes.ts";
import type { Broker } from "../../lib/broker/broker.ts";
import { encodeKafkajsRequest, kafkajsRequests } from "../deps/kafkajs_protocol.ts";
import { RawKafkaConn, withBroker } from "../_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** A raw connection speaking kafkajs's encodings. */
class Oracle {
  private cid = 1;
  private constructor(readonly conn: RawKafkaConn) {}

  static async open(broker: Broker): Promise<Oracle> {
    return new Oracle(await RawKafkaConn.open(broker.bootstrap));
  }

  /** Sends `api` v`version` with `args`; answers kafkajs's decoding of the response. */
  async call(api: string, version: number, args: Any = {}): Promise<Any> {
    const { request, response } = kafkajsRequests[api].protocol({ version })(args);
    const correlationId = this.cid++;
    const frame = await encodeKafkajsRequest({ correlationId, clientId: "oracle", request });
    await this.conn.send(frame.buffer);
    if (request.expectResponse && !request.expectResponse()) return undefined;
    const res = await this.conn.readFrame();
    assert.ok(res, `the broker closed the connection on ${api} v${version}`);
    assert.equal(new DataView(res.buffer).getInt32(0), correlationId, "correlation id");
    return await response.decode(Buffer.from(res.subarray(4)));
  }

  close(): void {
    this.conn.close();
  }
}

async function withOracle(
  fn: (o: Oracle, broker: Broker) => Promise<void>,
  opts: Parameters<typeof withBroker>[1] = {},
): Promise<void> {
  await withBroker(async (broker) => {
    const o = await Oracle.open(broker);
    try {
      await fn(o, broker);
    } finally {
      o.close();
    }
  }, opts);
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Versions of `api` both kafkajs and the broker implement. */
function versions(kafkajsName: string, key: number): number[] {
  const ours = APIS.get(key)!;
  return kafkajsRequests[kafkajsName].versions.map(Number)
    .filter((v) => v >= ours.minVersion && v <= ours.maxVersion);
}

const messages = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `${tag}-${i}` }));

Deno.test("ApiVersions v0 to v2 advertise exactly the APIs the broker dispatches", async () => {
  await withOracle(async (o) => {
    const expected = [...APIS.values()]
      .map((a) => ({ apiKey: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion }))
      .sort((a, b) => a.apiKey - b.apiKey);
    for (const v of [0, 1, 2]) {
      const res = await o.call("ApiVersions", v);
      assert.equal(res.errorCode, 0);
      assert.deepEqual(res.apiVersions, expected, `ApiVersions v${v}`);
    }
  });
});

Deno.test("ApiVersions advertises min 0 and the max versions Apache Kafka 3.9 serves, capped as issue 10 lists", () => {
  const got = Object.fromEntries(
    [...APIS.values()].map((a) => [a.name, [a.minVersion, a.maxVersion]]),
  );
  assert.deepEqual(got, {
    Produce: [0, 11],
    Fetch: [0, 16],
    ListOffsets: [0, 8],
    Metadata: [0, 12],
    OffsetCommit: [0, 9],
    OffsetFetch: [0, 9],
    FindCoordinator: [0, 4],
    JoinGroup: [0, 9],
    Heartbeat: [0, 4],
    LeaveGroup: [0, 5],
    SyncGroup: [0, 5],
    DescribeGroups: [0, 5],
    ListGroups: [0, 5],
    ApiVersions: [0, 4],
    CreateTopics: [0, 7],
    DeleteTopics: [0, 6],
    DeleteRecords: [0, 2],
    InitProducerId: [0, 5],
    AddPartitionsToTxn: [0, 5],
    AddOffsetsToTxn: [0, 4],
    EndTxn: [0, 4],
    TxnOffsetCommit: [0, 4],
    DescribeConfigs: [0, 4],
    CreatePartitions: [0, 3],
    DeleteGroups: [0, 2],
    IncrementalAlterConfigs: [0, 1],
    OffsetDelete: [0, 0],
    DescribeCluster: [0, 1],
    SaslHandshake: [0, 1],
    SaslAuthenticate: [0, 2],
    DescribeClientQuotas: [0, 1],
    DescribeUserScramCredentials: [0, 0],
    AlterUserScramCredentials: [0, 0],
    DescribeProducers: [0, 0],
    DescribeTransactions: [0, 0],
    ListTransactions: [0, 1],
    // KIP-848 at the versions Kafka 4 serves (3.9 serves v0 of each, v1 only as unstable).
    ConsumerGroupHeartbeat: [0, 1],
    ConsumerGroupDescribe: [0, 1],
  });
});

/** An ApiVersions request as librdkafka frames it: flexible header v2, compact strings. */
function apiVersionsRequest(version: number, correlationId: number): Uint8Array {
  const enc = new TextEncoder();
  const client = enc.encode("rdkafka");
  const name = enc.encode("librdkafka");
  const ver = enc.encode("2.0.2");
  const body = [
    ...[0, 18, 0, version], // api key, version
    ...[0, 0, 0, correlationId],
    0,
    client.length,
    ...client, // client_id: a classic int16 string
    0, // header tags
    name.length + 1,
    ...name,
    ver.length + 1,
    ...ver,
    0, // body tags
  ];
  return new Uint8Array([0, 0, 0, body.length, ...body]);
}

Deno.test("ApiVersions v3, as librdkafka opens, gets a flexible body under a v0 header", async () => {
  await withBroker(async (broker) => {
    const c = await RawKafkaConn.open(broker.bootstrap);
    try {
      await c.send(apiVersionsRequest(3, 7));
      const res = (await c.readFrame())!;
      const v = new DataView(res.buffer);
      assert.equal(v.getInt32(0), 7, "correlation id, then straight into the body: no header tags");
      assert.equal(v.getInt16(4), ErrorCode.NONE);
      let at = 6;
      const count = res[at++] - 1; // compact array: uvarint count + 1 (small here)
      assert.equal(count, APIS.size);
      const keys: number[] = [];
      for (let i = 0; i < count; i++) {
        keys.push(v.getInt16(at));
        const api = APIS.get(v.getInt16(at))!;
        assert.equal(v.getInt16(at + 2), api.minVersion);
        assert.equal(v.getInt16(at + 4), api.maxVersion);
        assert.equal(res[at + 6], 0, "no tags on an entry");
        at += 7;
      }
      assert.deepEqual(keys, [...APIS.keys()].sort((a, b) => a - b));
      assert.equal(v.getInt32(at), 0, "throttle_time_ms");
      assert.equal(res[at + 4], 0, "no tags");
      assert.equal(at + 5, res.byteLength, "nothing after the tags");
    } finally {
      c.close();
    }
  });
});

Deno.test("ApiVersions above v4 answers UNSUPPORTED_VERSION with its own range, shaped as v0, as Kafka does", async () => {
  await withBroker(async (broker) => {
    const c = await RawKafkaConn.open(broker.bootstrap);
    try {
      await c.send(apiVersionsRequest(9, 3));
      const res = (await c.readFrame())!;
      const v = new DataView(res.buffer);
      assert.equal(v.getInt32(0), 3);
      assert.equal(v.getInt16(4), ErrorCode.UNSUPPORTED_VERSION);
      assert.equal(v.getInt32(6), 1, "one entry: ApiVersions");
      assert.deepEqual([v.getInt16(10), v.getInt16(12), v.getInt16(14)], [18, 0, 4]);
      assert.equal(res.byteLength, 16);
      // The connection stays usable: the client retries with a version it knows.
      await c.send(apiVersionsRequest(3, 4));
      assert.equal(new DataView((await c.readFrame())!.buffer).getInt32(0), 4);
    } finally {
      c.close();
    }
  });
});

Deno.test("Metadata v0 to v4 name this broker as the only broker and the controller", async () => {
  await withOracle(async (o, broker) => {
    await o.call("CreateTopics", 0, {
      topics: [{ topic: "orders", numPartitions: 3, replicationFactor: 1 }],
      timeout: 1000,
    });
    for (const v of versions("Metadata", 3)) {
      const all = await o.call("Metadata", v, { topics: [] });
      assert.deepEqual(
        all.brokers.map((b: Any) => [b.nodeId, b.host, b.port]),
        [[0, broker.host, broker.port]],
        `Metadata v${v} brokers`,
      );
      if (v >= 1) assert.equal(all.controllerId, 0, `Metadata v${v} controller`);
      if (v >= 2) assert.equal(typeof all.clusterId, "string");
      assert.deepEqual(all.topicMetadata.map((t: Any) => t.topic), ["orders"]);
      const t = all.topicMetadata[0];
      assert.equal(t.topicErrorCode, 0);
      assert.deepEqual(
        t.partitionMetadata.map((p: Any) => [p.partitionId, p.leader, p.replicas, p.isr]),
        [[0, 0, [0], [0]], [1, 0, [0], [0]], [2, 0, [0], [0]]],
      );
      const one = await o.call("Metadata", v, {
        topics: ["missing"],
        allowAutoTopicCreation: true,
      });
      assert.deepEqual(
        one.topicMetadata.map((t: Any) => [t.topic, t.topicErrorCode]),
        [["missing", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
        "no auto-creation unless the broker allows it",
      );
      const bad = await o.call("Metadata", v, { topics: ["bad name!"] });
      assert.equal(bad.topicMetadata[0].topicErrorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
    }
  });
});

Deno.test("Metadata auto-creates topics when the broker and (from v4) the request allow it", async () => {
  await withOracle(async (o) => {
    const refused = await o.call("Metadata", 4, { topics: ["t1"], allowAutoTopicCreation: false });
    assert.equal(refused.topicMetadata[0].topicErrorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const made = await o.call("Metadata", 4, { topics: ["t1"], allowAutoTopicCreation: true });
    assert.equal(made.topicMetadata[0].topicErrorCode, 0);
    assert.equal(made.topicMetadata[0].partitionMetadata.length, 2);
    const v1 = await o.call("Metadata", 1, { topics: ["t2"] });
    assert.equal(v1.topicMetadata[0].topicErrorCode, 0, "before v4 auto-creation is implied");
  }, { autoCreate: true, partitions: 2 });
});

Deno.test("CreateTopics v0 to v3 create topics and refuse bad ones with Kafka's codes", async () => {
  await withOracle(async (o) => {
    for (const v of versions("CreateTopics", 19)) {
      const res = await o.call("CreateTopics", v, {
        topics: [
          { topic: `ok${v}`, numPartitions: 4, replicationFactor: 1 },
          { topic: `default${v}`, numPartitions: -1, replicationFactor: -1 },
          { topic: "bad/name", numPartitions: 1, replicationFactor: 1 },
          { topic: `rf${v}`, numPartitions: 1, replicationFactor: 3 },
          { topic: `zero${v}`, numPartitions: 0, replicationFactor: 1 },
        ],
        timeout: 1000,
      });
      const byTopic = new Map(res.topicErrors.map((t: Any) => [t.topic, t]));
      assert.deepEqual(
        res.topicErrors.map((t: Any) => [t.topic, t.errorCode]).sort(),
        [
          [`ok${v}`, 0],
          [`default${v}`, 0],
          ["bad/name", ErrorCode.INVALID_TOPIC_EXCEPTION],
          [`rf${v}`, ErrorCode.INVALID_REPLICATION_FACTOR],
          [`zero${v}`, ErrorCode.INVALID_PARTITIONS],
        ].sort(),
        `CreateTopics v${v}`,
      );
      if (v >= 1) assert.match((byTopic.get("bad/name") as Any).errorMessage, /bad\/name/);
      const again = await o.call("CreateTopics", v, {
        topics: [{ topic: `ok${v}`, numPartitions: 4, replicationFactor: 1 }],
        timeout: 1000,
      });
      assert.equal(again.topicErrors[0].errorCode, ErrorCode.TOPIC_ALREADY_EXISTS);
    }
    const md = await o.call("Metadata", 4, { topics: ["ok3", "default3"] });
    assert.deepEqual(md.topicMetadata.map((t: Any) => t.partitionMetadata.length), [4, 3]);
    const dry = await o.call("CreateTopics", 1, {
      topics: [{ topic: "dry", numPartitions: 1, replicationFactor: 1 }],
      validateOnly: true,
      timeout: 1000,
    });
    assert.equal(dry.topicErrors[0].errorCode, 0);
    const none = await o.call("Metadata", 4, { topics: ["dry"], allowAutoTopicCreation: false });
    assert.equal(none.topicMetadata[0].topicErrorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  }, { partitions: 3 });
});

Deno.test("Produce v3 to v7 append batches with consecutive offsets; v0 to v2 message sets are refused", async () => {
  await withOracle(async (o) => {
    await o.call("CreateTopics", 0, {
      topics: [{ topic: "p", numPartitions: 1, replicationFactor: 1 }],
      timeout: 1000,
    });
    let expected = 0;
    for (const v of versions("Produce", 0)) {
      const res = await o.call("Produce", v, {
        acks: 1,
        timeout: 1000,
        topicData: [{ topic: "p", partitions: [{ partition: 0, messages: messages(3, `v${v}`) }] }],
      });
      const p = res.topics[0].partitions[0];
      if (v < 3) {
        assert.equal(p.errorCode, ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, `Produce v${v}`);
        continue;
      }
      assert.equal(p.errorCode, 0, `Produce v${v}`);
      assert.equal(p.baseOffset, String(expected));
      if (v >= 5) assert.equal(p.logStartOffset, "0");
      expected += 3;
    }
    const unknown = await o.call("Produce", 7, {
      acks: -1,
      timeout: 1000,
      topicData: [
        { topic: "p", partitions: [{ partition: 5, messages: messages(1, "x") }] },
        { topic: "nope", partitions: [{ partition: 0, messages: messages(1, "x") }] },
      ],
    });
    assert.deepEqual(
      unknown.topics.map((t: Any) => [t.topicName, t.partitions[0].errorCode]),
      [["p", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION], ["nope", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
    );
    const latest = await o.call("ListOffsets", 2, {
      topics: [{ topic: "p", partitions: [{ partition: 0, timestamp: -1 }] }],
    });
    assert.equal(latest.responses[0].partitions[0].offset, String(expected));
  });
});

Deno.test("Produce with acks 0 gets no response, so the next answer matches the next request", async () => {
  await withOracle(async (o) => {
    await o.call("CreateTopics", 0, {
      topics: [{ topic: "quiet", numPartitions: 1, replicationFactor: 1 }],
      timeout: 1000,
    });
    const none = await o.call("Produce", 7, {
      acks: 0,
      timeout: 1000,
      topicData: [{ topic: "quiet", partitions: [{ partition: 0, messages: messages(5, "q") }] }],
    });
    assert.equal(none, undefined);
    // Oracle.call checks the correlation id of this answer is this request's.
    const res = await o.call("ListOffsets", 1, {
      topics: [{ topic: "quiet", partitions: [{ partition: 0, timestamp: -1 }] }],
    });
    assert.equal(res.responses[0].partitions[0].offset, "5");
  });
});

Deno.test("Fetch v4 to v11 return the records from the fetch offset with Kafka's fields", async () => {
  await withOracle(async (o) => {
    await o.call("CreateTopics", 0, {
      topics: [{ topic: "f", numPartitions: 2, replicationFactor: 1 }],
      timeout: 1000,
    });
    for (const batch of [messages(4, "a"), messages(3, "b")]) {
      await o.call("Produce", 7, {
        acks: 1,
        timeout: 1000,
        topicData: [{ topic: "f", partitions: [{ partition: 0, messages: batch }] }],
      });
    }
    for (const v of versions("Fetch", 1).filter((v) => v >= 4)) {
      const res = await o.call("Fetch", v, {
        maxWaitTime: 10,
        minBytes: 1,
        maxBytes: 1 << 20,
        topics: [{
          topic: "f",
          partitions: [
            { partition: 0, fetchOffset: "5", maxBytes: 1 << 20 },
            { partition: 1, fetchOffset: "0", maxBytes: 1 << 20 },
          ],
        }],
      });
      const [p0, p1] = res.responses[0].partitions;
      assert.equal(p0.errorCode, 0, `Fetch v${v}`);
      assert.equal(p0.highWatermark, "7");
      assert.equal(p0.lastStableOffset, "7");
      assert.deepEqual(p0.abortedTransactions, []);
      if (v >= 11) assert.equal(p0.preferredReadReplica, -1);
      // Whole batches come back: the client skips what lies before its offset.
      assert.deepEqual(
        p0.messages.map((m: Any) => [m.offset, m.value.toString()]),
        [["4", "b-0"], ["5", "b-1"], ["6", "b-2"]],
      );
      assert.equal(p1.errorCode, 0);
      assert.deepEqual(p1.messages, []);
      assert.equal(p1.highWatermark, "0");
    }
    const bad = await o.call("Fetch", 11, {
      maxWaitTime: 10,
      minBytes: 1,
      maxBytes: 1 << 20,
      topics: [
        { topic: "f", partitions: [{ partition: 0, fetchOffset: "8", maxBytes: 1 << 20 }] },
        { topic: "nope", partitions: [{ partition: 0, fetchOffset: "0", maxBytes: 1 << 20 }] },
      ],
    });
    assert.deepEqual(
      bad.responses.map((t: Any) => t.partitions[0].errorCode),
      [ErrorCode.OFFSET_OUT_OF_RANGE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    );
  });
});

Deno.test("Fetch returns at least one whole batch even when it is larger than max bytes", async () => {
  await withOracle(async (o) => {
    await o.call("CreateTopics", 0, {
      topics: [{ topic: "big", numPartitions: 1, replicationFactor: 1 }],
      timeout: 1000,
    });
    for (let i = 0; i < 2; i++) {
      await o.call("Produce", 7, {
        acks: 1,
        timeout: 1000,
        topicData: [{
          topic: "big",
          partitions: [{ partition: 0, messages: [{ value: "x".repeat(5000) }] }],
        }],
      });
    }
    const res = await o.call("Fetch", 11, {
      maxWaitTime: 10,
      minBytes: 1,
      maxBytes: 100,
      topics: [{ topic: "big", partitions: [{ partition: 0, fetchOffset: "0", maxBytes: 100 }] }],
    });
    assert.deepEqual(res.responses[0].partitions[0].messages.map((m: Any) => m.offset), ["0"]);
  });
});

Deno.test("Fetch long-polls: it waits for data up to max wait and answers when records arrive", async () => {
  await withBroker(async (broker) => {
    const fetcher = await Oracle.open(broker);
    const producer = await Oracle.open(broker);
    try {
      await producer.call("CreateTopics", 0, {
        topics: [{ topic: "lp", numPartitions: 1, replicationFactor: 1 }],
        timeout: 1000,
      });
      const fetching = fetcher.call("Fetch", 11, {
        maxWaitTime: 30_000,
        minBytes: 1,
        maxBytes: 1 << 20,
        topics: [{
          topic: "lp",
          partitions: [{ partition: 0, fetchOffset: "0", maxBytes: 1 << 20 }],
        }],
      });
      let answered = false;
      fetching.then(() => answered = true);
      // The fetch must still be waiting after the producer's round trip…
      await producer.call("ApiVersions", 2);
      assert.equal(answered, false, "an empty fetch answered before max wait");
      await producer.call("Produce", 7, {
        acks: 1,
        timeout: 1000,
        topicData: [{ topic: "lp", partitions: [{ partition: 0, messages: messages(2, "lp") }] }],
      });
      // …and answer with the records once they exist (long before 30 s).
      const res = await fetching;
      assert.deepEqual(res.responses[0].partitions[0].messages.map((m: Any) => m.offset), [
        "0",
        "1",
      ]);
    } finally {
      fetcher.close();
      producer.close();
    }
  });
});

Deno.test("ListOffsets v0 to v3 answer the earliest, the latest and by timestamp", async () => {
  await withOracle(async (o) => {
    await o.call("CreateTopics", 0, {
      topics: [{ topic: "lo", numPartitions: 1, replicationFactor: 1 }],
      timeout: 1000,
    });
    const t0 = Date.now();
    await o.call("Produce", 7, {
      acks: 1,
      timeout: 1000,
      topicData: [{
        topic: "lo",
        partitions: [{
          partition: 0,
          messages: messages(2, "old").map((m) => ({ ...m, timestamp: t0 - 60_000 })),
        }],
      }],
    });
    await o.call("Produce", 7, {
      acks: 1,
      timeout: 1000,
      topicData: [{
        topic: "lo",
        partitions: [{
          partition: 0,
          messages: messages(3, "new").map((m) => ({ ...m, timestamp: t0 })),
        }],
      }],
    });
    for (const v of versions("ListOffsets", 2)) {
      const got = [];
      for (const timestamp of [-2, -1, t0 - 1000]) {
        const res = await o.call("ListOffsets", v, {
          topics: [{ topic: "lo", partitions: [{ partition: 0, timestamp }] }],
        });
        const p = res.responses[0].partitions[0];
        got.push(v === 0 ? p.offsets[0] : p.offset);
      }
      assert.deepEqual(got, ["0", "5", "2"], `ListOffsets v${v}`);
    }
    const twice = await o.call("ListOffsets", 2, {
      topics: [{
        topic: "lo",
        partitions: [{ partition: 0, timestamp: -2 }, { partition: 0, timestamp: -1 }],
      }],
    });
    assert.deepEqual(
      twice.responses[0].partitions.map((p: Any) => p.errorCode),
      [ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST],
      "a partition asked for twice is refused, as Kafka does",
    );
    const unknown = await o.call("ListOffsets", 2, {
      topics: [{ topic: "lo", partitions: [{ partition: 9, timestamp: -1 }] }],
    });
    assert.equal(
      unknown.responses[0].partitions[0].errorCode,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    );
  });
});

Deno.test("group APIs at every version: find, join, sync, heartbeat, commit, fetch, describe, list, leave", async () => {
  await withOracle(async (o, broker) => {
    await o.call("CreateTopics", 0, {
      topics: [{ topic: "g", numPartitions: 2, replicationFactor: 1 }],
      timeout: 1000,
    });
    for (const v of versions("GroupCoordinator", 10)) {
      const res = await o.call("GroupCoordinator", v, { groupId: "any" });
      assert.equal(res.errorCode, 0);
      assert.deepEqual(res.coordinator, { nodeId: 0, host: broker.host, port: broker.port });
    }
    const joinVersions = versions("JoinGroup", 11);
    const syncVersions = versions("SyncGroup", 14);
    const hbVersions = versions("Heartbeat", 12);
    const commitVersions = versions("OffsetCommit", 8);
    const fetchVersions = versions("OffsetFetch", 9).filter((v) => v >= 1);
    const leaveVersions = versions("LeaveGroup", 13);
    assert.deepEqual(joinVersions, range(0, 5));
    for (const jv of joinVersions) {
      const groupId = `group-${jv}`;
      const pick = (vs: number[]) => vs[Math.min(jv, vs.length - 1)];
      const joinAs = (memberId: string) =>
        o.call("JoinGroup", jv, {
          groupId,
          sessionTimeout: 30_000,
          rebalanceTimeout: 30_000,
          memberId,
          protocolType: "consumer",
          groupProtocols: [{ name: "rr", metadata: Buffer.from("meta") }],
        });
      let join = await joinAs("");
      if (jv >= 4) {
        // KIP-394: from v4 a new member first gets its id with MEMBER_ID_REQUIRED.
        assert.equal(join.errorCode, ErrorCode.MEMBER_ID_REQUIRED, `JoinGroup v${jv}`);
        assert.match(join.memberId, /^oracle-/);
        join = await joinAs(join.memberId);
      }
      assert.equal(join.errorCode, 0, `JoinGroup v${jv}`);
      assert.equal(join.generationId, 1);
      assert.equal(join.leaderId, join.memberId, "a lone member leads");
      assert.equal(join.groupProtocol, "rr");
      assert.deepEqual(join.members.map((m: Any) => m.memberMetadata.toString()), ["meta"]);
      const memberId = join.memberId;
      const sync = await o.call("SyncGroup", pick(syncVersions), {
        groupId,
        generationId: 1,
        memberId,
        groupAssignment: [{ memberId, memberAssignment: Buffer.from("mine") }],
      });
      assert.equal(sync.errorCode, 0);
      assert.equal(sync.memberAssignment.toString(), "mine");
      const hb = await o.call("Heartbeat", pick(hbVersions), {
        groupId,
        groupGenerationId: 1,
        memberId,
      });
      assert.equal(hb.errorCode, 0);
      const stale = await o.call("Heartbeat", pick(hbVersions), {
        groupId,
        groupGenerationId: 0,
        memberId,
      });
      assert.equal(stale.errorCode, ErrorCode.ILLEGAL_GENERATION);
      const cv = pick(commitVersions.filter((v) => v >= 1));
      const commit = await o.call("OffsetCommit", cv, {
        groupId,
        groupGenerationId: 1,
        memberId,
        topics: [{ topic: "g", partitions: [{ partition: 1, offset: String(10 + jv) }] }],
      });
      assert.equal(commit.responses[0].partitions[0].errorCode, 0, `OffsetCommit v${cv}`);
      const fetched = await o.call("OffsetFetch", pick(fetchVersions), {
        groupId,
        topics: [{ topic: "g", partitions: [{ partition: 0 }, { partition: 1 }] }],
      });
      assert.deepEqual(
        fetched.responses[0].partitions.map((p: Any) => [p.partition, p.offset]),
        [[0, "-1"], [1, String(10 + jv)]],
      );
      const leave = await o.call("LeaveGroup", pick(leaveVersions), { groupId, memberId });
      assert.equal(leave.errorCode, 0);
      const gone = await o.call("Heartbeat", pick(hbVersions), {
        groupId,
        groupGenerationId: 1,
        memberId,
      });
      assert.equal(gone.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    }
    for (const v of versions("DescribeGroups", 15)) {
      const res = await o.call("DescribeGroups", v, { groupIds: ["group-0", "never"] });
      assert.deepEqual(
        res.groups.map((g: Any) => [g.groupId, g.errorCode, g.state, g.members.length]),
        [["group-0", 0, "Empty", 0], ["never", 0, "Dead", 0]],
      );
    }
    for (const v of versions("ListGroups", 16)) {
      const res = await o.call("ListGroups", v);
      assert.deepEqual(
        res.groups.map((g: Any) => g.groupId),
        joinVersions.map((jv) => `group-${jv}`),
      );
    }
  });
});

Deno.test("simple commits (generation -1) work for groups without members; v0 is refused as KRaft Kafka does", async () => {
  await withOracle(async (o) => {
    await o.call("CreateTopics", 0, {
      topics: [{ topic: "s", numPartitions: 1, replicationFactor: 1 }],
      timeout: 1000,
    });
    const v0 = await o.call("OffsetCommit", 0, {
      groupId: "admin-set",
      topics: [{ topic: "s", partitions: [{ partition: 0, offset: "3" }] }],
    });
    assert.equal(v0.responses[0].partitions[0].errorCode, ErrorCode.UNSUPPORTED_VERSION);
    const simple = await o.call("OffsetCommit", 5, {
      groupId: "admin-set",
      groupGenerationId: -1,
      memberId: "",
      topics: [
        { topic: "s", partitions: [{ partition: 0, offset: "4" }] },
        { topic: "s", partitions: [{ partition: 3, offset: "4" }] },
      ],
    });
    assert.deepEqual(
      simple.responses.map((t: Any) => t.partitions[0].errorCode),
      [0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    );
    const stranger = await o.call("OffsetCommit", 5, {
      groupId: "admin-set",
      groupGenerationId: 3,
      memberId: "who",
      topics: [{ topic: "s", partitions: [{ partition: 0, offset: "9" }] }],
    });
    assert.equal(stranger.responses[0].partitions[0].errorCode, ErrorCode.ILLEGAL_GENERATION);
    const all = await o.call("OffsetFetch", 4, { groupId: "admin-set", topics: [] });
    assert.deepEqual(all.responses[0].partitions.map((p: Any) => p.offset), ["4"]);
  });
});

Deno.test("DeleteTopics v0 and v1 delete topics and answer UNKNOWN_TOPIC_OR_PARTITION for others", async () => {
  await withOracle(async (o) => {
    for (const v of versions("DeleteTopics", 20)) {
      await o.call("CreateTopics", 0, {
        topics: [{ topic: `d${v}`, numPartitions: 1, replicationFactor: 1 }],
        timeout: 1000,
      });
      const res = await o.call("DeleteTopics", v, { topics: [`d${v}`, "ghost"], timeout: 1000 });
      assert.deepEqual(
        res.topicErrors.map((t: Any) => [t.topic, t.errorCode]),
        [[`d${v}`, 0], ["ghost", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
      );
      const md = await o.call("Metadata", 4, { topics: [], allowAutoTopicCreation: false });
      assert.deepEqual(md.topicMetadata, []);
    }
  });
});

Deno.test("DeleteGroups v0 and v1 delete empty groups' offsets and refuse groups with members", async () => {
  await withOracle(async (o) => {
    await o.call("CreateTopics", 0, {
      topics: [{ topic: "dg", numPartitions: 1, replicationFactor: 1 }],
      timeout: 1000,
    });
    for (const v of versions("DeleteGroups", 42)) {
      await o.call("OffsetCommit", 2, {
        groupId: `old${v}`,
        groupGenerationId: -1,
        memberId: "",
        retentionTime: -1,
        topics: [{ topic: "dg", partitions: [{ partition: 0, offset: "3" }] }],
      });
      const join = await o.call("JoinGroup", 3, {
        groupId: `busy${v}`,
        sessionTimeout: 30_000,
        rebalanceTimeout: 30_000,
        memberId: "",
        protocolType: "consumer",
        groupProtocols: [{ name: "rr", metadata: Buffer.from("") }],
      });
      assert.equal(join.errorCode, 0);
      const res = await o.call("DeleteGroups", v, [`old${v}`, `busy${v}`, "never"]);
      assert.deepEqual(
        res.results.map((g: Any) => [g.groupId, g.errorCode]),
        [[`old${v}`, 0], [`busy${v}`, ErrorCode.NON_EMPTY_GROUP], [
          "never",
          ErrorCode.GROUP_ID_NOT_FOUND,
        ]],
      );
      const fetched = await o.call("OffsetFetch", 4, {
        groupId: `old${v}`,
        topics: [{ topic: "dg", partitions: [{ partition: 0 }] }],
      });
      assert.equal(fetched.responses[0].partitions[0].offset, "-1");
    }
  });
});

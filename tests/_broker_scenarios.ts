/**
 * The raw-frame scenarios of the broker's version tests (tests/unit/broker_versions_test.ts runs
 * them on the embedded broker, tests/engine/broker_versions_test.ts on it and on Apache Kafka
 * 3.9.1 side by side): every API at every version the broker serves, over raw frames (the
 * registry's schemas used as a client, tests/_kafka_wire.ts): scenarios of topics, data,
 * groups, admin calls and transactions, each step with the answer Kafka's semantics call for,
 * kept as a transcript; `canonical()` masks what differs between any two brokers (ids,
 * addresses, clocks, wording, order).
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { ErrorCode } from "../lib/broker/error_codes.ts";
import { KafkajsRecord, KafkajsRecordBatch } from "./deps/kafkajs_protocol.ts";
import { api, DEFAULT_VARY, shape, WireClient } from "./_kafka_wire.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Every version of `name` the broker serves. */
export const versionsOf = (name: string) => range(api(name).minVersion, api(name).maxVersion);

/** One answer, as the transcript keeps it. */
export interface Step {
  label: string;
  answer: Any;
}

/** Fields whose values legitimately differ between two brokers: the wire's, and a few more. */
const VARY = [
  ...DEFAULT_VARY,
  "apiKeys",
  "producerId",
  "transactionStartTimeMs",
];

/**
 * A response with brokers' differences masked and every list in a canonical order. The one
 * default this broker sets differently on purpose, max.message.bytes (the frame limit, not
 * 1 MiB), is left out of config lists.
 */
export function canonical(x: Any): Any {
  // Wording differs, and where Kafka says nothing (null) this broker may say why.
  const masked = shape(
    JSON.parse(
      JSON.stringify(
        x,
        (k, v) =>
          k === "errorMessage" || k === "documentation"
            ? "*"
            : v instanceof Uint8Array
            ? { bytes: v.byteLength }
            : v,
      ),
    ),
    VARY,
  );
  const sort = (v: Any): Any => {
    if (Array.isArray(v)) {
      const items = v.map(sort);
      return items.every((i) => i && typeof i === "object")
        ? items.sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)
        : items;
    }
    if (v && typeof v === "object") {
      return Object.fromEntries(
        Object.entries(v).map((
          [k, i],
        ) => [
          k,
          sort(
            k === "configs" && Array.isArray(i)
              ? i.filter((c: Any) => c.name !== "max.message.bytes")
              : i,
          ),
        ]),
      );
    }
    return v;
  };
  return sort(masked);
}

/** Runs requests on one broker, checking each answer and keeping it for comparison. */
class Recorder {
  readonly steps: Step[] = [];
  constructor(readonly c: WireClient, readonly who: "pinpipe" | "kafka") {}

  /** Sends a request; `check` asserts what Kafka's semantics call for (on either broker). */
  async call(
    label: string,
    name: string,
    version: number,
    body: Any,
    check?: (res: Any) => void,
    record = true,
  ): Promise<Any> {
    const res = await this.c.call(name, version, body);
    try {
      check?.(res);
    } catch (err) {
      (err as Error).message = `${this.who}, ${label} (${name} v${version}): ${
        (err as Error).message
      }\n${JSON.stringify(shape(res), null, 1)}`;
      throw err;
    }
    if (record) this.steps.push({ label: `${label} (${name} v${version})`, answer: res });
    return res;
  }

  /** Repeats an unrecorded request until `ok` (Kafka needs a moment after some changes). */
  async until(name: string, version: number, body: Any, ok: (res: Any) => boolean) {
    for (let i = 0; i < 200; i++) {
      const res = await this.c.call(name, version, body);
      if (ok(res)) return res;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.who}: ${name} never became ready`);
  }
}

const errors = (list: Any[]) => list.map((x) => x.errorCode);
/** Error codes by name: Kafka often lists failures first, so checks go by name. */
const codes = (list: Any[], key = "name") =>
  Object.fromEntries(list.map((x) => [String(x[key]), x.errorCode]));
/** Record times an hour old: inside any retention either broker applies during the test. */
const TS = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;

async function batch(
  values: string[],
  ts = TS,
  lastOffsetDelta = values.length - 1,
  producer?: { producerId: number; producerEpoch: number; firstSequence: number },
): Promise<Uint8Array> {
  const records = values.map((v, i) =>
    KafkajsRecord({
      offsetDelta: i,
      timestampDelta: i,
      key: Buffer.from(`k${i}`),
      value: Buffer.from(v),
      headers: { h: "1" },
    })
  );
  const b = await KafkajsRecordBatch({
    firstOffset: 0n,
    firstTimestamp: ts,
    maxTimestamp: ts + values.length - 1,
    lastOffsetDelta,
    records,
    ...(producer ? { ...producer, transactional: true } : {}),
  });
  return new Uint8Array(b.buffer);
}

/** Waits until `topics` exist and lead (at once here; a moment on Kafka). */
async function ready(r: Recorder, topics: string[]) {
  const md = await r.until(
    "Metadata",
    12,
    { topics: topics.map((name) => ({ name })), allowAutoTopicCreation: false },
    (res) =>
      res.topics.every((t: Any) =>
        t.errorCode === 0 && t.partitions.length > 0 &&
        t.partitions.every((p: Any) => p.leaderId >= 0)
      ),
  );
  // Metadata can name a leader a moment before it serves: ask the partitions themselves.
  await r.until("ListOffsets", 8, {
    replicaId: -1,
    topics: md.topics.map((t: Any) => ({
      name: t.name,
      partitions: t.partitions.map((p: Any) => ({
        partitionIndex: p.partitionIndex,
        timestamp: -1,
      })),
    })),
  }, (res) => res.topics.every((t: Any) => t.partitions.every((p: Any) => p.errorCode === 0)));
}

async function topicScenario(r: Recorder) {
  for (const v of versionsOf("CreateTopics")) {
    const res = await r.call("create topics, good and bad", "CreateTopics", v, {
      topics: [
        { name: `ct${v}`, numPartitions: 2, replicationFactor: 1 },
        { name: "bad name", numPartitions: 1, replicationFactor: 1 },
        { name: `rf${v}`, numPartitions: 1, replicationFactor: 3 },
        { name: `zero${v}`, numPartitions: 0, replicationFactor: 1 },
        {
          name: `conf${v}`,
          numPartitions: 1,
          replicationFactor: 1,
          configs: [{ name: "retention.mss", value: "1" }],
        },
        {
          name: `val${v}`,
          numPartitions: 1,
          replicationFactor: 1,
          configs: [{ name: "retention.ms", value: "soon" }],
        },
      ],
      timeoutMs: 10_000,
    }, (res) =>
      assert.deepEqual(codes(res.topics), {
        [`ct${v}`]: 0,
        "bad name": ErrorCode.INVALID_TOPIC_EXCEPTION,
        [`rf${v}`]: ErrorCode.INVALID_REPLICATION_FACTOR,
        [`zero${v}`]: ErrorCode.INVALID_PARTITIONS,
        [`conf${v}`]: ErrorCode.INVALID_CONFIG,
        [`val${v}`]: ErrorCode.INVALID_CONFIG,
      }));
    if (v >= 5) {
      const created = res.topics.find((t: Any) => t.name === `ct${v}`);
      const configs = created.configs.map((c: Any) => c.name);
      assert.ok(configs.includes("retention.ms"), `${r.who}: v${v} lists the topic's configs`);
    }
  }
  await r.call("KIP-464 defaults (-1)", "CreateTopics", 4, {
    topics: [{ name: "defaults", numPartitions: -1, replicationFactor: -1 }],
    timeoutMs: 10_000,
  }, (res) => assert.deepEqual(errors(res.topics), [0]));
  await r.call("exists already; validate only", "CreateTopics", 7, {
    topics: [
      { name: "ct0", numPartitions: 1, replicationFactor: 1 },
      { name: "dry", numPartitions: 3, replicationFactor: 1 },
    ],
    validateOnly: true,
  }, (res) => assert.deepEqual(codes(res.topics), { ct0: ErrorCode.TOPIC_ALREADY_EXISTS, dry: 0 }));
  await ready(r, ["ct0", "ct7", "defaults"]);

  for (const v of versionsOf("Metadata")) {
    const names = v === 0 ? ["ct0", "defaults", "dry"] : ["ct0", "defaults", "dry", "bad name"];
    await r.call("metadata of named topics", "Metadata", v, {
      topics: names.map((name) => ({ name })),
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: true,
      includeClusterAuthorizedOperations: true,
    }, (res) => {
      const by = new Map(res.topics.map((t: Any) => [t.name, t]));
      assert.equal((by.get("ct0") as Any).partitions.length, 2);
      assert.equal((by.get("defaults") as Any).partitions.length, 1);
      assert.equal((by.get("dry") as Any).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      if (v >= 1) {
        assert.equal((by.get("bad name") as Any).errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
      }
      assert.deepEqual(res.brokers.map((b: Any) => b.nodeId), [
        res.controllerId === -1 ? res.brokers[0].nodeId : res.controllerId,
      ]);
    });
  }
  const md = await r.call("metadata with topic ids", "Metadata", 12, {
    topics: [{ name: "ct7" }],
    allowAutoTopicCreation: false,
  });
  const id = md.topics[0].topicId;
  await r.call("metadata by topic id", "Metadata", 12, {
    topics: [{ name: null, topicId: id }, {
      name: null,
      topicId: "0b0b0b0b-0000-4000-8000-000000000001",
    }],
  }, (res) =>
    assert.deepEqual(
      res.topics.map((t: Any) => [t.name, t.errorCode]).sort(),
      [["ct7", 0], [null, ErrorCode.UNKNOWN_TOPIC_ID]].sort(),
    ));

  for (const v of versionsOf("CreatePartitions")) {
    await r.call("grow a topic", "CreatePartitions", v, {
      topics: [{ name: "defaults", count: 2 + v, assignments: null }],
      timeoutMs: 10_000,
      validateOnly: false,
    }, (res) => assert.deepEqual(errors(res.results), [0]));
  }
  await r.call("no shrinking, no unknown topics", "CreatePartitions", 3, {
    topics: [
      { name: "defaults", count: 2, assignments: null },
      { name: "nope", count: 3, assignments: null },
      { name: "ct1", count: 3, assignments: [{ brokerIds: [77] }] },
    ],
    timeoutMs: 10_000,
    validateOnly: false,
  }, (res) =>
    assert.deepEqual(codes(res.results), {
      defaults: ErrorCode.INVALID_PARTITIONS,
      nope: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      ct1: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
    }));

  for (const v of versionsOf("IncrementalAlterConfigs")) {
    await r.call("set, append, subtract, delete", "IncrementalAlterConfigs", v, {
      resources: [{
        resourceType: 2,
        resourceName: `ct${v}`,
        configs: [
          { name: "retention.ms", configOperation: 0, value: "60000" },
          { name: "cleanup.policy", configOperation: 2, value: "compact" },
          { name: "segment.bytes", configOperation: 1, value: null },
        ],
      }],
      validateOnly: false,
    }, (res) => assert.deepEqual(errors(res.responses), [0]));
  }
  await r.call("refused changes", "IncrementalAlterConfigs", 1, {
    resources: [
      {
        resourceType: 2,
        resourceName: "ct2",
        configs: [{ name: "retention.ms", configOperation: 2, value: "1" }],
      },
      {
        resourceType: 2,
        resourceName: "ct3",
        configs: [{ name: "segment.ms", configOperation: 0, value: "0" }],
      },
      {
        resourceType: 2,
        resourceName: "ct4",
        configs: [{ name: "no.such", configOperation: 0, value: "1" }],
      },
      {
        resourceType: 2,
        resourceName: "nope",
        configs: [{ name: "retention.ms", configOperation: 0, value: "1" }],
      },
    ],
    validateOnly: false,
  }, (res) =>
    assert.deepEqual(codes(res.responses, "resourceName"), {
      ct2: ErrorCode.INVALID_CONFIG,
      ct3: ErrorCode.INVALID_CONFIG,
      ct4: ErrorCode.INVALID_CONFIG,
      nope: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    }));
  for (const v of versionsOf("DescribeConfigs")) {
    await r.call("describe topic configs", "DescribeConfigs", v, {
      resources: [
        {
          resourceType: 2,
          resourceName: "ct0",
          configurationKeys: ["retention.ms", "cleanup.policy", "segment.bytes", "no.such"],
        },
        { resourceType: 2, resourceName: "nope", configurationKeys: null },
      ],
      includeSynonyms: true,
      includeDocumentation: true,
    }, (res) => {
      assert.deepEqual(codes(res.results, "resourceName"), {
        ct0: 0,
        nope: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      });
      const ct0 = res.results.find((x: Any) => x.resourceName === "ct0");
      const c = Object.fromEntries(ct0.configs.map((c: Any) => [c.name, c.value]));
      assert.deepEqual(c, {
        "retention.ms": "60000",
        "cleanup.policy": "delete,compact",
        "segment.bytes": "1073741824",
      });
    });
  }

  for (const v of versionsOf("DeleteTopics")) {
    const name = `ct${Math.min(v, 7)}`;
    const body = v >= 6
      ? {
        topics: [{ name, topicId: "00000000-0000-0000-0000-000000000000" }, {
          name: null,
          topicId: "0b0b0b0b-0000-4000-8000-000000000002",
        }],
        timeoutMs: 10_000,
      }
      : { topicNames: [name, "nope"], timeoutMs: 10_000 };
    await r.call("delete topics", "DeleteTopics", v, body, (res) =>
      assert.deepEqual(
        errors(res.responses).sort(),
        [0, v >= 6 ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION].sort(),
      ));
  }
}

async function dataScenario(r: Recorder) {
  await r.call("a topic for data", "CreateTopics", 7, {
    topics: [{
      name: "data",
      numPartitions: 2,
      replicationFactor: 1,
      // What this broker does for Fetch v0–v3 either way: no down-conversion.
      configs: [{ name: "message.downconversion.enable", value: "false" }],
    }],
  }, (res) => assert.deepEqual(errors(res.topics), [0]));
  await ready(r, ["data"]);
  let next = 0;
  for (const v of versionsOf("Produce")) {
    await r.call("produce one batch", "Produce", v, {
      acks: -1,
      timeoutMs: 10_000,
      topicData: [
        {
          name: "data",
          partitionData: [{ index: 0, records: await batch([`a${v}`, `b${v}`], TS + v * 1000) }, {
            index: 9,
            records: await batch(["x"]),
          }],
        },
        { name: "nope", partitionData: [{ index: 0, records: await batch(["x"]) }] },
      ],
    }, (res) => {
      const t = res.responses.find((x: Any) => x.name === "data");
      const nope = res.responses.find((x: Any) => x.name === "nope");
      assert.deepEqual(codes(t.partitionResponses, "index"), {
        0: 0,
        9: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      });
      const p0 = t.partitionResponses.find((p: Any) => p.index === 0);
      assert.equal(p0.baseOffset, next);
      assert.deepEqual(errors(nope.partitionResponses), [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    });
    next += 2;
  }
  const good = await batch(["g"]);
  const oldMagic = good.slice();
  oldMagic[16] = 1;
  const miscounted = await batch(["m", "n"], TS, 0); // one offset for two records
  await r.call(
    "refused batches",
    "Produce",
    9,
    {
      acks: 1,
      timeoutMs: 10_000,
      topicData: [{
        name: "data",
        partitionData: [
          { index: 1, records: new Uint8Array([...good, ...good]) },
        ],
      }],
    },
    (res) =>
      assert.deepEqual(errors(res.responses[0].partitionResponses), [ErrorCode.INVALID_RECORD]),
  );
  for (const [what, records] of [["magic 1", oldMagic], ["miscounted", miscounted]] as const) {
    await r.call(
      `refused: ${what}`,
      "Produce",
      9,
      {
        acks: 1,
        timeoutMs: 10_000,
        topicData: [{ name: "data", partitionData: [{ index: 1, records }] }],
      },
      (res) =>
        assert.deepEqual(errors(res.responses[0].partitionResponses), [ErrorCode.INVALID_RECORD]),
    );
  }
  // acks=0: no answer at all; the next request's answer is the next one on the wire.
  await r.c.call("Produce", 11, {
    acks: 0,
    timeoutMs: 10_000,
    topicData: [{
      name: "data",
      partitionData: [{ index: 1, records: await batch(["q", "r", "s"]) }],
    }],
  }, false);
  const md = await r.call("after acks=0", "Metadata", 12, {
    topics: [{ name: "data" }],
    allowAutoTopicCreation: false,
  });
  const id = md.topics[0].topicId;

  for (const v of versionsOf("Fetch")) {
    await r.call("fetch from offsets", "Fetch", v, {
      maxWaitMs: 10,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel: 1,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{
        topic: "data",
        topicId: id,
        partitions: [
          { partition: 0, fetchOffset: 3, partitionMaxBytes: 1 << 20 },
          { partition: 1, fetchOffset: 0, partitionMaxBytes: 1 << 20 },
          { partition: 1, fetchOffset: 1, partitionMaxBytes: 1 << 20 },
        ],
      }],
      rackId: "",
    }, (res) => {
      const parts = res.responses.flatMap((t: Any) => t.partitions);
      assert.equal(parts.length, 2, "a partition named twice is fetched once");
      if (v < 4) {
        assert.deepEqual(errors(parts), [
          ErrorCode.UNSUPPORTED_VERSION,
          ErrorCode.UNSUPPORTED_VERSION,
        ]);
        return;
      }
      assert.deepEqual(errors(parts), [0, 0]);
      const [p0, p1] = [0, 1].map((i) => parts.find((p: Any) => p.partitionIndex === i));
      assert.equal(p0.highWatermark, next);
      assert.equal(p1.highWatermark, 3);
      assert.ok(p0.records.reduce((n: number, c: Uint8Array) => n + c.byteLength, 0) > 0);
    });
    await r.call("fetch out of range, unknown topic", "Fetch", v, {
      maxWaitMs: 10,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic: "data",
          topicId: id,
          partitions: [{ partition: 0, fetchOffset: 999, partitionMaxBytes: 1 << 20 }],
        },
        {
          topic: "nope",
          topicId: "0b0b0b0b-0000-4000-8000-000000000003",
          partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }],
        },
      ],
    }, (res) => {
      if (v < 4) return;
      assert.deepEqual(
        errors(res.responses.flatMap((t: Any) => t.partitions)).sort(),
        [
          ErrorCode.OFFSET_OUT_OF_RANGE,
          v >= 13 ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        ].sort(),
      );
    });
    if (v >= 7) {
      await r.call("an incremental fetch in a session never made", "Fetch", v, {
        maxWaitMs: 10,
        minBytes: 1,
        maxBytes: 1 << 20,
        sessionId: 123,
        sessionEpoch: 4,
        topics: [],
      }, (res) => {
        assert.equal(res.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
        assert.equal(res.sessionId, 0);
      });
    }
  }

  const stamps: [number, number][] = [
    [0, -1],
    [0, -2],
    [0, -3],
    [0, -4],
    [0, TS + 5000],
    [0, TS + 5001],
    [0, TS + 99_000_000],
    [1, -3],
    [7, -1],
  ];
  for (const v of versionsOf("ListOffsets")) {
    for (const [partitionIndex, timestamp] of stamps) {
      // v0 answers old-style lists for real timestamps (file times on Kafka): left out.
      if (v === 0 && timestamp >= 0) continue;
      await r.call(`list offsets at ${timestamp}`, "ListOffsets", v, {
        replicaId: -1,
        isolationLevel: 1,
        topics: [{ name: "data", partitions: [{ partitionIndex, timestamp }] }],
      }, (res) => {
        const p = res.topics[0].partitions[0];
        if (partitionIndex === 7) {
          return assert.equal(p.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        }
        if ((timestamp === -3 && v < 7) || (timestamp === -4 && v < 8)) {
          return assert.equal(p.errorCode, ErrorCode.UNSUPPORTED_VERSION);
        }
        assert.equal(p.errorCode, 0);
        if (v === 0) return;
        const want: Record<number, number> = {
          [-1]: next,
          [-2]: 0,
          [-3]: next - 1,
          [-4]: 0,
          [TS + 5000]: 10,
          [TS + 5001]: 11,
          [TS + 99_000_000]: -1,
        };
        if (partitionIndex === 0) assert.equal(p.offset, want[timestamp]);
      });
    }
  }
  await r.call(
    "a partition asked twice",
    "ListOffsets",
    8,
    {
      replicaId: -1,
      topics: [{
        name: "data",
        partitions: [{ partitionIndex: 0, timestamp: -1 }, { partitionIndex: 0, timestamp: -2 }],
      }],
    },
    (res) =>
      assert.deepEqual(errors(res.topics[0].partitions), [
        ErrorCode.INVALID_REQUEST,
        ErrorCode.INVALID_REQUEST,
      ]),
  );

  for (const v of versionsOf("DeleteRecords")) {
    await r.call("delete records", "DeleteRecords", v, {
      topics: [{
        name: "data",
        partitions: [
          { partitionIndex: 0, offset: 2 + v },
          { partitionIndex: 1, offset: 99 },
          { partitionIndex: 5, offset: 0 },
        ],
      }],
      timeoutMs: 10_000,
    }, (res) => {
      const parts = res.topics.flatMap((t: Any) => t.partitions);
      assert.deepEqual(codes(parts, "partitionIndex"), {
        0: 0,
        1: ErrorCode.OFFSET_OUT_OF_RANGE,
        5: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      });
      assert.equal(parts.find((p: Any) => p.partitionIndex === 0).lowWatermark, 2 + v);
    });
  }
  await r.call("earliest after DeleteRecords", "ListOffsets", 8, {
    replicaId: -1,
    topics: [{ name: "data", partitions: [{ partitionIndex: 0, timestamp: -2 }] }],
  }, (res) => assert.equal(res.topics[0].partitions[0].offset, 4));
  await r.call(
    "a fetch below the log start",
    "Fetch",
    12,
    {
      maxWaitMs: 10,
      minBytes: 1,
      maxBytes: 1 << 20,
      sessionEpoch: -1,
      topics: [{
        topic: "data",
        partitions: [{ partition: 0, fetchOffset: 1, partitionMaxBytes: 1 << 20 }],
      }],
    },
    (res) => assert.equal(res.responses[0].partitions[0].errorCode, ErrorCode.OFFSET_OUT_OF_RANGE),
  );
  for (const v of versionsOf("DescribeCluster")) {
    await r.call("describe the cluster", "DescribeCluster", v, {
      includeClusterAuthorizedOperations: true,
      endpointType: 1,
    }, (res) => {
      assert.equal(res.errorCode, 0);
      assert.equal(res.brokers.length, 1);
      assert.equal(res.controllerId, res.brokers[0].brokerId);
    });
  }
}

async function groupScenario(r: Recorder) {
  await r.call("a topic for groups", "CreateTopics", 7, {
    topics: [{ name: "gt", numPartitions: 2, replicationFactor: 1 }],
  });
  await ready(r, ["gt"]);
  // Kafka loads its offsets topic on the first FindCoordinator.
  await r.until("FindCoordinator", 3, { key: "warm", keyType: 0 }, (res) => res.errorCode === 0);
  for (const v of versionsOf("FindCoordinator")) {
    await r.call("find the group coordinator", "FindCoordinator", v, {
      key: "g",
      keyType: 0,
      coordinatorKeys: ["g", "h"],
    }, (res) => {
      const entries = v >= 4 ? res.coordinators : [res];
      assert.deepEqual(errors(entries), entries.map(() => 0));
    });
  }
  const subscription = new Uint8Array([
    0,
    1,
    0,
    0,
    0,
    1,
    0,
    2,
    0x67,
    0x74,
    0xff,
    0xff,
    0xff,
    0xff,
    0,
    0,
    0,
    0,
  ]);
  for (const jv of versionsOf("JoinGroup")) {
    const groupId = `group${jv}`;
    const join = (memberId: string) =>
      r.call("join", "JoinGroup", jv, {
        groupId,
        sessionTimeoutMs: 30_000,
        rebalanceTimeoutMs: 30_000,
        memberId,
        groupInstanceId: null,
        protocolType: "consumer",
        protocols: [{ name: "range", metadata: subscription }],
        reason: "a test",
      });
    let res = await join("");
    if (jv >= 4) {
      assert.equal(res.errorCode, ErrorCode.MEMBER_ID_REQUIRED, `${r.who}: JoinGroup v${jv}`);
      res = await join(res.memberId);
    }
    assert.equal(res.errorCode, 0, `${r.who}: JoinGroup v${jv}`);
    assert.equal(res.generationId, 1);
    assert.equal(res.leader, res.memberId);
    const memberId = res.memberId;
    const at = (max: number) => Math.min(jv, max);
    await r.call("sync", "SyncGroup", at(5), {
      groupId,
      generationId: 1,
      memberId,
      protocolType: "consumer",
      protocolName: "range",
      assignments: [{ memberId, assignment: new Uint8Array([0, 1, 2]) }],
    }, (res) => {
      assert.equal(res.errorCode, 0);
      assert.deepEqual([...res.assignment], [0, 1, 2]);
    });
    await r.call(
      "heartbeat",
      "Heartbeat",
      at(4),
      { groupId, generationId: 1, memberId },
      (res) => assert.equal(res.errorCode, 0),
    );
    await r.call(
      "stale heartbeat",
      "Heartbeat",
      at(4),
      { groupId, generationId: 9, memberId },
      (res) => assert.equal(res.errorCode, ErrorCode.ILLEGAL_GENERATION),
    );
    const cv = Math.max(1, Math.min(jv, api("OffsetCommit").maxVersion)); // v0: see below
    await r.call("commit", "OffsetCommit", cv, {
      groupId,
      generationIdOrMemberEpoch: 1,
      memberId,
      topics: [{
        name: "gt",
        partitions: [
          { partitionIndex: 0, committedOffset: 5 + jv, committedMetadata: "m" },
          { partitionIndex: 8, committedOffset: 1, committedMetadata: null },
        ],
      }],
    }, (res) =>
      assert.deepEqual(
        errors(res.topics[0].partitions).sort(),
        [0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION].sort(),
      ));
    const fv = Math.max(1, Math.min(jv, api("OffsetFetch").maxVersion)); // v0: see below
    await r.call("fetch offsets", "OffsetFetch", fv, {
      groupId,
      topics: [{ name: "gt", partitionIndexes: [0, 1] }],
      groups: [{ groupId, topics: null }, {
        groupId: "nobody",
        topics: [{ name: "gt", partitionIndexes: [0] }],
      }],
    }, (res) => {
      const topics = fv >= 8 ? res.groups[0].topics : res.topics;
      const p0 = topics[0].partitions.find((p: Any) => p.partitionIndex === 0);
      assert.equal(p0.committedOffset, 5 + jv);
      if (fv >= 8) {
        assert.deepEqual(res.groups[1].topics[0].partitions.map((p: Any) => p.committedOffset), [
          -1,
        ]);
      }
    });
    for (const dv of versionsOf("DescribeGroups")) {
      await r.call("describe", "DescribeGroups", dv, {
        groups: [groupId, "nobody"],
        includeAuthorizedOperations: true,
      }, (res) =>
        assert.deepEqual(
          res.groups.map((g: Any) => [g.groupState, g.members.length]),
          [["Stable", 1], ["Dead", 0]],
        ));
    }
    for (const lv of versionsOf("ListGroups")) {
      await r.call(
        "list",
        "ListGroups",
        lv,
        { statesFilter: ["STABLE"] },
        (res) => assert.ok(res.groups.some((g: Any) => g.groupId === groupId)),
      );
    }
    await r.call(
      "offsets of a subscribed topic stay",
      "OffsetDelete",
      0,
      {
        groupId,
        topics: [{ name: "gt", partitions: [{ partitionIndex: 0 }] }],
      },
      (res) =>
        assert.deepEqual(errors(res.topics[0].partitions), [ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC]),
    );
    const leave = at(5) >= 3
      ? {
        groupId,
        members: [{ memberId, groupInstanceId: null, reason: "done" }, {
          memberId: "ghost",
          groupInstanceId: null,
        }],
      }
      : { groupId, memberId };
    await r.call("leave", "LeaveGroup", at(5), leave, (res) => {
      assert.equal(res.errorCode, 0);
      if (at(5) >= 3) {
        assert.deepEqual(errors(res.members).sort(), [0, ErrorCode.UNKNOWN_MEMBER_ID].sort());
      }
    });
    await r.call("delete offsets of an empty group", "OffsetDelete", 0, {
      groupId,
      topics: [{ name: "gt", partitions: [{ partitionIndex: 0 }] }],
    }, (res) => assert.deepEqual(errors(res.topics[0].partitions), [0]));
    const dgv = Math.min(jv, api("DeleteGroups").maxVersion);
    await r.call(
      "delete the group",
      "DeleteGroups",
      dgv,
      { groupsNames: [groupId, "nobody"] },
      (res) =>
        assert.deepEqual(errors(res.results), [
          ErrorCode.GROUP_ID_NOT_FOUND,
          ErrorCode.GROUP_ID_NOT_FOUND,
        ]),
    );
  }
}

async function simpleCommitScenario(r: Recorder) {
  // Admin tools commit for groups without members: generation -1, no member id (and v0).
  for (const v of versionsOf("OffsetCommit")) {
    await r.call("a simple commit", "OffsetCommit", v, {
      groupId: "admin-set",
      generationIdOrMemberEpoch: -1,
      memberId: "",
      topics: [{ name: "gt", partitions: [{ partitionIndex: 1, committedOffset: 100 + v }] }],
    }, (res) =>
      // v0 offsets lived in ZooKeeper: a KRaft Kafka refuses them.
      assert.deepEqual(errors(res.topics[0].partitions), [
        v === 0 ? ErrorCode.UNSUPPORTED_VERSION : 0,
      ]));
  }
  await r.call("v0 offset fetch", "OffsetFetch", 0, {
    groupId: "admin-set",
    topics: [{ name: "gt", partitionIndexes: [1] }],
  }, (res) => assert.deepEqual(errors(res.topics[0].partitions), [ErrorCode.UNSUPPORTED_VERSION]));
  await r.call("offsets a simple commit set", "OffsetFetch", 9, {
    groups: [{ groupId: "admin-set", topics: null }],
  }, (res) =>
    assert.deepEqual(
      res.groups[0].topics[0].partitions.map((p: Any) => [p.partitionIndex, p.committedOffset]),
      [[1, 109]],
    ));
  await r.call(
    "an empty group's offsets go",
    "DeleteGroups",
    2,
    { groupsNames: ["admin-set"] },
    (res) => assert.deepEqual(errors(res.results), [0]),
  );
}

/**
 * Transactions (issue 24): InitProducerId with transactional ids, AddPartitionsToTxn,
 * AddOffsetsToTxn, TxnOffsetCommit, EndTxn at every version, transactional batches, the
 * last stable offset in ListOffsets and Fetch, aborted ranges, fencing, and the errors of
 * each. Kafka writes markers after EndTxn answers: the step after one waits (unrecorded)
 * until the last stable offset has moved.
 */
async function txnScenario(r: Recorder) {
  // A group on __consumer_offsets partition 0 whether the topic has 1 partition (the Kafka
  // here) or Kafka's default 50 (what the embedded broker shows), so both describe it alike.
  const GROUP = "g-txn-23";
  await r.call("a topic for transactions", "CreateTopics", 7, {
    topics: [{ name: "txn", numPartitions: 2, replicationFactor: 1 }],
  }, (res) => assert.deepEqual(errors(res.topics), [0]));
  await ready(r, ["txn"]);
  // Kafka makes __transaction_state on the first look for a transaction coordinator.
  await r.until(
    "FindCoordinator",
    4,
    { keyType: 1, coordinatorKeys: ["warm"] },
    (res) => res.coordinators[0].errorCode === 0,
  );
  await r.until("InitProducerId", 5, { transactionalId: "warm", transactionTimeoutMs: 60_000 }, (
    res,
  ) => res.errorCode === 0);
  for (const v of versionsOf("FindCoordinator")) {
    await r.call("a transaction coordinator", "FindCoordinator", v, {
      key: "tx",
      keyType: 1,
      coordinatorKeys: ["tx", "tx2"],
    }, (res) =>
      assert.deepEqual(
        v >= 4 ? errors(res.coordinators) : [res.errorCode],
        v >= 4 ? [0, 0] : [v === 0 ? 0 : 0],
      ));
  }
  for (const v of versionsOf("InitProducerId")) {
    for (const epoch of [0, 1]) {
      await r.call(`transactional id, epoch ${epoch}`, "InitProducerId", v, {
        transactionalId: `tx-v${v}`,
        transactionTimeoutMs: 60_000,
      }, (res) => assert.deepEqual([res.errorCode, res.producerEpoch], [0, epoch]));
    }
  }
  for (const timeout of [0, 900_001]) {
    await r.call(`a timeout of ${timeout} ms`, "InitProducerId", 5, {
      transactionalId: "tx-bad",
      transactionTimeoutMs: timeout,
    }, (res) => assert.equal(res.errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT));
  }
  const init = await r.call("the main transactional id", "InitProducerId", 5, {
    transactionalId: "tx",
    transactionTimeoutMs: 60_000,
  }, (res) => assert.equal(res.errorCode, 0));
  const pid = Number(init.producerId);
  const id = { transactionalId: "tx", producerId: pid, producerEpoch: 0 };
  await r.call(
    "end with no transaction",
    "EndTxn",
    4,
    { ...id, committed: true },
    (res) => assert.equal(res.errorCode, ErrorCode.INVALID_TXN_STATE),
  );
  for (const v of range(0, 3)) {
    await r.call("add a partition and an unknown one", "AddPartitionsToTxn", v, {
      v3AndBelowTransactionalId: "tx",
      v3AndBelowProducerId: pid,
      v3AndBelowProducerEpoch: 0,
      v3AndBelowTopics: [{ name: "txn", partitions: [0] }, { name: "nope", partitions: [0] }],
    }, (res) =>
      assert.deepEqual(
        codes(res.resultsByTopicV3AndBelow.flatMap((t: Any) =>
          t.resultsByPartition.map((p: Any) => ({
            name: `${t.name}-${p.partitionIndex}`,
            errorCode: p.partitionErrorCode,
          }))
        )),
        {
          "txn-0": ErrorCode.OPERATION_NOT_ATTEMPTED,
          "nope-0": ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        },
      ));
    await r.call(
      "add a partition",
      "AddPartitionsToTxn",
      v,
      {
        v3AndBelowTransactionalId: "tx",
        v3AndBelowProducerId: pid,
        v3AndBelowProducerEpoch: 0,
        v3AndBelowTopics: [{ name: "txn", partitions: [0] }],
      },
      (res) =>
        assert.equal(res.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, 0),
    );
  }
  for (const v of [4, 5]) {
    await r.call("verify partitions (KIP-890)", "AddPartitionsToTxn", v, {
      transactions: [{
        transactionalId: "tx",
        producerId: pid,
        producerEpoch: 0,
        verifyOnly: true,
        topics: [{ name: "txn", partitions: [0] }],
      }, {
        transactionalId: "tx-unknown",
        producerId: pid,
        producerEpoch: 0,
        verifyOnly: true,
        topics: [{ name: "txn", partitions: [0] }],
      }],
    }, (res) => assert.equal(res.errorCode, 0));
  }
  const produceTxn = (records: Uint8Array, partition = 0, transactionalId = "tx") => ({
    transactionalId,
    acks: -1,
    timeoutMs: 10_000,
    topicData: [{ name: "txn", partitionData: [{ index: partition, records }] }],
  });
  const txnBatch = (values: string[], seq: number, epoch = 0) =>
    batch(values, TS, values.length - 1, {
      producerId: pid,
      producerEpoch: epoch,
      firstSequence: seq,
    });
  await r.call(
    "a transactional batch",
    "Produce",
    11,
    produceTxn(await txnBatch(["t0", "t1"], 0)),
    (
      res,
    ) => assert.equal(res.responses[0].partitionResponses[0].errorCode, 0),
  );
  await r.call(
    "a transactional batch to a partition not in the transaction",
    "Produce",
    11,
    produceTxn(await txnBatch(["u0"], 0), 1),
    (res) => assert.notEqual(res.responses[0].partitionResponses[0].errorCode, 0),
  );
  const lso = (isolationLevel: number) =>
    r.call(`latest, isolation ${isolationLevel}`, "ListOffsets", 8, {
      replicaId: -1,
      isolationLevel,
      topics: [{ name: "txn", partitions: [{ partitionIndex: 0, timestamp: -1 }] }],
    });
  await lso(0);
  await lso(1);
  const fetchTxn = (label: string, isolationLevel: number) =>
    r.call(label, "Fetch", 12, {
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{
        topic: "txn",
        partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }],
      }],
      forgottenTopicsData: [],
      rackId: "",
    });
  await fetchTxn("read_committed, transaction open", 1);
  await fetchTxn("read_uncommitted, transaction open", 0);
  for (const v of versionsOf("AddOffsetsToTxn")) {
    await r.call(
      "add a group's offsets",
      "AddOffsetsToTxn",
      v,
      { ...id, groupId: GROUP },
      (res) => assert.equal(res.errorCode, 0),
    );
  }
  for (const v of versionsOf("TxnOffsetCommit")) {
    await r.call("commit an offset in the transaction", "TxnOffsetCommit", v, {
      ...id,
      groupId: GROUP,
      topics: [{
        name: "txn",
        partitions: [{ partitionIndex: 0, committedOffset: 10 + v, committedMetadata: "m" }],
      }],
    }, (res) => assert.deepEqual(errors(res.topics[0].partitions), [0]));
  }
  const offsets = (label: string, requireStable: boolean) =>
    r.call(label, "OffsetFetch", 8, {
      requireStable,
      groups: [{ groupId: GROUP, topics: [{ name: "txn", partitionIndexes: [0] }] }],
    });
  await offsets("offsets pending, require_stable", true);
  await offsets("offsets pending", false);
  await r.call(
    "describe transactions",
    "DescribeTransactions",
    0,
    {
      transactionalIds: ["tx", "tx-unknown"],
    },
    (res) =>
      assert.deepEqual(errors(res.transactionStates), [0, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND]),
  );
  await r.call("list transactions", "ListTransactions", 0, {
    stateFilters: ["Ongoing", "Bogus"],
    producerIdFilters: [],
  }, (res) => assert.deepEqual(res.unknownStateFilters, ["Bogus"]));
  await r.call("list transactions by producer id", "ListTransactions", 1, {
    stateFilters: [],
    producerIdFilters: [pid],
    durationFilter: -1,
  }, (res) => assert.equal(res.transactionStates.length, 1));
  await r.call(
    "abort",
    "EndTxn",
    0,
    { ...id, committed: false },
    (res) => assert.equal(res.errorCode, 0),
  );
  await r.until("ListOffsets", 8, {
    replicaId: -1,
    isolationLevel: 1,
    topics: [{ name: "txn", partitions: [{ partitionIndex: 0, timestamp: -1 }] }],
  }, (res) => res.topics[0].partitions[0].offset === 3);
  await completed(r, "CompleteAbort");
  for (const v of versionsOf("EndTxn")) {
    await r.call("abort again, then commit it", "EndTxn", v, { ...id, committed: v % 2 === 1 }, (
      res,
    ) => assert.equal(res.errorCode, v % 2 === 1 ? ErrorCode.INVALID_TXN_STATE : 0));
  }
  await lso(1);
  await fetchTxn("read_committed, aborted", 1);
  await offsets("offsets after the abort", true);
  // A committed one, with offsets.
  await r.call("add a partition", "AddPartitionsToTxn", 3, {
    v3AndBelowTransactionalId: "tx",
    v3AndBelowProducerId: pid,
    v3AndBelowProducerEpoch: 0,
    v3AndBelowTopics: [{ name: "txn", partitions: [0] }],
  });
  await r.call("a transactional batch", "Produce", 11, produceTxn(await txnBatch(["c0"], 2)));
  await r.call("add a group's offsets", "AddOffsetsToTxn", 4, { ...id, groupId: GROUP });
  await r.call("commit an offset", "TxnOffsetCommit", 4, {
    ...id,
    groupId: GROUP,
    topics: [{
      name: "txn",
      partitions: [{ partitionIndex: 0, committedOffset: 42, committedMetadata: "c" }],
    }],
  });
  await r.call(
    "commit",
    "EndTxn",
    4,
    { ...id, committed: true },
    (res) => assert.equal(res.errorCode, 0),
  );
  await r.until("OffsetFetch", 8, {
    requireStable: true,
    groups: [{ groupId: GROUP, topics: [{ name: "txn", partitionIndexes: [0] }] }],
  }, (res) => res.groups[0].topics[0].partitions[0].errorCode === 0);
  await completed(r, "CompleteCommit");
  await offsets("offsets after the commit", true);
  await fetchTxn("read_committed, committed", 1);
  // A third, left open, then a new producer with the id: the first is a zombie.
  await r.call("add a partition", "AddPartitionsToTxn", 3, {
    v3AndBelowTransactionalId: "tx",
    v3AndBelowProducerId: pid,
    v3AndBelowProducerEpoch: 0,
    v3AndBelowTopics: [{ name: "txn", partitions: [1] }],
  });
  await r.call("a transactional batch", "Produce", 11, produceTxn(await txnBatch(["z0"], 0), 1));
  await r.call("a new producer aborts the open transaction", "InitProducerId", 5, {
    transactionalId: "tx",
    transactionTimeoutMs: 60_000,
  }, (res) => assert.equal(res.errorCode, ErrorCode.CONCURRENT_TRANSACTIONS));
  await r.until("InitProducerId", 5, { transactionalId: "tx", transactionTimeoutMs: 60_000 }, (
    res,
  ) => res.errorCode === 0);
  await r.call("the new producer's epoch", "DescribeTransactions", 0, { transactionalIds: ["tx"] });
  for (const v of versionsOf("EndTxn")) {
    await r.call("the zombie commits", "EndTxn", v, { ...id, committed: true });
  }
  for (const v of range(0, 3)) {
    await r.call("the zombie adds a partition", "AddPartitionsToTxn", v, {
      v3AndBelowTransactionalId: "tx",
      v3AndBelowProducerId: pid,
      v3AndBelowProducerEpoch: 0,
      v3AndBelowTopics: [{ name: "txn", partitions: [0] }],
    });
  }
  for (const v of versionsOf("AddOffsetsToTxn")) {
    await r.call("the zombie adds offsets", "AddOffsetsToTxn", v, { ...id, groupId: GROUP });
  }
  await r.call("the zombie produces", "Produce", 11, produceTxn(await txnBatch(["z1"], 1), 1));
  await r.call("the zombie's v3 init", "InitProducerId", 3, {
    transactionalId: "tx",
    transactionTimeoutMs: 60_000,
    producerId: pid,
    producerEpoch: 0,
  });
  await r.call("the zombie's v4 init", "InitProducerId", 4, {
    transactionalId: "tx",
    transactionTimeoutMs: 60_000,
    producerId: pid,
    producerEpoch: 0,
  });
  await r.call("an unknown transactional id ends", "EndTxn", 4, {
    transactionalId: "tx-unknown",
    producerId: pid,
    producerEpoch: 0,
    committed: true,
  });
  await r.call("an unknown transactional id adds", "AddPartitionsToTxn", 3, {
    v3AndBelowTransactionalId: "tx-unknown",
    v3AndBelowProducerId: pid,
    v3AndBelowProducerEpoch: 0,
    v3AndBelowTopics: [{ name: "txn", partitions: [0] }],
  });
}

/** Waits (unrecorded) until "tx" is in `state`: Kafka completes after its markers are written. */
async function completed(r: Recorder, state: string) {
  await r.until(
    "DescribeTransactions",
    0,
    { transactionalIds: ["tx"] },
    (res) => res.transactionStates[0].transactionState === state,
  );
}

/** Runs every scenario on the broker at `bootstrap`. */
export async function transcript(bootstrap: string, who: "pinpipe" | "kafka"): Promise<Step[]> {
  const c = await WireClient.open(bootstrap);
  const r = new Recorder(c, who);
  try {
    for (const v of versionsOf("ApiVersions")) {
      await r.call("api versions", "ApiVersions", v, {
        clientSoftwareName: "wire-test",
        clientSoftwareVersion: "1",
      }, (res) => {
        assert.equal(res.errorCode, 0);
        assert.ok(res.apiKeys.some((k: Any) => k.apiKey === 18));
      });
    }
    await topicScenario(r);
    await dataScenario(r);
    await groupScenario(r);
    await simpleCommitScenario(r);
    await txnScenario(r);
    return r.steps;
  } finally {
    c.close();
  }
}

/**
 * What the sink tests (unit and stage layers) share: an embedded broker with a kafkajs client,
 * topics, produced postings, the sink's options, a lake's objects, and the exactly-once check
 * (every record of every partition once, in objects whose keys follow their offsets).
 * @module
 */
import assert from "node:assert/strict";
import { startBroker } from "../lib/broker/broker.ts";
import type { Broker } from "../lib/broker/broker.ts";
import { createKafka } from "../lib/kafka/kafka_client.ts";
import type { Kafka } from "../lib/deps/kafkajs.ts";
import { parseObjectKey } from "../lib/lake/lake.ts";
import type { Lake } from "../lib/lake/lake.ts";
import { topicsRegex } from "../lib/lake/sink.ts";
import type { SinkOptions } from "../lib/lake/sink.ts";

export const T = { sanitizeOps: false, sanitizeResources: false };

export async function withBroker(fn: (b: Broker, kafka: Kafka) => Promise<void>): Promise<void> {
  const broker = await startBroker({ port: 0 });
  try {
    await fn(broker, createKafka({ bootstrap: broker.bootstrap, clientId: "sink-test" }));
  } finally {
    await broker.close();
  }
}

export async function createTopics(kafka: Kafka, topics: string[], partitions: number) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: topics.map((topic) => ({ topic, numPartitions: partitions })),
  });
  await admin.disconnect();
}

/** Produces `n` records to each partition; record i of a partition is at offset `from + i`. */
export async function produce(
  kafka: Kafka,
  topic: string,
  partitions: number,
  n: number,
  from = 0,
  value: (p: number, i: number) => string | null = (p, i) => JSON.stringify({ topic, p, i }),
) {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  for (let p = 0; p < partitions; p++) {
    for (let start = 0; start < n; start += 500) {
      const count = Math.min(500, n - start);
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: count }, (_, k) => ({
          key: String(from + start + k),
          value: value(p, from + start + k),
          partition: p,
        })),
      });
    }
  }
  await producer.disconnect();
}

export function sinkOpts(kafka: Kafka, lake: Lake, extra: Partial<SinkOptions> = {}): SinkOptions {
  return {
    kafka,
    lake,
    topicsRegex: topicsRegex("t\\..*"),
    groupId: "sink",
    flushSize: 1000,
    rotateIntervalMs: 0,
    once: true,
    ...extra,
  };
}

/** Every object under topics/: its key, start offset and parsed lines. */
export async function objects(lake: Lake, dir = "topics") {
  const out: { key: string; topic: string; partition: number; start: number; lines: unknown[] }[] =
    [];
  for await (const o of lake.list(`${dir}/`)) {
    const k = parseObjectKey(o.key);
    assert.ok(k, `unexpected key ${o.key}`);
    const text = new TextDecoder().decode(await lake.get(o.key));
    assert.ok(text.endsWith("\n"), `${o.key} ends with a newline`);
    out.push({
      key: o.key,
      topic: k.topic,
      partition: k.partition,
      start: k.startOffset,
      lines: text.slice(0, -1).split("\n").map((l) => JSON.parse(l)),
    });
  }
  return out;
}

/**
 * Asserts that each partition of `topics` holds offsets 0..n-1 exactly once, in objects named
 * by their first offset, each line the record produced at that offset.
 */
export async function assertExactlyOnce(
  lake: Lake,
  topics: string[],
  partitions: number,
  n: number,
) {
  const objs = await objects(lake);
  for (const topic of topics) {
    for (let p = 0; p < partitions; p++) {
      const seen = new Map<number, string>();
      for (const o of objs.filter((o) => o.topic === topic && o.partition === p)) {
        o.lines.forEach((line, idx) => {
          const offset = o.start + idx;
          assert.ok(
            !seen.has(offset),
            `${topic}[${p}] offset ${offset} in ${o.key} and ${seen.get(offset)}`,
          );
          seen.set(offset, o.key);
          assert.deepEqual(line, { topic, p, i: offset }, `${o.key} line ${idx}`);
        });
      }
      assert.equal(seen.size, n, `${topic}[${p}] holds ${seen.size} of ${n} records`);
    }
  }
  return objs;
}

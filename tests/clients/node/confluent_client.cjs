/*
 * @confluentinc/kafka-javascript (librdkafka, built from source into the engine cache) driven
 * through the client matrix's steps (tests/clients/_matrix.ts; arguments as in
 * tests/clients/java/ClientMatrix.java), with its promise-based KafkaJS-style API, run by
 * node with PINPIPE_NODE_CLIENTS pointing at the cache directory.
 *
 * Its defaults except what the matrix states: acks=all, the codec, `idempotent: true` for
 * the idempotent case (off by default), fromBeginning, the group step's session timeout,
 * and a 30 s message timeout (librdkafka's default is 5 min). A send is acknowledged per
 * partition with its batch's base offset: record i of a one-partition send is at base + i.
 * The group step reports the consumer's assignment() whenever it changes.
 */
"use strict";
const path = require("node:path");

const lib = require(path.join(
  process.env.PINPIPE_NODE_CLIENTS ?? ".",
  "node_modules",
  "@confluentinc",
  "kafka-javascript",
));
const { Kafka, CompressionTypes, logLevel } = lib.KafkaJS;

const PAD = "abcdefghij".repeat(10);
const CODEC = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.SNAPPY,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function fail(message) {
  emit({ error: message });
  process.exit(1);
}

function need(args, key) {
  if (!(key in args)) fail(`Missing argument ${key}=`);
  return args[key];
}

function kafka(args) {
  return new Kafka({ kafkaJS: { brokers: [need(args, "bootstrap")], logLevel: logLevel.WARN } });
}

async function create(args) {
  const admin = kafka(args).admin();
  await admin.connect();
  const topic = need(args, "topic");
  try {
    // No numPartitions or replicationFactor: the broker's defaults (-1, -1).
    await admin.createTopics({ topics: [{ topic }] });
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    const t = md.find((x) => x.name === topic);
    emit({
      topic,
      partitions: t.partitions.length,
      replicationFactor: t.partitions[0].replicas.length,
    });
  } finally {
    await admin.disconnect();
  }
}

async function produce(args) {
  const count = Number(need(args, "count"));
  const sync = args.sync === "true";
  for (const codec of need(args, "codecs").split(",")) {
    const kafkaJS = { acks: -1, compression: CODEC[codec] };
    if ("idempotent" in args) kafkaJS.idempotent = args.idempotent === "true";
    const producer = kafka(args).producer({ kafkaJS, "message.timeout.ms": 30000 });
    await producer.connect();
    const topic = `${need(args, "topic")}-${codec}`;
    const messages = Array.from({ length: count }, (_, i) => ({
      key: `k${i}`,
      value: `${codec} record ${i} ${PAD}`,
      headers: { index: String(i), codec },
    }));
    try {
      for (const batch of sync ? messages.map((m) => [m]) : [messages]) {
        const [meta] = await producer.send({ topic, messages: batch });
        if (!meta || meta.baseOffset == null) {
          fail(`Cannot produce to ${topic}: no offset acknowledged`);
        }
        for (let i = 0; i < batch.length; i++) {
          emit({ topic, partition: meta.partition, offset: Number(meta.baseOffset) + i });
        }
      }
    } finally {
      await producer.disconnect();
    }
  }
}

function recordJson(topic, partition, m) {
  const headers = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = String(v);
  return {
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key?.toString() ?? null,
    value: m.value?.toString() ?? null,
    headers,
  };
}

async function consume(args) {
  const count = Number(need(args, "count"));
  const consumer = kafka(args).consumer({
    kafkaJS: { groupId: need(args, "group"), fromBeginning: true },
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [need(args, "topic")] });
  let seen = 0;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Cannot consume ${count} records in 30 s: got ${seen}`)),
      30000,
    );
    consumer.run({
      eachMessage: ({ topic, partition, message }) => {
        emit(recordJson(topic, partition, message));
        if (++seen >= count) {
          clearTimeout(timer);
          resolve();
        }
        return Promise.resolve();
      },
    }).catch(reject);
  });
  await consumer.disconnect();
}

async function member(args) {
  const consumer = kafka(args).consumer({
    kafkaJS: {
      groupId: need(args, "group"),
      fromBeginning: true,
      sessionTimeout: Number(need(args, "session")),
      heartbeatInterval: 500,
    },
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [need(args, "topic")] });
  let last = "";
  setInterval(() => {
    const now = JSON.stringify(consumer.assignment().map((a) => a.partition).sort((a, b) => a - b));
    if (now !== last) {
      last = now;
      if (now !== "[]") emit({ assigned: JSON.parse(now) });
    }
  }, 100);
  await consumer.run({
    eachMessage: ({ topic, partition, message }) => {
      emit({ record: recordJson(topic, partition, message) });
      return Promise.resolve();
    },
  });
  await new Promise(() => {}); // until killed
}

async function offsets(args) {
  const topic = need(args, "topic");
  const commit = need(args, "commit").split(",").map((p) => p.split(":").map(Number));
  const consumer = kafka(args).consumer({ kafkaJS: { groupId: need(args, "group") } });
  await consumer.connect();
  try {
    await consumer.commitOffsets(
      commit.map(([partition, offset]) => ({ topic, partition, offset: String(offset) })),
    );
    // commitOffsets resolves once librdkafka has queued the commit, before the broker has
    // answered: until then committed() reports no offset (null). Read until all are there.
    const partitions = commit.map(([partition]) => ({ topic, partition }));
    let got = [];
    for (const end = Date.now() + 10000; Date.now() < end;) {
      got = await consumer.committed(partitions, 10000);
      if (got.every((o) => o.offset !== null)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const out = {};
    for (const o of got) {
      if (o.offset !== null && Number(o.offset) >= 0) out[o.partition] = Number(o.offset);
    }
    emit({ consumerCommitted: out });
  } finally {
    await consumer.disconnect();
  }
  const admin = kafka(args).admin();
  await admin.connect();
  try {
    const listed = await admin.fetchOffsets({ groupId: need(args, "group"), topics: [topic] });
    const out = {};
    for (const t of listed) {
      for (const p of t.partitions) if (Number(p.offset) >= 0) out[p.partition] = Number(p.offset);
    }
    emit({ adminListed: out });
  } finally {
    await admin.disconnect();
  }
}

const STEPS = { create, produce, consume, member, offsets };

async function main() {
  const [step, ...rest] = process.argv.slice(2);
  const fn = STEPS[step] ?? fail(`Unknown command "${step}"`);
  const args = {};
  for (const a of rest) {
    const eq = a.indexOf("=");
    if (eq < 0) fail(`Cannot read argument "${a}": expected key=value`);
    args[a.slice(0, eq)] = a.slice(eq + 1);
  }
  const deadline = step === "member" ? undefined : setTimeout(
    () => fail(`Cannot finish the "${step}" step in 60 s`),
    60000,
  );
  await fn(args);
  if (deadline) clearTimeout(deadline);
  process.exit(0);
}

main().catch((e) => {
  const inner = (e.errors ?? []).map((x) => x.message ?? String(x)).join("; ");
  fail(`${e.name}: ${e.message}${inner ? ` (${inner})` : ""}`);
});

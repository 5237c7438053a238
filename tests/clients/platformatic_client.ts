/**
 * @platformatic/kafka driven through the client matrix's steps (tests/clients/_matrix.ts;
 * arguments as in tests/clients/java/ClientMatrix.java), run by Deno.
 *
 * Its defaults except what the matrix states: acks=all (its default is the leader's ack
 * unless idempotent), the codec, `idempotent: true` for the idempotent case (off by
 * default), reading from the committed offset else the earliest (its default is the
 * latest), the group step's session timeout, and 30 s bounds on every step. A send of many
 * records to one partition is acknowledged with the batch's base offset: record i is at
 * base + i.
 * @module
 */
import {
  Admin,
  Consumer,
  ProduceAcks,
  Producer,
  stringDeserializers,
  stringSerializers,
} from "./deps/platformatic_kafka.ts";

const PAD = "abcdefghij".repeat(10);
const CLIENT_ID = "pinpipe-matrix";

function emit(obj: unknown): void {
  console.log(JSON.stringify(obj, (_, v) => typeof v === "bigint" ? Number(v) : v));
}

function fail(message: string): never {
  emit({ error: message });
  Deno.exit(1);
}

type Args = Record<string, string>;

function need(args: Args, key: string): string {
  return args[key] ?? fail(`Missing argument ${key}=`);
}

function withTimeout<T>(what: string, p: Promise<T>, ms = 30_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Cannot ${what}: no answer in ${ms} ms`)), ms);
    }),
  ]);
}

async function create(args: Args): Promise<void> {
  const admin = new Admin({ clientId: CLIENT_ID, bootstrapBrokers: [need(args, "bootstrap")] });
  const topic = need(args, "topic");
  try {
    // No partitions or replicas given: the broker's defaults (-1, -1).
    await withTimeout("create the topic", admin.createTopics({ topics: [topic] }));
    const md = await withTimeout("read metadata", admin.metadata({ topics: [topic] }));
    const t = md.topics.get(topic)!;
    emit({
      topic,
      partitions: t.partitionsCount,
      replicationFactor: t.partitions[0].replicas.length,
    });
  } finally {
    await admin.close();
  }
}

async function produce(args: Args): Promise<void> {
  const count = Number(need(args, "count"));
  const sync = args.sync === "true";
  for (const codec of need(args, "codecs").split(",")) {
    const producer = new Producer({
      clientId: CLIENT_ID,
      bootstrapBrokers: [need(args, "bootstrap")],
      serializers: stringSerializers,
      acks: ProduceAcks.ALL,
      compression: codec as "none",
      ...(args.idempotent ? { idempotent: args.idempotent === "true" } : {}),
    });
    const target = `${need(args, "topic")}-${codec}`;
    const messages = Array.from({ length: count }, (_, i) => ({
      topic: target,
      key: `k${i}`,
      value: `${codec} record ${i} ${PAD}`,
      headers: { index: String(i), codec },
    }));
    try {
      const batches = sync ? messages.map((m) => [m]) : [messages];
      for (const batch of batches) {
        const r = await withTimeout(`produce to ${target}`, producer.send({ messages: batch }));
        const [first] = r.offsets ?? [];
        if (!first) fail(`Cannot produce to ${target}: no offsets acknowledged`);
        for (let i = 0; i < batch.length; i++) {
          emit({
            topic: first.topic,
            partition: first.partition,
            offset: Number(first.offset) + i,
          });
        }
      }
    } finally {
      await producer.close();
    }
  }
}

function newConsumer(args: Args) {
  return new Consumer({
    clientId: CLIENT_ID,
    groupId: need(args, "group"),
    bootstrapBrokers: [need(args, "bootstrap")],
    deserializers: stringDeserializers,
  });
}

function recordJson(m: {
  topic: string;
  partition: number;
  offset: bigint;
  key: string;
  value: string;
  headers: Map<string, string>;
}) {
  return {
    topic: m.topic,
    partition: m.partition,
    offset: Number(m.offset),
    key: m.key,
    value: m.value,
    headers: Object.fromEntries(m.headers),
  };
}

async function consume(args: Args): Promise<void> {
  const count = Number(need(args, "count"));
  const consumer = newConsumer(args);
  const stream = await withTimeout(
    "join the group",
    consumer.consume({
      topics: [need(args, "topic")],
      mode: "committed",
      fallbackMode: "earliest",
    }),
  );
  let seen = 0;
  const read = (async () => {
    for await (const m of stream) {
      emit(recordJson(m));
      await m.commit();
      if (++seen >= count) break;
    }
  })();
  await withTimeout(`consume ${count} records (got ${seen})`, read);
  await stream.close();
  await consumer.close();
}

async function member(args: Args): Promise<void> {
  const consumer = newConsumer(args);
  consumer.on("consumer:group:join", (p: { assignments?: { partitions: number[] }[] }) => {
    emit({ assigned: (p.assignments ?? []).flatMap((a) => a.partitions).sort((a, b) => a - b) });
  });
  const stream = await consumer.consume({
    topics: [need(args, "topic")],
    mode: "committed",
    fallbackMode: "earliest",
    sessionTimeout: Number(need(args, "session")),
    heartbeatInterval: 500,
  });
  for await (const m of stream) emit({ record: recordJson(m) });
}

async function offsets(args: Args): Promise<void> {
  const topic = need(args, "topic");
  const group = need(args, "group");
  const commit = need(args, "commit").split(",").map((p) => p.split(":").map(Number));
  const admin = new Admin({ clientId: CLIENT_ID, bootstrapBrokers: [need(args, "bootstrap")] });
  try {
    await withTimeout(
      "commit offsets",
      admin.alterConsumerGroupOffsets({
        groupId: group,
        topics: [{
          name: topic,
          partitionOffsets: commit.map(([partition, offset]) => ({
            partition,
            offset: BigInt(offset),
          })),
        }],
      }),
    );
    const [listed] = await withTimeout(
      "fetch offsets",
      admin.listConsumerGroupOffsets({ groups: [group] }),
    );
    const got: Record<string, number> = {};
    for (const t of listed.topics) {
      if (t.name !== topic) continue;
      for (const p of t.partitions) got[p.partitionIndex] = Number(p.committedOffset);
    }
    emit({ adminListed: got });
  } finally {
    await admin.close();
  }
}

const STEPS: Record<string, (args: Args) => Promise<void>> = {
  create,
  produce,
  consume,
  member,
  offsets,
};

if (import.meta.main) {
  const [step, ...rest] = Deno.args;
  const fn = STEPS[step] ?? fail(`Unknown command "${step}"`);
  const args: Args = {};
  for (const a of rest) {
    const eq = a.indexOf("=");
    if (eq < 0) fail(`Cannot read argument "${a}": expected key=value`);
    args[a.slice(0, eq)] = a.slice(eq + 1);
  }
  try {
    await fn(args);
  } catch (e) {
    const err = e as Error & { errors?: Error[] };
    const inner = err.errors?.map((x) => x.message).join("; ");
    fail(`${err.name}: ${err.message}${inner ? ` (${inner})` : ""}`);
  }
  Deno.exit(0);
}

#!/usr/bin/env -S deno run -A --v8-flags=--max-semi-space-size=8
/**
 * Sink throughput into a local lake: records are produced into the embedded broker (its own
 * process) first, then the sink (this process) drains them with `once`, every object
 * fsynced and renamed into place before its offsets are committed.
 *
 * Targets (issue 4): >= 50,000 records/s with flush size 1000; >= 1,000 objects/s with flush
 * size 1; under 300 MB resident whatever the volume.
 * @module
 */
import { mibToMB, report, rssMiB, watchRss } from "./_measure.ts";
import { spawnTask, start } from "./_process.ts";
import { createKafka } from "../lib/kafka/kafka_client.ts";
import type { Kafka } from "../lib/deps/kafkajs.ts";
import { FileLake } from "../lib/lake/lake.ts";
import { runSink, topicsRegex } from "../lib/lake/sink.ts";

const BIG = Number(Deno.env.get("BENCH_RECORDS") ?? 300_000);
const SMALL = Number(Deno.env.get("BENCH_OBJECTS") ?? 20_000);

/** Produces `n` posting-sized records into `topic` (3 partitions). */
async function fill(kafka: Kafka, topic: string, n: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
  await admin.disconnect();
  // Imported here: the dataset's generator is big, and only the filling child needs it.
  const { createDataset } = await import("../lib/source/dataset.ts");
  const ds = createDataset({ rows: 2000, seed: 1 });
  const values = Array.from({ length: ds.rows }, (_, k) => JSON.stringify(ds.posting(k).pin));
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  let sent = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (sent < n) {
      const start = sent;
      const count = Math.min(1000, n - start);
      sent += count;
      await producer.send({
        topic,
        messages: Array.from({ length: count }, (_, i) => ({
          key: String(start + i),
          value: values[(start + i) % values.length],
          partition: (start + i) % 3,
        })),
      });
    }
  }));
  await producer.disconnect();
}

// `sink_bench.ts --fill BOOTSTRAP TOPIC N` fills in a child process, so the producer's
// memory does not count against the sink's.
if (Deno.args[0] === "--fill") {
  const [, bootstrap, topic, n] = Deno.args;
  await fill(createKafka({ bootstrap, clientId: "bench-fill" }), topic, Number(n));
  Deno.exit(0);
}

async function run(args: string[]): Promise<void> {
  const out = await start(Deno.execPath(), args, { inheritStderr: true }).ended;
  if (out.code !== 0) throw new Error(`${args.join(" ")} failed with exit code ${out.code}`);
}

const broker = await spawnTask("broker.ts", ["--memory", "--port=0", "--quiet"]);
const bootstrap = broker.firstLine;
const kafka = createKafka({ bootstrap, clientId: "bench" });

async function drain(topic: string, flushSize: number) {
  const dir = await Deno.makeTempDir({ prefix: "pinpipe-sink-bench-" });
  try {
    const t0 = performance.now();
    const s = await runSink({
      kafka,
      lake: new FileLake(dir),
      topicsRegex: topicsRegex(topic.replace(".", "\\.")),
      groupId: `bench-${flushSize}`,
      flushSize,
      rotateIntervalMs: 0,
      once: true,
    });
    return { ...s, sec: (performance.now() - t0) / 1000 };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

try {
  console.log(
    `sink: ${BIG.toLocaleString("en-US")} records at flush size 1000, ${
      SMALL.toLocaleString("en-US")
    } at flush size 1`,
  );
  const self = new URL(import.meta.url).pathname;
  await run(["run", "-A", self, "--fill", bootstrap, "bench.big", String(BIG)]);
  await run(["run", "-A", self, "--fill", bootstrap, "bench.small", String(SMALL)]);
  report("RSS before the sink starts", rssMiB().rss, "MiB");
  const rss = watchRss("self");
  const big = await drain("bench.big", 1000);
  report("flush size 1000", big.records / big.sec, "records/s", { min: 50_000 });
  report("flush size 1000 written", big.bytes / big.sec / 1024 / 1024, "MiB/s");
  report("RSS after flush size 1000", rssMiB().rss, "MiB");
  const small = await drain("bench.small", 1);
  report("flush size 1", small.objects / small.sec, "objects/s", { min: 1_000 });
  report("sink peak RSS", mibToMB(rss.stop()), "MB", { max: 300 });
  report("RSS at the end", rssMiB().rss, "MiB");
} finally {
  await broker.stop();
}

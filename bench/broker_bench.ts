/**
 * The embedded broker's throughput and memory, with the broker in its own process
 * (`tasks/broker.ts` on a temp data dir, fsync interval) so its resident memory can be
 * sampled from /proc while clients load it over loopback. 1 KiB records throughout.
 *
 * Targets (issue 2):
 * - kcat (librdkafka) producing 1,000,000 records: >= 150,000 records/s
 * - a kafkajs producer sending batches of 1,000: >= 50,000 records/s (measured both with
 *   kafkajs as published and with the varint encoders pinpipe installs)
 * - a kafkajs consumer reading them back: >= 100,000 records/s
 * - producing 2 GiB in all: broker resident memory under 300 MB
 *
 * It also prints how the CPU time splits between the broker and each client (per 1,000
 * records), how long a restart on the resulting data dir takes, and how long one takes
 * after a byte in the middle of the largest segment was flipped (and what it cut).
 *
 * Then, side by side with Apache Kafka (the version the tests run, KRaft single node, its
 * default flush settings; see `compareWithApacheKafka`), each broker in turn on this machine:
 * kafka-producer-perf-test 1,000,000 x 1 KiB acks=all, kcat producing 1,000,000 x 1 KiB,
 * kafka-consumer-perf-test reading those back (three times, the median compared), resident memory at the end, startup time,
 * and a restart on 2 GiB of logs; and kafka-producer-perf-test with a transactional id
 * committing every 100 ms (issue 24: >= 1.0x). Targets (issue 10): pinpipe >= 1.0x Apache Kafka's
 * produce and consume throughput, <= 1/3 of its memory, startup <= 1/10 of its time.
 *
 * `BENCH_BROKER_SCALE=0.05 deno run -A bench/broker_bench.ts` runs everything at 5 % size
 * for a quick check (the memory figure then says little).
 * @module
 */
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { mibToMB, report, rssMiB, watchRss } from "./_measure.ts";
import { run, spawnTask } from "./_process.ts";
import { createKafka } from "../lib/kafka/kafka_client.ts";
import { installFastVarints } from "../lib/kafka/kafkajs_varints.ts";
import { KAFKA_VERSION, kafkaClasspath, kafkaTool, startKafka } from "./_engines.ts";

const SCALE = Number(Deno.env.get("BENCH_BROKER_SCALE") ?? 1);
const KCAT_RECORDS = Math.round(1_000_000 * SCALE);
const KAFKAJS_RECORDS = Math.round(300_000 * SCALE);
const TOTAL_BYTES = 2 * 1024 ** 3 * SCALE;
const RECORD_BYTES = 1024;

/** Starts the broker task as a child process; resolves with its address and pid. */
async function spawnBroker(dataDir: string) {
  const child = await spawnTask("broker.ts", [
    "--port=0",
    `--data-dir=${dataDir}`,
    "--partitions=3",
    "--auto-create",
    "--json",
    "--quiet",
  ]);
  const { bootstrap } = JSON.parse(child.firstLine) as { bootstrap: string };
  return {
    bootstrap,
    pid: child.pid,
    async stop() {
      const status = await child.stop();
      if (status.code !== 0) {
        console.error(`the broker exited with ${status.code}: ${child.stderr()}`);
      }
    },
  };
}

/** CPU seconds (user + system) used so far by `pid`. */
function cpuSec(pid: number | "self"): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Reports how the CPU time of a phase split between the broker and its client. */
function reportCpu(what: string, records: number, broker: number, client: number): void {
  report(`${what}: broker CPU per 1,000 records`, (broker / records) * 1e6, "ms");
  report(`${what}: client CPU per 1,000 records`, (client / records) * 1e6, "ms");
}

/** Writes `n` newline-separated 1 KiB records (1023 characters + newline) to `path`. */
async function writeRecords(path: string, n: number): Promise<void> {
  const line = new Uint8Array(RECORD_BYTES);
  const chunkLines = 1024;
  const chunk = new Uint8Array(RECORD_BYTES * chunkLines);
  for (let i = 0; i < chunkLines; i++) {
    for (let j = 0; j < RECORD_BYTES - 1; j++) line[j] = 97 + ((i * 7 + j) % 26);
    line[RECORD_BYTES - 1] = 10;
    chunk.set(line, i * RECORD_BYTES);
  }
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (let done = 0; done < n; done += chunkLines) {
      const lines = Math.min(chunkLines, n - done);
      await f.write(chunk.subarray(0, lines * RECORD_BYTES));
    }
  } finally {
    f.close();
  }
}

/**
 * kcat -P of the lines in `file` into `topic`; resolves with the elapsed seconds and the
 * CPU seconds kcat used (through /usr/bin/time when it exists).
 */
async function kcatProduce(
  bootstrap: string,
  topic: string,
  file: string,
  extra: string[] = [],
): Promise<{ sec: number; cpu: number }> {
  const t0 = performance.now();
  const timed = await Deno.stat("/usr/bin/time").then(() => true, () => false);
  const kcat = ["kcat", "-b", bootstrap, "-P", ...extra, "-t", topic, "-l", file];
  const out = await run(
    timed ? "/usr/bin/time" : kcat[0],
    timed ? ["-f", "cpu %U %S", ...kcat] : kcat.slice(1),
  );
  if (out.code !== 0) {
    const err = out.stderr.trim().split("\n");
    throw new Error(`kcat failed (${err.length} lines): ${err.slice(-3).join(" / ")}`);
  }
  const m = /cpu ([\d.]+) ([\d.]+)/.exec(out.stderr);
  return { sec: (performance.now() - t0) / 1000, cpu: m ? Number(m[1]) + Number(m[2]) : NaN };
}

async function hasKcat(): Promise<boolean> {
  return (await run("kcat", ["-V"])).code === 0;
}

/**
 * Flips one byte in the middle of the largest segment and restarts on the data dir: the
 * time recovery takes to find the damage, cut the one batch it hit and go on (the rest of
 * the log is kept), and the records it cut.
 */
async function restartAfterDamage(dir: string, bytes: number): Promise<void> {
  let largest = { path: "", size: 0 };
  for (const t of Deno.readDirSync(join(dir, "logs"))) {
    for (const p of Deno.readDirSync(join(dir, "logs", t.name))) {
      for (const f of Deno.readDirSync(join(dir, "logs", t.name, p.name))) {
        const path = join(dir, "logs", t.name, p.name, f.name);
        const size = f.name.endsWith(".log") ? Deno.statSync(path).size : 0;
        if (size > largest.size) largest = { path, size };
      }
    }
  }
  if (!largest.path) return;
  const f = Deno.openSync(largest.path, { read: true, write: true });
  const at = Math.floor(largest.size / 2);
  const one = new Uint8Array(1);
  f.seekSync(at, Deno.SeekMode.Start);
  f.readSync(one);
  one[0] ^= 0x01;
  f.seekSync(at, Deno.SeekMode.Start);
  f.writeSync(one);
  f.close();
  const t0 = performance.now();
  const child = await spawnTask("broker.ts", [
    "--port=0",
    `--data-dir=${dir}`,
    "--json",
    "--quiet",
  ]);
  const sec = (performance.now() - t0) / 1000;
  await child.stop();
  const cut = /recovery cut (\d+) record\(s\) \((\d+) bytes\)/.exec(child.stderr());
  report(
    `restart on ${(bytes / 1024 ** 3).toFixed(2)} GiB with one flipped byte (until listening)`,
    sec,
    "s",
  );
  console.log(
    `  ... it cut ${cut ? `${cut[1]} records (${cut[2]} bytes)` : "nothing"} and kept the rest`,
  );
}

const dataDir = await Deno.makeTempDir({ prefix: "pinpipe-broker-bench-" });
const broker = await spawnBroker(dataDir);
const rss = watchRss(broker.pid, 50);
const kafka = createKafka({ bootstrap: broker.bootstrap, clientId: "bench" });
console.log(
  `broker bench: ${broker.bootstrap}, data in ${dataDir}, scale ${SCALE} (BENCH_BROKER_SCALE)`,
);
let producedBytes = 0;
let stopped = false;
try {
  // kafkajs producer: batches of 1,000 records, acks -1 (its default), one at a time.
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: "bench.kafkajs", numPartitions: 3 }] });
  await admin.disconnect();
  // Values as Buffers, as a producer that encodes once would send them (strings cost
  // kafkajs a UTF-8 encoding per record, on the client's CPU).
  const value = Buffer.from("x".repeat(RECORD_BYTES));
  const batch = Array.from({ length: 1000 }, (_, i) => ({ key: String(i), value }));
  let b0 = 0;
  let s0 = 0;
  // Half the records with kafkajs as published, half with the varint encoders pinpipe's
  // producers install (lib/kafka/kafkajs_varints.ts: the same bytes, a third less client CPU).
  const produce = async (label: string, records: number, target?: number) => {
    const producer = kafka.producer();
    await producer.connect();
    b0 = cpuSec(broker.pid);
    s0 = cpuSec("self");
    const p0 = performance.now();
    for (let sent = 0; sent < records; sent += 1000) {
      await producer.send({ topic: "bench.kafkajs", messages: batch });
    }
    const sec = (performance.now() - p0) / 1000;
    const cpu = [cpuSec(broker.pid) - b0, cpuSec("self") - s0];
    await producer.disconnect();
    producedBytes += records * RECORD_BYTES;
    report(label, records / sec, "records/s", target ? { min: target } : undefined);
    reportCpu(label, records, cpu[0], cpu[1]);
  };
  const half = Math.round(KAFKAJS_RECORDS / 2000) * 1000;
  await produce("kafkajs producer, stock kafkajs 2.2.4 (batches of 1,000)", half);
  installFastVarints();
  await produce(
    "kafkajs producer as pinpipe runs it (batches of 1,000)",
    KAFKAJS_RECORDS - half,
    50_000,
  );

  // kafkajs consumer reading them back from the beginning.
  const consumer = kafka.consumer({ groupId: "bench", maxBytes: 50 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic: "bench.kafkajs", fromBeginning: true });
  let read = 0;
  let c0 = 0; // from the first batch: the group join is not part of the throughput
  await new Promise<void>((resolve) => {
    consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        if (read === 0) {
          c0 = performance.now();
          b0 = cpuSec(broker.pid);
          s0 = cpuSec("self");
        }
        read += batch.messages.length;
        if (read >= KAFKAJS_RECORDS) resolve();
        return Promise.resolve();
      },
    });
  });
  const consumeSec = (performance.now() - c0) / 1000;
  const consumeCpu = [cpuSec(broker.pid) - b0, cpuSec("self") - s0];
  await consumer.disconnect();
  report("kafkajs consumer (eachBatch)", read / consumeSec, "records/s", { min: 100_000 });
  reportCpu("kafkajs consumer", read, consumeCpu[0], consumeCpu[1]);

  if (await hasKcat()) {
    const file = join(dataDir, "records.txt");
    await writeRecords(file, KCAT_RECORDS);
    b0 = cpuSec(broker.pid);
    const { sec, cpu } = await kcatProduce(broker.bootstrap, "bench.kcat", file);
    const kcatBrokerCpu = cpuSec(broker.pid) - b0;
    producedBytes += KCAT_RECORDS * RECORD_BYTES;
    const n = KCAT_RECORDS.toLocaleString("en-US");
    report(`kcat producer (${n} records)`, KCAT_RECORDS / sec, "records/s", { min: 150_000 });
    reportCpu("kcat producer", KCAT_RECORDS, kcatBrokerCpu, cpu);
    // Keep producing until 2 GiB have gone in, watching the broker's memory.
    let more = 0;
    while (producedBytes < TOTAL_BYTES) {
      more++;
      await kcatProduce(broker.bootstrap, `bench.kcat${more}`, file);
      producedBytes += KCAT_RECORDS * RECORD_BYTES;
    }
    await Deno.remove(file);
  } else {
    console.log("  kcat producer: SKIPPED (kcat is not installed)");
  }
  report(
    `broker peak resident memory after ${(producedBytes / 1024 ** 3).toFixed(2)} GiB produced`,
    mibToMB(rss.stop()),
    "MB",
    { max: 300 },
  );
  // A restart scans every log (CRC-32C of each batch) before it listens.
  await broker.stop();
  stopped = true;
  const r0 = performance.now();
  const again = await spawnBroker(dataDir);
  const restartSec = (performance.now() - r0) / 1000;
  await again.stop();
  report(
    `restart on ${(producedBytes / 1024 ** 3).toFixed(2)} GiB of logs (until listening)`,
    restartSec,
    "s",
  );
  await restartAfterDamage(dataDir, producedBytes);
} finally {
  rss.stop();
  if (!stopped) await broker.stop();
  await Deno.remove(dataDir, { recursive: true });
}

// ---------------------------------------------------------------------------------------
// Side by side with Apache Kafka (issue 10): the same clients, sizes and machine, each
// broker alone while it is measured. Run last (the call is at the end of the file).

const SIDE_RECORDS = Math.round(1_000_000 * SCALE);
/** Reads of the same records by kafka-consumer-perf-test; the median is compared. */
const CONSUME_RUNS = 3;

/** A broker under comparison, running in its own process. */
interface ComparedBroker {
  name: string;
  bootstrap: string;
  /** Its process id now (a restart changes it). */
  pid(): number;
  /** From starting the process to accepting requests, on an empty data dir. */
  startupMs: number;
  /** Resident memory now, in MiB. */
  rssMiB(): number;
  /** Stops it cleanly and starts it again on the same data; resolves with the startup ms. */
  restart(): Promise<number>;
  stop(): Promise<void>;
}

/** What one broker did in the comparison (records/s unless named otherwise). */
interface ComparedFigures {
  perfProduce?: number;
  /** Why kafka-producer-perf-test failed with its defaults (idempotence on). */
  perfError?: string;
  /** kafka-producer-perf-test with enable.idempotence=false, run only after a failure. */
  perfProduceNoIdempotence?: number;
  /** kafka-producer-perf-test with a transactional id, a transaction every 100 ms. */
  perfTxn?: number;
  kcatProduce: number;
  /** kafka-consumer-perf-test's fetch rate (after the group is joined). */
  consume: number;
  /** kafka-consumer-perf-test's rate including joining the group. */
  consumeWithJoin: number;
  rssMB: number;
  startupMs: number;
  logsGiB: number;
  restartMs: number;
}

async function startApacheKafka(): Promise<ComparedBroker> {
  // Kafka's own defaults (no flush settings: the OS page cache, as the embedded broker).
  const kafka = await startKafka();
  return {
    name: `Apache Kafka ${KAFKA_VERSION}`,
    bootstrap: kafka.bootstrap,
    pid: () => kafka.pid,
    startupMs: kafka.startupMs,
    rssMiB: () => kafka.rss() / 1024 ** 2,
    async restart() {
      await kafka.restart({ kill: false });
      return kafka.startupMs;
    },
    stop: () => kafka.stop(),
  };
}

async function startPinpipe(dataDir: string): Promise<ComparedBroker> {
  const t0 = performance.now();
  let broker = await spawnBroker(dataDir);
  const startupMs = performance.now() - t0;
  return {
    name: "pinpipe's embedded broker",
    bootstrap: broker.bootstrap,
    pid: () => broker.pid,
    startupMs,
    rssMiB: () => rssMiB(broker.pid).rss,
    async restart() {
      await broker.stop();
      const t = performance.now();
      broker = await spawnBroker(dataDir);
      return performance.now() - t;
    },
    stop: () => broker.stop(),
  };
}

/** The last line of a failed tool's output that names an exception, else its last line. */
function toolError(out: string): string {
  const lines = out.trim().split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /UnsupportedVersion|does not support/.test(l)) ??
    lines.findLast((l) => /Exception|Error/.test(l)) ?? lines.at(-1) ?? "no output";
}

/** kafka-producer-perf-test of SIDE_RECORDS x 1 KiB, acks=all, as fast as it goes. */
async function perfProduce(
  bootstrap: string,
  topic: string,
  extra: string[] = [],
  toolArgs: string[] = [],
): Promise<{ rate?: number; error?: string }> {
  const r = await kafkaTool("kafka-producer-perf-test", [
    ...toolArgs,
    "--topic",
    topic,
    "--num-records",
    String(SIDE_RECORDS),
    "--record-size",
    String(RECORD_BYTES),
    "--throughput",
    "-1",
    "--producer-props",
    `bootstrap.servers=${bootstrap}`,
    "acks=all",
    ...extra,
  ], { timeoutMs: 900_000 });
  // Progress lines every 5 s, then the summary: the last "N records sent" line.
  const m = [...r.stdout.matchAll(/^(\d+) records sent, ([\d.]+) records\/sec/gm)].at(-1);
  if (r.code !== 0 || !m || Number(m[1]) !== SIDE_RECORDS) {
    return { error: `exit ${r.code}: ${toolError(r.stderr + "\n" + r.stdout)}` };
  }
  return { rate: Number(m[2]) };
}

/** kafka-consumer-perf-test reading SIDE_RECORDS from `topic`: [fetch rate, overall rate]. */
async function perfConsume(bootstrap: string, topic: string): Promise<[number, number]> {
  const r = await kafkaTool("kafka-consumer-perf-test", [
    "--bootstrap-server",
    bootstrap,
    "--topic",
    topic,
    "--messages",
    String(SIDE_RECORDS),
    "--timeout",
    "60000",
  ], { timeoutMs: 900_000 });
  // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
  // rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const fields = r.stdout.trim().split("\n").at(-1)?.split(",").map((f) => Number(f.trim()));
  if (r.code !== 0 || !fields || fields.length < 10 || fields[4] < SIDE_RECORDS) {
    throw new Error(
      `kafka-consumer-perf-test failed (exit ${r.code}): ${toolError(r.stderr + r.stdout)}`,
    );
  }
  return [fields[9], fields[5]];
}

/** Runs the comparison's steps against `b`, printing each figure as it comes. */
async function measureBroker(b: ComparedBroker, recordsFile: string): Promise<ComparedFigures> {
  console.log(`  --- ${b.name} (${b.bootstrap})`);
  const admin = createKafka({ bootstrap: b.bootstrap, clientId: "bench" }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: ["compare.perf", "compare.kcat", "compare.txn"].map((topic) => ({
      topic,
      numPartitions: 3,
    })),
    waitForLeaders: true,
  });
  await admin.disconnect();
  const n = SIDE_RECORDS.toLocaleString("en-US");

  // The broker's CPU per 1,000 records of each phase, to tell a slow broker from a slow client.
  let cpu0 = cpuSec(b.pid());
  const brokerCpu = (what: string) => {
    const used = cpuSec(b.pid()) - cpu0;
    report(`${b.name}: ${what}: broker CPU per 1,000 records`, (used / SIDE_RECORDS) * 1e6, "ms");
    cpu0 = cpuSec(b.pid());
  };

  const perf = await perfProduce(b.bootstrap, "compare.perf");
  let noIdempotence: number | undefined;
  if (perf.rate !== undefined) {
    report(`${b.name}: kafka-producer-perf-test (${n} x 1 KiB, acks=all)`, perf.rate, "records/s");
  } else {
    console.log(
      `  ${b.name}: kafka-producer-perf-test (${n} x 1 KiB, acks=all) FAILED with its ` +
        `defaults (idempotence on): ${perf.error}`,
    );
    const again = await perfProduce(b.bootstrap, "compare.perf", ["enable.idempotence=false"]);
    noIdempotence = again.rate;
    if (again.rate !== undefined) {
      report(
        `${b.name}: kafka-producer-perf-test with enable.idempotence=false`,
        again.rate,
        "records/s",
      );
    } else {
      console.log(
        `  ${b.name}: kafka-producer-perf-test without idempotence FAILED too: ${again.error}`,
      );
    }
  }
  brokerCpu("kafka-producer-perf-test");

  // Transactions (issue 24): a transaction committed every 100 ms.
  const txn = await perfProduce(b.bootstrap, "compare.txn", [], [
    "--transactional-id",
    "bench-txn",
    "--transaction-duration-ms",
    "100",
  ]);
  if (txn.rate !== undefined) {
    report(
      `${b.name}: kafka-producer-perf-test, transactional, 100 ms transactions`,
      txn.rate,
      "records/s",
    );
  } else console.log(`  ${b.name}: transactional kafka-producer-perf-test FAILED: ${txn.error}`);
  brokerCpu("transactional kafka-producer-perf-test");

  // Keyless records spread one by one (not librdkafka's default sticky partitioner, which fills
  // one partition for 10 ms at a time): with sticky partitions the three partitions end up
  // unequal by chance, and once the smaller ones are read the Java consumer's fetches for them
  // wait out fetch.max.wait.ms (500 ms) between each 1 MiB of the last partition, on either
  // broker. The consumer figure then measured that chance (18,000 to 416,000 records/s), not
  // the broker.
  const kcat = await kcatProduce(b.bootstrap, "compare.kcat", recordsFile, [
    "-X",
    "sticky.partitioning.linger.ms=0",
  ]);
  report(`${b.name}: kcat producer (${n} x 1 KiB)`, SIDE_RECORDS / kcat.sec, "records/s");
  brokerCpu("kcat producer");

  // Three reads of the same records, the median kept.
  const reads: [number, number][] = [];
  for (let i = 0; i < CONSUME_RUNS; i++) reads.push(await perfConsume(b.bootstrap, "compare.kcat"));
  reads.sort((x, y) => x[0] - y[0]);
  const [consume, consumeWithJoin] = reads[Math.floor(reads.length / 2)];
  console.log(
    `  ${b.name}: kafka-consumer-perf-test fetch rates of the ${CONSUME_RUNS} reads: ` +
      reads.map((r) => Math.round(r[0]).toLocaleString("en-US")).join(", ") + " records/s",
  );
  cpu0 += (cpuSec(b.pid()) - cpu0) * (1 - 1 / CONSUME_RUNS); // CPU per read, not per three
  brokerCpu("kafka-consumer-perf-test");
  report(`${b.name}: kafka-consumer-perf-test (${n} records, fetch rate)`, consume, "records/s");
  report(
    `${b.name}: kafka-consumer-perf-test including the group join`,
    consumeWithJoin,
    "records/s",
  );

  const rssMB = mibToMB(b.rssMiB());
  report(`${b.name}: resident memory at the end`, rssMB, "MB");
  report(`${b.name}: startup on an empty data dir`, b.startupMs, "ms");
  // Topped up with kcat to 2 GiB of records (1 KiB each) before the restart.
  let stored = (perf.rate !== undefined || noIdempotence !== undefined ? 2 : 1) * SIDE_RECORDS +
    (txn.rate !== undefined ? SIDE_RECORDS : 0);
  const wanted = Math.round((2 * 1024 ** 3 * SCALE) / RECORD_BYTES);
  if (stored < wanted) {
    const more = `${recordsFile}.more`;
    await writeRecords(more, wanted - stored);
    await kcatProduce(b.bootstrap, "compare.more", more);
    await Deno.remove(more);
    stored = wanted;
  }
  const logsGiB = (stored * RECORD_BYTES) / 1024 ** 3;
  const restartMs = await b.restart();
  report(`${b.name}: restart on ${logsGiB.toFixed(2)} GiB of logs`, restartMs, "ms");
  return {
    perfProduce: perf.rate,
    perfError: perf.error,
    perfProduceNoIdempotence: noIdempotence,
    perfTxn: txn.rate,
    kcatProduce: SIDE_RECORDS / kcat.sec,
    consume,
    consumeWithJoin,
    rssMB,
    startupMs: b.startupMs,
    logsGiB,
    restartMs,
  };
}

/** Prints pinpipe's figure over Apache Kafka's, with the issue's target. */
function ratio(what: string, pinpipe: number | undefined, kafka: number | undefined, target?: {
  min?: number;
  max?: number;
}): void {
  if (pinpipe === undefined || kafka === undefined || !kafka) {
    console.log(`  ratio ${what}: not measured (one side failed, above)`);
    return;
  }
  const r = pinpipe / kafka;
  const verdict = target?.min !== undefined
    ? ` (target >= ${target.min}x) ${r >= target.min ? "MET" : "MISSED"}`
    : target?.max !== undefined
    ? ` (target <= ${target.max.toFixed(2)}x) ${r <= target.max ? "MET" : "MISSED"}`
    : "";
  console.log(`  ratio ${what} (pinpipe / Apache Kafka): ${r.toFixed(2)}x${verdict}`);
}

/**
 * Apache Kafka and the embedded broker, one after the other on this machine, through the
 * same clients; then the ratios against issue 10's targets.
 */
async function compareWithApacheKafka(): Promise<void> {
  console.log(
    `\nside by side with Apache Kafka ${KAFKA_VERSION} (KRaft, one node, default flush):`,
  );
  if (!(await kafkaClasspath()) || !(await hasKcat())) {
    console.log(
      "  SKIPPED: needs Apache Kafka from the engine cache (deno run -A tests/setup.ts) and kcat",
    );
    return;
  }
  const work = await Deno.makeTempDir({ prefix: "pinpipe-broker-compare-" });
  try {
    const file = join(work, "records.txt");
    await writeRecords(file, SIDE_RECORDS);
    const kafka = await startApacheKafka();
    let k: ComparedFigures;
    try {
      k = await measureBroker(kafka, file);
    } finally {
      await kafka.stop();
    }
    const pinpipe = await startPinpipe(join(work, "pinpipe"));
    let p: ComparedFigures;
    try {
      p = await measureBroker(pinpipe, file);
    } finally {
      await pinpipe.stop();
    }
    console.log("  (a shared, noisy machine: figures move between runs)");
    ratio("kafka-producer-perf-test, acks=all, defaults", p.perfProduce, k.perfProduce, { min: 1 });
    if (p.perfProduce === undefined) {
      ratio(
        "kafka-producer-perf-test, enable.idempotence=false on pinpipe (Kafka with defaults)",
        p.perfProduceNoIdempotence,
        k.perfProduce,
        { min: 1 },
      );
    }
    ratio("kafka-producer-perf-test, transactional (100 ms transactions)", p.perfTxn, k.perfTxn, {
      min: 1,
    });
    ratio("kcat producer", p.kcatProduce, k.kcatProduce, { min: 1 });
    ratio("kafka-consumer-perf-test, fetch rate", p.consume, k.consume, { min: 1 });
    ratio("kafka-consumer-perf-test, with the group join", p.consumeWithJoin, k.consumeWithJoin);
    ratio("resident memory at the end", p.rssMB, k.rssMB, { max: 1 / 3 });
    ratio("startup", p.startupMs, k.startupMs, { max: 0.1 });
    ratio(
      `restart on ${p.logsGiB.toFixed(2)} / ${k.logsGiB.toFixed(2)} GiB of logs`,
      p.restartMs,
      k.restartMs,
    );
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

await compareWithApacheKafka();

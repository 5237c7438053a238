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
 * `BENCH_BROKER_SCALE=0.05 deno run -A bench/broker_bench.ts` runs everything at 5 % size
 * for a quick check (the memory figure then says little).
 * @module
 */
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { mibToMB, report, watchRss } from "./_measure.ts";
import { spawnTask } from "../tests/_process.ts";
import { createKafka } from "../lib/kafka_client.ts";
import { installFastVarints } from "../lib/kafkajs_varints.ts";

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
): Promise<{ sec: number; cpu: number }> {
  const t0 = performance.now();
  const timed = await Deno.stat("/usr/bin/time").then(() => true, () => false);
  const kcat = ["kcat", "-b", bootstrap, "-P", "-t", topic, "-l", file];
  const out = await new Deno.Command(timed ? "/usr/bin/time" : kcat[0], {
    args: timed ? ["-f", "cpu %U %S", ...kcat] : kcat.slice(1),
    stdout: "null",
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n");
    throw new Error(`kcat failed (${err.length} lines): ${err.slice(-3).join(" / ")}`);
  }
  const m = /cpu ([\d.]+) ([\d.]+)/.exec(new TextDecoder().decode(out.stderr));
  return { sec: (performance.now() - t0) / 1000, cpu: m ? Number(m[1]) + Number(m[2]) : NaN };
}

async function hasKcat(): Promise<boolean> {
  try {
    return (await new Deno.Command("kcat", { args: ["-V"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    return false;
  }
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
  // producers install (lib/kafkajs_varints.ts: the same bytes, a third less client CPU).
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

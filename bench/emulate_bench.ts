/**
 * The emulator's throughput and memory, each run as the real task in its own process:
 * - dataset generation alone (target >= 100,000 postings/s);
 * - built-in dataset -> embedded broker (its own process) with kafkajs
 *   (target >= 20,000 postings/s, i.e. 60,000 records/s);
 * - MariaDB -> embedded broker (target >= 5,000 postings/s), skipped without MariaDB;
 * - a long run to /dev/null keeping resident memory under 250 MB (target: 10,000,000
 *   postings; BENCH_MEMORY_POSTINGS sets fewer for a quick run).
 *
 * BENCH_POSTINGS (default 300,000) sizes the broker and MariaDB runs. The task runs with
 * the V8 flag its shebang carries (`--max-semi-space-size=8`).
 * (The original emulator managed about 1 posting/s.)
 * @module
 */
import { mibToMB, report, watchRss } from "./_measure.ts";
import { spawnTask, start } from "./_process.ts";
import { createDataset } from "../lib/source/dataset.ts";
import { createKafka } from "../lib/kafka/kafka_client.ts";
import { seedDatabase } from "../lib/source/mysql_source.ts";
import { parseMysqlUrl } from "../lib/source/mysql_url.ts";
import { createConnection } from "../lib/deps/mysql2.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const POSTINGS = Number(Deno.env.get("BENCH_POSTINGS") ?? 300_000);
const MEMORY_POSTINGS = Number(Deno.env.get("BENCH_MEMORY_POSTINGS") ?? 10_000_000);
// The emulate task's shebang flag: a smaller young generation keeps RSS down at no cost.
const V8_FLAGS = "--v8-flags=--max-semi-space-size=8";
const MYSQL = Deno.env.get("PINPIPE_TEST_MYSQL_URL") ?? "mysql://root@127.0.0.1:3306";

/** Runs the emulate task with `args` and returns its --json summary and its peak RSS. */
async function emulateTask(
  args: string[],
): Promise<{ summary: Record<string, number>; mib: number }> {
  const child = start(
    Deno.execPath(),
    ["run", "-A", V8_FLAGS, `${ROOT}tasks/emulate.ts`, "--json", ...args],
    { inheritStderr: true },
  );
  const rss = watchRss(child.pid, 200);
  const out = await child.ended;
  const mib = rss.stop();
  if (out.code !== 0) throw new Error(`emulate ${args.join(" ")} failed with exit ${out.code}`);
  return { summary: JSON.parse(child.stdout()), mib };
}

async function startBroker(): Promise<{ bootstrap: string; stop: () => Promise<unknown> }> {
  const broker = await spawnTask("broker.ts", ["--memory", "--port=0", "--quiet"]);
  return { bootstrap: broker.firstLine, stop: () => broker.stop() };
}

async function createTopics(bootstrap: string, prefix: string): Promise<void> {
  const admin = createKafka({ bootstrap, clientId: "bench" }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: ["pin", "geo", "user"].map((t) => ({ topic: `${prefix}.${t}`, numPartitions: 1 })),
  });
  await admin.disconnect();
}

console.log("emulate (the original: about 1 posting/s)");

{
  const ds = createDataset({ rows: 1_000_000 });
  for (const _ of ds.postings(0, 50_000)) { /* warm the pools */ }
  const t0 = performance.now();
  let n = 0;
  for (const _ of ds.postings()) n++;
  const sec = (performance.now() - t0) / 1000;
  report("dataset generation", n / sec, "postings/s", { min: 100_000 });
}

const broker = await startBroker();
try {
  await createTopics(broker.bootstrap, "bench");
  const { summary, mib } = await emulateTask([
    "--bootstrap",
    broker.bootstrap,
    "--prefix",
    "bench",
    "--mode",
    "sequential",
    "--rows",
    String(POSTINGS),
  ]);
  report(
    `dataset -> broker (${summary.postingsRead.toLocaleString("en-US")} postings)`,
    summary.postingsPerSec,
    "postings/s",
    { min: 20_000 },
  );
  report("dataset -> broker records", summary.recordsPerSec, "records/s", { min: 60_000 });
  report("dataset -> broker peak RSS", mib, "MiB");

  let db: string | undefined;
  try {
    const admin = await createConnection({ uri: MYSQL, connectTimeout: 2000 });
    db = `pinpipe_bench_${crypto.randomUUID().slice(0, 8)}`;
    await admin.query(`CREATE DATABASE \`${db}\``);
    await admin.end();
  } catch {
    console.log("  MariaDB -> broker: skipped (no MariaDB at PINPIPE_TEST_MYSQL_URL)");
  }
  if (db) {
    const url = `${MYSQL.replace(/\/+$/, "")}/${db}`;
    try {
      await seedDatabase({
        target: parseMysqlUrl(url),
        dataset: createDataset({ rows: POSTINGS }),
        batchRows: 2000,
      });
      await createTopics(broker.bootstrap, "benchdb");
      const { summary } = await emulateTask([
        "--source",
        url,
        "--bootstrap",
        broker.bootstrap,
        "--prefix",
        "benchdb",
        "--mode",
        "sequential",
      ]);
      report(
        `MariaDB -> broker (${summary.postingsRead.toLocaleString("en-US")} postings)`,
        summary.postingsPerSec,
        "postings/s",
        { min: 5_000 },
      );
    } finally {
      const admin = await createConnection({ uri: MYSQL });
      await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
      await admin.end();
    }
  }
} finally {
  await broker.stop();
}

{
  const { summary, mib } = await emulateTask([
    "--out",
    "/dev/null",
    "--mode",
    "sequential",
    "--rows",
    String(MEMORY_POSTINGS),
  ]);
  report(
    `long run to /dev/null (${summary.postingsRead.toLocaleString("en-US")} postings)`,
    summary.postingsPerSec,
    "postings/s",
  );
  report("long run peak RSS", mibToMB(mib), "MB", { max: 250 });
}

/**
 * REST proxy throughput and latency over loopback into the embedded broker. The broker and
 * the proxy each run in their own process (as `deno task broker` / `rest-proxy serve`); this
 * process only generates load: 8 clients, 100 posting-sized records per request.
 *
 * Figures, in one run:
 * - v2 produce (byte-exact json) at full load, and p99 latency at 10,000 records/s;
 * - v3 produce, the records API with many records per (streamed) body, at full load;
 * - records/s read back through `GET …/records`: one json consumer instance, and a group of
 *   three sharing the topic's partitions.
 *
 * Targets (issues 4 and 13): v2 >= 31,000 records/s (the figure before byte-exact
 * forwarding); p99 < 50 ms at 10,000 records/s; the proxy under 300 MB resident throughout.
 * @module
 */
import { mibToMB, report, rssMiB, watchRss } from "./_measure.ts";
import { spawnTask } from "./_process.ts";
import { createDataset } from "../lib/source/dataset.ts";
import { createKafka } from "../lib/kafka/kafka_client.ts";

const CLIENTS = 8;
const PER_REQUEST = 100;
const FULL_SEC = Number(Deno.env.get("BENCH_SEC") ?? 10);
const V2_JSON = "application/vnd.kafka.json.v2+json";
const V2 = "application/vnd.kafka.v2+json";

const broker = await spawnTask("broker.ts", ["--memory", "--port=0", "--quiet"]);
const bootstrap = broker.firstLine;
const proxy = await spawnTask("rest_proxy.ts", [
  "serve",
  `--bootstrap=${bootstrap}`,
  "--port=0",
  "--max-in-flight=64",
]);
const url = proxy.firstLine;
const rss = watchRss(proxy.pid);

// Three partitions each, so a group of three readers can share them.
{
  const admin = createKafka({ bootstrap }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: ["bench.v2", "bench.v3"].map((topic) => ({ topic, numPartitions: 3 })),
    waitForLeaders: true,
  });
  await admin.disconnect();
}

// Posting-sized pin rows, pre-serialized into request bodies (keys as bare numbers).
const ds = createDataset({ rows: 2000, seed: 1 });
const rows = (b: number) =>
  Array.from({ length: PER_REQUEST }, (_, i) => ds.posting((b * PER_REQUEST + i) % ds.rows));
const v2Bodies = Array.from(
  { length: 20 },
  (_, b) =>
    `{"records":[${
      rows(b).map((p) => `{"key":${p.key},"value":${JSON.stringify(p.pin)}}`).join(",")
    }]}`,
);
const v3Bodies = Array.from(
  { length: 20 },
  (_, b) =>
    rows(b).map((p) =>
      `{"key":{"type":"JSON","data":${p.key}},"value":{"type":"JSON","data":${
        JSON.stringify(p.pin)
      }}}`
    ).join("\n"),
);
const avgBytes = v2Bodies.reduce((n, b) => n + b.length, 0) / v2Bodies.length / PER_REQUEST;
const clusterId = (await (await fetch(`${url}/v3/clusters`)).json()).data[0].cluster_id;

async function postV2(i: number): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/topics/bench.v2`, {
    method: "POST",
    headers: { "content-type": V2_JSON },
    body: v2Bodies[i % v2Bodies.length],
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body)}`);
  const failed = (body.offsets as { error_code: number | null }[]).filter((o) => o.error_code);
  if (failed.length) throw new Error(`${failed.length} records failed`);
  return performance.now() - t0;
}

async function postV3(i: number): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v3/clusters/${clusterId}/topics/bench.v3/records`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: v3Bodies[i % v3Bodies.length],
  });
  const lines = (await res.text()).split("\r\n").filter(Boolean);
  if (res.status !== 200 || lines.length !== PER_REQUEST) {
    throw new Error(`HTTP ${res.status}, ${lines.length} results: ${lines[0]}`);
  }
  const bad = lines.filter((l) => !l.startsWith('{"error_code":200,'));
  if (bad.length) throw new Error(`${bad.length} records failed: ${bad[0]}`);
  return performance.now() - t0;
}

/** `CLIENTS` loops posting until `sec` pass; at most `rate` records/s in all when given. */
async function load(post: (i: number) => Promise<number>, sec: number, rate?: number) {
  const latencies: number[] = [];
  const end = performance.now() + sec * 1000;
  const t0 = performance.now();
  let n = 0;
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (performance.now() < end) {
      const i = n++;
      if (rate) {
        const due = t0 + (i * PER_REQUEST / rate) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (performance.now() >= end) break;
      }
      latencies.push(await post(i));
    }
  }));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { records: latencies.length * PER_REQUEST, elapsed, p50: pct(0.5), p99: pct(0.99) };
}

/** Reads `total` records of `topic` through `readers` json consumer instances of one group. */
async function readBack(topic: string, total: number, readers: number) {
  const group = `bench-${crypto.randomUUID()}`;
  const paths: string[] = [];
  for (let i = 0; i < readers; i++) {
    const made = await fetch(`${url}/consumers/${group}`, {
      method: "POST",
      headers: { "content-type": V2 },
      body: JSON.stringify({
        format: "json",
        "auto.offset.reset": "earliest",
        "auto.commit.enable": "false",
        "fetch.min.bytes": 1,
      }),
    }).then((r) => r.json());
    paths.push(made.base_uri);
    const sub = await fetch(`${made.base_uri}/subscription`, {
      method: "POST",
      headers: { "content-type": V2 },
      body: JSON.stringify({ topics: [topic] }),
    });
    await sub.body?.cancel();
  }
  let got = 0;
  let t0 = 0;
  await Promise.all(paths.map(async (p) => {
    while (got < total) {
      const res = await fetch(`${p}/records?max_bytes=4000000`, { headers: { accept: V2_JSON } });
      const records = await res.json();
      if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(records)}`);
      // The clock starts at the first records, after the group formed.
      if (records.length && !t0) t0 = performance.now();
      got += records.length;
    }
  }));
  const elapsed = (performance.now() - t0) / 1000;
  for (const p of paths) await (await fetch(p, { method: "DELETE" })).body?.cancel();
  return { records: got, elapsed };
}

try {
  await postV2(0);
  await postV3(0);
  await load(postV2, 2); // warm-up: JIT, connections
  await load(postV3, 2);
  console.log(
    `rest-proxy: ${CLIENTS} clients x ${PER_REQUEST} records/request (~${
      Math.round(avgBytes)
    } B each), ${FULL_SEC} s per phase; shared machine, so figures are noisy`,
  );
  const full = await load(postV2, FULL_SEC);
  report("v2 produce, full load", full.records / full.elapsed, "records/s", { min: 31_000 });
  report("v2 produce, full load p99 latency", full.p99, "ms");
  const v3 = await load(postV3, FULL_SEC);
  report("v3 produce (records API, 100 per body), full load", v3.records / v3.elapsed, "records/s");
  report("v3 produce, full load p99 latency", v3.p99, "ms");
  const half = await load(postV2, FULL_SEC, 10_000);
  report("v2 at 10,000 records/s: achieved", half.records / half.elapsed, "records/s");
  report("v2 at 10,000 records/s: p50 latency", half.p50, "ms");
  report("v2 at 10,000 records/s: p99 latency", half.p99, "ms", { max: 50 });
  report("proxy peak RSS while producing", mibToMB(rssMiB(proxy.pid).peak), "MB", { max: 300 });
  const toRead = Math.min(300_000, full.records);
  const one = await readBack("bench.v2", toRead, 1);
  report(
    `read through GET …/records, 1 consumer (${one.records} records)`,
    one.records / one.elapsed,
    "records/s",
  );
  const three = await readBack("bench.v2", toRead, 3);
  report(
    `read through GET …/records, group of 3 (${three.records} records)`,
    three.records / three.elapsed,
    "records/s",
  );
  report("proxy peak RSS with the reads (4 consumer instances)", mibToMB(rss.stop()), "MB");
  report("bench process RSS", rssMiB().rss, "MiB");
} finally {
  await proxy.stop();
  await broker.stop();
}

/**
 * REST proxy throughput and latency over loopback into the embedded broker. The broker and
 * the proxy each run in their own process (as `deno task broker` / `rest-proxy serve`); this
 * process only generates load: 8 clients POSTing 100 posting-sized records per request.
 *
 * Targets (issue 4): >= 20,000 records/s at full load; p99 request latency < 50 ms at half
 * that load (10,000 records/s); the proxy under 300 MB resident throughout.
 * @module
 */
import { mibToMB, report, rssMiB, watchRss } from "./_measure.ts";
import { spawnTask } from "../tests/_process.ts";
import { createDataset } from "../lib/dataset.ts";

const CLIENTS = 8;
const PER_REQUEST = 100;
const FULL_SEC = Number(Deno.env.get("BENCH_SEC") ?? 10);

/** Starts `deno run -A tasks/<file> …` and resolves with its first stdout line. */

const broker = await spawnTask("broker.ts", ["--memory", "--port=0", "--quiet"]);
const bootstrap = broker.firstLine;
const proxy = await spawnTask("rest_proxy.ts", [
  "serve",
  `--bootstrap=${bootstrap}`,
  "--port=0",
  "--auto-create",
  "--max-in-flight=64",
]);
const url = proxy.firstLine;
const rss = watchRss(proxy.pid);

// Posting-sized pin rows, pre-serialized into request bodies.
const ds = createDataset({ rows: 2000, seed: 1 });
const bodies = Array.from({ length: 20 }, (_, b) =>
  JSON.stringify({
    records: Array.from({ length: PER_REQUEST }, (_, i) => {
      const p = ds.posting((b * PER_REQUEST + i) % ds.rows);
      return { key: p.key, value: p.pin };
    }),
  }));
const avgBytes = bodies.reduce((n, b) => n + b.length, 0) / bodies.length / PER_REQUEST;

async function postOnce(i: number): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/topics/bench.pin`, {
    method: "POST",
    headers: { "content-type": "application/vnd.kafka.json.v2+json" },
    body: bodies[i % bodies.length],
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body)}`);
  const failed = (body.offsets as { error_code: number | null }[]).filter((o) => o.error_code);
  if (failed.length) throw new Error(`${failed.length} records failed`);
  return performance.now() - t0;
}

/** `CLIENTS` loops posting until `sec` pass; at most `rate` records/s in all when given. */
async function load(sec: number, rate?: number) {
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
      latencies.push(await postOnce(i));
    }
  }));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { records: latencies.length * PER_REQUEST, elapsed, p50: pct(0.5), p99: pct(0.99) };
}

try {
  await postOnce(0); // creates the topic
  await load(2); // warm-up: JIT, connections
  console.log(
    `rest-proxy: ${CLIENTS} clients x ${PER_REQUEST} records/request (~${
      Math.round(avgBytes)
    } B each), ${FULL_SEC} s per phase`,
  );
  const full = await load(FULL_SEC);
  report("full load throughput", full.records / full.elapsed, "records/s", { min: 20_000 });
  report("full load p99 latency", full.p99, "ms");
  const half = await load(FULL_SEC, 10_000);
  report("half load (10,000 records/s) achieved", half.records / half.elapsed, "records/s");
  report("half load p50 latency", half.p50, "ms");
  report("half load p99 latency", half.p99, "ms", { max: 50 });
  report("proxy peak RSS", mibToMB(rss.stop()), "MB", { max: 300 });
  report("bench process RSS", rssMiB().rss, "MiB");
} finally {
  await proxy.stop();
  await broker.stop();
}

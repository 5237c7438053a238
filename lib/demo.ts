/**
 * The whole pipeline on one machine, in one process: the embedded broker, the three
 * topics, the local REST proxy (standing where API Gateway and the EC2 proxy stand on
 * AWS), the sink landing the S3 connector's layout in a local lake, the emulator posting
 * through the proxy as the original did, and the transform answering the eight questions.
 *
 * Stages run in order and each is timed; the sink runs during the emulation (as MSK
 * Connect does) and is then drained to the broker's end offsets, so the transform sees
 * every acknowledged record.
 * @module
 */
import { join, resolve } from "node:path";
import { startBroker } from "./broker/broker.ts";
import { createDataset } from "./dataset.ts";
import { datasetSource, emulate, type EmulateResult } from "./emulator.ts";
import { createKafka } from "./kafka_client.ts";
import { FileLake } from "./lake.ts";
import { fmtInt, fmtSec, Progress, type ProgressSink, stderrSink } from "./progress.ts";
import { RestProducer } from "./rest_client.ts";
import { startRestProxy } from "./rest_proxy.ts";
import { runSink, type SinkSummary } from "./sink.ts";
import { manageTopics, topicNames } from "./topics.ts";
import { transform, type TransformResult } from "./transform.ts";

/** How the demo runs. */
export interface DemoOptions {
  /** Where the broker's logs, the lake and the results go (`<dir>/kafka|lake|out`). */
  dir: string;
  /** Postings to emulate; `all` = as many as the dataset has rows. */
  postings: number | "all";
  mode: "random" | "sequential";
  /** Rows of the built-in dataset. */
  rows: number;
  /** Dataset and key-draw seed. */
  seed: number;
  prefix: string;
  /** Partitions of each topic. */
  partitions: number;
  /** Records per lake object (the connector's flush.size). */
  flushSize: number;
  /** Keep the previous run's broker data and lake instead of starting fresh. */
  keep: boolean;
}

/** One stage's name and how long it took. */
export interface StageTiming {
  stage: string;
  sec: number;
}

/** What the demo did. */
export interface DemoResult {
  dir: string;
  lake: string;
  out: string;
  report?: string;
  emulate: EmulateResult;
  sink: SinkSummary;
  transform: TransformResult;
  /** Records the broker holds on the three topics (the end offsets' sum). */
  brokerRecords: number;
  timings: StageTiming[];
  totalSec: number;
}

/** What the demo needs besides options. */
export interface DemoDeps {
  /** Where progress goes (default: stderr). */
  progress?: ProgressSink;
  signal?: AbortSignal;
}

/** The demo's subfolders; a fresh run removes exactly these. */
export const DEMO_PARTS = ["kafka", "lake", "out"] as const;

/** Runs the whole local pipeline; see the module header. */
export async function runDemo(opts: DemoOptions, deps: DemoDeps = {}): Promise<DemoResult> {
  const { signal } = deps;
  const dir = resolve(opts.dir);
  const sinkTo = deps.progress ?? stderrSink();
  const timings: StageTiming[] = [];
  const t0 = performance.now();
  const stage = async <T>(name: string, fn: (p: Progress) => Promise<T>): Promise<T> => {
    signal?.throwIfAborted();
    const p = new Progress(name, { sink: sinkTo });
    const started = performance.now();
    const result = await fn(p);
    timings.push({ stage: name, sec: (performance.now() - started) / 1000 });
    return result;
  };

  await stage("prepare", async (p) => {
    await Deno.mkdir(dir, { recursive: true });
    if (!opts.keep) {
      for (const part of DEMO_PARTS) {
        await Deno.remove(join(dir, part), { recursive: true }).catch((err) => {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        });
      }
    }
    p.done(`${opts.keep ? "keeping" : "fresh"} ${dir}`);
  });

  const broker = await stage("broker", async (p) => {
    const b = await startBroker({ port: 0, dataDir: join(dir, "kafka"), fsync: "interval" });
    p.done(`embedded broker on ${b.bootstrap}, logs in ${join(dir, "kafka")}`);
    return b;
  });
  const kafka = createKafka({ bootstrap: broker.bootstrap, clientId: "pinpipe-demo" });
  const sinkStop = new AbortController();
  const stopSink = () => sinkStop.abort();
  signal?.addEventListener("abort", stopSink, { once: true });
  let proxy: Awaited<ReturnType<typeof startRestProxy>> | undefined;
  let sinkRun: Promise<SinkSummary> | undefined;
  try {
    await stage("topics", async (p) => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const r = await manageTopics({
          prefix: opts.prefix,
          partitions: opts.partitions,
          replication: -1,
          delete: false,
          yes: false,
          dryRun: false,
        }, { admin, where: `the broker at ${broker.bootstrap}` });
        p.done(r.topics.map((t) => `${t.topic} ${t.action}`).join(", "));
      } finally {
        await admin.disconnect();
      }
    });

    proxy = await stage("rest-proxy", async (p) => {
      const px = await startRestProxy({ kafka, port: 0, basePath: "/demo" });
      p.done(`REST proxy v2 at ${px.url} (the API Gateway stage on AWS)`);
      return px;
    });

    const lake = new FileLake(join(dir, "lake"));
    const sinkOpts = {
      kafka,
      lake,
      topicsRegex: new RegExp(`^${opts.prefix.replaceAll(".", "\\.")}\\..*$`),
      groupId: `${opts.prefix}-demo-sink`,
      flushSize: opts.flushSize,
      rotateIntervalMs: 1000,
      sessionTimeoutMs: 10_000,
    };
    const sinkProgress = new Progress("sink", { sink: sinkTo });
    sinkRun = runSink(
      { ...sinkOpts, onProgress: (s) => sinkProgress.update(sinkLine(s), sinkCounts(s)) },
      { signal: sinkStop.signal },
    );
    // A sink failure must not go unseen while the emulator runs.
    sinkRun.catch(() => {});

    const dataset = createDataset({ rows: opts.rows, seed: opts.seed });
    const count = opts.postings === "all" ? dataset.rows : opts.postings;
    const emulated = await stage("emulate", async (p) => {
      const target = new RestProducer({ baseUrl: proxy!.url });
      try {
        const r = await emulate({
          prefix: opts.prefix,
          mode: opts.mode,
          seed: opts.seed,
          count,
          rate: 0,
          batch: 250,
          concurrency: 8,
        }, { source: datasetSource(dataset), target, progress: p, signal });
        if (r.error) throw r.error;
        signal?.throwIfAborted();
        if (r.acknowledged !== r.recordsSent) {
          throw new Error(
            `Cannot go on with the demo: ${
              r.recordsSent - r.acknowledged
            } of ${r.recordsSent} records were not acknowledged by the REST proxy`,
          );
        }
        return r;
      } finally {
        await target.close();
      }
    });

    const { sink, brokerRecords } = await stage("sink", async (p) => {
      // Stop the streaming sink (it lands what it holds), then drain to the end offsets.
      sinkStop.abort();
      const streamed = await sinkRun!;
      sinkRun = undefined;
      sinkProgress.done(`streamed ${sinkLine(streamed)}`);
      const drained = await runSink({
        ...sinkOpts,
        once: true,
        onProgress: (s) => p.update(sinkLine(s), sinkCounts(s)),
      }, { signal });
      signal?.throwIfAborted();
      const records = await endOffsets(kafka, topicNames(opts.prefix));
      const total: SinkSummary = {
        ...drained,
        records: streamed.records + drained.records,
        objects: streamed.objects + drained.objects,
        bytes: streamed.bytes + drained.bytes,
        quarantined: streamed.quarantined + drained.quarantined,
        elapsedSec: streamed.elapsedSec + drained.elapsedSec,
      };
      p.done(`drained: ${sinkLine(total)}; the broker holds ${fmtInt(records)} records`);
      return { sink: total, brokerRecords: records };
    });

    await proxy.close();
    proxy = undefined;

    const out = join(dir, "out");
    const transformed = await stage("transform", async (p) => {
      const r = await transform(
        {
          lake: lake.url,
          prefix: opts.prefix,
          out,
          pipeline: {
            postings: emulated.postingsRead,
            sent: emulated.recordsSent,
            acknowledged: emulated.acknowledged,
            broker: brokerRecords,
            landed: sink.records,
          },
        },
        { progress: sinkTo, signal },
      );
      p.done(
        `${fmtInt(r.records)} records, ${fmtInt(r.duplicates)} duplicates dropped, ${
          fmtInt(r.quarantined)
        } quarantined, eight answers in ${out}`,
      );
      return r;
    });

    return {
      dir,
      lake: lake.url,
      out,
      report: transformed.files.includes("report.html") ? join(out, "report.html") : undefined,
      emulate: emulated,
      sink,
      transform: transformed,
      brokerRecords,
      timings,
      totalSec: (performance.now() - t0) / 1000,
    };
  } finally {
    signal?.removeEventListener("abort", stopSink);
    sinkStop.abort();
    await sinkRun?.catch(() => {});
    await proxy?.close().catch(() => {});
    await broker.close();
  }
}

/** The sum of the end offsets of `topics` (records written, as the log starts at 0). */
async function endOffsets(kafka: ReturnType<typeof createKafka>, topics: string[]) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let sum = 0;
    for (const t of topics) {
      for (const p of await admin.fetchTopicOffsets(t)) sum += Number(p.high) - Number(p.low);
    }
    return sum;
  } finally {
    await admin.disconnect();
  }
}

function sinkLine(s: SinkSummary): string {
  return `${fmtInt(s.records)} records in ${fmtInt(s.objects)} objects, lag ${fmtInt(s.lag)}`;
}

/** The sink's counts for a progress line: landed against landed plus the lag. */
function sinkCounts(s: SinkSummary) {
  return { done: s.records, total: s.records + s.lag, unit: "records" };
}

/** The closing lines: one per stage with its time, then the total. */
export function timingLines(r: Pick<DemoResult, "timings" | "totalSec">): string[] {
  const width = Math.max(...r.timings.map((t) => t.stage.length), 5);
  return [
    ...r.timings.map((t) => `  ${t.stage.padEnd(width)}  ${fmtSec(t.sec).padStart(8)}`),
    `  ${"total".padEnd(width)}  ${fmtSec(r.totalSec).padStart(8)}`,
  ];
}

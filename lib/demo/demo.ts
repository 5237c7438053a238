/**
 * The whole pipeline on one machine, in one process: the embedded broker (or a Kafka the
 * user already runs), the three topics, the local REST proxy (standing where API Gateway
 * and the EC2 proxy stand on AWS), the sink landing the S3 connector's layout in a local
 * lake, the emulator posting through the proxy as the original did, and the transform
 * answering the eight questions.
 *
 * Stages run in order and each is timed; the sink runs during the emulation (as MSK
 * Connect does) and is then drained to the broker's end offsets, so the transform sees
 * every acknowledged record.
 *
 * Outputs are replaced only when the new ones are complete: a fresh run builds its broker
 * logs, lake and results in a staging folder inside `dir` and moves them into place at the
 * end, so a run that fails or is interrupted leaves the previous run's report where it was
 * (a staging folder left by a killed run is removed by the next one). With `keep` the
 * broker logs and lake are reused in place, and the transform replaces the results.
 *
 * On a user's Kafka (`bootstrap`: their own cluster, Redpanda, MSK from inside the VPC)
 * nothing of theirs is deleted or rewound: the topics are created only if missing (an
 * existing one is used as it is), the sink uses a consumer group of its own for this run,
 * starting at the end offsets seen before the emulator sends, and that group is deleted at
 * the end. The lake therefore holds what was written to the topics during the run: this
 * run's postings, plus anything another producer wrote to the same topics meanwhile (use
 * a `prefix` of your own to keep them apart).
 *
 * Folder `lib/demo/`: the stages put together as one local pipeline for `deno task demo`: the one
 * folder that imports the other stages. May import: `lib/broker/`, `lib/source/`, `lib/kafka/`,
 * `lib/ingest/`, `lib/rest_proxy/`, `lib/lake/`, `lib/analytics/`, `lib/aws/`, `lib/shell/`,
 * `lib/deps/`.
 * @module
 */
import { join, resolve } from "node:path";
import { type Broker, startBroker } from "../broker/broker.ts";
import { createDataset, type Dataset } from "../source/dataset.ts";
import type { Admin, Kafka } from "../deps/kafkajs.ts";
import { datasetSource, emulate, type EmulateResult } from "../ingest/emulator.ts";
import {
  checkKafkaReachable,
  createKafka,
  type KafkaClientOptions,
} from "../kafka/kafka_client.ts";
import { FileLake } from "../lake/lake.ts";
import { ALL_POSTINGS } from "../ingest/emulate_job.ts";
import { redactingSink } from "../shell/log.ts";
import { removeStaleStaging, Staging } from "../shell/staging.ts";
import { isRetriable } from "../shell/errors.ts";
import { retry } from "../shell/retry.ts";
import {
  fmtInt,
  fmtSec,
  Progress,
  type ProgressCounts,
  type ProgressSink,
} from "../shell/progress.ts";
import { RestProducer } from "../ingest/rest_client.ts";
import { type RestProxy, startRestProxy } from "../rest_proxy/rest_proxy.ts";
import { runSink, type SinkOptions, type SinkSummary } from "../lake/sink.ts";
import { manageTopics, topicNames } from "../kafka/topics.ts";
import { transform, type TransformResult } from "../analytics/transform.ts";
import { type DemoAuth, startSecureBroker } from "./secure_broker.ts";

/** How the demo runs. */
export interface DemoOptions {
  /** Where the broker's logs, the lake and the results go (`<dir>/kafka|lake|out`). */
  dir: string;
  /** Postings to emulate; `all` = as many as the dataset has rows. */
  /** Postings to emulate; ALL_POSTINGS: one per dataset row. */
  postings: number;
  mode: "random" | "sequential";
  /** Rows of the built-in dataset. */
  rows: number;
  /** Dataset and key-draw seed. */
  seed: number;
  prefix: string;
  /** Partitions of each topic (topics the demo creates). */
  partitions: number;
  /** Records per lake object (the connector's flush.size). */
  flushSize: number;
  /** Keep the previous run's broker data and lake instead of starting fresh. */
  keep: boolean;
  /** A Kafka to run on instead of the embedded broker (see the module header). */
  kafka?: KafkaClientOptions;
  /**
   * The embedded broker's security (secure_broker.ts): a SASL_SSL listener taking SCRAM or
   * MSK IAM with the stacks' roles, the demo's clients logging in. Default: plaintext.
   */
  auth?: DemoAuth;
  /** The region MSK IAM tokens are signed for (with `auth` aws-iam; default us-east-1). */
  region?: string;
  /**
   * On a user's Kafka, how long the streaming sink may take to join its consumer group
   * before the demo gives up. Default GROUP_TIMEOUT_MS.
   */
  groupTimeoutMs?: number;
}

/** How long the sink may take to join its consumer group on a user's Kafka: 60 s. */
export const GROUP_TIMEOUT_MS = 60_000;

/** Postings the demo emulates unless told: enough to fill every answer, quick to run. */
export const DEFAULT_DEMO_POSTINGS = 5000;
/** Where the demo keeps its broker, lake and results unless told. */
export const DEFAULT_DEMO_DIR = ".pinpipe/demo";

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
  /** `Kafka at host:port` or `the embedded broker`. */
  kafka: string;
  emulate: EmulateResult;
  sink: SinkSummary;
  transform: TransformResult;
  /** Records this run added to the three topics (end offsets after, less before). */
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

/** The demo's subfolders, replaced together when a fresh run completes. */
export const DEMO_PARTS = ["kafka", "lake", "out"] as const;

/** Staging folders inside the demo dir: `.run-<pid>-<8 hex>` (lib/shell/staging.ts). */
const STAGING = ".run-";

/** Runs the whole local pipeline; see the module header. */
export async function runDemo(opts: DemoOptions, deps: DemoDeps = {}): Promise<DemoResult> {
  const { signal } = deps;
  const dir = resolve(opts.dir);
  const sinkTo = redactingSink(deps.progress);
  const timings: StageTiming[] = [];
  const t0 = performance.now();
  const stage = async <T>(
    name: string,
    fn: (p: Progress) => Promise<T>,
    make = (label: string, sink: ProgressSink) => new Progress(label, { sink }),
  ): Promise<T> => {
    signal?.throwIfAborted();
    const p = make(name, sinkTo);
    const started = performance.now();
    const result = await fn(p);
    timings.push({ stage: name, sec: (performance.now() - started) / 1000 });
    return result;
  };
  const external = opts.kafka;
  // A fresh run works in a staging folder; --keep works in place.
  const staging = await stage("prepare", async (p) => {
    const staging = opts.keep ? undefined : await Staging.create(dir, STAGING);
    if (!staging) await Deno.mkdir(dir, { recursive: true });
    const stale = staging?.removedStale ?? await removeStaleStaging(dir, STAGING);
    p.done(
      `${opts.keep ? "keeping" : "fresh"} ${dir}${
        stale ? ` (removed ${stale} unfinished run${stale === 1 ? "" : "s"})` : ""
      }`,
    );
    return staging;
  });

  const work = staging?.path ?? dir;
  let broker: Broker | undefined;
  try {
    const { kafka, where, parts } = await stage("broker", async (p): Promise<
      { kafka: Kafka; where: string; parts?: Ctx["parts"] }
    > => {
      if (external) {
        await checkKafkaReachable(external);
        p.done(`using Kafka at ${external.bootstrap} (the embedded broker is not started)`);
        return {
          kafka: createKafka({ ...external, clientId: "pinpipe-demo" }),
          where: `Kafka at ${external.bootstrap}`,
        };
      }
      if (opts.auth) {
        const s = await startSecureBroker({
          auth: opts.auth,
          dataDir: join(work, "kafka"),
          prefix: opts.prefix,
          region: opts.region ?? "us-east-1",
        });
        broker = s.broker;
        p.done(`embedded broker on ${broker.bootstrap} (${s.note}), logs in ${join(dir, "kafka")}`);
        return {
          kafka: s.admin,
          where: "the embedded broker",
          parts: { proxy: s.proxy, sink: s.sink, sinkGroup: s.sinkGroup },
        };
      }
      broker = await startBroker({ port: 0, dataDir: join(work, "kafka"), fsync: "interval" });
      p.done(`embedded broker on ${broker.bootstrap}, logs in ${join(dir, "kafka")}`);
      return {
        kafka: createKafka({ bootstrap: broker.bootstrap, clientId: "pinpipe-demo" }),
        where: "the embedded broker",
      };
    });
    const result = await pipeline(opts, { kafka, where, parts, work, dir, stage, sinkTo, signal });
    signal?.throwIfAborted();
    if (broker) {
      await broker.close();
      broker = undefined;
    }
    if (staging) {
      await stage("replace", async (p) => {
        await staging.swapInto(dir, external ? ["lake", "out"] : DEMO_PARTS);
        p.done(`the new outputs replaced the previous ones in ${dir}`);
      });
    }
    return {
      ...result,
      dir,
      timings,
      totalSec: (performance.now() - t0) / 1000,
    };
  } finally {
    await broker?.close().catch(() => {});
    // A run that did not reach its swap leaves no staging folder (after the swap: nothing).
    await staging?.discard().catch(() => {});
  }
}

/** What the stages after the broker share. */
interface Ctx {
  /** The topic admin's client, and every part's unless `parts` says otherwise. */
  kafka: Kafka;
  where: string;
  /** On a secure embedded broker: the REST proxy's and the sink's own clients and group. */
  parts?: { proxy: Kafka; sink: Kafka; sinkGroup?: string };
  /** Where this run writes (the staging folder, or `dir` with --keep). */
  work: string;
  dir: string;
  stage: <T>(
    name: string,
    fn: (p: Progress) => Promise<T>,
    make?: (label: string, sink: ProgressSink) => Progress,
  ) => Promise<T>;
  sinkTo: ProgressSink;
  signal?: AbortSignal;
}

/** Topics, REST proxy, sink, emulator, drain and transform, on `ctx.kafka`. */
async function pipeline(
  opts: DemoOptions,
  ctx: Ctx,
): Promise<Omit<DemoResult, "dir" | "timings" | "totalSec">> {
  const { kafka, where, parts, work, dir, stage, sinkTo, signal } = ctx;
  const external = opts.kafka !== undefined;
  const topics = topicNames(opts.prefix);
  const sinkStop = new AbortController();
  const stopSink = () => sinkStop.abort();
  signal?.addEventListener("abort", stopSink, { once: true });
  const admin = kafka.admin();
  let proxy: RestProxy | undefined;
  let sinkRun: Promise<SinkSummary> | undefined;
  // On a user's Kafka: a group of this run's own, deleted at the end.
  const groupId = external
    ? `${opts.prefix}-demo-sink-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`
    : parts?.sinkGroup ?? `${opts.prefix}-demo-sink`;
  try {
    await admin.connect();
    await stage("topics", (p) => createTopics(opts, admin, where, p));
    // What the topics held before this run: the sink starts there on a user's Kafka, and
    // the records this run added are counted from there.
    const before = await endOffsets(admin, topics);

    proxy = await stage("rest-proxy", async (p) => {
      const px = await startRestProxy({ kafka: parts?.proxy ?? kafka, port: 0, basePath: "/demo" });
      p.done(`REST proxy v2 at ${px.url} (the API Gateway stage on AWS)`);
      return px;
    });

    const lake = new FileLake(join(work, "lake"), `file://${join(dir, "lake")}`);
    const sinkOpts: SinkOptions = {
      kafka: parts?.sink ?? kafka,
      kafkaName: where,
      lake,
      topicsRegex: new RegExp(`^${opts.prefix.replaceAll(".", "\\.")}\\..*$`),
      groupId,
      flushSize: opts.flushSize,
      rotateIntervalMs: 1000,
      sessionTimeoutMs: 10_000,
      startOffsets: external ? before : undefined,
    };
    // The streaming sink draws no line of its own: two live lines would overwrite each
    // other on one terminal row. What it has landed joins the emulator's line instead.
    let emulateLine: EmulateLine | undefined;
    // The sink reports progress only once it consumes: past its start on the group coordinator.
    let sinkStarted = false;
    sinkRun = runSink(
      {
        ...sinkOpts,
        onProgress: (s) => {
          sinkStarted = true;
          emulateLine?.sinkLanded(s.records);
        },
      },
      { signal: sinkStop.signal },
    );
    // A sink failure must not go unseen while the emulator runs.
    sinkRun.catch(() => {});

    const dataset = createDataset({ rows: opts.rows, seed: opts.seed });
    const url = proxy.url;
    const emulated = await stage(
      "emulate",
      (p) => emulateThroughProxy(opts, dataset, url, p, signal),
      (label, sink) => (emulateLine = new EmulateLine(label, { sink })),
    );
    emulateLine = undefined;

    const { sink, brokerRecords } = await stage("sink", async (p) => {
      // On a user's Kafka a fresh group coordinator may still be loading when the emulator is
      // done: stopping the sink in its start would end it with that start's error. Wait for it.
      if (external && !sinkStarted) {
        await sinkJoined(sinkRun!, () => sinkStarted, {
          groupId,
          where,
          ms: opts.groupTimeoutMs ?? GROUP_TIMEOUT_MS,
          signal,
        });
      }
      // Stop the streaming sink (it lands what it holds), then drain to the end offsets.
      sinkStop.abort(new Error("The demo stopped the streaming sink: the emulator is done"));
      const streamed = await sinkRun!;
      sinkRun = undefined;
      const drained = await drainSink(sinkOpts, p, signal);
      const records = addedRecords(before, await endOffsets(admin, topics));
      const total = sinkTotal(streamed, drained);
      p.done(
        `${sinkLine(total)} (${fmtInt(streamed.records)} while the emulator sent, ${
          fmtInt(drained.records)
        } drained after); this run added ${fmtInt(records)} records to ${where}`,
      );
      return { sink: total, brokerRecords: records };
    });

    await proxy.close();
    proxy = undefined;

    // The transform prints its own closing line (the stage adds none: one summary).
    const transformed = await stage("transform", () =>
      transform(
        {
          lake: lake.url,
          prefix: opts.prefix,
          out: join(work, "out"),
          pipeline: {
            postings: emulated.postingsRead,
            sent: emulated.recordsSent,
            acknowledged: emulated.acknowledged,
            broker: brokerRecords,
            landed: sink.records,
          },
        },
        { lake, progress: sinkTo, signal },
      ));

    return {
      lake: lake.url,
      out: join(dir, "out"),
      report: transformed.files.includes("report.html")
        ? join(dir, "out", "report.html")
        : undefined,
      kafka: where,
      emulate: emulated,
      sink,
      transform: transformed,
      brokerRecords,
    };
  } finally {
    signal?.removeEventListener("abort", stopSink);
    sinkStop.abort();
    await sinkRun?.catch(() => {});
    await proxy?.close().catch(() => {});
    if (external) await deleteGroup(admin, groupId, sinkTo);
    await admin.disconnect().catch(() => {});
  }
}

/** Creates the topics that are missing (an existing one is used as it is). */
async function createTopics(
  opts: DemoOptions,
  admin: Admin,
  where: string,
  p: Progress,
): Promise<void> {
  const r = await manageTopics({
    prefix: opts.prefix,
    partitions: opts.partitions,
    replication: -1,
    delete: false,
    yes: false,
    dryRun: false,
  }, { admin, where });
  p.done(
    r.topics.map((t) => `${t.topic} ${t.action}${t.note ? ` (${t.note})` : ""}`).join(", "),
  );
}

/** Posts the dataset's postings through the REST proxy at `url`; all must be acknowledged. */
async function emulateThroughProxy(
  opts: DemoOptions,
  dataset: Dataset,
  url: string,
  p: Progress,
  signal?: AbortSignal,
): Promise<EmulateResult> {
  const count = opts.postings === ALL_POSTINGS ? dataset.rows : opts.postings;
  const target = new RestProducer({ baseUrl: url });
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
}

/** Runs the sink once more, to the end offsets, after the streaming one stopped. */
async function drainSink(
  sinkOpts: SinkOptions,
  p: Progress,
  signal?: AbortSignal,
): Promise<SinkSummary> {
  const drained = await runSink({
    ...sinkOpts,
    once: true,
    onProgress: (s) => p.update(sinkLine(s), sinkCounts(s)),
  }, { signal });
  signal?.throwIfAborted();
  return drained;
}

/** The records added to each partition between two sets of end offsets, summed. */
function addedRecords(before: Map<string, number>, after: Map<string, number>): number {
  let records = 0;
  for (const [tp, high] of after) records += high - (before.get(tp) ?? 0);
  return records;
}

/** The streaming sink's and the drain's figures as one. */
function sinkTotal(streamed: SinkSummary, drained: SinkSummary): SinkSummary {
  return {
    ...drained,
    records: streamed.records + drained.records,
    objects: streamed.objects + drained.objects,
    bytes: streamed.bytes + drained.bytes,
    quarantined: streamed.quarantined + drained.quarantined,
    elapsedSec: streamed.elapsedSec + drained.elapsedSec,
  };
}

/**
 * Waits until the streaming sink consumes (`started()`), ends by itself, or `ms` pass; the
 * last is an error naming the group, the Kafka and what lengthens the wait.
 */
async function sinkJoined(
  run: Promise<unknown>,
  started: () => boolean,
  o: { groupId: string; where: string; ms: number; signal?: AbortSignal },
): Promise<void> {
  let ended = false;
  run.then(() => (ended = true), () => (ended = true));
  const deadline = performance.now() + o.ms;
  while (!started() && !ended) {
    o.signal?.throwIfAborted();
    if (performance.now() >= deadline) {
      throw new Error(
        `Cannot go on with the demo: the sink did not join its consumer group "${o.groupId}" on ${o.where} within ${
          o.ms / 1000
        } s (--group-timeout or PINPIPE_DEMO_GROUP_TIMEOUT gives it longer)`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** How long the topics' offsets may stay unreadable (leaders still moving): 30 s. */
const OFFSETS_WAIT_MS = 30_000;

/**
 * The end offset of every partition of `topics`, by `topic:partition`. On a cluster that
 * just created the topics their leaders may still be settling (NOT_LEADER_FOR_PARTITION):
 * such answers are retried for OFFSETS_WAIT_MS, then the error says what was waited for.
 */
async function endOffsets(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const started = performance.now();
  try {
    return await retry(async () => {
      const out = new Map<string, number>();
      for (const t of topics) {
        for (const p of await admin.fetchTopicOffsets(t)) {
          out.set(`${t}:${p.partition}`, Number(p.high));
        }
      }
      return out;
    }, {
      maxAttempts: Number.MAX_SAFE_INTEGER,
      baseMs: 100,
      maxMs: 1000,
      retriable: (err) => isRetriable(err) && performance.now() - started < OFFSETS_WAIT_MS,
    });
  } catch (err) {
    if (!isRetriable(err)) throw err;
    throw new Error(
      `Cannot read the end offsets of ${topics.join(", ")}: their leaders did not settle within ${
        OFFSETS_WAIT_MS / 1000
      } s`,
      { cause: err },
    );
  }
}

/** Deletes the run's own consumer group on a user's Kafka; a failure is only reported. */
async function deleteGroup(admin: Admin, groupId: string, sink: ProgressSink): Promise<void> {
  try {
    await admin.deleteGroups([groupId]);
  } catch (err) {
    const code = (err as { groups?: { errorCode?: number }[] }).groups?.[0]?.errorCode;
    // 69 GROUP_ID_NOT_FOUND: the run ended before the group committed anything.
    if (code === 69) return;
    sink.write(
      `demo: could not delete the consumer group "${groupId}" (${
        (err as Error).message
      }); it holds no data and can be deleted with kafka-consumer-groups --delete\n`,
    );
  }
}

/** The emulate stage's progress: its own line, and what the streaming sink has landed. */
class EmulateLine extends Progress {
  private landed?: number;

  /** The sink has landed `records` so far (shown with the emulator's next line). */
  sinkLanded(records: number): void {
    this.landed = records;
  }

  override update(text: string, counts?: boolean | ProgressCounts): void {
    const landed = this.landed === undefined ? "" : ` · sink: ${fmtInt(this.landed)} landed`;
    super.update(`${text}${landed}`, counts);
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

#!/usr/bin/env -S deno run -A --v8-flags=--max-semi-space-size=8
/**
 * `deno task sink`: the local S3 sink. Consumes every topic matching `--topics-regex` in a
 * consumer group and writes the Confluent S3 sink layout
 * (`topics/<topic>/partition=<p>/<topic>+<p>+<startOffset>.json`, one JSON value per line)
 * to a local directory or to S3 (or an S3-compatible server), exactly once: killed at any
 * moment and restarted, every record is in the lake once (see lib/lake/sink.ts for how).
 *
 * Run: `deno task sink --bootstrap 127.0.0.1:9092 --lake file:///tmp/lake --once`, or from a
 * URL: `deno run -A https://…/tasks/sink.ts --help`. Changes: objects in the lake (replays
 * overwrite the same keys with the same records) and the group's committed offsets.
 * A re-run is safe: it resumes from the committed offsets. Exit codes: 0 ok, 1 failure (the
 * lake failed for longer than --lake-retry-timeout, or for good: the error names the offset
 * each partition resumes at), 2 bad options, 130 interrupted (buffered records are landed and
 * committed first; what a failing lake cannot take within a few seconds is left for the next
 * run, and logged).
 * @module
 */
import { Options, parseFlags, runMain } from "../lib/shell/cli.ts";
import type { FlagSpec } from "../lib/shell/cli.ts";
import { loadConfig } from "../lib/shell/config.ts";
import {
  checkKafkaReachable,
  createKafka,
  KAFKA_FLAGS,
  KAFKA_HELP,
  readKafkaOptions,
} from "../lib/kafka/kafka_client.ts";
import type { KafkaClientOptions } from "../lib/kafka/kafka_client.ts";
import { openLake, readLakeOptions } from "../lib/lake/lake.ts";
import { taskProgress } from "../lib/shell/log.ts";
import { fmtBytes, fmtInt, fmtRate, fmtSec } from "../lib/shell/progress.ts";
import {
  DEFAULT_ASSIGN_TIMEOUT_MS,
  DEFAULT_LAKE_RETRY_TIMEOUT_MS,
  runSink,
  topicsRegex,
} from "../lib/lake/sink.ts";
import type { SinkSummary } from "../lib/lake/sink.ts";

export const HELP = `Land Kafka topics in the lake in the Confluent S3 sink layout, exactly once.

Usage: deno task sink [--lake file:///path | --lake s3://bucket/prefix] [flags]

${KAFKA_HELP}
  --lake URL                file:///path, a path, or s3://bucket/prefix (PINPIPE_LAKE; default
                            s3://<config bucket> when deployed, else .pinpipe/lake)
  --s3-endpoint URL         S3-compatible endpoint, path-style (PINPIPE_S3_ENDPOINT; default AWS)
  --region R                S3 region (AWS_REGION, config region; default us-east-1)
  --prefix P                topic prefix (PINPIPE_PREFIX, config prefix; default pinpipe)
  --topics-regex RE         topics to land, anchored; new matching topics are picked up within
                            5 s (PINPIPE_TOPICS_REGEX; default <prefix>\\..*)
  --group G                 consumer group (PINPIPE_SINK_GROUP; default <prefix>-sink)
  --flush-size N            records per object (PINPIPE_FLUSH_SIZE; default 1000; the original used 1)
  --rotate-interval DUR     land a partition's tail after this long without reaching flush
                            size: 10s, 500ms; 0 = never (PINPIPE_ROTATE_INTERVAL; default 10s)
  --session-timeout DUR     how soon the group gives a dead sink's partitions to a new one
                            (PINPIPE_SINK_SESSION_TIMEOUT; default 30s)
  --lake-retry-timeout DUR  retry a failing lake (refused, reset, timeouts, 5xx, SlowDown) this
                            long, then exit 1 (PINPIPE_LAKE_RETRY_TIMEOUT; default 5m; 0 = never)
  --assign-timeout DUR      wait this long to join the group (--once: to get a partition)
                            (PINPIPE_SINK_ASSIGN_TIMEOUT; default 60s)
  --once                    drain to the end offsets seen at start, land everything, exit
  --from-beginning          land every record from the start of each partition's log, whatever
                            the group committed before (needed for a new lake with an old group;
                            the group must have no running member)
  --json                    print the summary as JSON
  --help                    this text

Renamed (the old names still work, with a warning, in this release only):
  --rotate-interval-ms N    is now --rotate-interval DUR (PINPIPE_ROTATE_INTERVAL_MS is now
                            PINPIPE_ROTATE_INTERVAL), as for deno task connector
`;

const FLAGS: Record<string, FlagSpec> = {
  ...KAFKA_FLAGS,
  lake: { type: "string" },
  "s3-endpoint": { type: "string" },
  region: { type: "string" },
  prefix: { type: "string" },
  "topics-regex": { type: "string" },
  group: { type: "string" },
  "flush-size": { type: "string" },
  "rotate-interval": { type: "string" },
  "rotate-interval-ms": { type: "string" }, // renamed --rotate-interval; read for one release
  "session-timeout": { type: "string" },
  "lake-retry-timeout": { type: "string" },
  "assign-timeout": { type: "string" },
  once: { type: "boolean" },
  "from-beginning": { type: "boolean" },
  json: { type: "boolean" },
};

/** The sink task's options. */
export interface SinkTaskOptions {
  kafka: KafkaClientOptions;
  lake: string;
  s3Endpoint?: string;
  region: string;
  topicsRegex: string;
  group: string;
  flushSize: number;
  rotateIntervalMs: number;
  sessionTimeoutMs: number;
  lakeRetryTimeoutMs: number;
  assignTimeoutMs: number;
  once: boolean;
  fromBeginning: boolean;
  json: boolean;
}

/** Reads flags, environment and config file; every problem is reported together. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
  cfg: Record<string, unknown> = {},
): SinkTaskOptions {
  const o = new Options(parseFlags(args, FLAGS).values, env, cfg);
  const kafka = readKafkaOptions(o);
  kafka.clientId = "pinpipe-sink";
  const prefix = o.prefix();
  const { lake, s3 } = readLakeOptions(o);
  const regex = o.string("topics-regex", {
    env: "PINPIPE_TOPICS_REGEX",
    default: `${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\..*`,
  })!;
  try {
    topicsRegex(regex);
  } catch (err) {
    o.problem(`Invalid --topics-regex "${regex}": ${(err as Error).message}`);
  }
  const opts: SinkTaskOptions = {
    kafka,
    lake,
    s3Endpoint: s3.endpoint,
    region: s3.region!,
    topicsRegex: regex,
    group: o.string("group", { env: "PINPIPE_SINK_GROUP", default: `${prefix}-sink` })!,
    flushSize: o.int("flush-size", { env: "PINPIPE_FLUSH_SIZE", default: 1000, min: 1 }),
    rotateIntervalMs: readRotateInterval(o),
    sessionTimeoutMs: o.duration("session-timeout", {
      env: "PINPIPE_SINK_SESSION_TIMEOUT",
      default: 30_000,
      min: 1000,
    }),
    lakeRetryTimeoutMs: o.duration("lake-retry-timeout", {
      env: "PINPIPE_LAKE_RETRY_TIMEOUT",
      default: DEFAULT_LAKE_RETRY_TIMEOUT_MS,
      min: 0,
    }),
    assignTimeoutMs: o.duration("assign-timeout", {
      env: "PINPIPE_SINK_ASSIGN_TIMEOUT",
      default: DEFAULT_ASSIGN_TIMEOUT_MS,
      min: 1000,
    }),
    once: o.bool("once"),
    fromBeginning: o.bool("from-beginning"),
    json: o.bool("json"),
  };
  o.done();
  return opts;
}

/**
 * `--rotate-interval DUR` (PINPIPE_ROTATE_INTERVAL), the connector's name for it; before,
 * `--rotate-interval-ms N` (PINPIPE_ROTATE_INTERVAL_MS), in milliseconds: still read, with a
 * warning, for one release.
 */
function readRotateInterval(o: Options): number {
  const src = { env: "PINPIPE_ROTATE_INTERVAL", default: 10_000, min: 0 };
  if (o.raw("rotate-interval", src)) return o.duration("rotate-interval", src);
  const old = o.raw("rotate-interval-ms", { env: "PINPIPE_ROTATE_INTERVAL_MS" });
  if (!old) return src.default;
  const why = "a duration, as for deno task connector";
  if (old.from === "--rotate-interval-ms") o.renamed(old.from, "--rotate-interval", why);
  else o.renamed(old.from, "PINPIPE_ROTATE_INTERVAL", why);
  return o.int("rotate-interval-ms", {
    env: "PINPIPE_ROTATE_INTERVAL_MS",
    default: 10_000,
    min: 0,
  });
}

/** One line: records, objects, bytes, quarantined, lag, rate. */
export function describeSummary(s: SinkSummary): string {
  return `${fmtInt(s.records)} records in ${fmtInt(s.objects)} objects (${fmtBytes(s.bytes)}), ${
    fmtInt(s.quarantined)
  } quarantined, lag ${fmtInt(s.lag)}, ${fmtRate(s.records, s.elapsedSec)} over ${
    fmtSec(s.elapsedSec)
  }`;
}

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    const opts = parseOptions(args, env, await loadConfig(env));
    const lake = openLake(opts.lake, { endpoint: opts.s3Endpoint, region: opts.region });
    const progress = taskProgress("sink", { resultOnStdout: true });
    progress.log(
      `sink: ${opts.topicsRegex} in group ${opts.group} -> ${lake.url} (flush size ${opts.flushSize})`,
    );
    await checkKafkaReachable(opts.kafka);
    const summary = await runSink({
      kafka: createKafka(opts.kafka),
      kafkaName: `Kafka at "${opts.kafka.bootstrap}" (${opts.kafka.bootstrapFrom})`,
      fromBeginning: opts.fromBeginning,
      lake,
      topicsRegex: topicsRegex(opts.topicsRegex),
      groupId: opts.group,
      flushSize: opts.flushSize,
      rotateIntervalMs: opts.rotateIntervalMs,
      sessionTimeoutMs: opts.sessionTimeoutMs,
      lakeRetryTimeoutMs: opts.lakeRetryTimeoutMs,
      assignTimeoutMs: opts.assignTimeoutMs,
      once: opts.once,
      // The bar shows how much of what the topics hold has landed (records against the lag).
      onProgress: (s) =>
        progress.update(
          `${fmtInt(s.records)} records in ${fmtInt(s.objects)} objects, ${
            fmtInt(s.quarantined)
          } quarantined, lag ${fmtInt(s.lag)}${
            s.lakeDownSec ? `, the lake unreachable for ${fmtSec(s.lakeDownSec)}` : ""
          }`,
          {
            done: s.records,
            total: s.records + s.lag,
            unit: "records",
          },
        ),
      log: (l) => progress.log(l),
    }, { signal });
    progress.done(describeSummary(summary));
    console.log(
      opts.json ? JSON.stringify({ lake: lake.url, ...summary }) : describeSummary(summary),
    );
    return signal.aborted ? 130 : 0;
  });
}

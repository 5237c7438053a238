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
import { runMain } from "../lib/shell/cli.ts";
import { type FlagTable, helpText, jsonFlag, PREFIX_FLAG, readFlags } from "../lib/shell/flags.ts";
import { loadConfig } from "../lib/shell/config.ts";
import {
  checkKafkaReachable,
  createKafka,
  KAFKA_CLIENT_FLAGS,
  kafkaClientOptions,
} from "../lib/kafka/kafka_client.ts";
import type { KafkaClientOptions } from "../lib/kafka/kafka_client.ts";
import { LAKE_FLAGS, lakeS3Options, openLake, type S3Options } from "../lib/lake/lake.ts";
import { taskProgress } from "../lib/shell/log.ts";
import { fmtBytes, fmtInt, fmtRate, fmtSec } from "../lib/shell/progress.ts";
import {
  DEFAULT_ASSIGN_TIMEOUT_MS,
  DEFAULT_FLUSH_SIZE,
  DEFAULT_LAKE_RETRY_TIMEOUT_MS,
  DEFAULT_ROTATE_INTERVAL_MS,
  DEFAULT_SESSION_TIMEOUT_MS,
  runSink,
  topicsRegex,
} from "../lib/lake/sink.ts";
import type { SinkSummary } from "../lib/lake/sink.ts";

/** Why `source` is not a regular expression, or undefined. */
function regexProblem(source: string): string | undefined {
  try {
    topicsRegex(source);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The sink's flags: parser, --help and options all come from this table. */
export const FLAGS = {
  ...KAFKA_CLIENT_FLAGS,
  ...LAKE_FLAGS,
  lake: { ...LAKE_FLAGS.lake, section: "The lake" },
  region: { ...LAKE_FLAGS.region, help: "the AWS region (S3, and --auth aws-iam)" },
  prefix: { ...PREFIX_FLAG, section: "What to land" },
  "topics-regex": {
    type: "string",
    arg: "RE",
    help: "topics to land, anchored; new matching topics are picked up within 5 s",
    env: "PINPIPE_TOPICS_REGEX",
    defaultText: "<prefix>\\..*",
    check: regexProblem,
  },
  group: {
    type: "string",
    help: "consumer group; its committed offsets are the sink's progress",
    env: "PINPIPE_SINK_GROUP",
    defaultText: "<prefix>-sink",
  },
  "flush-size": {
    type: "int",
    help: "records per object (the original used 1)",
    env: "PINPIPE_FLUSH_SIZE",
    default: DEFAULT_FLUSH_SIZE,
    min: 1,
  },
  "rotate-interval": {
    type: "duration",
    help: "land a partition's tail after this long without reaching flush size; 0 = never",
    env: "PINPIPE_ROTATE_INTERVAL",
    default: DEFAULT_ROTATE_INTERVAL_MS,
  },
  once: {
    type: "boolean",
    help: "drain to the end offsets seen at start, land everything, exit",
    env: "PINPIPE_SINK_ONCE",
  },
  "from-beginning": {
    type: "boolean",
    help: "land every record from the start of each partition's log, whatever the group " +
      "committed before (needed for a new lake with an old group; the group must have no " +
      "running member)",
    env: "PINPIPE_SINK_FROM_BEGINNING",
  },
  "session-timeout": {
    type: "duration",
    help: "how soon the group gives a dead sink's partitions to a new one",
    env: "PINPIPE_SINK_SESSION_TIMEOUT",
    default: DEFAULT_SESSION_TIMEOUT_MS,
    min: 1000,
    section: "Waits",
  },
  "lake-retry-timeout": {
    type: "duration",
    help: "retry a failing lake (refused, reset, timeouts, 5xx, SlowDown) this long, then " +
      "exit 1; 0 = never retry",
    env: "PINPIPE_LAKE_RETRY_TIMEOUT",
    default: DEFAULT_LAKE_RETRY_TIMEOUT_MS,
  },
  "assign-timeout": {
    type: "duration",
    help: "wait this long to join the group (--once: to get a partition)",
    env: "PINPIPE_SINK_ASSIGN_TIMEOUT",
    default: DEFAULT_ASSIGN_TIMEOUT_MS,
    min: 1000,
  },
  json: { ...jsonFlag("the summary"), section: "Output" },
} as const satisfies FlagTable;

export const HELP = helpText({
  about: "Land Kafka topics in the lake in the Confluent S3 sink layout, exactly once.",
  usage: "deno task sink [--lake file:///path | --lake s3://bucket/prefix] [flags]",
  flags: FLAGS,
});

/** The sink task's options. */
export interface SinkTaskOptions {
  kafka: KafkaClientOptions;
  lake: string;
  s3: S3Options;
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

/** Names retired in the last release, refused with the name to use now. */
export const RETIRED = {
  "--rotate-interval-ms": "--rotate-interval DUR (a duration such as 10s)",
  PINPIPE_ROTATE_INTERVAL_MS: "PINPIPE_ROTATE_INTERVAL (a duration such as 10s)",
};

/** Reads flags, environment and config file; every problem is reported together. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
  cfg: Record<string, unknown> = {},
): SinkTaskOptions {
  const p = readFlags(FLAGS, args, env, cfg, {
    retired: RETIRED,
  });
  const kafka = kafkaClientOptions(p, { clientId: "pinpipe-sink" });
  p.done();
  const v = p.values;
  return {
    kafka,
    lake: v.lake,
    s3: lakeS3Options(v),
    topicsRegex: v.topicsRegex ?? `${v.prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\..*`,
    group: v.group ?? `${v.prefix}-sink`,
    flushSize: v.flushSize,
    rotateIntervalMs: v.rotateInterval,
    sessionTimeoutMs: v.sessionTimeout,
    lakeRetryTimeoutMs: v.lakeRetryTimeout,
    assignTimeoutMs: v.assignTimeout,
    once: v.once,
    fromBeginning: v.fromBeginning,
    json: v.json,
  };
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
    const lake = openLake(opts.lake, opts.s3);
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

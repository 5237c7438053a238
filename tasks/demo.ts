#!/usr/bin/env -S deno run -A --v8-flags=--max-semi-space-size=8
/**
 * `deno task demo`: the whole pipeline on this machine with nothing but Deno. Starts the
 * embedded Kafka broker, creates the topics, starts the local REST proxy and the sink,
 * emulates postings through the proxy as the original did through API Gateway, waits until
 * the sink has landed every record in the lake (the S3 connector's layout, on disk), runs
 * the transform, prints the eight answers and the path of `report.html`.
 *
 * Run: `deno task demo`, `./tasks/demo.ts --postings all --mode sequential`, or from a URL:
 * `deno run -A https://…/tasks/demo.ts`. `--bootstrap HOST:PORT` runs it on a Kafka you
 * already have instead of the embedded broker (see lib/demo/demo.ts for what it does there).
 * Changes: only `<dir>/kafka`, `<dir>/lake` and `<dir>/out` (default dir `.pinpipe/demo`),
 * replaced by the new run's only once it is complete (with `--keep` they are reused); on a
 * user's Kafka, records in the three topics (created if missing, never deleted). A re-run
 * is safe.
 * Exit codes: 0 ok, 1 failure, 2 bad options, 130 interrupted (everything is stopped
 * cleanly: the sink lands what it holds, the broker closes its logs, and the previous
 * run's outputs stay in place).
 * @module
 */
import { runMain } from "../lib/shell/cli.ts";
import { type FlagTable, helpText, jsonFlag, PREFIX_FLAG, readFlags } from "../lib/shell/flags.ts";
import {
  BOOTSTRAP_FLAG,
  KAFKA_CLIENT_FLAGS,
  kafkaClientOptions,
} from "../lib/kafka/kafka_client.ts";
import { PARTITIONS_FLAG } from "../lib/kafka/topics.ts";
import { ROWS_FLAG, SEED_FLAG } from "../lib/source/dataset.ts";
import { MODE_FLAG, POSTINGS_FLAG } from "../lib/ingest/emulate_job.ts";
import { DEFAULT_FLUSH_SIZE } from "../lib/lake/sink.ts";
import {
  DEFAULT_DEMO_DIR,
  DEFAULT_DEMO_POSTINGS,
  type DemoOptions,
  type DemoResult,
  GROUP_TIMEOUT_MS,
  runDemo,
  timingLines,
} from "../lib/demo/demo.ts";
import { fmtInt } from "../lib/shell/progress.ts";
import { formatAnswers, SHOW_FLAG } from "../lib/analytics/questions.ts";

/** The demo's flags: parser, --help and options all come from this table. */
export const FLAGS = {
  postings: { ...POSTINGS_FLAG, default: DEFAULT_DEMO_POSTINGS, min: 1 },
  mode: MODE_FLAG,
  rows: ROWS_FLAG,
  seed: SEED_FLAG,
  prefix: PREFIX_FLAG,
  partitions: PARTITIONS_FLAG,
  "flush-size": {
    type: "int",
    help: "records per lake object, the connector's flush.size (the original used 1)",
    env: "PINPIPE_FLUSH_SIZE",
    default: DEFAULT_FLUSH_SIZE,
    min: 1,
  },
  dir: {
    type: "string",
    arg: "DIR",
    help: "where the broker logs, lake and results go",
    env: "PINPIPE_DEMO_DIR",
    default: DEFAULT_DEMO_DIR,
  },
  keep: {
    type: "boolean",
    help: "keep the previous run's broker data and lake (default: start fresh; the previous " +
      "outputs are replaced only once the new run is complete)",
    env: "PINPIPE_DEMO_KEEP",
  },
  show: SHOW_FLAG,
  json: jsonFlag("the run's figures and the answers"),
  ...KAFKA_CLIENT_FLAGS,
  bootstrap: {
    ...BOOTSTRAP_FLAG,
    env: undefined,
    config: undefined,
    noEnv: "PINPIPE_BOOTSTRAP is not read, so a shell set up for AWS still runs the demo locally",
    help: "run on this Kafka instead of the embedded broker: your own Kafka, Redpanda, or MSK " +
      "from inside its VPC. The topics are created if missing and never deleted; the sink " +
      "uses a consumer group of its own (deleted at the end) starting at the topics' end " +
      "offsets, so the lake holds what this run wrote (use your own --prefix to keep other " +
      "producers out). The flags below go with it",
    section: "On your own Kafka",
  },
  auth: {
    ...KAFKA_CLIENT_FLAGS.auth,
    help: KAFKA_CLIENT_FLAGS.auth.help + ". Without --bootstrap the embedded broker checks it " +
      "on a SASL_SSL listener with its local CA: scram-sha-512 with a user made for the run, " +
      "aws-iam with the stacks' roles from infra/ deciding (the topic admin, the REST proxy " +
      "as InstanceRole, the sink as MSK Connect's role); the answers are the same",
  },
  "group-timeout": {
    type: "duration",
    help: "how long the sink may take to join its consumer group (a fresh cluster's " +
      "coordinator loads first)",
    env: "PINPIPE_DEMO_GROUP_TIMEOUT",
    default: GROUP_TIMEOUT_MS,
    min: 100,
  },
} as const satisfies FlagTable;

export const HELP = helpText({
  about: "Run the whole pipeline locally: broker, REST proxy, sink, emulator, transform.",
  usage: "deno task demo [flags]",
  flags: FLAGS,
});

/** The flags that only mean something on the user's own Kafka. */
const WITH_BOOTSTRAP = [
  "tls",
  "kafka-log",
  "connect-timeout",
  "group-timeout",
] as const;

/** The demo's options plus how to print. */
export interface DemoTaskOptions extends DemoOptions {
  show: number;
  json: boolean;
}

/** Names retired in the last release, refused with the name to use now. */
export const RETIRED = { PINPIPE_MODE: "PINPIPE_EMULATE_MODE" };

/** Reads flags and environment; every problem is reported together. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
): DemoTaskOptions {
  const p = readFlags(FLAGS, args, env, {}, {
    retired: RETIRED,
  });
  const v = p.values;
  const opts: DemoTaskOptions = {
    postings: v.postings,
    mode: v.mode,
    rows: v.rows,
    seed: v.seed,
    prefix: v.prefix,
    partitions: v.partitions,
    flushSize: v.flushSize,
    dir: v.dir,
    keep: v.keep,
    show: v.show,
    json: v.json,
  };
  if (p.given("bootstrap")) {
    opts.kafka = kafkaClientOptions(p, { clientId: "pinpipe-demo" });
    opts.groupTimeoutMs = v.groupTimeout;
  } else {
    // Only the flag: PINPIPE_KAFKA_AUTH of a shell set up for AWS keeps the plain demo.
    if (p.from("auth") === "--auth" && v.auth !== "none") {
      opts.auth = v.auth;
      if (v.auth === "aws-iam") opts.region = v.region;
    }
    for (const f of WITH_BOOTSTRAP) {
      if (p.from(f) === `--${f}`) p.problem(`--${f} only goes with --bootstrap`);
    }
  }
  p.done();
  return opts;
}

/** The figures and answers of a run as one JSON-ready object. */
export function demoJson(r: DemoResult): Record<string, unknown> {
  return {
    dir: r.dir,
    lake: r.lake,
    out: r.out,
    report: r.report ?? null,
    postings: r.emulate.postingsRead,
    recordsAcknowledged: r.emulate.acknowledged,
    kafka: r.kafka,
    brokerRecords: r.brokerRecords,
    lakeRecords: r.sink.records,
    lakeObjects: r.sink.objects,
    duplicatesDropped: r.transform.duplicates,
    quarantined: r.transform.quarantined,
    timings: Object.fromEntries(r.timings.map((t) => [t.stage, Number(t.sec.toFixed(3))])),
    totalSec: Number(r.totalSec.toFixed(3)),
    answers: Object.fromEntries(r.transform.answers.map((a) => [a.id, a.rows])),
  };
}

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    const opts = parseOptions(args, env);
    const r = await runDemo(opts, { signal });
    if (opts.json) {
      console.log(JSON.stringify(demoJson(r), null, 2));
      return signal.aborted ? 130 : 0;
    }
    console.log(formatAnswers(r.transform.answers, { maxRows: opts.show }));
    console.log(
      `\n${fmtInt(r.emulate.postingsRead)} postings -> ${
        fmtInt(r.emulate.acknowledged)
      } records through the REST proxy into ${r.kafka} -> ${fmtInt(r.sink.records)} landed in ${
        fmtInt(r.sink.objects)
      } objects -> ${fmtInt(r.transform.duplicates)} duplicates dropped`,
    );
    console.log(`lake:    ${r.lake}`);
    console.log(`answers: ${r.out}/answers (CSV and JSON)`);
    if (r.report) console.log(`report:  ${r.report}`);
    console.log(`\ntimings:\n${timingLines(r).join("\n")}`);
    return signal.aborted ? 130 : 0;
  });
}

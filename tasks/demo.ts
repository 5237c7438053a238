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
import { Options, parseFlags, runMain } from "../lib/shell/cli.ts";
import { KAFKA_FLAGS, KAFKA_HELP, readKafkaOptions } from "../lib/kafka/kafka_client.ts";
import { DEFAULT_ROWS, DEFAULT_SEED } from "../lib/source/dataset.ts";
import {
  type DemoOptions,
  type DemoResult,
  GROUP_TIMEOUT_MS,
  runDemo,
  timingLines,
} from "../lib/demo/demo.ts";
import { fmtInt } from "../lib/shell/progress.ts";
import { formatAnswers } from "../lib/analytics/questions.ts";

export const HELP = `Run the whole pipeline locally: broker, REST proxy, sink, emulator, transform.

Usage: deno task demo [flags]

  --postings N|all   postings to emulate; all = one per dataset row (PINPIPE_POSTINGS;
                     default 5000)
  --mode M           random (the original's seeded draws, with repeats) | sequential
                     (every key once) (PINPIPE_EMULATE_MODE; default random)
  --rows N           rows of the built-in dataset (PINPIPE_ROWS; default ${DEFAULT_ROWS})
  --seed N           dataset and draw seed (PINPIPE_SEED; default ${DEFAULT_SEED})
  --prefix P         topic prefix: P.pin, P.geo, P.user (PINPIPE_PREFIX; default pinpipe)
  --partitions N     partitions per topic (PINPIPE_PARTITIONS; default 3)
  --flush-size N     records per lake object, the connector's flush.size (PINPIPE_FLUSH_SIZE;
                     default 1000; the original used 1)
  --dir DIR          where the broker logs, lake and results go (PINPIPE_DEMO_DIR; default
                     .pinpipe/demo)
  --keep             keep the previous run's broker data and lake (default: start fresh;
                     the previous outputs are replaced only once the new run is complete)
  --bootstrap H:P    run on this Kafka instead of the embedded broker: your own Kafka,
                     Redpanda, or MSK from inside its VPC (flag only: PINPIPE_BOOTSTRAP is not
                     read, so a shell set up for AWS still runs the demo locally). The topics
                     are created if missing and never deleted; the sink uses a consumer group
                     of its own (deleted at the end) starting at the topics' end offsets, so
                     the lake holds what this run wrote (use your own --prefix to keep other
                     producers out). --auth, --tls and --kafka-log work as for the other tasks
  --group-timeout D  with --bootstrap: how long the sink may take to join its consumer group
                     (a fresh cluster's coordinator loads first) (PINPIPE_DEMO_GROUP_TIMEOUT;
                     default 60s)
  --show N           rows shown per answer on stdout, 0 = all (PINPIPE_SHOW; default 10; the
                     files hold every row)
  --json             print the run's figures and the answers as JSON
  --help             this text

Renamed (the old name still works, with a warning, in this release only):
  PINPIPE_MODE       is now PINPIPE_EMULATE_MODE, as for deno task emulate

Kafka options with --bootstrap:
${KAFKA_HELP.split("\n").filter((l) => !/^\s+--bootstrap|SASL\/IAM brokers/.test(l)).join("\n")}
`;

const FLAGS = {
  ...KAFKA_FLAGS,
  postings: { type: "string" },
  mode: { type: "string" },
  rows: { type: "string" },
  seed: { type: "string" },
  prefix: { type: "string" },
  partitions: { type: "string" },
  "flush-size": { type: "string" },
  dir: { type: "string" },
  keep: { type: "boolean" },
  show: { type: "string" },
  "group-timeout": { type: "string" },
  json: { type: "boolean" },
} as const;

/** The demo's options plus how to print. */
export interface DemoTaskOptions extends DemoOptions {
  show: number;
  json: boolean;
}

/** Reads flags and environment; every problem is reported together. */
export function parseOptions(args: string[], env: Record<string, string | undefined>) {
  const o = new Options(parseFlags(args, FLAGS).values, env);
  const postingsText = o.string("postings", { env: "PINPIPE_POSTINGS", default: "5000" })!;
  let postings: number | "all" = "all";
  if (postingsText !== "all") {
    postings = Number(postingsText.replaceAll("_", ""));
    if (!Number.isInteger(postings) || postings < 1) {
      o.problem(`Invalid --postings "${postingsText}": expected a positive whole number or all`);
    }
  }
  const prefix = o.prefix();
  const opts: DemoTaskOptions = {
    postings,
    mode: o.choice("mode", ["random", "sequential"], {
      env: "PINPIPE_EMULATE_MODE",
      default: "random",
      was: { env: "PINPIPE_MODE", why: "as for deno task emulate" },
    }),
    rows: o.int("rows", { env: "PINPIPE_ROWS", default: DEFAULT_ROWS, min: 1 }),
    seed: o.int("seed", { env: "PINPIPE_SEED", default: DEFAULT_SEED }),
    prefix,
    partitions: o.int("partitions", { env: "PINPIPE_PARTITIONS", default: 3, min: 1, max: 64 }),
    flushSize: o.int("flush-size", { env: "PINPIPE_FLUSH_SIZE", default: 1000, min: 1 }),
    dir: o.string("dir", { env: "PINPIPE_DEMO_DIR", default: ".pinpipe/demo" })!,
    keep: o.bool("keep"),
    show: o.int("show", { env: "PINPIPE_SHOW", default: 10, min: 0 }),
    json: o.bool("json"),
  };
  if (typeof o.values.bootstrap === "string") {
    opts.kafka = { ...readKafkaOptions(o), clientId: "pinpipe-demo" };
    opts.groupTimeoutMs = o.duration("group-timeout", {
      env: "PINPIPE_DEMO_GROUP_TIMEOUT",
      default: GROUP_TIMEOUT_MS,
      min: 100,
    });
  } else {
    for (const f of ["auth", "tls", "kafka-log", "group-timeout"]) {
      if (o.values[f] !== undefined) o.problem(`--${f} only goes with --bootstrap`);
    }
  }
  o.done();
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

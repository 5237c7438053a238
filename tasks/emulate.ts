#!/usr/bin/env -S deno run -A --v8-flags=--max-semi-space-size=8
/**
 * `deno task emulate`: the posting emulator. Draws postings (the original's seeded random
 * keys, or every key in order) from the built-in dataset or a MySQL source and sends each
 * posting's three rows to `<prefix>.pin`, `<prefix>.geo` and `<prefix>.user`: through a
 * Confluent v2 REST proxy (or API Gateway in front of one), straight to Kafka, or as
 * NDJSON lines to a file or stdout.
 *
 *     deno task emulate --out - --postings 3
 *     deno task emulate --rest-url http://127.0.0.1:8082 --mode sequential
 *     deno task emulate --bootstrap 127.0.0.1:9092 --postings 100000 --json
 *     deno run -A https://<host>/tasks/emulate.ts --source mysql://root@db:3306/pinterest_data …
 *
 * Changes: produces records to the three topics (or writes the --out file). Re-running
 * sends the postings again; delivery is at-least-once and the lake's cleaning drops exact
 * duplicates. Ctrl-C finishes what is in flight and prints the summary.
 * Exit codes: 0 every record acknowledged, 1 a failure or an unacknowledged record,
 * 2 bad options, 130 interrupted.
 * @module
 */
import { runMain } from "../lib/shell/cli.ts";
import { loadConfig } from "../lib/shell/config.ts";
import {
  type FlagTable,
  helpText,
  jsonFlag,
  PREFIX_FLAG,
  readFlags,
  urlCheck,
} from "../lib/shell/flags.ts";
import { ROWS_FLAG, SEED_FLAG } from "../lib/source/dataset.ts";
import { MYSQL_CONNECT_MS } from "../lib/source/mysql_url.ts";
import { resultJson, summarize } from "../lib/ingest/emulator.ts";
import { regionOfInvokeUrl } from "../lib/ingest/sigv4.ts";
import { KAFKA_CLIENT_FLAGS, kafkaClientOptions } from "../lib/kafka/kafka_client.ts";
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_BATCH,
  DEFAULT_CONCURRENCY,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_REST_CONNECT_MS,
  DEFAULT_RETRY_FOR_MS,
  type EmulateJob,
  type EmulateTarget,
  MODE_FLAG,
  POSTINGS_FLAG,
  readApiKey,
  runEmulate,
} from "../lib/ingest/emulate_job.ts";
import { taskProgress } from "../lib/shell/log.ts";

/** Why `source` is neither the dataset nor a MySQL URL, or undefined. */
function sourceProblem(source: string): string | undefined {
  return source === "dataset" || /^(mysql|mariadb):\/\//.test(source)
    ? undefined
    : "expected dataset or mysql://user@host:3306/db";
}

/** The emulator's flags: parser, --help and options all come from this table. */
export const FLAGS = {
  source: {
    type: "string",
    arg: "SRC",
    help: "dataset (the built-in synthetic dataset) or mysql://user@host:3306/db; the MySQL " +
      "password comes from PINPIPE_MYSQL_PASSWORD only (never the URL, which deno task " +
      "echoes) and is never printed",
    env: "PINPIPE_SOURCE",
    default: "dataset",
    check: urlCheck("PINPIPE_MYSQL_PASSWORD", sourceProblem),
    section: "Source",
  },
  rows: ROWS_FLAG,
  seed: {
    ...SEED_FLAG,
    help: "dataset seed and random key sequence seed (the original's random.seed(100): keys " +
      "start 7528, 2863, 5730 …)",
  },
  mode: MODE_FLAG,
  postings: {
    ...POSTINGS_FLAG,
    defaultText: "every key once in sequential mode; in random mode no limit: it runs until " +
      "stopped, unless --postings or --duration bounds it",
  },
  duration: {
    type: "duration",
    help: "stop after this long",
    env: "PINPIPE_DURATION",
    defaultText: "no limit",
    min: 1,
  },
  rate: {
    type: "number",
    help: "postings per second, 0 = as fast as possible",
    env: "PINPIPE_RATE",
    default: 0,
    min: 0,
  },
  "rest-url": {
    type: "string",
    arg: "URL",
    help: "Confluent REST Proxy v2 or API Gateway invoke URL: POST URL/topics/<topic>",
    env: "PINPIPE_REST_URL",
    config: "apiInvokeUrl",
    check: urlCheck(
      undefined,
      (u) => /^https?:\/\/[^/\s]+/.test(u) ? undefined : "expected http(s)://host[:port][/stage]",
    ),
    section: "Target (exactly one of --rest-url, --bootstrap, --out)",
  },
  "rest-api": {
    type: "choice",
    choices: ["v2", "v3"],
    help: "v2 (POST URL/topics/<topic>, what API Gateway forwards on AWS) or v3 (POST " +
      "URL/v3/clusters/<id>/topics/<topic>/records, many records per body)",
    env: "PINPIPE_REST_API",
    default: "v2",
  },
  "rest-auth": {
    type: "choice",
    choices: ["api-key", "iam"],
    help: "how API Gateway knows the caller: api-key (x-api-key, when a key is set) or iam " +
      "(each request SigV4-signed with the AWS credentials of the environment, a profile or " +
      "the instance role; region from the invoke URL, else AWS_REGION)",
    env: "PINPIPE_REST_AUTH",
    default: "api-key",
  },
  "api-key-env": {
    type: "string",
    arg: "NAME",
    help: "environment variable holding the API Gateway key sent as x-api-key (keys never " +
      "come from flags and are never printed)",
    noEnv: "it names a variable itself",
    defaultText: "PINPIPE_API_KEY",
  },
  "api-key-file": {
    type: "string",
    arg: "PATH",
    help: "file holding the API key instead",
    env: "PINPIPE_API_KEY_FILE",
  },
  out: {
    type: "string",
    arg: "FILE|-",
    help: 'write one JSON line per record ({"topic","key","value"}) to FILE (replaced) or to ' +
      "stdout with -; the summary then goes to stderr",
    env: "PINPIPE_EMULATE_OUT",
  },
  ...KAFKA_CLIENT_FLAGS,
  "connect-timeout": {
    ...KAFKA_CLIENT_FLAGS["connect-timeout"],
    help: "the first contact's longest wait, for a MySQL source, the REST proxy and Kafka",
    defaultText:
      (MYSQL_CONNECT_MS === DEFAULT_REST_CONNECT_MS
        ? `${MYSQL_CONNECT_MS / 1000}s for MySQL and a REST proxy`
        : `${MYSQL_CONNECT_MS / 1000}s for MySQL, ${
          DEFAULT_REST_CONNECT_MS / 1000
        }s for a REST proxy`) +
      `; for Kafka ${KAFKA_CLIENT_FLAGS["connect-timeout"].defaultText}`,
  },
  "producer-threads": {
    type: "int",
    help: "kafkajs producers in worker threads, so encoding runs beside reading; 0 = this thread",
    env: "PINPIPE_PRODUCER_THREADS",
    default: 1,
    min: 0,
    max: 16,
  },
  prefix: { ...PREFIX_FLAG, section: "Delivery" },
  batch: {
    type: "int",
    help: "records per request, per topic",
    env: "PINPIPE_BATCH",
    default: DEFAULT_BATCH,
    min: 1,
    max: 100_000,
  },
  concurrency: {
    type: "int",
    help: "requests in flight",
    env: "PINPIPE_CONCURRENCY",
    defaultText: `${DEFAULT_CONCURRENCY.rest} with --rest-url, else ${DEFAULT_CONCURRENCY.kafka}`,
    min: 1,
    max: 256,
  },
  attempts: {
    type: "int",
    help: "attempts per request before giving up; retries back off exponentially (capped) " +
      "and honour Retry-After",
    env: "PINPIPE_ATTEMPTS",
    default: DEFAULT_ATTEMPTS,
    min: 1,
    max: 1000,
  },
  "retry-for": {
    type: "duration",
    help: "through a REST proxy, keep retrying a failing request at least this long, whatever " +
      "--attempts says",
    env: "PINPIPE_RETRY_FOR",
    default: DEFAULT_RETRY_FOR_MS,
  },
  "request-timeout": {
    type: "duration",
    help: "one request's longest wait: the REST proxy's answer, or Kafka's acknowledgement",
    env: "PINPIPE_REQUEST_TIMEOUT",
    default: DEFAULT_REQUEST_TIMEOUT_MS,
    min: 100,
  },
  json: jsonFlag("the summary"),
} as const satisfies FlagTable;

export const HELP = helpText({
  about: "Emulate Pinterest postings: send each posting's pin, geo and user rows to Kafka.",
  usage: "deno task emulate [flags] (--rest-url URL | --bootstrap HOST:PORT | --out FILE|-)",
  flags: FLAGS,
  notes: `Exit codes: 0 every record acknowledged, 1 failure or unacknowledged records, 2 bad
options, 130 interrupted (in-flight requests are finished and the summary printed first).`,
});

/** The emulate task's options: the job, and how to print its result. */
export interface EmulateTaskOptions {
  job: EmulateJob;
  json: boolean;
}

/** The target the flags name: exactly one flag, else the environment, else the config file. */
function chooseTarget(
  p: ReturnType<typeof readFlags<typeof FLAGS>>,
): "rest-url" | "bootstrap" | "out" | undefined {
  const explicit = (["rest-url", "bootstrap", "out"] as const).filter((f) =>
    p.from(f) === `--${f}`
  );
  if (explicit.length > 1) {
    p.problem(`Choose one target, not ${explicit.map((f) => `--${f}`).join(" and ")}`);
  }
  const given = (["rest-url", "bootstrap", "out"] as const).filter((f) => p.given(f));
  const byEnv = given.find((f) => !p.from(f)!.startsWith("config"));
  const kind = explicit[0] ?? byEnv ?? given[0];
  if (!kind) p.problem("Missing a target: --rest-url URL, --bootstrap HOST:PORT or --out FILE");
  return kind;
}

/** Names retired in the last release, refused with the name to use now. */
export const RETIRED = { "--count": "--postings N" };

/** Reads flags, environment and config file; every problem is reported together. */
export async function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
  cfg: Record<string, unknown> = {},
): Promise<EmulateTaskOptions> {
  const p = readFlags(FLAGS, args, env, cfg, { retired: RETIRED });
  const v = p.values;
  const kind = chooseTarget(p);
  if (kind !== "rest-url" && p.from("rest-api") === "--rest-api") {
    p.problem("--rest-api applies only with --rest-url");
  }
  if (kind !== "rest-url" && p.from("rest-auth") === "--rest-auth") {
    p.problem("--rest-auth applies only with --rest-url");
  }
  let target: EmulateTarget | undefined;
  if (kind === "rest-url") {
    const key = await readApiKey({
      file: v.apiKeyFile,
      envName: v.apiKeyEnv,
      env,
    });
    if (key.problem) p.problem(key.problem);
    let signRegion: string | undefined;
    if (v.restAuth === "iam") {
      signRegion = regionOfInvokeUrl(v.restUrl!) ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
      if (!signRegion) {
        p.problem(
          `--rest-auth iam needs a region: "${v.restUrl}" is not an API Gateway invoke URL ` +
            `(https://<id>.execute-api.<region>.amazonaws.com/<stage>) and AWS_REGION is not set`,
        );
      }
      if (key.key) p.problem("--rest-auth iam signs requests: unset the API key or use api-key");
    }
    target = {
      kind: "rest",
      url: v.restUrl!,
      api: v.restApi,
      apiKey: key.key,
      signRegion,
      connectTimeoutMs: v.connectTimeout ?? DEFAULT_REST_CONNECT_MS,
    };
  } else if (kind === "bootstrap") {
    target = { kind: "kafka", kafka: kafkaClientOptions(p), threads: v.producerThreads };
  } else if (kind === "out") target = { kind: "out", path: v.out! };
  p.done();
  return {
    job: {
      source: v.source,
      mysqlPassword: env.PINPIPE_MYSQL_PASSWORD,
      sourceFrom: p.from("source"),
      connectTimeoutMs: v.connectTimeout,
      rows: v.rows,
      seed: v.seed,
      prefix: v.prefix,
      mode: v.mode,
      postings: v.postings,
      durationMs: v.duration,
      rate: v.rate,
      batch: v.batch,
      concurrency: v.concurrency,
      attempts: v.attempts,
      retryForMs: v.retryFor,
      requestTimeoutMs: v.requestTimeout,
      target: target!,
    },
    json: v.json,
  };
}

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    const opts = await parseOptions(args, env, await loadConfig(env));
    const t = opts.job.target;
    // The summary is the result on stdout, unless stdout carries the records (--out -).
    const toStdout = !(t.kind === "out" && t.path === "-");
    const progress = taskProgress("emulate", { resultOnStdout: toStdout });
    const result = await runEmulate(opts.job, { progress, signal });
    const line = opts.json ? JSON.stringify(resultJson(result)) : summarize(result);
    if (toStdout) console.log(line);
    else if (opts.json) console.error(line);
    if (result.error) throw result.error;
    if (result.interrupted) return 130;
    if (result.failed > 0 || result.acknowledged < result.recordsSent) {
      throw new Error(
        `Not every record was acknowledged: ${
          result.recordsSent - result.acknowledged
        } of ${result.recordsSent} were not`,
      );
    }
    return 0;
  });
}

/**
 * `deno task emulate` as one call: opens the source (the built-in dataset or MySQL) and the
 * target (a REST proxy, Kafka or NDJSON), runs the emulator, closes both, and returns the
 * result; plus the flag definitions the demo shares with it (`--postings`, `--mode`).
 * @module
 */
import { createDataset } from "../source/dataset.ts";
import { parseMysqlUrl } from "../source/mysql_url.ts";
import type { PostingSource } from "../source/dataset.ts";
import type { FlagDef } from "../shell/flags.ts";
import type { Progress } from "../shell/progress.ts";
import { registerSecret } from "../shell/redact.ts";
import { importLazily } from "../shell/lazy.ts";
import { sigV4Fetch } from "./sigv4.ts";
import { checkKafkaReachable, type KafkaClientOptions } from "../kafka/kafka_client.ts";
import { datasetSource, emulate, type EmulateResult, type Target } from "./emulator.ts";
import { KafkaTarget } from "./kafka_target.ts";
import { NdjsonTarget } from "./ndjson_target.ts";
import { type RestApi, RestProducer } from "./rest_client.ts";

/** `--postings all`: one posting per source row. */
export const ALL_POSTINGS = -1;

/** `--postings N|all`, shared by emulate and the demo. */
export const POSTINGS_FLAG = {
  type: "int",
  arg: "N|all",
  help: "postings to send; all = one per source row",
  env: "PINPIPE_POSTINGS",
  keywords: { all: ALL_POSTINGS },
  min: 0,
} as const satisfies FlagDef;

/** `--mode random|sequential`, shared by emulate and the demo. */
export const MODE_FLAG = {
  type: "choice",
  choices: ["random", "sequential"],
  help: "random: the original's seeded draws; sequential: every key once",
  env: "PINPIPE_EMULATE_MODE",
  default: "random",
} as const satisfies FlagDef;

/** Requests in flight by default: HTTP round trips want more than a local broker. */
export const DEFAULT_CONCURRENCY = { rest: 8, kafka: 4 } as const;
/** Records per request, per topic, by default. */
export const DEFAULT_BATCH = 250;
/** Attempts per request by default. */
export const DEFAULT_ATTEMPTS = 10;
/** How long a REST request is retried at least, by default. */
export const DEFAULT_RETRY_FOR_MS = 120_000;
/** One request's longest wait by default (API Gateway gives up at 29 s). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** The first contact with a REST proxy may take this long by default. */
export const DEFAULT_REST_CONNECT_MS = 4000;

/** Where the records go: exactly one of these. */
export type EmulateTarget =
  | {
    kind: "rest";
    url: string;
    api: RestApi;
    apiKey?: string;
    /** Set: every request is SigV4-signed for `execute-api` in this region (`--rest-auth iam`). */
    signRegion?: string;
    connectTimeoutMs: number;
  }
  | { kind: "kafka"; kafka: KafkaClientOptions; threads: number }
  | { kind: "out"; path: string };

/** What `runEmulate` does. */
export interface EmulateJob {
  /** `dataset`, or `mysql://user@host:3306/db` (the password from `mysqlPassword`). */
  source: string;
  mysqlPassword?: string;
  /** Where `source` came from (`--source`, `PINPIPE_SOURCE`), named when MySQL fails. */
  sourceFrom?: string;
  /** The first contact's longest wait with a MySQL source (`--connect-timeout`). */
  connectTimeoutMs?: number;
  rows: number;
  seed: number;
  prefix: string;
  mode: "random" | "sequential";
  /** Postings to send, ALL_POSTINGS, or undefined for no bound. */
  postings?: number;
  durationMs?: number;
  rate: number;
  batch: number;
  /** Requests in flight; undefined: DEFAULT_CONCURRENCY for the target. */
  concurrency?: number;
  attempts: number;
  retryForMs: number;
  requestTimeoutMs: number;
  target: EmulateTarget;
}

/** What lengthens each wait, named when one runs out. */
const FLAGS_OF_WAITS = {
  connect: "--connect-timeout or PINPIPE_CONNECT_TIMEOUT",
  request: "--request-timeout or PINPIPE_REQUEST_TIMEOUT",
  retry: "--attempts and --retry-for",
};

/** The MySQL source (and its driver), loaded only when a run reads MySQL. */
function loadMysqlSource(): Promise<typeof import("../source/mysql_source.ts")> {
  return importLazily(new URL("../source/mysql_source.ts", import.meta.url));
}

/** Opens the target `job` names. */
async function openTarget(job: EmulateJob): Promise<Target> {
  const t = job.target;
  if (t.kind === "rest") {
    registerSecret(t.apiKey);
    return new RestProducer({
      baseUrl: t.url,
      api: t.api,
      urlFlag: "--rest-url",
      apiKey: t.apiKey,
      maxAttempts: job.attempts,
      retryForMs: job.retryForMs,
      timeoutMs: job.requestTimeoutMs,
      connectTimeoutMs: t.connectTimeoutMs,
      flags: FLAGS_OF_WAITS,
      fetch: t.signRegion ? sigV4Fetch(fetch, { region: t.signRegion }) : undefined,
    });
  }
  if (t.kind === "kafka") {
    await checkKafkaReachable(t.kafka);
    return await KafkaTarget.connect({ ...t.kafka, clientId: "pinpipe-emulate" }, {
      bootstrap: t.kafka.bootstrap,
      maxAttempts: job.attempts,
      timeoutMs: job.requestTimeoutMs,
      workers: t.threads,
      flags: { request: FLAGS_OF_WAITS.request, retry: "--attempts" },
    });
  }
  return await NdjsonTarget.open(t.path);
}

/**
 * Runs the emulator for `job`: postings from its source to its target, progress through
 * `progress`, until done, `signal` aborts or the duration passes. Source and target are
 * closed whatever happens; the result says what was acknowledged.
 */
export async function runEmulate(
  job: EmulateJob,
  deps: { progress: Progress; signal?: AbortSignal },
): Promise<EmulateResult> {
  const src: PostingSource = job.source === "dataset"
    ? datasetSource(createDataset({ rows: job.rows, seed: job.seed }))
    : await (await loadMysqlSource()).MysqlSource.open({
      ...parseMysqlUrl(job.source, job.mysqlPassword, job.sourceFrom ?? "--source"),
      connectTimeoutMs: job.connectTimeoutMs,
    });
  const count = job.postings === ALL_POSTINGS ? src.rows : job.postings;
  if (job.mode === "random" && count === undefined && job.durationMs === undefined) {
    // Said at the start: random draws have no end of their own.
    deps.progress.log(
      "emulate: random mode with no --postings or --duration: sends until stopped " +
        "(Ctrl-C stops it and prints the summary)",
    );
  }
  let target: Target | undefined;
  try {
    target = await openTarget(job);
    return await emulate({
      prefix: job.prefix,
      mode: job.mode,
      seed: job.seed,
      count,
      durationMs: job.durationMs,
      rate: job.rate,
      batch: job.batch,
      concurrency: job.concurrency ??
        DEFAULT_CONCURRENCY[job.target.kind === "rest" ? "rest" : "kafka"],
    }, { source: src, target, signal: deps.signal, progress: deps.progress });
  } finally {
    await target?.close();
    await src.close?.();
  }
}

/**
 * The API key: from `file`, else the variable named `envName` (`--api-key-env`, default
 * PINPIPE_API_KEY); registered as a secret. Keys never come from a flag's value. Returns a
 * problem's text instead when the file cannot be read or a named variable is unset.
 */
export async function readApiKey(
  o: { file?: string; envName?: string; env: Record<string, string | undefined> },
): Promise<{ key?: string; problem?: string }> {
  if (o.file) {
    try {
      const key = (await Deno.readTextFile(o.file)).trim() || undefined;
      registerSecret(key);
      return { key };
    } catch (err) {
      return { problem: `Cannot read --api-key-file "${o.file}": ${(err as Error).message}` };
    }
  }
  const key = o.env[o.envName ?? "PINPIPE_API_KEY"] || undefined;
  registerSecret(key);
  if (o.envName && !key) {
    return { problem: `Invalid --api-key-env "${o.envName}": the environment variable is not set` };
  }
  return { key };
}

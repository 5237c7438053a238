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
import { Options, parseFlags, runMain } from "../lib/shell/cli.ts";
import { loadConfig } from "../lib/shell/config.ts";
import { createDataset, DEFAULT_ROWS, DEFAULT_SEED } from "../lib/source/dataset.ts";
import { datasetSource, emulate, resultJson, summarize } from "../lib/ingest/emulator.ts";
import type { PostingSource, Target } from "../lib/ingest/emulator.ts";
import {
  checkKafkaReachable,
  KAFKA_FLAGS,
  KAFKA_HELP,
  readKafkaOptions,
} from "../lib/kafka/kafka_client.ts";
import { KafkaTarget } from "../lib/ingest/kafka_target.ts";
import { MysqlSource } from "../lib/source/mysql_source.ts";
import { parseMysqlUrl } from "../lib/source/mysql_url.ts";
import { NdjsonTarget } from "../lib/ingest/ndjson_target.ts";
import { taskProgress } from "../lib/shell/log.ts";
import { readApiKey, RestProducer } from "../lib/ingest/rest_client.ts";

const HELP = `Emulate Pinterest postings: send each posting's pin, geo and user rows to Kafka.

Usage: deno task emulate [options] (--rest-url URL | --bootstrap HOST:PORT | --out FILE|-)

Source:
  --source SRC        dataset (the built-in synthetic dataset) or mysql://user@host:3306/db
                      (PINPIPE_SOURCE; default dataset). The MySQL password comes from
                      PINPIPE_MYSQL_PASSWORD (or the URL) and is never printed
  --rows N            rows of the built-in dataset (PINPIPE_ROWS; default ${DEFAULT_ROWS})
  --seed N            dataset seed and random key sequence seed (PINPIPE_SEED; default ${DEFAULT_SEED}:
                      the original's random.seed(100), so keys start 7528, 2863, 5730 …)
  --mode MODE         random (seeded draws, like the original) | sequential (every key once)
                      (PINPIPE_EMULATE_MODE; default random)
  --postings N|all    postings to send; all = one per source row (PINPIPE_POSTINGS; default:
                      every key once in sequential mode; in random mode no limit: it runs
                      until stopped, unless --postings or --duration bounds it)
  --duration D        stop after this long: 30s, 5m, 1h (default: no limit)
  --rate R            postings per second, 0 = as fast as possible (PINPIPE_RATE; default 0)

Target (exactly one):
  --rest-url URL      Confluent REST Proxy v2 or API Gateway invoke URL: POST URL/topics/<topic>
                      (PINPIPE_REST_URL, config apiInvokeUrl)
  --rest-api V        v2 (POST URL/topics/<topic>, what API Gateway forwards on AWS) or v3
                      (POST URL/v3/clusters/<id>/topics/<topic>/records, many records per body)
                      (PINPIPE_REST_API; default v2)
  --api-key-env NAME  environment variable holding the API Gateway key sent as x-api-key
                      (default PINPIPE_API_KEY; keys never come from flags and are never printed)
  --api-key-file P    file holding the API key instead (PINPIPE_API_KEY_FILE)
${KAFKA_HELP}
  --producer-threads N       kafkajs producers in worker threads, so encoding runs beside
                             reading (PINPIPE_PRODUCER_THREADS; default 1; 0 = main thread)
  --out FILE|-        write one JSON line per record ({"topic","key","value"}) to FILE (replaced)
                      or to stdout with -; the summary then goes to stderr

Delivery:
  --prefix P          topics P.pin, P.geo, P.user (PINPIPE_PREFIX, config prefix; default pinpipe)
  --batch N           records per request, per topic (PINPIPE_BATCH; default 250)
  --concurrency N     requests in flight (PINPIPE_CONCURRENCY; default 8 with --rest-url, else 4)
  --attempts N        attempts per request before giving up (default 10); retries back off
                      exponentially (capped) and honour Retry-After
  --retry-for D       through a REST proxy, keep retrying a failing request at least this
                      long, whatever --attempts says (PINPIPE_RETRY_FOR; default 2m)
  --request-timeout D one request's longest wait: the REST proxy's answer, or Kafka's
                      acknowledgement (PINPIPE_REQUEST_TIMEOUT; default 30s)
  --connect-timeout D the first contact's longest wait, for the REST proxy as for Kafka
                      (PINPIPE_CONNECT_TIMEOUT; default 5s for a REST proxy, 4s for Kafka)
  --json              print the summary as JSON on stdout
  -h, --help          show this help

Renamed (the old name still works, with a warning, in this release only):
  --count N           is now --postings N, as for deno task demo

Exit codes: 0 every record acknowledged, 1 failure or unacknowledged records, 2 bad options,
130 interrupted (in-flight requests are finished and the summary printed first).
`;

/** `--postings N|all` (or the old `--count N`): a number, `all`, or undefined for no bound. */
function readPostings(o: Options): number | "all" | undefined {
  const src = { env: "PINPIPE_POSTINGS", was: { flag: "count", why: "as for deno task demo" } };
  const r = o.raw("postings", src);
  if (!r) return undefined;
  if (r.text === "all") return "all";
  const n = o.int("postings", { ...src, min: 0 });
  return Number.isInteger(Number(r.text.replaceAll("_", ""))) ? n : undefined;
}

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    const { values } = parseFlags(args, {
      source: { type: "string" },
      rows: { type: "string" },
      seed: { type: "string" },
      mode: { type: "string" },
      postings: { type: "string" },
      count: { type: "string" }, // renamed --postings; read with a warning for one release
      duration: { type: "string" },
      rate: { type: "string" },
      "rest-url": { type: "string" },
      "rest-api": { type: "string" },
      "api-key-env": { type: "string" },
      "api-key-file": { type: "string" },
      ...KAFKA_FLAGS,
      out: { type: "string" },
      prefix: { type: "string" },
      batch: { type: "string" },
      concurrency: { type: "string" },
      attempts: { type: "string" },
      "retry-for": { type: "string" },
      "request-timeout": { type: "string" },
      "producer-threads": { type: "string" },
      json: { type: "boolean" },
    });
    const config = await loadConfig(env);
    const o = new Options(values, env, config);
    const source = o.string("source", { env: "PINPIPE_SOURCE", default: "dataset" })!;
    const rows = o.int("rows", { env: "PINPIPE_ROWS", default: DEFAULT_ROWS, min: 1 });
    const seed = o.int("seed", { env: "PINPIPE_SEED", default: DEFAULT_SEED, min: 0 });
    const mode = o.choice("mode", ["random", "sequential"], { env: "PINPIPE_EMULATE_MODE" });
    const postings = readPostings(o);
    const durationMs = o.duration("duration", { min: 1 }) || undefined;
    const rate = o.number("rate", { env: "PINPIPE_RATE", default: 0, min: 0 });
    const prefix = o.prefix();
    const batch = o.int("batch", { env: "PINPIPE_BATCH", default: 250, min: 1, max: 100_000 });
    // 0 = by target: HTTP round trips want more requests in flight than a local broker.
    const concurrencyFlag = o.int("concurrency", { env: "PINPIPE_CONCURRENCY", min: 1, max: 256 });
    const attempts = o.int("attempts", { default: 10, min: 1, max: 1000 });
    const retryForMs = o.duration("retry-for", { env: "PINPIPE_RETRY_FOR", default: 120_000 });
    const timeoutMs = o.duration("request-timeout", {
      env: "PINPIPE_REQUEST_TIMEOUT",
      default: 30_000,
      min: 100,
    });
    const threads = o.int("producer-threads", {
      env: "PINPIPE_PRODUCER_THREADS",
      default: 1,
      min: 0,
      max: 16,
    });
    if (source !== "dataset" && !/^(mysql|mariadb):\/\//.test(source)) {
      o.problem(`Invalid --source "${source}": expected dataset or mysql://user@host:3306/db`);
    }
    if (!/^[A-Za-z0-9._-]+$/.test(prefix)) {
      o.problem(`Invalid --prefix "${prefix}": topic names allow letters, digits, ".", "_", "-"`);
    }
    // The target: exactly one explicit flag, else the environment, else the config file.
    const explicit = ["rest-url", "bootstrap", "out"].filter((f) => typeof values[f] === "string");
    if (explicit.length > 1) {
      o.problem(`Choose one target, not ${explicit.map((f) => `--${f}`).join(" and ")}`);
    }
    const kind = explicit[0] ??
      (env.PINPIPE_REST_URL ? "rest-url" : env.PINPIPE_BOOTSTRAP ? "bootstrap" : undefined) ??
      (config.apiInvokeUrl ? "rest-url" : config.bootstrapBrokers ? "bootstrap" : undefined);
    if (!kind) o.problem("Missing a target: --rest-url URL, --bootstrap HOST:PORT or --out FILE");
    const restUrl = kind === "rest-url"
      ? o.string("rest-url", { env: "PINPIPE_REST_URL", config: "apiInvokeUrl" })!
      : undefined;
    if (restUrl && !/^https?:\/\/[^/\s]+/.test(restUrl)) {
      o.problem(`Invalid --rest-url "${restUrl}": expected http(s)://host[:port][/stage]`);
    }
    const kafka = kind === "bootstrap" ? readKafkaOptions(o) : undefined;
    const connectTimeoutMs = kind === "rest-url"
      ? o.duration("connect-timeout", { env: "PINPIPE_CONNECT_TIMEOUT", default: 5000, min: 100 })
      : undefined;
    const restApi = o.choice("rest-api", ["v2", "v3"] as const, {
      env: "PINPIPE_REST_API",
      default: "v2",
    });
    if (kind !== "rest-url" && typeof values["rest-api"] === "string") {
      o.problem("--rest-api applies only with --rest-url");
    }
    const apiKey = kind === "rest-url" ? await readApiKey(o) : undefined;
    o.done();

    const src: PostingSource = source === "dataset"
      ? datasetSource(createDataset({ rows, seed }))
      : await MysqlSource.open(parseMysqlUrl(source, env.PINPIPE_MYSQL_PASSWORD, "--source"));
    const count = postings === "all" ? src.rows : postings;
    // The summary is the result on stdout, unless stdout carries the records (--out -).
    const progress = taskProgress("emulate", {
      resultOnStdout: !(kind === "out" && o.string("out") === "-"),
    });
    if (mode === "random" && count === undefined && durationMs === undefined) {
      // Said at the start: random draws have no end of their own.
      progress.log(
        "emulate: random mode with no --postings or --duration: sends until stopped " +
          "(Ctrl-C stops it and prints the summary)",
      );
    }
    let target: Target | undefined;
    try {
      if (kind === "rest-url") {
        target = new RestProducer({
          baseUrl: restUrl!,
          api: restApi,
          urlFlag: "--rest-url",
          apiKey,
          maxAttempts: attempts,
          retryForMs,
          timeoutMs,
          connectTimeoutMs,
          flags: {
            connect: "--connect-timeout or PINPIPE_CONNECT_TIMEOUT",
            request: "--request-timeout or PINPIPE_REQUEST_TIMEOUT",
            retry: "--attempts and --retry-for",
          },
        });
      } else if (kind === "bootstrap") {
        await checkKafkaReachable(kafka!);
        target = await KafkaTarget.connect(
          { ...kafka!, clientId: "pinpipe-emulate" },
          {
            bootstrap: kafka!.bootstrap,
            maxAttempts: attempts,
            timeoutMs,
            workers: threads,
            flags: { request: "--request-timeout or PINPIPE_REQUEST_TIMEOUT", retry: "--attempts" },
          },
        );
      } else {
        target = await NdjsonTarget.open(o.string("out")!);
      }
      const result = await emulate(
        {
          prefix,
          mode,
          seed,
          count,
          durationMs,
          rate,
          batch,
          concurrency: concurrencyFlag || (kind === "rest-url" ? 8 : 4),
        },
        {
          source: src,
          target,
          signal,
          progress,
        },
      );
      const toStdout = !(kind === "out" && o.string("out") === "-");
      const line = o.bool("json") ? JSON.stringify(resultJson(result)) : summarize(result);
      if (toStdout) console.log(line);
      else if (o.bool("json")) console.error(line);
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
    } finally {
      await target?.close();
      await src.close?.();
    }
  });
}

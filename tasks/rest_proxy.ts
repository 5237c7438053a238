#!/usr/bin/env -S deno run -A --v8-flags=--max-semi-space-size=8
/**
 * `deno task rest-proxy`: the Kafka REST proxy, both sides.
 *
 * - `serve`: a Confluent REST Proxy-compatible server on kafkajs, for local runs: the v2
 *   produce, metadata and consumer APIs and the v3 records API (lib/rest_proxy/rest_proxy.ts),
 *   optionally under an API Gateway-like base path and API key. Runs until Ctrl-C; changes
 *   nothing but the topics it produces to (and creates them only with `--auto-create`) and
 *   the offsets its consumer instances commit.
 * - `config`: renders `kafka-rest.properties` for Confluent's REST proxy on the EC2 client
 *   (MSK IAM auth, brokers from `GetBootstrapBrokers`) and prints it; with `--deploy`
 *   installs it through SSM and restarts the service, waiting for the result. A re-run
 *   with the same content changes nothing on the instance.
 *
 * Run: `deno task rest-proxy serve --bootstrap 127.0.0.1:9092`, or from a URL:
 * `deno run -A https://…/tasks/rest_proxy.ts serve --help`.
 * Exit codes: 0 ok (and `serve` stopped by Ctrl-C or SIGTERM, its normal end), 1 failure, 2 bad
 * options, 130 a `config` run interrupted.
 * @module
 */
import { Options, parseFlags, runMain } from "../lib/shell/cli.ts";
import type { FlagSpec } from "../lib/shell/cli.ts";
import { loadConfig } from "../lib/shell/config.ts";
import { UsageError } from "../lib/shell/errors.ts";
import {
  createKafka,
  KAFKA_FLAGS,
  KAFKA_HELP,
  readKafkaOptions,
} from "../lib/kafka/kafka_client.ts";
import type { KafkaClientOptions } from "../lib/kafka/kafka_client.ts";
import {
  DEFAULT_MAX_BODY,
  DEFAULT_MEMORY_BUDGET,
  startRestProxy,
} from "../lib/rest_proxy/rest_proxy.ts";
import type { RestProxyStats } from "../lib/rest_proxy/rest_proxy.ts";
import { runConfig } from "../lib/aws/rest_proxy_config.ts";
import type { ConfigOptions } from "../lib/aws/rest_proxy_config.ts";
import { fmtInt } from "../lib/shell/progress.ts";
import { registerSecret } from "../lib/shell/redact.ts";
import { logLine } from "../lib/shell/log.ts";

export { runConfig };

export const HELP =
  `The Kafka REST proxy: a local v2 produce endpoint, or the AWS proxy's configuration.

Usage: deno task rest-proxy serve [flags]
       deno task rest-proxy config [--deploy] [flags]

serve: a Confluent REST Proxy-compatible server: v2 produce (json and binary), metadata and
consumers (/consumers/…), and the v3 records API (/v3/clusters/…/records)
${KAFKA_HELP}
  --host H                 interface to bind (PINPIPE_REST_HOST; default 127.0.0.1)
  --port N                 port, 0 for any free one (PINPIPE_REST_PORT; default 8082)
  --base-path /P           path prefix like an API Gateway stage (PINPIPE_REST_BASE_PATH; default none)
  --api-key-env NAME       environment variable holding the API key clients must send as
                           x-api-key (default: no key; e.g. PINPIPE_API_KEY)
  --auto-create            create unknown topics instead of answering 40401
                           (PINPIPE_REST_AUTO_CREATE=1; PINPIPE_AUTO_CREATE, its old name, is
                           read with a warning in this release only)
  --max-body-bytes SIZE    largest request body (PINPIPE_REST_MAX_BODY; default 10MiB); a larger
                           one is answered 413 after up to 64MiB of it was read and discarded,
                           so a client that sends its whole body first can read the answer
  --max-record-bytes SIZE  largest record (PINPIPE_REST_MAX_RECORD; default 1MiB)
  --max-in-flight N        produce requests at once before 429, counted once their bodies
                           arrived (PINPIPE_REST_MAX_IN_FLIGHT; default 64)
  --body-timeout D         a request body must arrive within this long, else 408
                           (PINPIPE_REST_BODY_TIMEOUT; default 30s)
  --memory-budget SIZE     request bodies held at once across all connections, else 429
                           (PINPIPE_REST_MEMORY_BUDGET; default 128MiB); the one budget for
                           what connections hold: between requests a connection holds no buffer
  --keep-alive-timeout D   an idle keep-alive connection is closed after this long
                           (PINPIPE_REST_KEEP_ALIVE_TIMEOUT; default 5s; behind a load balancer,
                           longer than its idle timeout)
  --consumer-timeout D     idle consumer instances are deleted after this long
                           (PINPIPE_REST_CONSUMER_TIMEOUT; default 5m)

config: kafka-rest.properties for the REST proxy on EC2 with MSK IAM auth
  --cluster-arn ARN        MSK cluster (PINPIPE_CLUSTER_ARN, config clusterArn)
  --bootstrap H:P,…        IAM brokers (PINPIPE_BOOTSTRAP, config bootstrapBrokers; default:
                           GetBootstrapBrokers of the cluster)
  --region R               AWS region (AWS_REGION, config region)
  --port N                 REST listener port (PINPIPE_REST_PORT; default 8082)
  --max-block-ms N         producer.max.block.ms (PINPIPE_REST_MAX_BLOCK_MS; default 10000)
  --role-arn ARN           role for the IAM login module (PINPIPE_REST_ROLE_ARN; default the
                           instance profile)
  --deploy                 install on the instance via SSM and restart the service
  --instance-id ID         the REST proxy instance (PINPIPE_REST_INSTANCE_ID, config restProxyInstanceId)
  --properties-path P      file on the instance (PINPIPE_REST_PROPERTIES_PATH, config
                           restProxyPropertiesPath; default /opt/pinpipe/kafka-rest.properties,
                           where infra/client.yaml installs it)
  --service NAME           systemd unit (PINPIPE_REST_SERVICE, config restProxyService;
                           default kafka-rest)
  --dry-run                print the file (and the SSM command) without calling AWS to change anything
  --json                   print the result as JSON
  --help                   this text
`;

const SERVE_FLAGS: Record<string, FlagSpec> = {
  ...KAFKA_FLAGS,
  host: { type: "string" },
  port: { type: "string" },
  "base-path": { type: "string" },
  "api-key-env": { type: "string" },
  "auto-create": { type: "boolean" },
  "max-body-bytes": { type: "string" },
  "max-record-bytes": { type: "string" },
  "max-in-flight": { type: "string" },
  "body-timeout": { type: "string" },
  "memory-budget": { type: "string" },
  "keep-alive-timeout": { type: "string" },
  "consumer-timeout": { type: "string" },
  json: { type: "boolean" },
};
const CONFIG_FLAGS: Record<string, FlagSpec> = {
  "cluster-arn": { type: "string" },
  bootstrap: { type: "string" },
  region: { type: "string" },
  port: { type: "string" },
  "max-block-ms": { type: "string" },
  "role-arn": { type: "string" },
  deploy: { type: "boolean" },
  "instance-id": { type: "string" },
  "properties-path": { type: "string" },
  service: { type: "string" },
  "dry-run": { type: "boolean" },
  json: { type: "boolean" },
};

/** Options of `serve`. */
export interface ServeOptions {
  kafka: KafkaClientOptions;
  host: string;
  port: number;
  basePath: string;
  apiKey?: string;
  autoCreate: boolean;
  maxBodyBytes: number;
  maxRecordBytes: number;
  maxInFlight: number;
  bodyTimeoutMs: number;
  memoryBudgetBytes: number;
  keepAliveTimeoutMs: number;
  consumerTimeoutMs: number;
}

/** Splits off the subcommand and reads its options; every problem is reported together. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
  cfg: Record<string, unknown> = {},
): { command: "serve"; serve: ServeOptions } | { command: "config"; config: ConfigOptions } {
  const command = args[0]?.startsWith("-") ? undefined : args[0];
  const rest = command === undefined ? args : args.slice(1);
  if (command !== "serve" && command !== "config") {
    parseFlags(rest, { ...SERVE_FLAGS, ...CONFIG_FLAGS }); // names an unknown flag first
    throw new UsageError(
      command === undefined
        ? "Missing subcommand: expected serve or config"
        : `Unknown subcommand "${command}": expected serve or config`,
    );
  }
  if (command === "serve") {
    const o = new Options(parseFlags(rest, SERVE_FLAGS).values, env, cfg);
    const kafka = readKafkaOptions(o);
    kafka.clientId = "pinpipe-rest-proxy";
    const keyEnv = o.string("api-key-env");
    let apiKey: string | undefined;
    if (keyEnv) {
      apiKey = env[keyEnv];
      if (!apiKey) o.problem(`--api-key-env ${keyEnv}: the variable "${keyEnv}" is not set`);
      else if (apiKey.length < 20) {
        o.problem(`The API key in "${keyEnv}" is shorter than 20 characters`);
      }
      registerSecret(apiKey);
    }
    const basePath = o.string("base-path", { env: "PINPIPE_REST_BASE_PATH", default: "" })!;
    if (basePath && !/^\/[A-Za-z0-9._~\/-]*$/.test(basePath)) {
      o.problem(`Invalid --base-path "${basePath}": expected a path such as /test`);
    }
    const serve: ServeOptions = {
      kafka,
      host: o.string("host", { env: "PINPIPE_REST_HOST", default: "127.0.0.1" })!,
      port: o.int("port", { env: "PINPIPE_REST_PORT", default: 8082, min: 0, max: 65535 }),
      basePath,
      apiKey,
      autoCreate: o.bool("auto-create", {
        env: "PINPIPE_REST_AUTO_CREATE",
        was: { env: "PINPIPE_AUTO_CREATE", why: "beside the broker's PINPIPE_BROKER_AUTO_CREATE" },
      }),
      maxBodyBytes: o.bytes("max-body-bytes", {
        env: "PINPIPE_REST_MAX_BODY",
        default: DEFAULT_MAX_BODY,
        min: 1024,
      }),
      maxRecordBytes: o.bytes("max-record-bytes", {
        env: "PINPIPE_REST_MAX_RECORD",
        default: 1024 * 1024,
        min: 16,
      }),
      maxInFlight: o.int("max-in-flight", {
        env: "PINPIPE_REST_MAX_IN_FLIGHT",
        default: 64,
        min: 1,
      }),
      bodyTimeoutMs: o.duration("body-timeout", {
        env: "PINPIPE_REST_BODY_TIMEOUT",
        default: 30_000,
        min: 100,
      }),
      memoryBudgetBytes: o.bytes("memory-budget", {
        env: "PINPIPE_REST_MEMORY_BUDGET",
        default: DEFAULT_MEMORY_BUDGET,
        min: 1024 * 1024,
      }),
      keepAliveTimeoutMs: o.duration("keep-alive-timeout", {
        env: "PINPIPE_REST_KEEP_ALIVE_TIMEOUT",
        default: 5000,
        min: 100,
      }),
      consumerTimeoutMs: o.duration("consumer-timeout", {
        env: "PINPIPE_REST_CONSUMER_TIMEOUT",
        default: 300_000,
        min: 1000,
      }),
    };
    o.done();
    return { command, serve };
  }
  const o = new Options(parseFlags(rest, CONFIG_FLAGS).values, env, cfg);
  const config: ConfigOptions = {
    clusterArn: o.string("cluster-arn", { env: "PINPIPE_CLUSTER_ARN", config: "clusterArn" }),
    bootstrap: o.string("bootstrap", { env: "PINPIPE_BOOTSTRAP", config: "bootstrapBrokers" }),
    region: o.string("region", { env: "AWS_REGION", config: "region" }) ??
      env.AWS_DEFAULT_REGION ?? "",
    port: o.int("port", { env: "PINPIPE_REST_PORT", default: 8082, min: 1, max: 65535 }),
    maxBlockMs: o.int("max-block-ms", {
      env: "PINPIPE_REST_MAX_BLOCK_MS",
      default: 10000,
      min: 0,
    }),
    roleArn: o.string("role-arn", { env: "PINPIPE_REST_ROLE_ARN" }),
    deploy: o.bool("deploy"),
    dryRun: o.bool("dry-run"),
    target: {
      instanceId: o.string("instance-id", {
        env: "PINPIPE_REST_INSTANCE_ID",
        config: "restProxyInstanceId",
      }) ?? "",
      path: o.string("properties-path", {
        env: "PINPIPE_REST_PROPERTIES_PATH",
        config: "restProxyPropertiesPath",
        default: "/opt/pinpipe/kafka-rest.properties",
      })!,
      service: o.string("service", {
        env: "PINPIPE_REST_SERVICE",
        config: "restProxyService",
        default: "kafka-rest",
      })!,
    },
  };
  config.target.port = config.port;
  if (!config.bootstrap && !config.clusterArn) {
    o.problem("Missing --cluster-arn or --bootstrap: which MSK cluster?");
  }
  if (!config.region && (config.deploy || !config.bootstrap)) {
    o.problem("Missing --region (or AWS_REGION)");
  }
  if (config.deploy && !config.target.instanceId) {
    o.problem("--deploy needs --instance-id (or config restProxyInstanceId)");
  }
  o.done();
  return { command, config };
}

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    const parsed = parseOptions(args, env, await loadConfig(env));
    const json = args.includes("--json");
    if (parsed.command === "config") {
      const r = await runConfig(parsed.config, {
        signal,
        log: (l) => console.error(`rest-proxy: ${l}`),
      });
      if (json) return console.log(JSON.stringify(r, null, 2));
      if ("sendCommand" in r) {
        console.log(
          `${r.properties}\n# SSM SendCommand:\n${JSON.stringify(r.sendCommand, null, 2)}`,
        );
      } else if (r.deployed) {
        console.log(
          `kafka-rest.properties ${
            "unchanged" in r && r.unchanged ? "unchanged on" : "installed on"
          } ${parsed.config.target.instanceId}`,
        );
      } else console.log(r.properties.trimEnd());
      return;
    }
    const s = parsed.serve;
    const proxy = await startRestProxy({
      kafka: createKafka(s.kafka),
      bootstrap: s.kafka.bootstrap,
      bootstrapFrom: s.kafka.bootstrapFrom,
      connectTimeoutMs: s.kafka.connectionTimeoutMs,
      tls: s.kafka.tls,
      hostname: s.host,
      port: s.port,
      basePath: s.basePath,
      apiKey: s.apiKey,
      autoCreate: s.autoCreate,
      maxBodyBytes: s.maxBodyBytes,
      maxRecordBytes: s.maxRecordBytes,
      maxInFlight: s.maxInFlight,
      bodyTimeoutMs: s.bodyTimeoutMs,
      memoryBudgetBytes: s.memoryBudgetBytes,
      keepAliveTimeoutMs: s.keepAliveTimeoutMs,
      consumers: { instanceTimeoutMs: s.consumerTimeoutMs },
      log: logLine,
    });
    logLine(`rest-proxy: listening on ${proxy.url} -> Kafka ${s.kafka.bootstrap}`);
    if (json) console.log(JSON.stringify({ url: proxy.url, port: proxy.port }));
    else console.log(proxy.url);
    const t0 = performance.now();
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
    await proxy.close();
    const st: RestProxyStats = proxy.stats();
    const sec = (performance.now() - t0) / 1000;
    logLine(
      `rest-proxy: stopped after ${sec.toFixed(0)} s: ${fmtInt(st.records)} records in ${
        fmtInt(st.produceRequests)
      } produce requests, ${fmtInt(st.recordErrors)} record errors, ${
        fmtInt(st.rejected429)
      } answered 429`,
    );
    return 0;
  });
}

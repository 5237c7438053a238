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
import { runMain } from "../lib/shell/cli.ts";
import { loadConfig } from "../lib/shell/config.ts";
import { UsageError } from "../lib/shell/errors.ts";
import {
  dryRunFlag,
  flagHelp,
  type FlagTable,
  jsonFlag,
  type ParsedFlags,
  readFlags,
  REGION_FLAG,
} from "../lib/shell/flags.ts";
import {
  BOOTSTRAP_FLAG,
  createKafka,
  KAFKA_CLIENT_FLAGS,
  type KafkaClientOptions,
  kafkaClientOptions,
} from "../lib/kafka/kafka_client.ts";
import {
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_CONSUMER_TIMEOUT_MS,
  DEFAULT_KEEP_ALIVE_MS,
  DEFAULT_MAX_BODY,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_RECORD,
  DEFAULT_MEMORY_BUDGET,
  DEFAULT_REST_PORT,
  type RestProxyOptions,
  serveRestProxy,
} from "../lib/rest_proxy/rest_proxy.ts";
// Types only: the AWS side (and its SDK) loads when `config` runs, never for `serve`.
import type { ConfigOptions } from "../lib/aws/rest_proxy_config.ts";
import {
  DEFAULT_MAX_BLOCK_MS,
  DEFAULT_PROPERTIES_PATH,
  DEFAULT_REST_SERVICE,
} from "../lib/aws/rest_proxy_properties.ts";
import { fmtInt } from "../lib/shell/progress.ts";
import { registerSecret } from "../lib/shell/redact.ts";
import { logLine } from "../lib/shell/log.ts";
import { importLazily } from "../lib/shell/lazy.ts";

/** Why `path` is not a base path such as /test, or undefined. */
function basePathProblem(path: string): string | undefined {
  return path === "" || /^\/[A-Za-z0-9._~\/-]*$/.test(path)
    ? undefined
    : "expected a path such as /test";
}

/** `serve`'s flags: parser, --help and options all come from this table. */
export const SERVE_FLAGS = {
  host: {
    type: "string",
    help: "interface to bind",
    env: "PINPIPE_REST_HOST",
    default: "127.0.0.1",
  },
  port: {
    type: "int",
    help: "port, 0 for any free one",
    env: "PINPIPE_REST_PORT",
    default: DEFAULT_REST_PORT,
    min: 0,
    max: 65535,
  },
  "base-path": {
    type: "string",
    arg: "/P",
    help: "path prefix like an API Gateway stage",
    env: "PINPIPE_REST_BASE_PATH",
    default: "",
    defaultText: "none",
    check: basePathProblem,
  },
  "api-key-env": {
    type: "string",
    arg: "NAME",
    help: "environment variable holding the API key clients must send as x-api-key (e.g. " +
      "PINPIPE_API_KEY)",
    noEnv: "it names a variable itself",
    defaultText: "no key",
  },
  "auto-create": {
    type: "boolean",
    help: "create unknown topics instead of answering 40401",
    env: "PINPIPE_REST_AUTO_CREATE",
  },
  "max-body-bytes": {
    type: "bytes",
    help: "largest request body; a larger one is answered 413 after up to 64MiB of it was " +
      "read and discarded, so a client that sends its whole body first can read the answer",
    env: "PINPIPE_REST_MAX_BODY",
    default: DEFAULT_MAX_BODY,
    min: 1024,
  },
  "max-record-bytes": {
    type: "bytes",
    help: "largest record",
    env: "PINPIPE_REST_MAX_RECORD",
    default: DEFAULT_MAX_RECORD,
    min: 16,
  },
  "max-in-flight": {
    type: "int",
    help: "produce requests at once before 429, counted once their bodies arrived",
    env: "PINPIPE_REST_MAX_IN_FLIGHT",
    default: DEFAULT_MAX_IN_FLIGHT,
    min: 1,
  },
  "body-timeout": {
    type: "duration",
    help: "a request body must arrive within this long, else 408",
    env: "PINPIPE_REST_BODY_TIMEOUT",
    default: DEFAULT_BODY_TIMEOUT_MS,
    min: 100,
  },
  "memory-budget": {
    type: "bytes",
    help: "request bodies held at once across all connections, else 429: the one budget for " +
      "what connections hold (between requests a connection holds no buffer)",
    env: "PINPIPE_REST_MEMORY_BUDGET",
    default: DEFAULT_MEMORY_BUDGET,
    min: 1024 * 1024,
  },
  "keep-alive-timeout": {
    type: "duration",
    help: "an idle keep-alive connection is closed after this long (behind a load balancer, " +
      "longer than its idle timeout)",
    env: "PINPIPE_REST_KEEP_ALIVE_TIMEOUT",
    default: DEFAULT_KEEP_ALIVE_MS,
    min: 100,
  },
  "consumer-timeout": {
    type: "duration",
    help: "idle consumer instances are deleted after this long",
    env: "PINPIPE_REST_CONSUMER_TIMEOUT",
    default: DEFAULT_CONSUMER_TIMEOUT_MS,
    min: 1000,
  },
  json: jsonFlag('{"url","port"} instead of the URL'),
  ...KAFKA_CLIENT_FLAGS,
} as const satisfies FlagTable;

/** Why `arn` is not an MSK cluster ARN, or undefined. */
function clusterArnProblem(arn: string): string | undefined {
  return /^arn:aws[a-z-]*:kafka:/.test(arn) ? undefined : "expected arn:aws:kafka:…";
}

/** `config`'s flags. */
export const CONFIG_FLAGS = {
  "cluster-arn": {
    type: "string",
    arg: "ARN",
    help: "MSK cluster",
    env: "PINPIPE_CLUSTER_ARN",
    config: "clusterArn",
    check: clusterArnProblem,
  },
  bootstrap: {
    ...BOOTSTRAP_FLAG,
    help: "IAM brokers",
    defaultText: "GetBootstrapBrokers of the cluster",
  },
  region: REGION_FLAG,
  port: {
    type: "int",
    help: "REST listener port",
    env: "PINPIPE_REST_PORT",
    default: DEFAULT_REST_PORT,
    min: 1,
    max: 65535,
  },
  "max-block": {
    type: "duration",
    help: "producer.max.block.ms: how long a produce waits for a missing topic's metadata",
    env: "PINPIPE_REST_MAX_BLOCK",
    default: DEFAULT_MAX_BLOCK_MS,
    min: 0,
  },
  "role-arn": {
    type: "string",
    arg: "ARN",
    help: "role for the IAM login module",
    env: "PINPIPE_REST_ROLE_ARN",
    defaultText: "the instance profile",
  },
  deploy: {
    type: "boolean",
    help: "install on the instance via SSM and restart the service",
    env: "PINPIPE_REST_DEPLOY",
  },
  "instance-id": {
    type: "string",
    arg: "ID",
    help: "the REST proxy instance",
    env: "PINPIPE_REST_INSTANCE_ID",
    config: "restProxyInstanceId",
  },
  "properties-path": {
    type: "string",
    arg: "P",
    help: "file on the instance (where infra/client.yaml installs it)",
    env: "PINPIPE_REST_PROPERTIES_PATH",
    config: "restProxyPropertiesPath",
    default: DEFAULT_PROPERTIES_PATH,
  },
  service: {
    type: "string",
    arg: "NAME",
    help: "systemd unit",
    env: "PINPIPE_REST_SERVICE",
    config: "restProxyService",
    default: DEFAULT_REST_SERVICE,
  },
  "dry-run": dryRunFlag(
    "what would be installed (the file and the SSM command), calling AWS only to read,",
  ),
  json: jsonFlag("the result"),
} as const satisfies FlagTable;

export const HELP =
  `The Kafka REST proxy: a local v2 produce endpoint, or the AWS proxy's configuration.

Usage: deno task rest-proxy serve [flags]
       deno task rest-proxy config [--deploy] [flags]

serve: a Confluent REST Proxy-compatible server: v2 produce (json and binary), metadata and
consumers (/consumers/…), and the v3 records API (/v3/clusters/…/records). Flags (environment
variable, config key; default):
${flagHelp(SERVE_FLAGS)}

config: kafka-rest.properties for the REST proxy on EC2 with MSK IAM auth. Flags:
${flagHelp(CONFIG_FLAGS)}
`;

/** Names retired in the last release, refused with the name to use now (both subcommands). */
export const RETIRED = {
  PINPIPE_AUTO_CREATE: "PINPIPE_REST_AUTO_CREATE",
  "--max-block-ms": "--max-block DUR (a duration such as 10s)",
  PINPIPE_REST_MAX_BLOCK_MS: "PINPIPE_REST_MAX_BLOCK (a duration such as 10s)",
};

/** The parsed subcommand. */
export type RestProxyCommand =
  | {
    command: "serve";
    serve: RestProxyOptions & { kafkaClient: KafkaClientOptions };
    json: boolean;
  }
  | { command: "config"; config: ConfigOptions; json: boolean };

/** The API key clients must send: the variable `--api-key-env` names (never a flag's value). */
function serveApiKey(p: ParsedFlags<typeof SERVE_FLAGS>): string | undefined {
  const name = p.values.apiKeyEnv;
  if (!name) return undefined;
  const key = p.env[name];
  if (!key) p.problem(`--api-key-env ${name}: the variable "${name}" is not set`);
  else if (key.length < 20) p.problem(`The API key in "${name}" is shorter than 20 characters`);
  registerSecret(key);
  return key;
}

/** `serve`'s options. */
function serveOptions(p: ParsedFlags<typeof SERVE_FLAGS>): RestProxyCommand {
  const kafka = kafkaClientOptions(p, { clientId: "pinpipe-rest-proxy" });
  const apiKey = serveApiKey(p);
  p.done();
  const v = p.values;
  return {
    command: "serve",
    json: v.json,
    serve: {
      kafkaClient: kafka,
      kafka: createKafka(kafka),
      bootstrap: kafka.bootstrap,
      bootstrapFrom: kafka.bootstrapFrom,
      connectTimeoutMs: kafka.connectionTimeoutMs,
      tls: kafka.tls,
      hostname: v.host,
      port: v.port,
      basePath: v.basePath,
      apiKey,
      autoCreate: v.autoCreate,
      maxBodyBytes: v.maxBodyBytes,
      maxRecordBytes: v.maxRecordBytes,
      maxInFlight: v.maxInFlight,
      bodyTimeoutMs: v.bodyTimeout,
      memoryBudgetBytes: v.memoryBudget,
      keepAliveTimeoutMs: v.keepAliveTimeout,
      consumers: { instanceTimeoutMs: v.consumerTimeout },
      log: logLine,
    },
  };
}

/** `config`'s options. */
function configOptions(p: ParsedFlags<typeof CONFIG_FLAGS>): RestProxyCommand {
  const v = p.values;
  if (!v.bootstrap && !v.clusterArn) {
    p.problem("Missing --cluster-arn or --bootstrap: which MSK cluster?");
  }
  if (v.deploy && !v.instanceId) {
    p.problem("--deploy needs --instance-id (or config restProxyInstanceId)");
  }
  p.done();
  return {
    command: "config",
    json: v.json,
    config: {
      clusterArn: v.clusterArn,
      bootstrap: v.bootstrap,
      region: v.region,
      port: v.port,
      maxBlockMs: v.maxBlock,
      roleArn: v.roleArn,
      deploy: v.deploy,
      dryRun: v.dryRun,
      target: {
        instanceId: v.instanceId ?? "",
        path: v.propertiesPath,
        service: v.service,
        port: v.port,
      },
    },
  };
}

/** Splits off the subcommand and reads its options; every problem is reported together. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
  cfg: Record<string, unknown> = {},
): RestProxyCommand {
  const command = args[0]?.startsWith("-") ? undefined : args[0];
  const rest = command === undefined ? args : args.slice(1);
  if (command === "serve") {
    return serveOptions(readFlags(SERVE_FLAGS, rest, env, cfg, { retired: RETIRED }));
  }
  if (command === "config") {
    return configOptions(readFlags(CONFIG_FLAGS, rest, env, cfg, { retired: RETIRED }));
  }
  // Name an unknown flag too, with the subcommand's problem.
  const p = readFlags({ ...SERVE_FLAGS, ...CONFIG_FLAGS }, rest, env, cfg, { retired: RETIRED });
  p.problems.unshift(
    command === undefined
      ? "Missing subcommand: expected serve or config"
      : `Unknown subcommand "${command}": expected serve or config`,
  );
  p.done();
  throw new UsageError("Missing subcommand: expected serve or config");
}

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    const parsed = parseOptions(args, env, await loadConfig(env));
    if (parsed.command === "config") {
      const { runConfig } = await importLazily<typeof import("../lib/aws/rest_proxy_config.ts")>(
        new URL("../lib/aws/rest_proxy_config.ts", import.meta.url),
      );
      const r = await runConfig(parsed.config, {
        signal,
        log: (l) => console.error(`rest-proxy: ${l}`),
      });
      if (parsed.json) return console.log(JSON.stringify(r, null, 2));
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
    const { stats: st, servedSec } = await serveRestProxy(s, {
      signal,
      onListening: (proxy) => {
        logLine(`rest-proxy: listening on ${proxy.url} -> Kafka ${s.bootstrap}`);
        console.log(
          parsed.json ? JSON.stringify({ url: proxy.url, port: proxy.port }) : proxy.url,
        );
      },
    });
    logLine(
      `rest-proxy: stopped after ${servedSec.toFixed(0)} s: ${fmtInt(st.records)} records in ${
        fmtInt(st.produceRequests)
      } produce requests, ${fmtInt(st.recordErrors)} record errors, ${
        fmtInt(st.rejected429)
      } answered 429`,
    );
    return 0;
  });
}

#!/usr/bin/env -S deno run -A
/**
 * `deno task connector`: registers the Confluent S3 sink that lands every `<prefix>.*` topic
 * in the lake bucket, with the configuration infra/connect.yaml defines for deploy too (the
 * original pipeline's JsonFormat, DefaultPartitioner, JsonConverter without schemas,
 * StringConverter keys, `s3.region` set; plus scheduled rotation in UTC).
 *
 * - `--target msk-connect` (default): the plugin zip in S3, the custom plugin, a worker
 *   configuration and the connector on MSK Connect (IAM auth, TLS), then waits for RUNNING.
 * - `--target connect-rest --connect-url http://host:8083`: `PUT /connectors/<name>/config`
 *   on a self-managed Kafka Connect, then waits for RUNNING.
 *
 * Run: `deno task connector --bucket my-lake --dry-run`, or from a URL:
 * `deno run -A https://…/tasks/connector.ts --help`. Defaults (bucket, region, cluster,
 * subnets, role) come from `.pinpipe/aws.json`, written by `deno task deploy`.
 * Changes: the connector (and its plugin/worker configuration) on AWS, or on Kafka Connect.
 * A re-run converges: unchanged resources are left alone, a changed configuration is an
 * update. Exit codes: 0 running, 1 failed, 2 bad options, 130 interrupted.
 * @module
 */
import { Options, parseFlags, runMain } from "../lib/shell/cli.ts";
import type { FlagSpec } from "../lib/shell/cli.ts";
import { loadConfig } from "../lib/shell/config.ts";
import { S3_SINK_PLUGIN } from "../lib/aws/connector_config.ts";
import type { S3SinkSettings } from "../lib/aws/connector_config.ts";
import {
  type ConnectorOptions,
  type MskConnectOptions,
  runConnector,
} from "../lib/aws/connector.ts";

export { type ConnectorOptions, runConnector };

export const HELP =
  `Registers the Confluent S3 sink connector (topics <prefix>.* -> the lake bucket).

Usage: deno task connector [--target msk-connect|connect-rest] [flags]

  --target T            msk-connect | connect-rest (PINPIPE_CONNECTOR_TARGET; default msk-connect)
  --name NAME           connector name (PINPIPE_CONNECTOR_NAME, config connectorName;
                        default <prefix>-s3-sink)
  --prefix P            topic prefix; topics.regex=<prefix>.* (PINPIPE_PREFIX, config prefix;
                        default pinpipe)
  --bucket B            lake bucket, s3.bucket.name (PINPIPE_BUCKET, config bucket; required)
  --topics-dir D        topics.dir in the bucket (PINPIPE_TOPICS_DIR; default topics)
  --region R            s3.region and the AWS region (AWS_REGION, config region; required)
  --flush-size N        records per object, flush.size (PINPIPE_FLUSH_SIZE; default 1000;
                        the original used 1)
  --rotate-interval D   commit an open object at least this often, rotate.schedule.interval.ms
                        (PINPIPE_ROTATE_INTERVAL; default 10m)
  --tasks-max N         tasks.max (PINPIPE_TASKS_MAX; default 3)
  --timeout DUR         how long to wait for RUNNING (PINPIPE_CONNECTOR_TIMEOUT; default 40m)
  --dry-run             print the exact request(s) and change nothing
  --json                print the result as JSON
  --help                this text

connect-rest:
  --connect-url URL     Kafka Connect REST base URL (PINPIPE_CONNECT_URL; required); one
                        that does not answer within 5 s is an error, not retried

msk-connect:
  --bootstrap H:P,…     SASL/IAM brokers (PINPIPE_BOOTSTRAP, config bootstrapBrokers; default:
                        GetBootstrapBrokers of --cluster-arn)
  --cluster-arn ARN     MSK cluster (PINPIPE_CLUSTER_ARN, config clusterArn)
  --subnets a,b         connector subnets (PINPIPE_CONNECTOR_SUBNETS, config connectorSubnets)
  --security-groups a   connector security groups (PINPIPE_CONNECTOR_SECURITY_GROUPS,
                        config connectorSecurityGroups)
  --role-arn ARN        service execution role (PINPIPE_CONNECTOR_ROLE_ARN, config connectorRoleArn)
  --log-group NAME      CloudWatch log group for worker logs (PINPIPE_CONNECTOR_LOG_GROUP,
                        config connectorLogGroup; default: no log delivery)
  --plugin-s3 URL       where the plugin zip lives (PINPIPE_CONNECTOR_PLUGIN_S3; default
                        s3://<bucket>/plugins/${S3_SINK_PLUGIN.file})
  --plugin-file PATH    local plugin zip uploaded when the S3 copy is missing
                        (PINPIPE_CONNECTOR_PLUGIN_FILE; default: download it from Confluent Hub)
  --workers N           provisioned workers (PINPIPE_CONNECTOR_WORKERS; default 1)
  --mcu N               MCUs per worker: 1, 2, 4 or 8 (PINPIPE_CONNECTOR_MCU; default 1)
  --connect-version V   KafkaConnectVersion (PINPIPE_CONNECT_VERSION; default 2.7.1)
  --replication-factor N  of MSK Connect's internal topics, -1 for the cluster default
                        (PINPIPE_CONNECT_REPLICATION_FACTOR, config connectReplicationFactor;
                        default: the cluster's broker count up to 3, from DescribeClusterV2)

Defaults for flush size, tasks and rotation are infra/connect.yaml's, as deploy uses them.
`;

const FLAGS = Object.fromEntries(
  [
    "target",
    "name",
    "prefix",
    "bucket",
    "topics-dir",
    "region",
    "flush-size",
    "rotate-interval",
    "tasks-max",
    "timeout",
    "connect-url",
    "bootstrap",
    "cluster-arn",
    "subnets",
    "security-groups",
    "role-arn",
    "log-group",
    "plugin-s3",
    "plugin-file",
    "workers",
    "mcu",
    "connect-version",
    "replication-factor",
  ].map((f): [string, FlagSpec] => [f, { type: "string" }]).concat([
    ["dry-run", { type: "boolean" }],
    ["json", { type: "boolean" }],
  ]),
);

/** Reads the flags, environment and config file; every problem is reported together. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
  cfg: Record<string, unknown> = {},
): ConnectorOptions {
  const { values } = parseFlags(args, FLAGS);
  const o = new Options(values, env, cfg);
  const target = o.choice("target", ["msk-connect", "connect-rest"] as const, {
    env: "PINPIPE_CONNECTOR_TARGET",
  });
  const prefix = o.prefix();
  const name = o.string("name", { env: "PINPIPE_CONNECTOR_NAME", config: "connectorName" }) ??
    `${prefix}-s3-sink`;
  const bucket = o.need("bucket", { env: "PINPIPE_BUCKET", config: "bucket" });
  const region = o.string("region", { env: "AWS_REGION", config: "region" }) ??
    env.AWS_DEFAULT_REGION ?? "";
  if (!region) o.problem("Missing --region (or AWS_REGION): s3.region must be set");
  const sink: S3SinkSettings = { prefix, bucket, region };
  if (o.raw("flush-size", { env: "PINPIPE_FLUSH_SIZE" })) {
    sink.flushSize = o.int("flush-size", { env: "PINPIPE_FLUSH_SIZE", min: 1 });
  }
  if (o.raw("tasks-max", { env: "PINPIPE_TASKS_MAX" })) {
    sink.tasksMax = o.int("tasks-max", { env: "PINPIPE_TASKS_MAX", min: 1 });
  }
  if (o.raw("rotate-interval", { env: "PINPIPE_ROTATE_INTERVAL" })) {
    sink.rotateIntervalMs = o.duration("rotate-interval", {
      env: "PINPIPE_ROTATE_INTERVAL",
      min: 1000,
    });
  }
  const topicsDir = o.string("topics-dir", { env: "PINPIPE_TOPICS_DIR" });
  if (topicsDir) sink.topicsDir = topicsDir;
  const common = {
    name,
    sink,
    dryRun: o.bool("dry-run"),
    timeoutMs: o.duration("timeout", { env: "PINPIPE_CONNECTOR_TIMEOUT", default: 40 * 60_000 }),
  };
  if (target === "connect-rest") {
    const connectUrl = o.need("connect-url", { env: "PINPIPE_CONNECT_URL" });
    const connectUrlSource = o.raw("connect-url", { env: "PINPIPE_CONNECT_URL" })?.from;
    if (connectUrl && !/^https?:\/\/[^/\s]+/.test(connectUrl)) {
      o.problem(`Invalid ${connectUrlSource} "${connectUrl}": expected http(s)://host:port`);
    }
    o.done();
    return { ...common, target, connectUrl, connectUrlSource };
  }
  const list = (flag: string, envName: string, key: string) =>
    (o.string(flag, { env: envName, config: key }) ?? "").split(",").map((s) => s.trim())
      .filter(Boolean);
  const clusterArn = o.string("cluster-arn", { env: "PINPIPE_CLUSTER_ARN", config: "clusterArn" });
  const bootstrap = o.string("bootstrap", { env: "PINPIPE_BOOTSTRAP", config: "bootstrapBrokers" });
  if (!bootstrap && !clusterArn) o.problem("Missing --bootstrap or --cluster-arn: where is MSK?");
  const pluginUrl = o.string("plugin-s3", { env: "PINPIPE_CONNECTOR_PLUGIN_S3" }) ??
    `s3://${bucket}/plugins/${S3_SINK_PLUGIN.file}`;
  const plugin = {
    name: `pinpipe-kafka-connect-s3-${S3_SINK_PLUGIN.version}`,
    bucket: "",
    key: "",
  };
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+\.(?:zip|jar))$/.exec(pluginUrl);
  if (m) [plugin.bucket, plugin.key] = [m[1], m[2]];
  else if (bucket) o.problem(`Invalid --plugin-s3 "${pluginUrl}": expected s3://bucket/key.zip`);
  const replicationFactor = o.string("replication-factor", {
    env: "PINPIPE_CONNECT_REPLICATION_FACTOR",
    config: "connectReplicationFactor",
  });
  if (replicationFactor !== undefined && !/^(-1|[1-9])$/.test(replicationFactor)) {
    o.problem(
      `Invalid --replication-factor "${replicationFactor}": expected 1 to 9, or -1 for the cluster default`,
    );
  }
  if (replicationFactor === undefined && !clusterArn && bootstrap) {
    o.problem(
      "Missing --replication-factor (or --cluster-arn to read the broker count from): how many replicas for MSK Connect's internal topics?",
    );
  }
  const settings: MskConnectOptions = {
    connectorName: name,
    region,
    replicationFactor,
    bootstrapServers: bootstrap ?? "",
    subnets: list("subnets", "PINPIPE_CONNECTOR_SUBNETS", "connectorSubnets"),
    securityGroups: list(
      "security-groups",
      "PINPIPE_CONNECTOR_SECURITY_GROUPS",
      "connectorSecurityGroups",
    ),
    executionRoleArn: o.need("role-arn", {
      env: "PINPIPE_CONNECTOR_ROLE_ARN",
      config: "connectorRoleArn",
    }),
    plugin,
    capacity: {
      workerCount: o.int("workers", {
        env: "PINPIPE_CONNECTOR_WORKERS",
        default: 1,
        min: 1,
        max: 10,
      }),
      mcuCount: o.int("mcu", { env: "PINPIPE_CONNECTOR_MCU", default: 1, min: 1, max: 8 }),
    },
    kafkaConnectVersion: o.string("connect-version", {
      env: "PINPIPE_CONNECT_VERSION",
      default: "2.7.1",
    })!,
    logGroup: o.string("log-group", {
      env: "PINPIPE_CONNECTOR_LOG_GROUP",
      config: "connectorLogGroup",
    }),
    workerConfigName: "pinpipe-s3-sink-worker",
  };
  if (![1, 2, 4, 8].includes(settings.capacity.mcuCount)) {
    o.problem(`Invalid --mcu "${settings.capacity.mcuCount}": expected 1, 2, 4 or 8`);
  }
  if (!settings.subnets.length) o.problem("Missing --subnets (or config connectorSubnets)");
  if (!settings.securityGroups.length) {
    o.problem("Missing --security-groups (or config connectorSecurityGroups)");
  }
  const pluginFile = o.string("plugin-file", { env: "PINPIPE_CONNECTOR_PLUGIN_FILE" });
  o.done();
  return { ...common, target, region, clusterArn, settings, pluginFile };
}

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    const opts = parseOptions(args, env, await loadConfig(env));
    const { text, ...data } = await runConnector(opts, { signal });
    console.log(args.includes("--json") ? JSON.stringify(data, null, 2) : text);
  });
}

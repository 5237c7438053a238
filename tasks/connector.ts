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
import { runMain } from "../lib/shell/cli.ts";
import {
  commaList,
  dryRunFlag,
  type FlagTable,
  helpText,
  jsonFlag,
  PREFIX_FLAG,
  readFlags,
  REGION_FLAG,
  urlCheck,
} from "../lib/shell/flags.ts";
import { loadConfig } from "../lib/shell/config.ts";
import { BUCKET_FLAG, TOPICS_DIR } from "../lib/lake/lake.ts";
import { BOOTSTRAP_FLAG } from "../lib/kafka/kafka_client.ts";
import { PLUGIN_URL_FLAG, pluginObjectKey, S3_SINK_PLUGIN } from "../lib/aws/connector_config.ts";
import { DEFAULT_CONNECTOR_TIMEOUT_MS } from "../lib/aws/msk_connect.ts";
import {
  CONNECTOR_TARGETS,
  type ConnectorOptions,
  defaultConnectorName,
  runConnector,
} from "../lib/aws/connector.ts";

export { type ConnectorOptions, runConnector };

/** "--x's default is connect.yaml's": the one definition deploy sends too. */
const yaml = (param: string) => `infra/connect.yaml's ${param}`;

/** The connector task's flags: parser, --help and options all come from this table. */
export const FLAGS = {
  target: {
    type: "choice",
    choices: CONNECTOR_TARGETS,
    help: "where to register the connector",
    env: "PINPIPE_CONNECTOR_TARGET",
    default: CONNECTOR_TARGETS[0],
  },
  name: {
    type: "string",
    help: "connector name",
    env: "PINPIPE_CONNECTOR_NAME",
    config: "connectorName",
    defaultText: defaultConnectorName("P"),
  },
  prefix: { ...PREFIX_FLAG, help: "topic prefix; topics.regex=P.*" },
  bucket: { ...BUCKET_FLAG, help: "the lake bucket, s3.bucket.name", required: true },
  "topics-dir": {
    type: "string",
    arg: "D",
    help: "topics.dir in the bucket",
    env: "PINPIPE_TOPICS_DIR",
    default: TOPICS_DIR,
  },
  region: { ...REGION_FLAG, help: "s3.region and the AWS region" },
  "flush-size": {
    type: "int",
    help: "records per object, flush.size (the original used 1)",
    env: "PINPIPE_FLUSH_SIZE",
    min: 1,
    defaultText: yaml("FlushSize"),
  },
  "rotate-interval": {
    type: "duration",
    help: "commit an open object at least this often, rotate.schedule.interval.ms",
    env: "PINPIPE_ROTATE_INTERVAL",
    min: 1000,
    defaultText: yaml("RotateIntervalMs"),
  },
  "tasks-max": {
    type: "int",
    help: "tasks.max",
    env: "PINPIPE_TASKS_MAX",
    min: 1,
    defaultText: yaml("TasksMax"),
  },
  timeout: {
    type: "duration",
    help: "how long to wait for RUNNING",
    env: "PINPIPE_CONNECTOR_TIMEOUT",
    default: DEFAULT_CONNECTOR_TIMEOUT_MS,
  },
  "dry-run": dryRunFlag("the exact request(s)"),
  json: jsonFlag("the result"),
  "connect-url": {
    type: "string",
    arg: "URL",
    help: "Kafka Connect REST base URL, required; one that does not answer within 5 s is an " +
      "error, not retried",
    env: "PINPIPE_CONNECT_URL",
    section: "connect-rest",
    check: urlCheck(
      undefined,
      (url) => /^https?:\/\/[^/\s]+/.test(url) ? undefined : "expected http(s)://host:port",
    ),
  },
  bootstrap: {
    ...BOOTSTRAP_FLAG,
    help: "the SASL/IAM brokers",
    defaultText: "GetBootstrapBrokers of --cluster-arn",
    section: "msk-connect",
  },
  "cluster-arn": {
    type: "string",
    arg: "ARN",
    help: "the MSK cluster",
    env: "PINPIPE_CLUSTER_ARN",
    config: "clusterArn",
  },
  subnets: {
    type: "list",
    arg: "ID,…",
    help: "connector subnets",
    env: "PINPIPE_CONNECTOR_SUBNETS",
    config: "connectorSubnets",
  },
  "security-groups": {
    type: "list",
    arg: "ID,…",
    help: "connector security groups",
    env: "PINPIPE_CONNECTOR_SECURITY_GROUPS",
    config: "connectorSecurityGroups",
  },
  "role-arn": {
    type: "string",
    arg: "ARN",
    help: "service execution role",
    env: "PINPIPE_CONNECTOR_ROLE_ARN",
    config: "connectorRoleArn",
  },
  "log-group": {
    type: "string",
    arg: "NAME",
    help: "CloudWatch log group for worker logs",
    env: "PINPIPE_CONNECTOR_LOG_GROUP",
    config: "connectorLogGroup",
    defaultText: "no log delivery",
  },
  "plugin-url": PLUGIN_URL_FLAG,
  "plugin-s3": {
    type: "string",
    arg: "URL",
    help: "where the plugin zip lives",
    env: "PINPIPE_CONNECTOR_PLUGIN_S3",
    defaultText: `s3://B/${pluginObjectKey("<file of --plugin-url>")}`,
    check: urlCheck(),
  },
  workers: {
    type: "int",
    help: "provisioned workers",
    env: "PINPIPE_CONNECTOR_WORKERS",
    min: 1,
    max: 10,
    defaultText: yaml("WorkerCount"),
  },
  mcu: {
    type: "int",
    help: "MCUs per worker: 1, 2, 4 or 8",
    env: "PINPIPE_CONNECTOR_MCU",
    check: (n: number) => [1, 2, 4, 8].includes(n) ? undefined : "expected 1, 2, 4 or 8",
    defaultText: yaml("McuCount"),
  },
  "connect-version": {
    type: "string",
    arg: "V",
    help: "KafkaConnectVersion",
    env: "PINPIPE_CONNECT_VERSION",
    defaultText: yaml("KafkaConnectVersion"),
  },
  "take-over": {
    type: "boolean",
    help: "change a connector the connect stack owns (its tags say so) anyway, saying what " +
      "changes; its next deploy sets it back",
    noEnv: "taking a resource from its stack is decided on the command line of each run",
    section: "msk-connect",
  },
  "replication-factor": {
    type: "string",
    arg: "N",
    help: "of MSK Connect's internal topics, -1 for the cluster default",
    env: "PINPIPE_CONNECT_REPLICATION_FACTOR",
    config: "connectReplicationFactor",
    defaultText: "the cluster's broker count up to 3, from DescribeClusterV2",
    check: (n: string) =>
      /^(-1|[1-9])$/.test(n) ? undefined : "expected 1 to 9, or -1 for the cluster default",
  },
} as const satisfies FlagTable;

export const HELP = helpText({
  about: "Registers the Confluent S3 sink connector (topics <prefix>.* -> the lake bucket).",
  usage: "deno task connector [--target msk-connect|connect-rest] [flags]",
  flags: FLAGS,
  notes: `Defaults for flush size, tasks, rotation, capacity and version are infra/connect.yaml's,
as deploy uses them.`,
});

/** The options of the connector task: runConnector's, and how to print its result. */
export type ConnectorTaskOptions = ConnectorOptions & { json: boolean };

/** Names retired in the last release, refused with the name to use now. */
export const RETIRED = {
  "--plugin-file": "--plugin-url PATH",
  PINPIPE_CONNECTOR_PLUGIN_FILE: "PINPIPE_PLUGIN_URL",
};

/** Reads the flags, environment and config file; every problem is reported together. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
  cfg: Record<string, unknown> = {},
): ConnectorTaskOptions {
  const p = readFlags(FLAGS, args, env, cfg, {
    retired: RETIRED,
  });
  const v = p.values;
  const bucket = v.bucket ?? "";
  const common = {
    name: v.name ?? defaultConnectorName(v.prefix),
    sink: {
      prefix: v.prefix,
      bucket,
      region: v.region,
      topicsDir: v.topicsDir,
      flushSize: v.flushSize,
      tasksMax: v.tasksMax,
      rotateIntervalMs: v.rotateInterval,
    },
    dryRun: v.dryRun,
    timeoutMs: v.timeout,
    json: v.json,
  };
  if (v.target === "connect-rest") {
    if (!p.given("connect-url")) p.problem("Missing --connect-url (or PINPIPE_CONNECT_URL)");
    p.done();
    return {
      ...common,
      target: v.target,
      connectUrl: v.connectUrl!,
      connectUrlSource: p.from("connect-url"),
    };
  }
  if (!v.bootstrap && !v.clusterArn) {
    p.problem("Missing --bootstrap or --cluster-arn: where is MSK?");
  }
  if (!p.given("replication-factor") && !v.clusterArn && v.bootstrap) {
    p.problem(
      "Missing --replication-factor (or --cluster-arn to read the broker count from): how many replicas for MSK Connect's internal topics?",
    );
  }
  const subnets = commaList(v.subnets);
  const securityGroups = commaList(v.securityGroups);
  if (!subnets.length) p.problem("Missing --subnets (or config connectorSubnets)");
  if (!securityGroups.length) {
    p.problem("Missing --security-groups (or config connectorSecurityGroups)");
  }
  if (!v.roleArn) p.problem("Missing --role-arn (or config connectorRoleArn)");
  const pluginS3 = v.pluginS3 ?? `s3://${bucket}/${pluginObjectKey(v.pluginUrl)}`;
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+\.(?:zip|jar))$/.exec(pluginS3);
  if (!m && bucket) p.problem(`Invalid --plugin-s3 "${pluginS3}": expected s3://bucket/key.zip`);
  p.done();
  return {
    ...common,
    target: v.target,
    region: v.region,
    clusterArn: v.clusterArn,
    pluginUrl: v.pluginUrl,
    settings: {
      connectorName: common.name,
      region: v.region,
      replicationFactor: v.replicationFactor,
      bootstrapServers: v.bootstrap ?? "",
      subnets,
      securityGroups,
      executionRoleArn: v.roleArn!,
      plugin: {
        name: `${v.prefix}-connector-s3-sink-${S3_SINK_PLUGIN.version}`,
        bucket: m![1],
        key: m![2],
      },
      capacity: { workerCount: v.workers, mcuCount: v.mcu },
      kafkaConnectVersion: v.connectVersion,
      logGroup: v.logGroup,
      workerConfigName: `${v.prefix}-connector-s3-sink-worker`,
      prefix: v.prefix,
      takeOver: v.takeOver,
    },
  };
}

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    const opts = parseOptions(args, env, await loadConfig(env));
    const { text, ...data } = await runConnector(opts, { signal });
    console.log(opts.json ? JSON.stringify(data, null, 2) : text);
  });
}

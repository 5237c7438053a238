/**
 * Registering the Confluent S3 sink connector (SPEC §3; its configuration is the one in
 * infra/connect.yaml) on one of two targets: MSK Connect through the kafkaconnect API
 * (custom plugin, worker configuration, connector, waiting for RUNNING), or a self-managed
 * Kafka Connect worker through its REST API (`PUT /connectors/<name>/config`, polling
 * `/status`). Both are idempotent.
 * @module
 */
import { getIamBootstrap, internalReplicationFactor } from "./bootstrap_brokers.ts";
import { connectRequest, registerConnector } from "./connect_rest.ts";
import {
  loadSinkTemplate,
  readPluginZip,
  s3SinkConfig,
  templateDefault,
  workerProperties,
} from "./connector_config.ts";
import type { S3SinkSettings } from "./connector_config.ts";
import { KafkaClient } from "../deps/aws_kafka.ts";
import { KafkaConnectClient } from "../deps/aws_kafkaconnect.ts";
import { S3Client } from "../deps/aws_s3.ts";
import { createConnectorInput, deployMskConnector } from "./msk_connect.ts";
import type { MskConnectSettings } from "./msk_connect.ts";
import { logLine } from "../shell/log.ts";
import type { Template } from "./stacks.ts";

/**
 * MSK Connect settings before infra/connect.yaml is read: its configuration, and its defaults
 * for what is not given (capacity, Kafka Connect version).
 */
export type MskConnectOptions =
  & Omit<MskConnectSettings, "config" | "workerProperties" | "capacity" | "kafkaConnectVersion">
  & {
    /** The internal topics' replication factor; default: from the cluster (DescribeClusterV2). */
    replicationFactor?: string;
    /** Default: connect.yaml's WorkerCount and McuCount. */
    capacity: { workerCount?: number; mcuCount?: number };
    /** Default: connect.yaml's KafkaConnectVersion. */
    kafkaConnectVersion?: string;
  };

/** Where the connector can be registered; the first is the default. */
export const CONNECTOR_TARGETS = ["msk-connect", "connect-rest"] as const;

/** The connector's name when none is given. */
export function defaultConnectorName(prefix: string): string {
  return `${prefix}-s3-sink`;
}

/** Parsed options of the connector task. */
export type ConnectorOptions =
  & { name: string; sink: S3SinkSettings; timeoutMs: number; dryRun: boolean }
  & (
    | { target: "connect-rest"; connectUrl: string; connectUrlSource?: string }
    | {
      target: "msk-connect";
      region: string;
      clusterArn?: string;
      settings: MskConnectOptions;
      /** Where the plugin zip comes from when S3 lacks it: an http(s) URL or a local path. */
      pluginUrl: string;
    }
  );

/** AWS clients and I/O for `runConnector` (tests pass mocked clients and a fake fetch). */
export interface ConnectorDeps {
  kafkaconnect?: KafkaConnectClient;
  s3?: S3Client;
  kafka?: KafkaClient;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** infra/connect.yaml (tests may pass it already loaded). */
  template?: Template;
}

/** Registers (or with dryRun describes) the connector; returns what was done. */
export async function runConnector(
  opts: ConnectorOptions,
  deps: ConnectorDeps = {},
): Promise<Record<string, unknown> & { text: string }> {
  const log = deps.log ?? ((line: string) => logLine(`connector: ${line}`));
  const template = deps.template ?? await loadSinkTemplate();
  const config = s3SinkConfig(template, opts.sink);
  if (opts.target === "connect-rest") {
    if (opts.dryRun) {
      const req = connectRequest(opts.connectUrl, opts.name, config);
      const text = `${req.method} ${req.url}\nContent-Type: application/json\n\n${req.body}`;
      return { text, dryRun: true, request: req };
    }
    const r = await registerConnector({
      baseUrl: opts.connectUrl,
      urlSource: opts.connectUrlSource,
      name: opts.name,
      config,
      timeoutMs: opts.timeoutMs,
      fetch: deps.fetch,
      signal: deps.signal,
      onProgress: log,
    });
    const action = r.created ? "created" : "updated";
    return {
      text: `connector ${opts.name} ${action}: RUNNING with ${r.status.tasks.length} task(s)`,
      target: opts.target,
      name: opts.name,
      action,
      state: "RUNNING",
      tasks: r.status.tasks.length,
    };
  }
  const kafka = () => deps.kafka ?? new KafkaClient({ region: opts.region });
  const { replicationFactor, capacity, kafkaConnectVersion, ...rest } = opts.settings;
  let rf = replicationFactor;
  if (rf === undefined && !opts.dryRun) {
    rf = await internalReplicationFactor(kafka(), opts.clusterArn!);
    log(`internal topics: replication factor ${rf} (from the cluster)`);
  }
  const settings: MskConnectSettings = {
    ...rest,
    capacity: {
      workerCount: capacity.workerCount ?? Number(templateDefault(template, "WorkerCount")),
      mcuCount: capacity.mcuCount ?? Number(templateDefault(template, "McuCount")),
    },
    kafkaConnectVersion: kafkaConnectVersion ?? templateDefault(template, "KafkaConnectVersion"),
    config,
    workerProperties: workerProperties(template, rf ?? "<DescribeClusterV2>"),
  };
  if (opts.dryRun) {
    if (!settings.bootstrapServers) {
      settings.bootstrapServers = `<GetBootstrapBrokers ${opts.clusterArn}>`;
    }
    const input = createConnectorInput(
      settings,
      { arn: `<custom plugin ${settings.plugin.name}>`, revision: 1 },
      { arn: `<worker configuration ${settings.workerConfigName}-…>`, revision: 1 },
    );
    const text = `CreateConnector (UpdateConnector when it exists) in ${opts.region}:\n${
      JSON.stringify(input, null, 2)
    }\nworker configuration:\n${settings.workerProperties}`;
    return {
      text,
      dryRun: true,
      createConnector: input,
      workerProperties: settings.workerProperties,
    };
  }
  if (!settings.bootstrapServers) {
    settings.bootstrapServers = await getIamBootstrap(kafka(), opts.clusterArn!);
  }
  const f = deps.fetch ?? fetch;
  const r = await deployMskConnector(settings, {
    kafkaconnect: deps.kafkaconnect ?? new KafkaConnectClient({ region: opts.region }),
    s3: deps.s3 ?? new S3Client({ region: opts.region }),
    pluginBytes: () => {
      log(`reading the plugin from ${opts.pluginUrl}`);
      return readPluginZip(opts.pluginUrl, { fetch: f, signal: deps.signal });
    },
    timeoutMs: opts.timeoutMs,
    signal: deps.signal,
    onProgress: log,
  });
  return {
    text: `connector ${opts.name} ${r.action}: ${r.state} (${r.connectorArn})`,
    target: opts.target,
    name: opts.name,
    ...r,
  };
}

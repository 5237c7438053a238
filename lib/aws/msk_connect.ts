/**
 * Deploys the S3 sink on MSK Connect (reference/aws-kafka.md §4.3) through
 * `@aws-sdk/client-kafkaconnect`, converging on every run:
 * 1. the plugin zip is in S3 (HeadObject; uploaded from a local file or from Confluent Hub
 *    when missing);
 * 2. a custom plugin named for it exists and is ACTIVE (created when missing);
 * 3. a worker configuration whose name carries a hash of its content exists (worker
 *    configurations are immutable, so a new content is a new name);
 * 4. the connector is created, or updated in place when its configuration, worker
 *    configuration, plugin or capacity differ, or left alone. One UpdateConnector call per
 *    kind of change, each once the connector is RUNNING again, with the `currentVersion`
 *    read afresh. A connector, plugin or worker configuration a stack owns (its tags say so,
 *    lib/aws/connector_owner.ts) is left alone unless `takeOver` is set; what this creates is
 *    tagged as the task's, for `deploy --destroy`;
 * 5. then polled until RUNNING, with the service's state description when it FAILS.
 * @module
 */
import {
  CreateConnectorCommand,
  CreateCustomPluginCommand,
  CreateWorkerConfigurationCommand,
  DescribeConnectorCommand,
  DescribeCustomPluginCommand,
  KafkaConnectClient,
  ListConnectorsCommand,
  ListCustomPluginsCommand,
  ListWorkerConfigurationsCommand,
  UpdateConnectorCommand,
} from "../deps/aws_kafkaconnect.ts";
import type {
  CreateConnectorCommandInput,
  DescribeConnectorCommandOutput,
  UpdateConnectorCommandInput,
} from "../deps/aws_kafkaconnect.ts";
import { HeadObjectCommand, PutObjectCommand, S3Client } from "../deps/aws_s3.ts";
import { arnPartition } from "../shell/config.ts";
import { configDiff, contentTag } from "./connector_config.ts";
import { connectorTags, owningStack } from "./connector_owner.ts";
import { RetriableError, UsageError } from "../shell/errors.ts";
import { delay } from "../shell/retry.ts";

/** How long the connector task waits for RUNNING by default (creation takes about 10 min). */
export const DEFAULT_CONNECTOR_TIMEOUT_MS = 40 * 60_000;

/** Everything MSK Connect needs to run the sink. */
export interface MskConnectSettings {
  connectorName: string;
  /** The region (the plugin bucket's ARN partition follows from it). */
  region: string;
  /** The connector configuration (see `s3SinkConfig`). */
  config: Record<string, string>;
  /** SASL/IAM bootstrap brokers (port 9098). */
  bootstrapServers: string;
  subnets: string[];
  securityGroups: string[];
  /** The service execution role (trusts kafkaconnect.amazonaws.com). */
  executionRoleArn: string;
  /** Where the plugin zip lives (or is put). */
  plugin: { name: string; bucket: string; key: string };
  /** Worker count and MCUs per worker (1, 2, 4 or 8). */
  capacity: { workerCount: number; mcuCount: number };
  /** `KafkaConnectVersion`, e.g. 2.7.1. */
  kafkaConnectVersion: string;
  /** CloudWatch log group for worker logs; none disables log delivery. */
  logGroup?: string;
  /** Name prefix of the worker configuration (a content hash is appended). */
  workerConfigName: string;
  /** The worker configuration's properties (`workerProperties` of infra/connect.yaml). */
  workerProperties: string;
  /** The prefix the task's own resources are tagged with (`deploy --destroy` removes them). */
  prefix: string;
  /** Change a connector a stack owns anyway (`--take-over`), saying what changes. */
  takeOver?: boolean;
}

/** Clients and knobs for `deployMskConnector`. */
export interface MskConnectDeps {
  kafkaconnect: KafkaConnectClient;
  s3: S3Client;
  /** Bytes of the plugin zip when it is not in S3 yet (a local file or a download). */
  pluginBytes?: () => Promise<Uint8Array>;
  pollMs?: number;
  /** Give up waiting for RUNNING after this long. Default 40 min (creation takes ~10). */
  timeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (line: string) => void;
}

/** What `deployMskConnector` did. */
export interface MskConnectResult {
  connectorArn: string;
  /** created | updated | unchanged */
  action: "created" | "updated" | "unchanged";
  changedKeys: string[];
  customPluginArn: string;
  workerConfigurationArn: string;
  pluginUploaded: boolean;
  state: string;
}

/** The CreateConnector input for `s`, given the plugin and worker configuration ARNs. */
export function createConnectorInput(
  s: MskConnectSettings,
  plugin: { arn: string; revision: number },
  worker: { arn: string; revision: number },
): CreateConnectorCommandInput {
  return {
    connectorName: s.connectorName,
    connectorDescription: "pinpipe: Confluent S3 sink, topics to the lake",
    kafkaConnectVersion: s.kafkaConnectVersion,
    capacity: { provisionedCapacity: { ...s.capacity } },
    connectorConfiguration: { ...s.config },
    kafkaCluster: {
      apacheKafkaCluster: {
        bootstrapServers: s.bootstrapServers,
        vpc: { subnets: [...s.subnets], securityGroups: [...s.securityGroups] },
      },
    },
    kafkaClusterClientAuthentication: { authenticationType: "IAM" },
    kafkaClusterEncryptionInTransit: { encryptionType: "TLS" },
    plugins: [{ customPlugin: { customPluginArn: plugin.arn, revision: plugin.revision } }],
    serviceExecutionRoleArn: s.executionRoleArn,
    workerConfiguration: { workerConfigurationArn: worker.arn, revision: worker.revision },
    tags: connectorTags(s.prefix),
    logDelivery: {
      workerLogDelivery: s.logGroup
        ? { cloudWatchLogs: { enabled: true, logGroup: s.logGroup } }
        : { cloudWatchLogs: { enabled: false } },
    },
  };
}

/** Makes MSK Connect run the sink as `s` describes, creating or updating what differs. */
export async function deployMskConnector(
  s: MskConnectSettings,
  deps: MskConnectDeps,
): Promise<MskConnectResult> {
  const pluginUploaded = await ensurePluginObject(s, deps);
  const plugin = await ensureCustomPlugin(s, deps);
  const worker = await ensureWorkerConfiguration(s, deps);
  const kc = deps.kafkaconnect;
  const existing = await findConnector(kc, s.connectorName);
  let connectorArn: string;
  let action: MskConnectResult["action"] = "unchanged";
  let changedKeys: string[] = [];
  if (!existing) {
    const out = await kc.send(new CreateConnectorCommand(createConnectorInput(s, plugin, worker)));
    connectorArn = out.connectorArn!;
    action = "created";
    deps.onProgress?.(`created connector ${s.connectorName}`);
  } else {
    connectorArn = existing;
    const owner = await owningStack(kc, connectorArn);
    let desc = await kc.send(new DescribeConnectorCommand({ connectorArn }));
    if (desc.connectorState === "CREATING" || desc.connectorState === "UPDATING") {
      deps.onProgress?.(`connector ${s.connectorName} is ${desc.connectorState}; waiting`);
      await waitSteady(s.connectorName, connectorArn, deps);
      desc = await kc.send(new DescribeConnectorCommand({ connectorArn }));
    }
    const updates = connectorUpdates(s, desc, plugin, worker);
    changedKeys = updates.flatMap((u) => u.keys);
    if (owner && updates.length && !s.takeOver) {
      throw new UsageError(
        `Cannot change connector "${s.connectorName}": stack "${owner}" owns it (its tags say so) and would undo it; change it with deno task deploy --only connect --param connect.…, or pass --take-over to change ${
          changedKeys.join(", ")
        } anyway`,
      );
    }
    if (owner && updates.length) {
      deps.onProgress?.(
        `taking over connector ${s.connectorName} from stack ${owner}: ${changedKeys.join(", ")}` +
          ` (its next deploy sets them back)`,
      );
    }
    for (const [i, u] of updates.entries()) {
      if (i > 0) {
        await waitSteady(s.connectorName, connectorArn, deps);
        desc = await kc.send(new DescribeConnectorCommand({ connectorArn }));
      }
      deps.onProgress?.(`updating connector ${s.connectorName}: ${u.keys.join(", ")}`);
      await kc.send(
        new UpdateConnectorCommand({
          connectorArn,
          currentVersion: desc.currentVersion,
          ...u.input,
        }),
      );
      action = "updated";
    }
  }
  const state = await waitSteady(s.connectorName, connectorArn, deps);
  return {
    connectorArn,
    action,
    changedKeys,
    customPluginArn: plugin.arn,
    workerConfigurationArn: worker.arn,
    pluginUploaded,
    state,
  };
}

/** One UpdateConnector call's worth of change, and the names of what it changes. */
interface ConnectorUpdate {
  keys: string[];
  input: Omit<UpdateConnectorCommandInput, "connectorArn" | "currentVersion">;
}

/**
 * The UpdateConnector calls that bring `desc` to `s`: its configuration, worker
 * configuration, plugin and capacity, one kind per call, in that order.
 */
function connectorUpdates(
  s: MskConnectSettings,
  desc: DescribeConnectorCommandOutput,
  plugin: { arn: string; revision: number },
  worker: { arn: string; revision: number },
): ConnectorUpdate[] {
  const updates: ConnectorUpdate[] = [];
  const keys = configDiff(desc.connectorConfiguration, s.config);
  if (keys.length) updates.push({ keys, input: { connectorConfiguration: { ...s.config } } });
  const w = desc.workerConfiguration;
  if (w?.workerConfigurationArn !== worker.arn || w?.revision !== worker.revision) {
    updates.push({
      keys: ["workerConfiguration"],
      input: {
        workerConfiguration: { workerConfigurationArn: worker.arn, revision: worker.revision },
      },
    });
  }
  const p = desc.plugins?.[0]?.customPlugin;
  if (
    desc.plugins?.length !== 1 || p?.customPluginArn !== plugin.arn ||
    p?.revision !== plugin.revision
  ) {
    updates.push({
      keys: ["plugins"],
      input: {
        plugins: [{ customPlugin: { customPluginArn: plugin.arn, revision: plugin.revision } }],
      },
    });
  }
  const cap = desc.capacity?.provisionedCapacity;
  if (cap?.workerCount !== s.capacity.workerCount || cap?.mcuCount !== s.capacity.mcuCount) {
    updates.push({
      keys: ["capacity"],
      input: { capacity: { provisionedCapacity: { ...s.capacity } } },
    });
  }
  return updates;
}

/** Puts the plugin zip in S3 unless it is there; true when it uploaded. */
async function ensurePluginObject(s: MskConnectSettings, deps: MskConnectDeps): Promise<boolean> {
  const { bucket, key } = s.plugin;
  try {
    await deps.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return false;
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name !== "NotFound" && e.$metadata?.httpStatusCode !== 404) {
      throw new Error(`Cannot check plugin "s3://${bucket}/${key}"`, { cause: err });
    }
  }
  if (!deps.pluginBytes) {
    throw new Error(
      `Cannot create custom plugin "${s.plugin.name}": "s3://${bucket}/${key}" is missing and no plugin file was given`,
    );
  }
  const body = await deps.pluginBytes();
  await deps.s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: "application/zip" }),
  );
  deps.onProgress?.(`uploaded plugin to s3://${bucket}/${key} (${body.length} bytes)`);
  return true;
}

async function ensureCustomPlugin(
  s: MskConnectSettings,
  deps: MskConnectDeps,
): Promise<{ arn: string; revision: number }> {
  const kc = deps.kafkaconnect;
  // A plugin's location cannot change: another zip is another plugin, named after it.
  const name = `${s.plugin.name}-${await contentTag(`${s.plugin.bucket}/${s.plugin.key}`)}`;
  let found: { arn: string; state?: string; revision?: number } | undefined;
  let nextToken: string | undefined;
  do {
    const page = await kc.send(
      new ListCustomPluginsCommand({ namePrefix: name, nextToken }),
    );
    const hit = page.customPlugins?.find((p) => p.name === name);
    if (hit) {
      found = {
        arn: hit.customPluginArn!,
        state: hit.customPluginState,
        revision: hit.latestRevision?.revision,
      };
    }
    nextToken = found ? undefined : page.nextToken;
  } while (nextToken);
  if (!found) {
    const out = await kc.send(
      new CreateCustomPluginCommand({
        name: name,
        contentType: "ZIP",
        description: "Confluent S3 sink connector (kafka-connect-s3)",
        tags: connectorTags(s.prefix),
        location: {
          s3Location: {
            bucketArn: `arn:${arnPartition(s.region)}:s3:::${s.plugin.bucket}`,
            fileKey: s.plugin.key,
          },
        },
      }),
    );
    deps.onProgress?.(`created custom plugin ${name}`);
    found = { arn: out.customPluginArn!, state: out.customPluginState, revision: out.revision };
  }
  const deadline = Date.now() + (deps.timeoutMs ?? DEFAULT_CONNECTOR_TIMEOUT_MS);
  while (found.state !== "ACTIVE") {
    if (found.state === "CREATE_FAILED" || found.state === "UPDATE_FAILED") {
      const d = await kc.send(new DescribeCustomPluginCommand({ customPluginArn: found.arn }));
      throw new Error(
        `Cannot use custom plugin "${name}": MSK Connect reports ${found.state}${
          d.stateDescription ? ` (${d.stateDescription.code}: ${d.stateDescription.message})` : ""
        }`,
      );
    }
    if (Date.now() > deadline) {
      throw new RetriableError(`Custom plugin "${name}" is still ${found.state}`);
    }
    deps.onProgress?.(`custom plugin ${name} is ${found.state}`);
    await delay(deps.pollMs ?? 10_000, deps.signal);
    const arn: string = found.arn;
    const d = await kc.send(new DescribeCustomPluginCommand({ customPluginArn: arn }));
    found = { arn, state: d.customPluginState, revision: d.latestRevision?.revision };
  }
  return { arn: found.arn, revision: found.revision ?? 1 };
}

async function ensureWorkerConfiguration(
  s: MskConnectSettings,
  deps: MskConnectDeps,
): Promise<{ arn: string; revision: number }> {
  const kc = deps.kafkaconnect;
  const content = s.workerProperties;
  const name = `${s.workerConfigName}-${await contentTag(content)}`;
  let nextToken: string | undefined;
  do {
    const page = await kc.send(
      new ListWorkerConfigurationsCommand({ namePrefix: name, nextToken }),
    );
    const hit = page.workerConfigurations?.find((w) => w.name === name);
    if (hit) {
      return { arn: hit.workerConfigurationArn!, revision: hit.latestRevision?.revision ?? 1 };
    }
    nextToken = page.nextToken;
  } while (nextToken);
  const out = await kc.send(
    new CreateWorkerConfigurationCommand({
      name,
      description: "pinpipe: converters for the S3 sink",
      tags: connectorTags(s.prefix),
      // The API takes the properties file base64-encoded.
      propertiesFileContent: btoa(content),
    }),
  );
  deps.onProgress?.(`created worker configuration ${name}`);
  return { arn: out.workerConfigurationArn!, revision: out.latestRevision?.revision ?? 1 };
}

async function findConnector(kc: KafkaConnectClient, name: string): Promise<string | undefined> {
  let nextToken: string | undefined;
  do {
    const page = await kc.send(new ListConnectorsCommand({ connectorNamePrefix: name, nextToken }));
    const hit = page.connectors?.find((c) => c.connectorName === name);
    if (hit) return hit.connectorArn;
    nextToken = page.nextToken;
  } while (nextToken);
  return undefined;
}

/** Polls until the connector leaves CREATING/UPDATING; RUNNING resolves, anything else throws. */
async function waitSteady(
  name: string,
  connectorArn: string,
  deps: MskConnectDeps,
): Promise<string> {
  const deadline = Date.now() + (deps.timeoutMs ?? DEFAULT_CONNECTOR_TIMEOUT_MS);
  for (;;) {
    const d = await deps.kafkaconnect.send(new DescribeConnectorCommand({ connectorArn }));
    const state = d.connectorState ?? "UNKNOWN";
    if (state === "RUNNING") return state;
    if (state === "FAILED") {
      const why = d.stateDescription
        ? `: ${d.stateDescription.code ?? "no code"}: ${d.stateDescription.message ?? ""}`
        : "";
      throw new Error(`Connector "${name}" failed: MSK Connect reports FAILED${why}`);
    }
    if (state !== "CREATING" && state !== "UPDATING") {
      throw new Error(`Connector "${name}" is not running: MSK Connect reports ${state}`);
    }
    if (Date.now() > deadline) {
      throw new RetriableError(`Connector "${name}" is still ${state}: gave up waiting`);
    }
    deps.onProgress?.(`connector ${name} is ${state}`);
    await delay(deps.pollMs ?? 15_000, deps.signal);
  }
}
